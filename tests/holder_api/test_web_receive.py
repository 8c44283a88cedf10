"""Receiving in the web wallet, on both backends, from the independent OpenID4VCI issuer
(tests/wallet/oid4vci_support.py): every offer form through the Link box, the transaction code,
accept/decline, deferred issuance shown as pending, credential pages, the inbox and its links."""

from __future__ import annotations

import json
import re
import ssl
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import SERVICES
from tests.holder_api.receive_support import advance
from tests.holder_api.web_support import Browser, Page, sign_in_at_issuer, signed_up
from tests.wallet.oid4vci_support import DEFERRED, Issuer
from wallet.microcred.model import ELEMENT_KEYS

# the issuer before the app: the app fixture runs on the issuer's clock and asks for it by name
pytestmark = pytest.mark.usefixtures("issuer")


@pytest.fixture
async def ada(app: TestClient[Any, Any]) -> AsyncIterator[Browser]:
    b, _ = await signed_up(app)
    yield b
    await b.close()


def _uri(offer: dict[str, Any]) -> str:
    return "openid-credential-offer://?" + urlencode({"credential_offer": json.dumps(offer)})


async def _open(b: Browser, link: str) -> Page:
    page = await b.post("/open", {"link": link})
    assert page.status == 200, page.html
    return page


async def test_offer_forms_accept_and_the_credential_page(app: TestClient[Any, Any],
                                                          issuer: Issuer, ada: Browser) -> None:
    by_value = _uri(issuer.make_pre_authorized_offer())
    published = issuer.publish_offer(issuer.make_pre_authorized_offer())
    forms = [by_value,
             "openid-credential-offer://?" + urlencode({"credential_offer_uri": published}),
             "https://wallet.example/offer?" + urlencode({"credential_offer_uri": published}),
             published]
    for link in forms:
        page = await _open(ada, link)
        assert re.search(r"/offers/[^/?]+$", page.url), (link, page.url)
        assert "Credential offer" in page and issuer.credential_issuer in page
        assert "not on this wallet's trust list" in page  # no trust list configured
        assert ">Accept</button>" in page.html and ">Decline</button>" in page.html
        assert "Transaction code" not in page  # this issuer wants none
    page = await ada.post(urlsplit(page.url).path + "/accept")
    assert page.status == 200 and "/credentials/" in page.url, page.html
    assert "The credential was received and verified." in page
    keys = page.attrs("element", "data-key")
    # every Annex I element, present or not; compound ones also by their parts (ects, eqf)
    assert [k for k in keys if k in ELEMENT_KEYS] == list(ELEMENT_KEYS)
    assert set(keys) - set(ELEMENT_KEYS) <= {"ects", "hours", "eqf", "qf_ehea", "nqf"}
    assert "Mandatory elements missing from this credential:" in page
    assert "Data literacy (5 ECTS)" in page  # the claim values, for the learner
    es = await ada.get(urlsplit(page.url).path, headers={"Accept-Language": "es"})
    assert "Título de la microcredencial" in es and "Organismo que otorga la credencial" in es
    assert [k for k in es.attrs("element", "data-key") if k in ELEMENT_KEYS] == list(ELEMENT_KEYS)
    cid = urlsplit(page.url).path.rsplit("/", 1)[1]
    raw = await ada.get(f"/credentials/{cid}/raw")
    assert raw.status == 200 and "attachment" in raw.headers["Content-Disposition"]
    assert raw.html.count("~") >= 2  # the SD-JWT as received
    listing = await ada.get("/credentials")
    assert len(listing.testids("credential")) == 1
    assert f'href="/credentials/{cid}"' in listing.html
    # declining one of the pending offers
    offers = (await ada.get("/inbox")).html
    pending = re.findall(r'href="/offers/([^"]+)"', offers)
    assert len(pending) == 3
    page = await ada.post(f"/offers/{pending[0]}/decline")
    assert page.url.endswith("/inbox?notice=declined")
    assert (await ada.get(f"/offers/{pending[0]}")).status == 404
    # delete, after the confirmation page
    assert ">Delete</button>" in (await ada.get(f"/credentials/{cid}/delete")).html
    page = await ada.post(f"/credentials/{cid}/delete")
    assert page.url.endswith("/credentials?notice=deleted")
    assert (await ada.get(f"/credentials/{cid}")).status == 404
    assert "No credentials yet." in (await ada.get("/credentials"))


