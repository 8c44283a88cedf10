"""What the last usability pass in real Chromium left, on both backends: the export's passphrase
asked twice, Share answered by a redirect (Post/Redirect/Get), a verifier's own words marked with
their language, and a shorter consent page that still shows what leaves."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.holder_api.present_support import Peer, dcql
from tests.holder_api.web_support import Browser, Page, holder_jwk, imported, signed_up
from tests.support.http_api import PASSPHRASE

#: The peers answer as ``localhost`` (tests/holder_api/conftest.py, ``app``)
PEER_HOST = "localhost"


def _card_of(page: Page, element_id: str) -> str:
    """The HTML of the card (``class="card ..."``) that holds ``element_id``."""
    for m in re.finditer(r'<(section|form|div)\b[^>]*class="card[^"]*"[^>]*>.*?</\1>', page.html,
                         re.S):
        if f'id="{element_id}"' in m.group(0):
            return m.group(0)
    raise AssertionError(f"{element_id} is in no card")


@pytest.mark.parametrize(("lang", "words"), [
    ("en", "The two passphrases for the file differ."),
    ("es", "Las dos frases de contraseña del archivo no coinciden.")])
async def test_the_export_passphrase_is_asked_twice_and_a_mismatch_refused_in_its_card(
        client: Any, lang: str, words: str) -> None:
    ada, _ = await signed_up(client)
    try:
        for path, first, again in (("/my-data", "x-pass", "x-again"),
                                   ("/my-data/export", "e-pass", "e-again")):
            page = await ada.get(path, headers={"Accept-Language": lang})
            for field in (first, again):  # a new passphrase: browsers offer to make one
                assert page.by_id(field)["autocomplete"] == "new-password"
                assert page.by_id(field)["type"] == "password"
            assert "required" in page.by_id(again)
        refused = await ada.post("/my-data/export", {
            "passphrase": PASSPHRASE, "confirm_passphrase": PASSPHRASE + "!"},
            headers={"Accept-Language": lang})
        assert refused.status == 400 and "attachment" not in refused.headers.get(
            "Content-Disposition", "")
        assert refused.html.count('id="form-error"') == 1
        assert words in refused.by_id("form-error")["#text"]
        assert 'id="form-error"' in _card_of(refused, "e-pass")  # in the card, by its fields
        assert refused.invalid_fields() == ["e-pass", "e-again"]
        # the same twice: the file
        done = await ada.post("/my-data/export", {
            "passphrase": PASSPHRASE, "confirm_passphrase": PASSPHRASE})
        assert done.status == 200 and "attachment" in done.headers["Content-Disposition"]
    finally:
        await ada.close()


async def test_a_weak_export_passphrase_is_refused_in_the_card_too(client: Any) -> None:
    ada, _ = await signed_up(client)
    try:
        await ada.get("/my-data/export")
        refused = await ada.post("/my-data/export", {"passphrase": "short",
                                                     "confirm_passphrase": "short"})
        assert refused.status == 400 and refused.html.count('id="form-error"') == 1
        assert 'id="form-error"' in _card_of(refused, "e-pass")
        assert refused.invalid_fields() == ["e-pass", "e-again"]
    finally:
        await ada.close()


def _ticked(page: Page) -> list[tuple[str, str]]:
    """What a browser sends with Share: the boxes ticked as drawn, and the summary's digest."""
    return [*[(e["name"], e["value"]) for e in page.elements
              if e["#tag"] == "input" and "checked" in e], ("shown", page.hidden("shown"))]


async def _consent_page(app: Any, peer: Peer, ada: Browser) -> Page:
    """The consent page of a request for the given name and the degree of a credential held."""
    await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda _f: peer.sign(peer.claims(
        client_id, dcql("given_name", "degree"))), client_id=client_id)
    return await ada.post("/open", {"link": link})


