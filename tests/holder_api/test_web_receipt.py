"""The receipt a consent page links after Share or Decline is the one of that answer.

Two answers close together (two tabs): the second lands between this answer's ledger entry and the
page that shows it. The page links the entry the service recorded for *its* answer (the event id in
``Sent``/``Declined``), never "the newest entry of that kind".
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from holder_api.web import data
from tests.holder_api.present_support import Peer, dcql, ledger_details
from tests.holder_api.web_support import Browser, holder_jwk, imported, signed_up

#: The peers answer as ``localhost``: 127.0.0.1 itself stays a blocked address.
PEER_HOST = "localhost"


@pytest.fixture
async def learner(app: TestClient[Any, Any], peer: Peer) -> AsyncIterator[tuple[Browser, str]]:
    """A learner in the web wallet holding one of the peer's credentials (its id)."""
    browser, _ = await signed_up(app)
    try:
        yield browser, await imported(app, browser, peer.issue(await holder_jwk(app, browser)))
    finally:
        await browser.close()


async def _opened(ada: Browser, peer: Peer) -> str:
    """A signed request for the degree, opened in a tab: its page's path."""
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda _f: peer.sign(peer.claims(client_id, dcql("degree"))),
                              client_id=client_id)
    page = await ada.post("/open", {"link": link})
    assert re.search(r"/requests/[^/]+$", page.url), page.html
    return urlsplit(page.url).path


def _receipt(html: str) -> str:
    m = re.search(r'href="/history/([^"/]+)/receipt"', html)
    assert m, html
    return m.group(1)


def _other_tab_answers_first(monkeypatch: pytest.MonkeyPatch, name: str, other: str,
                             **kw: Any) -> None:
    """Once this tab's answer is recorded, the other tab's answer lands before the page renders."""
    original: Callable[..., Awaitable[dict[str, Any]]] = getattr(data, name)

    async def answered(request: web.Request, s: Any, rid: str, **args: Any) -> dict[str, Any]:
        out = await original(request, s, rid, **args)
        await original(request, s, other, **kw)
        return out

    monkeypatch.setattr(data, name, answered)


async def test_share_links_the_receipt_of_its_own_answer(
        app: TestClient[Any, Any], peer: Peer, learner: tuple[Browser, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ada, cid = learner
    mine, other = await _opened(ada, peer), await _opened(ada, peer)
    page = await ada.get(mine)
    _other_tab_answers_first(monkeypatch, "respond", other.rsplit("/", 1)[1],
                             choices={"degree": cid}, withhold=None, drop_optional=False)
    page = await ada.post(mine + "/share", [("q:degree", cid), ("send:degree:" + cid, '["degree"]'),
                                         ("shown", page.hidden("shown"))])
    assert page.status == 200, page.html
    assert len(peer.posts) == 2  # both answers went out
    sent = {e["details"]["request_id"]: e["id"] for e in await ledger_details(
        app, ada.cookie("satchel_session") or "", "presentation_sent")}
    assert _receipt(page.html) == sent[mine.rsplit("/", 1)[1]] != sent[other.rsplit("/", 1)[1]]


async def test_decline_links_the_receipt_of_its_own_answer(
        app: TestClient[Any, Any], peer: Peer, learner: tuple[Browser, str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ada, _ = learner
    mine, other = await _opened(ada, peer), await _opened(ada, peer)
    _other_tab_answers_first(monkeypatch, "decline_request", other.rsplit("/", 1)[1])
    page = await ada.post(mine + "/decline")
    assert page.status == 200 and "Nothing was shared" in page, page.html
    declined = {e["details"]["request_id"]: e["id"] for e in await ledger_details(
        app, ada.cookie("satchel_session") or "", "presentation_declined")}
    assert _receipt(page.html) == declined[mine.rsplit("/", 1)[1]] != declined[
        other.rsplit("/", 1)[1]]
