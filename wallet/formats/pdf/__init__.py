"""Signed PDF credentials (PAdES): open, verify every signature, read metadata and attachments.

Pure apart from pyHanko; nothing here fetches (revocation data is what the file carries). The
intake (:mod:`wallet.pdf_intake`) decides what to store and admits attached credentials.
"""

import warnings

from cryptography.utils import CryptographyDeprecationWarning

with warnings.catch_warnings():
    # pyHanko imports cryptography's DSA support at import time, which warns on every start;
    # Satchel accepts no DSA signatures (pyHanko's algorithm policy refuses them anyway)
    warnings.simplefilter("ignore", CryptographyDeprecationWarning)
    import pyhanko.sign.signers.pdf_cms  # noqa: F401

from wallet.formats.pdf.attachments import Attachment, list_attachments
from wallet.formats.pdf.check import CheckedPdf, Verdict, check_pdf, check_pdf_off_loop
from wallet.formats.pdf.document import DEFAULT_MAX_PDF_BYTES, OpenedPdf, open_pdf
from wallet.formats.pdf.errors import (
    PdfEncrypted,
    PdfMalformed,
    PdfModifiedAfterSigning,
    PdfSignatureInvalid,
    PdfTooLarge,
    PdfUnsigned,
)
from wallet.formats.pdf.metadata import document_claims, elements_from_claims
from wallet.formats.pdf.signatures import SignatureReport, verify_signatures

__all__ = [
    "DEFAULT_MAX_PDF_BYTES",
    "Attachment",
    "CheckedPdf",
    "OpenedPdf",
    "PdfEncrypted",
    "PdfMalformed",
    "PdfModifiedAfterSigning",
    "PdfSignatureInvalid",
    "PdfTooLarge",
    "PdfUnsigned",
    "SignatureReport",
    "Verdict",
    "check_pdf",
    "check_pdf_off_loop",
    "document_claims",
    "elements_from_claims",
    "list_attachments",
    "open_pdf",
    "verify_signatures",
]
