"""Tenant isolation over every web page that takes an id: learner B asking for anything of
learner A's gets the same 404 page a never-issued id gets, and A's things are untouched."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import trustme
from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import Browser, everything_of, signed_up
from tests.support.apps import AppFactory
from tests.wallet.oid4vci_support import Issuer

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
                ("POST", "/requests/{id}/share"), ("GET", "/requests/{id}/sent"),
                ("POST", "/requests/{id}/decline")],
    "share link": [("POST", "/shares/{id}/revoke")],
    "event": [("GET", "/history/{id}/receipt")],
}


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
        ids = await everything_of(app, a, issuer, peer)
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


