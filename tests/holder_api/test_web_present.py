"""Presenting and sharing in the web wallet, on both backends: the consent page for requests of
the verifier peer built on the reference ``sd-jwt`` package (who asks, why, exactly which claims
with their values; choices and withholding; Share, Decline; the receipt), share links (per-claim,
expiry, QR, views, revoke), the history (ledger events, chain, receipts, withdrawal) and My data
(export, import, erase)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from html import unescape
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import VCT, Peer, dcql
from tests.holder_api.web_support import Browser, holder_jwk, imported, signed_up
from tests.support.http_api import PASSPHRASE

#: The peers answer as ``localhost``: 127.0.0.1 itself stays a blocked address.
PEER_HOST = "localhost"


@pytest.fixture
async def ada(app: TestClient[Any, Any]) -> AsyncIterator[Browser]:
    b, _ = await signed_up(app)
    yield b
    await b.close()


async def test_consent_share_and_receipt(app: TestClient[Any, Any], peer: Peer,
                                         ada: Browser) -> None:
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda _f: peer.sign(peer.claims(
        client_id, dcql("given_name", "degree"), purpose="Check your degree")),
        client_id=client_id)
    page = await ada.post("/open", {"link": link})
    assert re.search(r"/requests/[^/]+$", page.url), page.html
    assert page.attrs("verifier", "data-authenticated") == ["true"]
    assert "Acme &lt;Hiring&gt;" in page.html  # escaped, never markup
    assert "Check your degree" in page
    assert [json.loads(p) for p in page.attrs("disclosed-claim", "data-path")] == [
        ["given_name"], ["degree"]]
    assert "BSc Computing" in page  # the value the learner is about to send
    # what the issuer made part of every presentation leaves too, and is listed apart
    always = [json.loads(p) for p in page.attrs("always-sent-claim", "data-path")]
    assert ["iss"] in always and ["vct"] in always and ["cnf", "jwk", "x"] in always
    assert not {"given_name", "degree", "family_name"} & {p[0] for p in always}
    assert peer.posts == []  # nothing leaves before Share
    request_path = urlsplit(page.url).path
    both = page.hidden("shown")
    # untick one claim: the summary follows (no JavaScript involved)
    page = await ada.post(request_path, [("q:degree", cid),
                                         ("send:degree:" + cid, '["degree"]')])
    assert [json.loads(p) for p in page.attrs("disclosed-claim", "data-path")] == [["degree"]]
    assert "<details class=\"card\" open>" in page.html  # the learner keeps their place
    assert peer.posts == []
    # Share with a selection the summary did not show: the new summary, nothing sent
    page = await ada.post(request_path + "/share", [("q:degree", cid),
                                                     ("send:degree:" + cid, '["degree"]'),
                                                     ("shown", both)])
    assert page.status == 409 and "Your choices changed what will be sent" in page
    assert [json.loads(p) for p in page.attrs("disclosed-claim", "data-path")] == [["degree"]]
    assert peer.posts == []
    page = await ada.post(request_path + "/share", [("q:degree", cid),
                                                     ("send:degree:" + cid, '["degree"]'),
                                                     ("send:degree:" + cid, '["given_name"]'),
                                                     ("shown", both)])
    assert page.status == 200, page.html
    [got] = peer.posts
    assert got.errors == []
    [disclosed] = got.disclosed["degree"]
    assert disclosed["degree"] == "BSc Computing" and disclosed["given_name"] == "Ada"
    receipt = re.search(r'href="(/history/[^"]+/receipt)"', page.html)
    assert receipt, page.html
    r = await ada.get(receipt.group(1))
    assert r.status == 200 and r.headers["Content-Type"].startswith("application/jwt")
    assert r.html.count(".") == 2
    # answered: no second Share
    page = await ada.get(request_path)
    assert ">Share</button>" not in page.html and "already answered" in page


async def test_unauthenticated_verifier_warning_withhold_and_decline(
        app: TestClient[Any, Any], peer: Peer, ada: Browser) -> None:
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    client_id = f"redirect_uri:{peer.base}/cb"
    query = {"credentials": [{
        "id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
        "claims": [{"id": "a", "path": ["given_name"]}, {"id": "b", "path": ["family_name"]}],
        "claim_sets": [["a", "b"], ["a"]]}]}

    def request() -> str:
        claims = peer.claims(client_id, query, response_uri=f"{peer.base}/cb")
        for k in ("aud", "iat", "exp"):
            claims.pop(k)
        return peer.by_value(claims)

    page = await ada.post("/open", {"link": request()})
    assert page.attrs("verifier", "data-authenticated") == ["false"]
    assert "Not authenticated." in page
    path = urlsplit(page.url).path
    choice = [("q:pid", cid), ("send:pid:" + cid, '["given_name"]')]
    page = await ada.post(path, choice)  # Update what will be sent
    page = await ada.post(path + "/share", [*choice, ("shown", page.hidden("shown"))])
    assert page.status == 200, page.html
    [got] = peer.posts
    [disclosed] = got.disclosed["pid"]
    assert disclosed["given_name"] == "Ada" and "family_name" not in disclosed
    # a second request, declined
    page = await ada.post("/open", {"link": request()})
    page = await ada.post(urlsplit(page.url).path + "/decline")
    assert "Nothing was shared" in page
    assert len(peer.posts) == 2 and "vp_token" not in peer.posts[1].payload


async def test_share_links_history_and_withdrawal(app: TestClient[Any, Any], peer: Peer,
                                                  ada: Browser) -> None:
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    page = await ada.get(f"/credentials/{cid}")
    boxes = re.findall(r'name="claim" value="([^"]+)"', page.html)
    assert sorted(json.loads(b.replace("&#34;", '"')) for b in boxes) == [
        ["degree"], ["family_name"], ["given_name"]]
    page = await ada.post(f"/credentials/{cid}/share", [("claim", '["degree"]'),
                                                          ("expires_in", "86400"),
                                                          ("max_views", "3")])
    assert page.status == 200, page.html
    url = page.text_of("share-link")
    assert url.startswith("http://satchel.test/s/") and "<svg" in page.html
    view = await app.get(urlsplit(url).path, headers={"Accept": "application/json"})
    assert view.status == 200
    shown = (await view.json())["claims"]
    assert shown["degree"] == "BSc Computing"
    assert "given_name" not in shown and "family_name" not in shown  # only the chosen claim
    listing = await ada.get("/shares")
    assert "1 / 3" in listing and "degree" in listing
    title = re.search(r"<h1>([^<]+)</h1>", (await ada.get(f"/credentials/{cid}")).html)
    assert title
    page = await ada.get("/history")
    kinds = page.attrs("ledger-event", "data-event")
    assert kinds[:3] == ["share_link_viewed", "share_link_created", "credential_received"]
    # the timeline says what was shared and received, by the credential's title
    assert page.html.count(f"Credential: {title.group(1)}") >= 3
    assert page.attrs("chain", "data-valid") == ["true"]
    link_id = re.search(r'name="kind" value="share_link"><input type="hidden" name="id" '
                        r'value="([^"]+)"', page.html)
    assert link_id
    page = await ada.post("/history/withdraw", {"kind": "share_link", "id": link_id.group(1)})
    assert page.url.endswith("/history?notice=withdrawn")
    assert "consent_withdrawn" in page.attrs("ledger-event", "data-event")
    assert (await app.get(urlsplit(url).path)).status == 404
    assert "revoked" in (await ada.get("/shares"))


async def test_share_link_revoke_from_the_list(app: TestClient[Any, Any], peer: Peer,
                                               ada: Browser) -> None:
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    await ada.get(f"/credentials/{cid}")
    page = await ada.post(f"/credentials/{cid}/share", [("expires_in", "3600")])
    assert page.status == 400 and "Choose at least one claim" in page
    page = await ada.post(f"/credentials/{cid}/share", [("claim", '["given_name"]')])
    url = page.text_of("share-link")
    listing = await ada.get("/shares")
    revoke = re.search(r'action="(/shares/[^"]+/revoke)"', listing.html)
    assert revoke
    assert (await ada.post(revoke.group(1))).url.endswith("/shares?notice=revoked")
    assert (await app.get(urlsplit(url).path)).status == 404


async def test_export_import_and_erase(app: TestClient[Any, Any], peer: Peer,
                                       ada: Browser) -> None:
    await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    page = await ada.get("/my-data")
    assert ">Export</button>" in page.html and ">Erase wallet</button>" in page.html
    await ada.get("/my-data/export")
    r = await ada.post("/my-data/export", {"passphrase": PASSPHRASE,
                                           "confirm_passphrase": PASSPHRASE})
    assert r.status == 200 and "attachment" in r.headers["Content-Disposition"]
    bundle = json.loads(r.html)
    assert bundle["format"] == "satchel-export" and len(bundle["credentials"]) == 1
    # into a fresh wallet
    bob, _ = await signed_up(app, "bob")
    try:
        await bob.get("/my-data/import")
        form = aiohttp.FormData()
        form.add_field("bundle", r.html.encode(), filename="satchel-export.json",
                       content_type="application/json")
        form.add_field("passphrase", "not the passphrase of the file")
        page = await bob.post("/my-data/import", form)  # a typo: the form again, with why
        assert page.status == 422 and 'aria-invalid="true"' in page.html
        assert 'role="alert"' in page.html and 'action="/my-data/import"' in page.html
        assert (await bob.get("/credentials")).testids("credential") == []
        form = aiohttp.FormData()
        form.add_field("bundle", r.html.encode(), filename="satchel-export.json",
                       content_type="application/json")
        form.add_field("passphrase", PASSPHRASE)
        page = await bob.post("/my-data/import", form)
        assert page.status == 200, page.html
        assert "Imported: 1 credential," in page  # one: the singular
        assert len((await bob.get("/credentials")).testids("credential")) == 1
    finally:
        await bob.close()
    # erase: the passphrase is asked for, a wrong one erases nothing
    page = await ada.get("/my-data/erase")
    assert re.search(r'<label for="x-pass">Passphrase</label>', page.html)
    page = await ada.post("/my-data/erase", {"passphrase": "wrong wrong wrong wrong"})
    assert page.status == 401 and "nothing was erased" in page
    page = await ada.post("/my-data/erase", {"passphrase": PASSPHRASE})
    assert page.url.endswith("/?notice=erased")
    page = await ada.post("/unlock", {"username": "ada", "passphrase": PASSPHRASE})
    assert page.status == 401


async def test_no_claim_value_or_secret_in_any_log(app: TestClient[Any, Any], peer: Peer,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    b, first = await signed_up(app, "lena")
    try:
        code = first.text_of("recovery-code")
        cid = await imported(app, b, peer.issue(await holder_jwk(app, b)))
        client_id = "x509_san_dns:localhost"
        link = peer.serve_request(lambda _f: peer.sign(peer.claims(
            client_id, dcql("given_name", "degree"))), client_id=client_id)
        page = await b.post("/open", {"link": link})
        await b.post(urlsplit(page.url).path + "/share", [
            ("q:degree", cid), ("send:degree:" + cid, '["given_name"]'),
            ("send:degree:" + cid, '["degree"]'), ("shown", page.hidden("shown"))])
        await b.post(f"/credentials/{cid}/share", [("claim", '["degree"]')])
        await b.post("/unlock", {"username": "lena", "passphrase": "not it " * 3})  # a 401
        await b.get("/credentials/not-an-id")  # a 404
        token = b.cookie("satchel_session")
        assert token and len(peer.posts) == 1
    finally:
        await b.close()
    assert caplog.records
    for rec in caplog.records:
        text = rec.getMessage() + json.dumps(vars(rec), default=str)
        for secret in (PASSPHRASE, "not it not it", code, token, "BSc Computing", "Lovelace"):
            assert secret not in text, (secret, rec.name, rec.getMessage())


async def test_a_query_that_takes_several_credentials_offers_checkboxes(
        app: TestClient[Any, Any], peer: Peer, ada: Browser) -> None:
    jwk = await holder_jwk(app, ada)
    first = await imported(app, ada, peer.issue(jwk))
    second = await imported(app, ada, peer.issue(jwk, {"given_name": "Ada",
                                                       "degree": "MSc Data"}))
    query = dcql("degree")
    query["credentials"][0]["multiple"] = True
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda _f: peer.sign(peer.claims(client_id, query)),
                              client_id=client_id)
    page = await ada.post("/open", {"link": link})
    path = urlsplit(page.url).path
    assert len(re.findall(r'<input type="checkbox" id="q-degree-\d+" name="q:degree"',
                          page.html)) == 2
    assert len(page.testids("disclosed-claim")) == 1  # the first, until the learner adds one
    both = [("q:degree", first), ("q:degree", second),
            ("send:degree:" + first, '["degree"]'), ("send:degree:" + second, '["degree"]')]
    page = await ada.post(path, both)  # Update what will be sent
    assert len(page.testids("disclosed-claim")) == 2 and "MSc Data" in page
    page = await ada.post(path + "/share", [*both, ("shown", page.hidden("shown"))])
    assert page.status == 200, page.html
    [got] = peer.posts
    assert sorted(d["degree"] for d in got.disclosed["degree"]) == ["BSc Computing", "MSc Data"]


async def test_the_list_pages_on_with_its_filters(app: TestClient[Any, Any], peer: Peer,
                                                  ada: Browser,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from holder_api.web.views import credentials

    jwk = await holder_jwk(app, ada)
    ids = {await imported(app, ada, peer.issue(jwk)) for _ in range(3)}
    monkeypatch.setattr(credentials, "PAGE_SIZE", 2)
    page = await ada.get("/credentials?format=dc%2Bsd-jwt")
    seen = set(re.findall(r'<a href="/credentials/([^"/]+)">', page.html))
    more = re.search(r'<a href="(/credentials\?[^"]+)">More credentials</a>', page.html)
    assert len(seen & ids) == 2 and more
    assert "format=dc%2Bsd-jwt" in unescape(more.group(1))  # the filter stays
    page = await ada.get(unescape(more.group(1)))
    rest = set(re.findall(r'<a href="/credentials/([^"/]+)">', page.html)) & ids
    assert rest == ids - seen and "More credentials" not in page


async def test_printable_pdf(app: TestClient[Any, Any], peer: Peer, ada: Browser) -> None:
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    page = await ada.get(f"/credentials/{cid}")
    assert ">Printable PDF</button>" in page.html
    async with ada.session.post(ada.url(f"/credentials/{cid}/pdf"),
                                data={"csrf": ada.csrf or ""}) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.content_type == "application/pdf"
        assert (await resp.read()).startswith(b"%PDF-")
    assert "1 / " in (await ada.get("/shares")) or "0 / " in (await ada.get("/shares"))