async def test_transaction_code(app: TestClient[Any, Any], issuer: Issuer, ada: Browser) -> None:
    page = await _open(ada, _uri(issuer.make_pre_authorized_offer(tx_code="493536")))
    assert re.search(r'<label for="tx">Transaction code</label>', page.html)
    assert "Code from the e-mail" in page
    offer_path = urlsplit(page.url).path
    page = await ada.post(offer_path + "/accept", {"tx_code": "000000"})
    # the offer page asks again, the field pointing at the message (WCAG 3.3.1)
    assert page.status == 400 and page.url.endswith(offer_path + "/accept")
    assert page.by_id("form-error")["#text"] == (
        "The issuer did not accept the code. Check it and try again.")
    tx = page.by_id("tx")
    assert page.invalid_fields() == ["tx"] and "autofocus" in tx
    assert tx["aria-describedby"] == "tx-help form-error"
    assert tx["aria-errormessage"] == "form-error"
    page = await ada.post(offer_path + "/accept", {"tx_code": "493536"})
    assert "/credentials/" in page.url, page.html


async def test_deferred_is_pending_until_ready(app: TestClient[Any, Any], issuer: Issuer,
                                               ada: Browser) -> None:
    clock = issuer.clock  # Satchel's too (the app fixture)
    page = await _open(ada, _uri(issuer.make_pre_authorized_offer((DEFERRED,))))
    offer_path = urlsplit(page.url).path
    page = await ada.post(offer_path + "/accept")
    assert page.url.endswith("?notice=deferred")
    assert "Pending: the issuer is still preparing this credential." in page
    assert ">Check again</button>" in page.html
    advance(issuer, clock, 13)
    page = await ada.post(offer_path + "/accept")
    assert "/credentials/" in page.url, page.html


async def test_inbox_links_and_pushes(app: TestClient[Any, Any], issuer: Issuer,
                                      ada: Browser) -> None:
    await ada.get("/inbox")
    page = await ada.post("/inbox-links", {"label": "Test University"})
    url = page.text_of("inbox-link")
    assert url.startswith("http://satchel.test/i/") and "<svg" in page.html
    path = urlsplit(url).path
    listing = await ada.get("/inbox")
    assert "Test University" in listing and url not in listing  # the URL is shown once
    for _ in range(2):
        r = await app.get(path, params={"credential_offer": json.dumps(
            issuer.make_pre_authorized_offer())})
        assert r.status == 202
    listing = await ada.get("/inbox")
    items = re.findall(r'action="/inbox/([^"/]+)/accept"', listing.html)
    assert len(items) == 2
    page = await ada.post(f"/inbox/{items[0]}/decline")
    assert page.url.endswith("/inbox?notice=declined")
    page = await ada.post(f"/inbox/{items[1]}/accept")
    assert "/credentials/" in page.url, page.html
    listing = await ada.get("/inbox")
    assert "Nothing is waiting." in listing
    link_id = re.search(r'action="/inbox-links/([^"/]+)/delete"', listing.html)
    assert link_id
    page = await ada.post(f"/inbox-links/{link_id.group(1)}/delete")
    assert page.url.endswith("/inbox?notice=link_deleted")
    assert (await app.get(path, params={"credential_offer": "{}"})).status == 404


async def test_link_box_refuses_what_it_cannot_read(app: TestClient[Any, Any],
                                                    ada: Browser) -> None:
    await ada.get("/credentials")
    page = await ada.post("/open", {"link": "mailto:someone@example.org"})
    assert page.status == 400 and "neither a credential offer nor a presentation request" in page
    assert ">Lock</button>" in page.html  # an error page keeps the wallet's frame


