"""Opening an uploaded PDF safely: size, header, cross-references, encryption.

pyHanko's reader (https://pyhanko.readthedocs.io/en/latest/lib-guide/reading-writing.html) parses
the file in *strict* mode, so the ambiguities that signature attacks lean on (duplicate or
overlapping cross-reference entries, objects redefined inside one revision) are refused rather
than silently resolved. Why every parser exception becomes :class:`PdfMalformed`: a hostile file
can make any parser raise almost anything (``KeyError``, ``IndexError``, ``RecursionError`` ...);
to the learner it is one thing — not a PDF Satchel can read — and never a 500.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from pyhanko.pdf_utils.reader import PdfFileReader

from wallet.formats.pdf.errors import PdfEncrypted, PdfMalformed, PdfTooLarge
from wallet.formats.untrusted import parser_failed

__all__ = ["DEFAULT_MAX_PDF_BYTES", "OpenedPdf", "open_pdf"]

#: The default upload limit (``SATCHEL_MAX_PDF_BYTES``): signed diplomas with an embedded EDC, a
#: logo and fonts are typically 0.1–3 MB.
DEFAULT_MAX_PDF_BYTES = 10 * 1024 * 1024
_MAGIC = b"%PDF-"
#: PDF 1.7 §7.5.2: the header should be at the start; readers accept it within the first 1 KiB.
_HEADER_WINDOW = 1024


@dataclass(frozen=True, slots=True)
class OpenedPdf:
    data: bytes
    reader: PdfFileReader


def open_pdf(data: bytes, *, max_bytes: int = DEFAULT_MAX_PDF_BYTES) -> OpenedPdf:
    """Parse ``data`` (the bytes exactly as received) or raise a 4xx :mod:`.errors` class."""
    if not isinstance(data, bytes | bytearray):
        raise PdfMalformed("the PDF must be sent as the request body")
    if len(data) > max_bytes:
        raise PdfTooLarge(f"the PDF is larger than {max_bytes} bytes")
    data = bytes(data)
    if _MAGIC not in data[:_HEADER_WINDOW]:
        raise PdfMalformed("the file does not start with a PDF header")
    if b"%%EOF" not in data[-2048:]:
        raise PdfMalformed("the PDF is truncated (no end-of-file marker)")
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=True)
        encrypted = reader.encrypted
        if not encrypted:
            _ = reader.root  # the catalog must resolve
    except RecursionError as exc:
        raise PdfMalformed("the PDF nests objects too deeply") from exc
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        parser_failed(exc, "pdf document")
        raise PdfMalformed("the PDF could not be parsed") from exc
    if encrypted:
        raise PdfEncrypted("encrypted PDFs cannot be verified or shown: upload the original, "
                           "unencrypted file")
    return OpenedPdf(data, reader)
