"""What a learner reads (or hears) where the exploratory walk of 2026-12-07 stumbled: dates and
times in the page's language (``7 Dec 2026`` / ``7 dic 2026``, never
``2026-12-07T16:32:13.651100Z``), a time saying it is UTC, a JWT's ``iat`` / ``exp`` as the time it
stands for (not seconds since 1970), no English word left on a Spanish page, a refused form's
way back to it, the wallet's own links named in the history, and which inbox item a button
acts on."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from babel.dates import format_date

from tests.holder_api.present_support import Peer, dcql
from tests.holder_api.web_support import Browser, holder_jwk, imported, signed_up

PEER_HOST = "localhost"
ELM_SAMPLE = (Path(__file__).parents[1] / "vectors" / "microcredentials" / "elm"
              / "Sample-MC-Annex1-signed.jsonld")
#: a date or time as an API's JSON or a raw value says it (what no page should show as text)
_ISO_TEXT = re.compile(r">[^<]*\d{4}-\d\d-\d\d(T\d\d:\d\d)?[^<]*<")
ES = {"Accept-Language": "es"}


@pytest.fixture
async def ada(app: TestClient[Any, Any]) -> AsyncIterator[Browser]:
    b, _ = await signed_up(app)
    yield b
    await b.close()


def _today(locale: str) -> str:
    return format_date(datetime.now(UTC).date(), "medium", locale=locale)


def _iso_texts(shown: str) -> list[str]:
    return [m.group(0) for m in _ISO_TEXT.finditer(shown)]


def _visible(html: str) -> str:
    """The page's text outside attributes (a ``datetime`` attribute keeps its ISO value)."""
    return re.sub(r"<[^>]*>", "<>", html)


async def test_dates_and_times_in_the_pages_language(app: TestClient[Any, Any], peer: Peer,
                                                     ada: Browser) -> None:
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    await ada.post(f"/credentials/{cid}/share", [("claim", '["degree"]')])
    for lang, locale in (("en", "en_150"), ("es", "es_ES")):
        headers = {"Accept-Language": lang}
        for path in ("/credentials", f"/credentials/{cid}", "/shares", "/history"):
            page = await ada.get(path, headers=headers)
            assert page.status == 200
            shown = _visible(page.html)
            assert not _ISO_TEXT.search(shown), (lang, path, _iso_texts(shown))
            assert _today(locale) in unescape(page.html), (lang, path)  # /shares: a label
        # the times say which clock they are on (the server cannot know the learner's zone)
        assert re.search(r"\d\d:\d\d UTC", (await ada.get("/history", headers=headers)).html)
        detail = (await ada.get(f"/credentials/{cid}", headers=headers)).html
        assert re.search(r"\d\d:\d\d UTC", detail)  # when the verification was checked
    # machines still read the exact time
    assert re.search(r'<time datetime="\d{4}-\d\d-\d\dT', (await ada.get("/history")).html)


async def test_a_new_share_link_says_its_expiry_and_what_it_shares_in_spanish(
        app: TestClient[Any, Any], ada: Browser) -> None:
    cid = await imported(app, ada, ELM_SAMPLE.read_text())  # a W3C credential: shared whole
    await ada.get("/lang/es?next=/")
    page = await ada.post(f"/credentials/{cid}/share", [("expires_in", "86400")])
    assert page.url.endswith("/shared"), page.html
    assert "Compartido: credencial completa" in page, page.html
    assert "whole credential" not in page
    assert not _ISO_TEXT.search(_visible(page.html)), _iso_texts(_visible(page.html))
    assert re.search(r"Caduca el \d{1,2} [a-z]{3,4}\.? \d{4}, \d\d:\d\d UTC",
                     unescape(_visible(page.html)))


async def test_a_jwts_times_are_shown_as_times_on_the_consent_page(
        app: TestClient[Any, Any], peer: Peer, ada: Browser) -> None:
    await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda _f: peer.sign(peer.claims(client_id, dcql("degree"))),
                              client_id=client_id)
    page = await ada.post("/open", {"link": link})
    always = re.findall(r'data-testid="always-sent-claim" data-path="([^"]+)">(.*?)</li>',
                        page.html)
    by_path = {p.replace("&#34;", '"'): text for p, text in always}
    for name in ('["iat"]', '["exp"]'):
        text = by_path[name]
        assert not re.search(r">\d{9,}<", text), text  # not seconds since 1970
        assert re.search(r"<time datetime=\"\d{4}-\d\d-\d\dT[^\"]+\">\d{1,2} \w{3} \d{4}, "
                         r"\d\d:\d\d UTC</time>", text), text


