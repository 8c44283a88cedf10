"""Outside browser tests find the web wallet by a few fixed accessible names (Playwright's default
matching is a case-insensitive substring, Selenium's XPath often exact): on every page, each fixed
name that is there names exactly one control of its role both ways, and each page carries the
names it must."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import trustme
from aiohttp.test_utils import TestClient

from tests.holder_api.accessible_names import ambiguities, exactly_once
from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import Browser, Page, everything_of
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE
from tests.wallet.oid4vci_support import Issuer

UNLOCKED = [("button", "Lock"), ("link", "Credentials"), ("link", "History"), ("link", "My data"),
            ("field", "Link"), ("button", "Open"), ("link", "English"), ("link", "Español")]
ANYWHERE = [("link", "English"), ("link", "Español")]


async def test_fixed_names_are_unambiguous_on_every_page(
        make_client: AppFactory, ca: trustme.CA, tmp_path: Path, issuer: Issuer,  # noqa: F811
        peer: Peer) -> None:  # noqa: F811
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    app: TestClient[Any, Any] = await make_client(
        SATCHEL_FETCH_ALLOW_HOSTS="localhost,127.0.0.1", SATCHEL_EXTRA_CA_FILE=str(ca_file),
        SATCHEL_X5C_ANCHORS_FILE=str(ca_file))
    anon = Browser(app)
    a = Browser(app)
    seen: list[tuple[str, Page, list[tuple[str, str]]]] = []
    try:
        seen.append(("start", await anon.get("/"), ANYWHERE + [
            ("field", "Username"), ("field", "Passphrase"), ("button", "Create wallet"),
            ("button", "Unlock")]))
        seen.append(("recover", await anon.get("/recover"), ANYWHERE))
        await a.get("/")
        seen.append(("recovery code", await a.post(
            "/signup", {"username": "ada", "passphrase": PASSPHRASE}), UNLOCKED))
        ids = await everything_of(app, a, issuer, peer)
        cid, rid = ids["credential"][0], ids["request"][0]
        tx_offer = await a.post("/open", {"link": "openid-credential-offer://?" + urlencode(
            {"credential_offer": json.dumps(issuer.make_pre_authorized_offer(
                tx_code="493536"))})})
        seen.append(("offer with a code", tx_offer, UNLOCKED + [
            ("field", "Transaction code"), ("button", "Accept"), ("button", "Decline")]))
        seen.append(("offer", await a.get(f"/offers/{ids['offer'][0]}"),
                     UNLOCKED + [("button", "Accept"), ("button", "Decline")]))
        seen.append(("consent", await a.get(f"/requests/{rid}"),
                     UNLOCKED + [("button", "Share"), ("button", "Decline")]))
        seen.append(("consent, details open", await a.post(f"/requests/{rid}", {}),
                     UNLOCKED + [("button", "Share"), ("button", "Decline")]))
        seen.append(("credential", await a.get(f"/credentials/{cid}"),
                     UNLOCKED + [("button", "Create share link")]))
        await a.get(f"/credentials/{cid}")
        shared = await a.post(f"/credentials/{cid}/share", [("claim", '["degree"]')])
        assert shared.testids("share-link")
        seen.append(("share link", shared, UNLOCKED))
        await a.get("/inbox")
        seen.append(("inbox link", await a.post("/inbox-links", {"label": "College"}),
                     UNLOCKED))
        seen.append(("my data", await a.get("/my-data"),
                     UNLOCKED + [("button", "Export"), ("button", "Erase wallet")]))
        seen.append(("erase", await a.get("/my-data/erase"),
                     UNLOCKED + [("field", "Passphrase")]))
        for path in ("/credentials", f"/credentials/{cid}/delete", "/credentials/import",
                     "/inbox", "/shares", "/history", "/my-data/export", "/my-data/import",
                     "/account", "/scan"):
            seen.append((path, await a.get(path), UNLOCKED))
        wrong = await anon.post("/unlock", {"username": "ada", "passphrase": "not it at all"})
        seen.append(("start with an error", wrong, ANYWHERE + [("field", "Passphrase")]))
        problems = []
        for what, page, must in seen:
            assert page.status in (200, 401), (what, page.status)
            problems += [(what, p) for p in ambiguities(page.html)]
            problems += [(what, f"{role} {name!r} missing or repeated") for role, name in must
                         if not exactly_once(page.html, role, name)]
        assert not problems, "\n".join(map(str, problems))
    finally:
        await anon.close()
        await a.close()


def test_the_name_reader_sees_collisions() -> None:
    html = ('<label for="a">Link</label><input id="a"><label for="b">Link expires after</label>'
            '<button>Lock</button><button hidden>Lock it</button><a href="/h">History</a>'
            '<a href="/x">See your history</a>')
    found = ambiguities(html)
    assert any("'Link'" in f for f in found) and any("'History'" in f for f in found)
    assert not any("'Lock'" in f for f in found)