async def test_import_paste_and_file(app: TestClient[Any, Any], issuer: Issuer,
                                     ada: Browser) -> None:
    s = app.app[SERVICES]
    session = await s.accounts.authenticate(ada.cookie("satchel_session") or "")
    keys = await s.accounts.holder_keys(session)
    jwk = next(k.jwk for k in keys if k.alg == "ES256")
    minted = issuer._mint({k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")})
    await ada.get("/credentials/import")
    page = await ada.post("/credentials/import", {"raw": minted})
    assert page.url.endswith("?notice=imported"), page.html
    await ada.get("/credentials/import")
    form = aiohttp.FormData()
    form.add_field("raw", "")
    form.add_field("file", minted.encode(), filename="cred.txt", content_type="text/plain")
    page = await ada.post("/credentials/import", form)
    assert page.url.endswith("?notice=imported"), page.html
    assert len((await ada.get("/credentials")).testids("credential")) == 2
    page = await ada.post("/credentials/import", {"raw": "not a credential"})
    assert page.status in (400, 415, 422)


async def test_import_a_signed_pdf_file(app: TestClient[Any, Any], ada: Browser) -> None:
    """The import page takes a PAdES-signed PDF as a file: stored as format pdf, its signer shown
    as not trusted (no anchors configured here); an unsigned PDF is refused, nothing stored."""
    from tests import pdf_support as ps

    await ada.get("/credentials/import")
    form = aiohttp.FormData()
    form.add_field("raw", "")
    form.add_field("file", ps.sign(ps.base_pdf()), filename="diploma.pdf",
                   content_type="application/pdf")
    page = await ada.post("/credentials/import", form)
    assert page.url.endswith("?notice=imported"), page.html
    cid = urlsplit(page.url).path.rsplit("/", 1)[-1]
    s = app.app[SERVICES]
    session = await s.accounts.authenticate(ada.cookie("satchel_session") or "")
    stored = await s.credentials.get(session.learner_id, session.dek, cid, languages=("en",))
    assert stored.credential.format == "pdf"
    assert stored.verification["signature"] == "valid"
    assert stored.verification["issuer_trusted"] is False
    assert "Data Literacy Fundamentals" in page.html
    await ada.get("/credentials/import")
    form = aiohttp.FormData()
    form.add_field("raw", "")
    form.add_field("file", ps.base_pdf(), filename="unsigned.pdf", content_type="application/pdf")
    page = await ada.post("/credentials/import", form)
    assert page.status in (400, 415, 422), page.html
    assert len((await ada.get("/credentials")).testids("credential")) == 1


async def test_the_import_page_takes_a_signed_pdf_as_large_as_the_api_does(
        app: TestClient[Any, Any], ada: Browser) -> None:
    """A signed PDF over 2.5 MiB (the API takes up to SATCHEL_MAX_PDF_BYTES, 10 MiB) is stored from
    the import page too; the page once refused anything over 2 MiB with 413."""
    from tests import pdf_support as ps

    signed = ps.sign(ps.base_pdf(padding_bytes=4 * 1024 * 1024))
    assert len(signed) > 2.5 * 1024 * 1024
    await ada.get("/credentials/import")
    form = aiohttp.FormData()
    form.add_field("raw", "")
    form.add_field("file", signed, filename="diploma.pdf", content_type="application/pdf")
    page = await ada.post("/credentials/import", form)
    assert page.url.endswith("?notice=imported"), (page.status, page.html[:500])
    assert len((await ada.get("/credentials")).testids("credential")) == 1


async def test_authorization_code_flow_through_the_issuer_and_back(
        app: TestClient[Any, Any], issuer: Issuer, ada: Browser, ca_file: Path) -> None:
    page = await _open(ada, issuer.publish_offer(issuer.make_authorization_code_offer()))
    offer_path = urlsplit(page.url).path
    page = await ada.post(offer_path + "/accept")
    # a link to follow, not a redirect after the form (CSP form-action stays 'self')
    assert page.status == 200 and "Continue to the issuer" in page
    found = re.search(r'<a class="button" href="([^"]+)">', page.html)
    assert found
    url = unescape(found.group(1))
    assert url.startswith(issuer.base)
    ctx = ssl.create_default_context(cafile=str(ca_file))
    async with aiohttp.ClientSession() as browser, browser.get(
            url, ssl=ctx, allow_redirects=False) as resp:
        assert resp.status == 302
        callback = resp.headers["Location"]
    # back at this wallet's own callback page for this offer
    assert callback.startswith(f"http://satchel.test{offer_path}/callback?")
    forged = await ada.get(urlsplit(callback).path + "?code=x&state=y")
    assert forged.status == 400
    back = urlsplit(callback)
    page = await ada.get(f"{back.path}?{back.query}")
    assert "/credentials/" in page.url and "The credential was received" in page, page.html


async def test_search_and_filters(app: TestClient[Any, Any], issuer: Issuer,
                                  ada: Browser) -> None:
    page = await _open(ada, _uri(issuer.make_pre_authorized_offer()))
    await ada.post(urlsplit(page.url).path + "/accept")
    assert len((await ada.get("/credentials")).testids("credential")) == 1
    assert len((await ada.get("/credentials?format=dc%2Bsd-jwt")).testids("credential")) == 1
    empty = await ada.get("/credentials?format=ldp_vc")
    assert empty.testids("credential") == [] and "No credential matches these filters." in empty
    assert (await ada.get("/credentials?eqf=6")).testids("credential") == []
    assert (await ada.get("/credentials?q=zzzz-nothing")).testids("credential") == []
    assert (await ada.get("/credentials?q=" + "x" * 600)).status == 400


async def test_qr_picture_read_on_the_server(app: TestClient[Any, Any], issuer: Issuer,
                                             ada: Browser) -> None:
    import io

    import segno

    await ada.get("/scan")
    png = io.BytesIO()
    segno.make(_uri(issuer.make_pre_authorized_offer()), error="m").save(png, kind="png",
                                                                          scale=5)
    form = aiohttp.FormData()
    form.add_field("image", png.getvalue(), filename="qr.png", content_type="image/png")
    page = await ada.post("/scan", form)
    assert re.search(r"/offers/[^/?]+$", page.url), page.html
    await ada.get("/scan")
    form = aiohttp.FormData()
    form.add_field("image", b"not a picture", filename="x.png", content_type="image/png")
    page = await ada.post("/scan", form)
    assert page.status == 400 and "not a picture this wallet can read" in page


async def test_phone_sized_photo_is_read_and_a_huge_upload_gets_a_page(
        app: TestClient[Any, Any], issuer: Issuer, ada: Browser) -> None:
    import io

    import segno
    from PIL import Image

    qr = io.BytesIO()
    segno.make(_uri(issuer.make_pre_authorized_offer()), error="m").save(qr, kind="png",
                                                                         scale=8)
    photo = io.BytesIO()  # about 3 MB, like a phone's picture (the API's body limit is 1 MiB)
    Image.open(io.BytesIO(qr.getvalue())).convert("RGB").resize((1000, 1000)).save(
        photo, format="BMP")
    assert photo.tell() > 2 * 1024 * 1024
    await ada.get("/scan")
    form = aiohttp.FormData()
    form.add_field("image", photo.getvalue(), filename="photo.bmp", content_type="image/bmp")
    page = await ada.post("/scan", form)
    assert re.search(r"/offers/[^/?]+$", page.url), page.html
    await ada.get("/scan")
    form = aiohttp.FormData()
    form.add_field("image", b"\0" * (11 * 1024 * 1024), filename="huge.png",
                   content_type="image/png")
    page = await ada.post("/scan", form)
    assert page.status == 413 and page.headers["Content-Type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    # the other forms keep the API's limit
    await ada.get("/inbox")
    page = await ada.post("/inbox-links", {"label": "x" * (2 * 1024 * 1024)})
    assert page.status == 413 and page.headers["Content-Type"].startswith("text/html")


async def test_return_from_the_issuer_without_the_strict_cookie_bounces_same_site(
        app: TestClient[Any, Any], issuer: Issuer, ada: Browser, ca_file: Path) -> None:
    page = await _open(ada, issuer.publish_offer(issuer.make_authorization_code_offer()))
    back = await sign_in_at_issuer(await ada.post(urlsplit(page.url).path + "/accept"),
                                    issuer, ca_file)
    # the cross-site redirect back: the browser sends no SameSite=Strict cookie with it
    async with aiohttp.ClientSession() as cross_site, cross_site.get(
            ada.url(back), allow_redirects=False) as resp:
        assert resp.status == 200
        assert "satchel_session" not in resp.cookies  # the learner's session is not deleted
        html = unescape(await resp.text())
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    refresh = re.search(r'<meta http-equiv="refresh" content="0; url=([^"]+)">', html)
    assert refresh and refresh.group(1) == back + "&bounced=1"
    assert f'href="{back}&bounced=1"' in html  # and a link, for a browser without refresh
    # the same-origin step carries the cookie: the code reaches the wallet
    page = await ada.get(refresh.group(1))
    assert "/credentials/" in page.url and "The credential was received" in page, page.html
    # with no session even after the bounce: the start page, coming back here after unlock
    async with aiohttp.ClientSession() as locked, locked.get(
            ada.url(refresh.group(1)), allow_redirects=False) as resp:
        assert resp.status == 303 and resp.headers["Location"].startswith("/?next=/offers/")


async def test_inbox_pushed_offer_with_sign_in_comes_back_to_the_wallet(
        app: TestClient[Any, Any], issuer: Issuer, ada: Browser, ca_file: Path) -> None:
    await ada.get("/inbox")
    page = await ada.post("/inbox-links", {"label": "Test University"})
    push = urlsplit(page.text_of("inbox-link")).path
    r = await app.get(push, params={"credential_offer": json.dumps(
        issuer.make_authorization_code_offer())})
    assert r.status == 202
    listing = await ada.get("/inbox")
    item = re.search(r'action="/inbox/([^"/]+)/accept"', listing.html)
    assert item
    back = await sign_in_at_issuer(await ada.post(f"/inbox/{item.group(1)}/accept"),
                                    issuer, ca_file)
    assert back.startswith("/oid4vci/callback?")
    page = await ada.get(back)
    assert page.status == 200 and "/credentials/" in page.url, page.html
    assert "The credential was received" in page
    # a learner with no offer waiting gets a page saying so, not a 404 JSON
    other, _ = await signed_up(app, "bob")
    try:
        page = await other.get(back)
        assert page.status == 409 and "text/html" in page.headers["Content-Type"]
    finally:
        await other.close()