async def test_the_eqf_level_of_a_card_is_named_in_the_pages_language(
        app: TestClient[Any, Any], ada: Browser) -> None:
    await imported(app, ada, ELM_SAMPLE.read_text())
    page = await ada.get("/credentials", headers=ES)
    [card] = page.html.split('data-testid="credential"')[1:]
    assert '<span class="dt">MEC </span><span class="dd">6</span>' in card, card
    assert ">EQF <" not in card


async def test_a_refused_form_leads_back_to_it(app: TestClient[Any, Any], peer: Peer,
                                              ada: Browser) -> None:
    """The error page after a form (a share of a claim the credential does not have) offers
    the form again, not only the start; a page opened by its address does not link to itself.
    (The import form itself is shown again with its error and the text kept:
    test_web_import_pdf_cards.py.)"""
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    await ada.get(f"/credentials/{cid}")
    page = await ada.post(f"/credentials/{cid}/share", [("claim", '["no_such_claim"]')])
    assert page.status == 400, page.html
    assert f'<a href="/credentials/{cid}">Try again</a>' in page.html, page.html
    page = await ada.post(f"/credentials/{cid}/share", [("claim", '["no_such_claim"]')],
                          headers=ES)
    assert f'<a href="/credentials/{cid}">Inténtalo de nuevo</a>' in page.html
    missing = await ada.get("/credentials/00000000-0000-4000-8000-000000000000")
    assert missing.status == 404 and "Try again" not in missing


async def test_the_history_names_a_link_not_its_internal_id(
        app: TestClient[Any, Any], peer: Peer, ada: Browser) -> None:
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    await ada.get(f"/credentials/{cid}")
    await ada.post(f"/credentials/{cid}/share", [("claim", '["degree"]')])
    await ada.get("/inbox")
    await ada.post("/inbox-links", {"label": "Test University"})
    page = await ada.get("/history")
    assert "share_link:" not in _visible(page.html) and "inbox_link:" not in _visible(page.html)
    assert re.search(r"With: Share link <code>[0-9a-f]{8}</code>", page.html), page.html


async def test_each_inbox_button_says_which_item_it_acts_on(
        app: TestClient[Any, Any], peer: Peer, ada: Browser) -> None:
    """Several items: "Receive, Refuse, Receive, Refuse" in a screen reader's list of buttons
    says nothing; each button is described by its item's heading (WCAG 2.4.6)."""
    await ada.get("/inbox")
    page = await ada.post("/inbox-links", {"label": "Test University"})
    push = page.text_of("inbox-link").removeprefix("http://satchel.test")
    jwk = await holder_jwk(app, ada)
    for _ in range(2):
        assert (await app.post(push, json={"credential": peer.issue(jwk)})).status == 202
    page = await ada.get("/inbox")
    buttons = [e for e in page.elements if e["#tag"] == "button"
               and e["#text"].strip() in ("Receive", "Refuse")]
    assert len(buttons) == 4
    described = [b.get("aria-describedby") for b in buttons]
    headings = [page.by_id(d)["#text"] for d in described if d]
    assert len(headings) == 4 and len(set(described)) == 2, described
    assert all(h.startswith("A credential from") for h in headings)


async def test_a_link_nothing_answers_says_so(app: TestClient[Any, Any], ada: Browser) -> None:
    """A mistyped or dead link in the Link box: not "the issuer did not issue the credential"
    (nothing was asked of an issuer), but that nothing answered properly at that address."""
    page = await ada.post("/open", {"link": "https://example.invalid/nothing"})
    assert page.attrs("error-code", "data-code") == ["issuer_failed"] or "issuer_failed" in page
    assert "did not issue the credential" not in page
    assert "did not answer properly" in page, page.html


async def test_a_share_links_row_says_what_each_value_is_on_a_phone(
        app: TestClient[Any, Any], peer: Peer, ada: Browser) -> None:
    """Under 40rem the list's header row is hidden (to a screen reader too: Chromium's tree then
    has cells and no column headers) and each row stacks: "1 / 10", "14 Dec 2026", "active"
    alone say nothing, so each cell carries its column's name, shown only there."""
    cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    await ada.get(f"/credentials/{cid}")
    await ada.post(f"/credentials/{cid}/share", [("claim", '["degree"]')])
    for lang, names in (("en", ["Shared", "Views", "Expires", "State"]),
                        ("es", ["Compartido", "Visualizaciones", "Caduca", "Estado"])):
        page = await ada.get("/shares", headers={"Accept-Language": lang})
        labels = [e["#text"] for e in page.elements
                  if e.get("class") == "cell-label" and "aria-hidden" not in e]
        assert labels == names, labels