async def test_share_answers_with_a_redirect_to_what_was_sent(app: Any, peer: Peer) -> None:
    """Post/Redirect/Get: a reload of the page after Share shows it again and sends nothing."""
    ada, _ = await signed_up(app)
    try:
        page = await _consent_page(app, peer, ada)
        rid = urlsplit(page.url).path.rsplit("/", 1)[1]
        answer = await ada.post(f"/requests/{rid}/share", _ticked(page), allow_redirects=False)
        assert answer.status == 303, answer.html
        assert answer.headers["Location"] == f"/requests/{rid}/sent"
        assert len(peer.posts) == 1
        for _ in range(2):  # the page, then a reload: the same page, nothing sent again
            sent = await ada.get(f"/requests/{rid}/sent")
            assert sent.status == 200, sent.html
            assert [json.loads(p) for p in sent.attrs("sent-claim", "data-path")] == [
                ["given_name"], ["degree"]]
            assert re.search(r'href="/history/[^"]+/receipt"', sent.html)
            assert f'href="{peer.base}/done"' in sent.html  # Return to the verifier
            assert "Your answer was sent" in sent
            assert len(peer.posts) == 1
        # another learner's session cannot read it; neither can ada's once it is not hers
        bob, _ = await signed_up(app, "bob")
        try:
            assert (await bob.get(f"/requests/{rid}/sent")).status == 404
        finally:
            await bob.close()
        # a request this session did not just answer: its own page (already answered)
        ada.session.cookie_jar.clear(lambda c: c.key.startswith("satchel_flash"))
        later = await ada.get(f"/requests/{rid}/sent")
        assert urlsplit(later.url).path == f"/requests/{rid}" and "already answered" in later
    finally:
        await ada.close()


def _inside(html: str, tag: str, testid: str) -> bool:
    """Whether every element with ``testid`` stands inside a ``<tag>`` element."""
    found = False
    for m in re.finditer(rf"<{tag}\b.*?</{tag}>", html, re.S):
        found = found or f'data-testid="{testid}"' in m.group(0)
    outside = re.sub(rf"<{tag}\b.*?</{tag}>", "", html, flags=re.S)
    return found and f'data-testid="{testid}"' not in outside


async def test_the_consent_page_names_what_is_always_sent_and_folds_its_values(
        app: Any, peer: Peer) -> None:
    """Shorter on a phone: the claims the learner chose stay in the open with their values; the
    ones the issuer always adds (iss, vct, iat, exp, the key's parts) are named in the summary
    of a disclosure, their values one press away, and the buttons follow."""
    ada, _ = await signed_up(app)
    try:
        page = await _consent_page(app, peer, ada)
        assert page.attrs("disclosed-claim", "data-path")
        assert not _inside(page.html, "details", "disclosed-claim")  # what was chosen: open
        assert _inside(page.html, "details", "always-sent-claim")  # folded, still on the page
        n = len(page.attrs("always-sent-claim", "data-path"))
        [summary] = [" ".join(e["#text"].split()) for e in page.elements
                     if e["#tag"] == "summary" and f"({n} claims)" in e["#text"]]
        assert summary.startswith("Also sent, as its issuer requires"), summary
        for words in ("Issuer", "Credential type", "Issued", "Expires", "Your key"):
            assert words in summary, (words, summary)
        assert summary.count("Your key") == 1  # the key's parts: one name
        # who asks and why in one card (the two headings kept)
        between = page.html.split('id="h-who"', 1)[1].split('id="h-why"', 1)[0]
        assert 'class="card' not in between
    finally:
        await ada.close()


def _langs_of(page: Page, text: str) -> list[str | None]:
    """The ``lang`` of the innermost element whose own text is ``text`` (None: none given)."""
    return [e.get("lang") for e in page.elements
            if " ".join(e["#text"].split()) == text and e["#tag"] in ("span", "p", "a")]


