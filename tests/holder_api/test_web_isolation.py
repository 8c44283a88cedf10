"""Tenant isolation over every web page that takes an id: learner B asking for anything of
learner A's gets the same 404 page a never-issued id gets, and A's things are untouched."""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
import trustme
from aiohttp.test_utils import TestClient

from tests.holder_api.conftest import AppFactory
from tests.holder_api.present_support import Peer, ca_fixture, dcql  # noqa: F401 - fixtures
from tests.holder_api.test_web_present import holder_jwk, imported
from tests.holder_api.web_support import Browser, signed_up
from tests.wallet.oid4vci_support import FakeClock, Issuer

#: (method, path) of every page that takes an id; ``{id}`` is replaced by A's (or a random) id
PAGES: dict[str, list[tuple[str, str]]] = {
    "credential": [("GET", "/credentials/{id}"), ("GET", "/credentials/{id}/raw"),
                   ("GET", "/credentials/{id}/delete"), ("POST", "/credentials/{id}/share"),
                   ("POST", "/credentials/{id}/delete")],
    "offer": [("GET", "/offers/{id}"), ("POST", "/offers/{id}/accept"),
              ("GET", "/offers/{id}/callback?code=c&state=s"), ("POST", "/offers/{id}/decline")],
    "inbox item": [("POST", "/inbox/{id}/accept"), ("POST", "/inbox/{id}/decline")],
    "inbox link": [("POST", "/inbox-links/{id}/delete")],
    "request": [("GET", "/requests/{id}"), ("POST", "/requests/{id}"),
                ("POST", "/requests/{id}/share"), ("POST", "/requests/{id}/decline")],
    "share link": [("POST", "/shares/{id}/revoke")],
    "event": [("GET", "/history/{id}/receipt")],
}


@pytest.fixture
async def issuer(ca: trustme.CA) -> Any:
    server = await Issuer(ca, FakeClock()).start()
    yield server
    await server.close()


@pytest.fixture
async def peer(ca: trustme.CA, tmp_path: Path) -> Any:
    p = await Peer(ca, tmp_path).start()
    yield p
    await p.close()


async def test_every_page_is_isolated(make_client: AppFactory, ca: trustme.CA, tmp_path: Path,
                                      issuer: Issuer, peer: Peer) -> None:
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    app: TestClient[Any, Any] = await make_client(
        SATCHEL_FETCH_ALLOW_HOSTS="localhost,127.0.0.1", SATCHEL_EXTRA_CA_FILE=str(ca_file),
        SATCHEL_X5C_ANCHORS_FILE=str(ca_file))
    a, _ = await signed_up(app, "ada")
    b, _ = await signed_up(app, "bob")
    try:
        ids = await _everything_of(app, a, issuer, peer)
        assert all(ids.values()), ids
        await b.get("/credentials")
        for kind, pages in PAGES.items():
            for method, template in pages:
                never = await _ask(b, method, template.replace("{id}", str(uuid.uuid4())))
                assert never.status == 404, (kind, template, never.html)
                for an_id in ids[kind]:
                    got = await _ask(b, method, template.replace("{id}", an_id))
                    assert got.status == 404, (kind, template, got.status)
                    assert _main(got.html) == _main(never.html), (kind, template)
        # withdrawing A's standing consents by id
        for kind, key in (("share_link", "share link"), ("inbox_link", "inbox link")):
            got = await b.post("/history/withdraw", {"kind": kind, "id": ids[key][0]})
            assert got.status == 404, (kind, got.html)
        # A still has everything
        assert len((await a.get("/credentials")).testids("credential")) == len(ids["credential"])
        assert (await a.get(f"/offers/{ids['offer'][0]}")).status == 200
        assert (await a.get(f"/requests/{ids['request'][0]}")).status == 200
        assert "0 / 10" in (await a.get("/shares"))  # never viewed: B was refused
    finally:
        await a.close()
        await b.close()


def _main(html: str) -> str:
    """The page's own content (the frame carries each learner's CSRF token)."""
    m = re.search(r"<main.*</main>", html, re.S)
    assert m
    return m.group(0)


async def _ask(b: Browser, method: str, path: str) -> Any:
    if method == "GET":
        return await b.get(path)
    return await b.post(path, {"claim": '["degree"]', "tx_code": "1"})


async def _everything_of(app: TestClient[Any, Any], a: Browser, issuer: Issuer,
                         peer: Peer) -> dict[str, list[str]]:
    cid = await imported(app, a, peer.issue(await holder_jwk(app, a)))
    offer = "openid-credential-offer://?" + urlencode({"credential_offer": json.dumps(
        issuer.make_pre_authorized_offer())})
    page = await a.post("/open", {"link": offer})
    offer_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    page = await a.post("/inbox-links", {"label": "Uni"})
    push = urlsplit(page.text_of("inbox-link")).path
    assert (await app.get(push, params={"credential_offer": json.dumps(
        issuer.make_pre_authorized_offer())})).status == 202
    inbox = (await a.get("/inbox")).html
    item_ids = re.findall(r'action="/inbox/([^"/]+)/accept"', inbox)
    link_ids = re.findall(r'action="/inbox-links/([^"/]+)/delete"', inbox)
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda _f: peer.sign(peer.claims(client_id, dcql("degree"))),
                              client_id=client_id)
    page = await a.post("/open", {"link": link})
    request_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    await a.get(f"/credentials/{cid}")
    await a.post(f"/credentials/{cid}/share", [("claim", '["degree"]')])
    shares = (await a.get("/shares")).html
    share_ids = re.findall(r'action="/shares/([^"/]+)/revoke"', shares)
    events = (await a.get("/history")).html
    event_ids = re.findall(r'href="/history/([^"/]+)/receipt"', events)
    return {"credential": [cid], "offer": [offer_id], "inbox item": item_ids,
            "inbox link": link_ids, "request": [request_id], "share link": share_ids,
            "event": event_ids}
