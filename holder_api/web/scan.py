"""Reading a QR code from an uploaded picture (zxing-cpp over Pillow), for browsers without a
barcode detector and for learners without JavaScript or a camera.

Pillow's decompression-bomb guard is tightened so a small file cannot expand into gigabytes.
"""

from __future__ import annotations

import io

import zxingcpp
from PIL import Image, UnidentifiedImageError

from holder_api.web.i18n import N_
from holder_api.web.problems import Refused

__all__ = ["MAX_IMAGE_BYTES", "read_qr"]

MAX_IMAGE_BYTES = 8 * 1024 * 1024
_MAX_PIXELS = 40_000_000


def read_qr(data: bytes) -> str:
    """The text of the first QR code in the picture; :class:`BadInput` if there is none."""
    if len(data) > MAX_IMAGE_BYTES:
        raise Refused(N_("The picture is too large."))
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > _MAX_PIXELS:
                raise Refused(N_("The picture has too many pixels."))
            found = zxingcpp.read_barcodes(img.convert("L"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Refused(N_("The file is not a picture this wallet can read.")) from exc
    for code in found:
        if code.valid and code.text and code.format == zxingcpp.BarcodeFormat.QRCode:
            return str(code.text)
    raise Refused(N_("No QR code was found in the picture."))