async def test_a_verifiers_own_words_say_their_language_or_that_it_is_unknown(
        app: Any, peer: Peer) -> None:
    """The verifier's name and purpose are its words, not the page's (WCAG 3.1.2): a name in
    the learner's language from ``client_name#<tag>`` (RFC 7591 §2.2) carries that tag, any
    other text of the verifier's ``lang=""`` (HTML: the language is unknown)."""
    ada, _ = await signed_up(app)
    try:
        await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        client_id = "x509_san_dns:localhost"

        def request(purpose: str) -> str:
            claims = peer.claims(client_id, dcql("degree"), purpose=purpose)
            claims["client_metadata"]["client_name#es-ES"] = "Acme Contratación"
            claims["client_metadata"]["client_name#de"] = "Acme Einstellung"
            return peer.serve_request(lambda _f: peer.sign(claims), client_id=client_id)

        page = await ada.post("/open", {"link": request("Check your degree")})
        path = urlsplit(page.url).path
        # English: no English variant, so the default name, its language unknown
        assert _langs_of(page, "Acme <Hiring>") == ["", ""]  # the heading's, the card's
        assert _langs_of(page, "Check your degree") == [""]
        es = await ada.get(path, headers={"Accept-Language": "es"})
        assert _langs_of(es, "Acme Contratación") == ["es-ES", "es-ES"]
        assert "Acme <Hiring>" not in es and "Acme Einstellung" not in es
        assert _langs_of(es, "Check your degree") == [""]
        # the page after Share, and the history
        sent = await ada.post(path + "/share", _ticked(page))
        assert sent.status == 200 and _langs_of(sent, "Acme <Hiring>") == [""]
        history = await ada.get("/history")
        assert _langs_of(history, "Acme <Hiring>") == [""]
        assert _langs_of(history, "Check your degree") == [""]
        # declined, and the inbox's list of requests
        page = await ada.post("/open", {"link": request("Again")})
        inbox = await ada.get("/inbox")
        assert "" in _langs_of(inbox, "Acme <Hiring>")
        declined = await ada.post(urlsplit(page.url).path + "/decline")
        assert _langs_of(declined, "Acme <Hiring>") == [""]
    finally:
        await ada.close()


async def test_choices_too_many_for_the_flash_still_lead_to_the_receipt(app: Any,
                                                                         peer: Peer) -> None:
    """A Share that kept back more claims than a cookie can carry: the page after it still says
    the answer went and links the receipt, without the list it cannot rebuild."""
    ada, _ = await signed_up(app)
    try:
        many = {f"a_rather_long_claim_name_for_the_cookie_{i:03d}": str(i) for i in range(90)}
        cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada), {
            "given_name": "Ada", **many}))
        client_id = "x509_san_dns:localhost"
        query = dcql("given_name", *many)  # all of them, or the given name alone
        claims = query["credentials"][0]["claims"]
        for i, claim in enumerate(claims):
            claim["id"] = f"c{i}"
        query["credentials"][0]["claim_sets"] = [[c["id"] for c in claims], ["c0"]]
        link = peer.serve_request(lambda _f: peer.sign(peer.claims(client_id, query)),
                                  client_id=client_id)
        page = await ada.post("/open", {"link": link})
        path = urlsplit(page.url).path
        keep = [("q:degree", cid), (f"send:degree:{cid}", '["given_name"]')]
        page = await ada.post(path, keep)  # Update what will be sent: all but one kept back
        assert [json.loads(p) for p in page.attrs("disclosed-claim", "data-path")] == [
            ["given_name"]]
        sent = await ada.post(path + "/share", [*keep, ("shown", page.hidden("shown"))])
        assert sent.status == 200 and urlsplit(sent.url).path == path + "/sent", sent.html
        [got] = peer.posts
        assert set(got.disclosed["degree"][0]) & set(many) == set()
        assert "Your answer was sent" in sent and not sent.testids("sent-claim")
        assert re.search(r'href="/history/[^"]+/receipt"', sent.html)
    finally:
        await ada.close()
