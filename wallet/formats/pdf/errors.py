"""What can be wrong with a PDF a learner uploads: each a 4xx with a stable code."""

from __future__ import annotations

from wallet.errors import BadInput, PayloadTooLarge, VerificationFailed

__all__ = [
    "PdfEncrypted",
    "PdfMalformed",
    "PdfModifiedAfterSigning",
    "PdfSignatureInvalid",
    "PdfTooLarge",
    "PdfUnsigned",
]


class PdfMalformed(BadInput):
    code, title = "pdf_malformed", "The file is not a readable PDF"


class PdfEncrypted(BadInput):
    code, title = "pdf_encrypted", "The PDF is encrypted"


class PdfTooLarge(PayloadTooLarge):
    code, title = "pdf_too_large", "The PDF is larger than this service accepts"


class PdfUnsigned(VerificationFailed):
    code, title = "pdf_unsigned", "The PDF carries no signature"


class PdfSignatureInvalid(VerificationFailed):
    code, title = "pdf_signature_invalid", "A signature in the PDF does not verify"


class PdfModifiedAfterSigning(VerificationFailed):
    code, title = "pdf_modified_after_signing", "The PDF was changed after it was signed"
