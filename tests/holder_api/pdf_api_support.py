"""Shared by the PDF API tests: signed PDFs (cached), an app that anchors the test CA, a learner,
the upload, and reading a printout back (pypdf for the text and the QR image, zxing-cpp to decode
it: libraries Satchel does not use to make it)."""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

import zxingcpp
from aiohttp.test_utils import TestClient
from PIL import Image
from pyhanko.sign.fields import MDPPerm
from pypdf import PdfReader

from tests import pdf_support as ps
from tests.support.http_api import auth, login, sign_up

__all__ = ["PDF", "Client", "anchored_client", "approval", "count", "learner", "read_printout",
           "upload", "with_edc"]

Client = TestClient[Any, Any]
PDF = {"Content-Type": "application/pdf"}


@cache
def approval() -> bytes:
    return ps.sign(ps.base_pdf())


@cache
def with_edc() -> bytes:
    return ps.sign(ps.base_pdf(), certify=True, timestamp=True, docmdp=MDPPerm.NO_CHANGES,
                   attach=[("credential.jsonld", ps.edc_sample(), "application/ld+json")])


async def anchored_client(make_client: Any, tmp_path: Path, **env: str) -> Client:
    anchors = tmp_path / "anchors.pem"
    anchors.write_bytes(ps.pki().ca_pem)
    return await make_client(SATCHEL_X5C_ANCHORS_FILE=str(anchors), **env)  # type: ignore[no-any-return]


async def learner(client: Client, name: str = "ada") -> dict[str, str]:
    await sign_up(client, name)
    return dict(auth(await login(client, name)))


async def upload(client: Client, headers: dict[str, str], data: bytes,
                 query: str = "") -> Any:
    return await client.post(f"/v1/credentials{query}", data=data, headers={**headers, **PDF})


async def count(client: Client, headers: dict[str, str]) -> int:
    r = await client.get("/v1/credentials", headers=headers)
    return len((await r.json())["items"])


def read_printout(printout: bytes) -> tuple[str, str, tuple[float, float]]:
    """(all text, the decoded QR code, the first page's size in points)."""
    reader = PdfReader(io.BytesIO(printout))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # QR codes only: the printout's code carries a random token, and now and then its modules
    # also decode as a linear barcode ('5355' once, in CI) when every format is tried
    found = [r.text for page in reader.pages for img in page.images
             for r in zxingcpp.read_barcodes(Image.open(io.BytesIO(img.data)),
                                             formats=zxingcpp.BarcodeFormat.QRCode)]
    assert len(found) == 1, found
    box = reader.pages[0].mediabox
    return text, found[0], (float(box.width), float(box.height))


def local_path(url: str) -> str:
    """The path of a link the test app (public URL http://satchel.test) hands out."""
    return url.split("http://satchel.test", 1)[1]
