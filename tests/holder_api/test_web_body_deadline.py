"""The web wallet's forms have the body deadline the API's bodies have: a form that stalls or
trickles is answered with the web's own error page, 408 ``request_timeout``, its connection
closed, and the slots it held (admission, and an import or upload slot for the file forms the
large-bodies gate admits) given back. Before, the forms were read by aiohttp's own parser with
no deadline: one stalled form held its slots until its client went away.
Counted, not timed: the tests wait for answers and slots, never assert a duration."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import ADMISSION, SERVICES
from tests.holder_api.body_support import answer_of, stalled
from tests.holder_api.web_support import signed_up
from tests.support.apps import AppFactory

_BOUNDARY = "satchelboundary"
_MULTIPART = f"multipart/form-data; boundary={_BOUNDARY}"
_URLENCODED = "application/x-www-form-urlencoded"
_FILE_PART = (f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
              f'filename="x.pdf"\r\nContent-Type: application/pdf\r\n\r\n%PDF-').encode()


async def _session_headers(client: TestClient[Any, Any]) -> dict[str, str]:
    browser, _ = await signed_up(client)
    cookie = browser.cookie("satchel_session")
    await browser.close()
    assert cookie
    return {"Cookie": f"satchel_session={cookie}", "Accept": "text/html"}


async def _answered_408_page(reader: asyncio.StreamReader) -> None:
    status, headers, body, rest = await answer_of(reader)
    assert status == 408
    assert headers["content-type"].startswith("text/html")  # the web's page, not problem+json
    assert b"<code>request_timeout</code>" in body
    # a sign-up form is no file: the page speaks of what was sent, whatever it was
    assert b"What you sent arrived too slowly" in body and b"The file" not in body
    assert rest == b""  # and the connection closed


async def test_a_stalled_urlencoded_form_is_answered_with_the_408_page(
        make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3", SATCHEL_MAX_IN_FLIGHT="2",
                               SATCHEL_MAX_QUEUED="0")
    sent = [await stalled(client, "/signup", 1000, b"username=a", {"Accept": "text/html"},
                          content_type=_URLENCODED) for _ in range(2)]
    for reader, writer in sent:
        await _answered_408_page(reader)
        writer.close()
    assert client.app[ADMISSION].running == 0
    r = await client.get("/", headers={"Accept": "text/html"})  # the replica serves again
    assert r.status == 200


async def test_a_trickling_multipart_form_is_answered_with_the_408_page(
        make_client: AppFactory) -> None:
    """A byte every so often is progress, not enough: the whole form has its deadline too."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3")
    headers = await _session_headers(client)
    reader, writer = await stalled(client, "/credentials/import", 2000, _FILE_PART, headers,
                                   content_type=_MULTIPART)
    answered = asyncio.create_task(_answered_408_page(reader))
    while not answered.done():
        try:
            writer.write(b"x")
            await writer.drain()
        except ConnectionError:  # answered and closed between two bytes: the answer is read
            break
        await asyncio.sleep(0.05)
    await answered
    writer.close()
    assert client.app[ADMISSION].running == 0
    assert client.app[SERVICES].uploads.running == 0


@pytest.mark.parametrize(("path", "length", "part"), [
    ("/my-data/import", 50_000_000, "bundle"),
    ("/credentials/import", 9_000_000, "file"),
    ("/scan", 9_000_000, "image")])
async def test_a_stalled_file_form_gives_its_large_body_slot_back(
        make_client: AppFactory, path: str, length: int, part: str) -> None:
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3")
    services = client.app[SERVICES]
    headers = await _session_headers(client)
    first = (f'--{_BOUNDARY}\r\nContent-Disposition: form-data; name="{part}"; '
             f'filename="f"\r\n\r\n').encode()
    # as many as the gate has slots: a third would be refused at once, were they still held
    sent = [await stalled(client, path, length, first, headers, content_type=_MULTIPART)
            for _ in range(2)]
    for reader, writer in sent:
        await _answered_408_page(reader)
        writer.close()
    assert (services.rights.imports_running, services.uploads.running) == (0, 0)
    assert client.app[ADMISSION].running == 0
    reader, writer = await stalled(client, path, length, first, headers,
                                   content_type=_MULTIPART)
    await _answered_408_page(reader)  # admitted again, and timed out: not 503 busy
    writer.close()


@pytest.mark.parametrize(("content_type", "body"), [
    (_MULTIPART, b"--" + _BOUNDARY.encode() + b"\r\nno part headers end here"),
    (_URLENCODED + "; charset=utf-8", b"raw=%FF&csrf=\xff\xfe")])
async def test_a_form_that_does_not_parse_is_the_400_page(
        make_client: AppFactory, content_type: str, body: bytes) -> None:
    """Read whole first, the form is then parsed from its bytes: a broken one is a 400 page."""
    client = await make_client()
    headers = await _session_headers(client)
    r = await client.post("/credentials/import", data=body,
                          headers={**headers, "Content-Type": content_type})
    assert r.status == 400
    assert "<code>" in await r.text()
