"""What the last usability pass in real Chromium left, on both backends: the export's passphrase
asked twice, Share answered by a redirect (Post/Redirect/Get), a verifier's own words marked with
their language, and a shorter consent page that still shows what leaves."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.holder_api.conftest import PASSPHRASE
from tests.holder_api.present_support import Peer, dcql
from tests.holder_api.web_support import Browser, Page, holder_jwk, imported, signed_up

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
    ada: Browser
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


async def test_share_answers_with_a_redirect_to_what_was_sent(app: Any, peer: Peer) -> None:
    """Post/Redirect/Get: a reload of the page after Share shows it again and sends nothing."""
    ada, _ = await signed_up(app)
    try:
        await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        client_id = "x509_san_dns:localhost"
        link = peer.serve_request(lambda _f: peer.sign(peer.claims(
            client_id, dcql("given_name", "degree"))), client_id=client_id)
        page = await ada.post("/open", {"link": link})
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
