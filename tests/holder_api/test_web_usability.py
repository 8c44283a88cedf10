"""What a learner needs to know on the page where it matters (the second usability pass):
how long a refused unlock must wait, how long a new passphrase must be, which form of a page
with several was refused, what the claims leaving for a verifier are, what erasing the wallet
takes with it, and what a downloaded recovery code is."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote, urlsplit

from holder_api.appkeys import SETTINGS
from holder_api.schemas import NEW_PASSPHRASE
from tests.holder_api.present_support import Peer, dcql
from tests.holder_api.web_support import Browser, holder_jwk, imported, signed_up
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE

#: The peers answer as ``localhost`` (tests/holder_api/conftest.py, ``app``)
PEER_HOST = "localhost"
OTHER = "another long passphrase 42"


def _wait_said(text: str, pattern: str) -> int:
    m = re.search(pattern, text)
    assert m, text
    return int(m.group(1))


async def test_a_throttled_unlock_or_recovery_says_how_long_to_wait(
        make_client: AppFactory) -> None:
    client: Any = await make_client(SATCHEL_UNLOCK_LIMIT="3/60")
    ada, _ = await signed_up(client)
    try:
        await ada.post("/lock")
        await ada.get("/")
        for _ in range(6):
            page = await ada.post("/unlock", {"username": "ada", "passphrase": OTHER})
        assert page.status == 429
        alert = page.by_id("form-error")["#text"]
        waited = _wait_said(alert, r"Try again in (\d+) seconds?\.")
        assert 0 < waited <= 60 and page.headers["Retry-After"] == str(waited)
        # in Spanish too, on the recovery form (wrong codes until it is refused for a while)
        await ada.get("/recover", headers={"Accept-Language": "es"})
        for _ in range(12):
            page = await ada.post("/recover", {"username": "ada", "recovery_code": "-".join(["AAAAA"] * 5),
                                               "new_passphrase": PASSPHRASE + "!",
                                               "confirm_passphrase": PASSPHRASE + "!"},
                                  headers={"Accept-Language": "es"})
            if page.status != 401:
                break
        assert page.status == 429, page.html
        assert page.invalid_fields() == []  # no field is wrong: the form waits
        alert = page.by_id("form-error")["#text"]
        waited = _wait_said(alert, r"Vuelve a intentarlo dentro de (\d+) segundos?\.")
        assert page.headers["Retry-After"] == str(waited)
    finally:
        await ada.close()


def _section(html: str, heading_id: str) -> str:
    m = re.search(rf'<section aria-labelledby="{heading_id}"[^>]*>(.*?)</section>', html, re.S)
    assert m, html
    return m.group(1)


async def test_the_account_page_says_its_refusal_in_the_card_of_the_form_refused(
        client: Any) -> None:
    """Two forms on one page: the message stands in the card of the form it answers, not above
    both, so a learner who made a new recovery code does not read it as the passphrase's."""
    ada, _ = await signed_up(client)
    try:
        await ada.get("/account")
        page = await ada.post("/account/recovery-code", {"passphrase": OTHER})
        assert page.status == 401
        assert page.html.count('id="form-error"') == 1
        assert 'id="form-error"' in _section(page.html, "h-rc")
        assert page.invalid_fields() == ["a-rc-pass"]
        page = await ada.post("/account/passphrase", {
            "current_passphrase": PASSPHRASE, "new_passphrase": OTHER,
            "confirm_passphrase": OTHER + "!"})
        assert page.status == 400 and page.html.count('id="form-error"') == 1
        assert 'id="form-error"' in _section(page.html, "h-pass")
        assert page.invalid_fields() == ["a-new", "a-confirm"]
    finally:
        await ada.close()


async def test_every_new_passphrase_says_how_long_it_must_be_before_it_is_refused(
        client: Any) -> None:
    """The length rule is said beside the field (its description), not only once refused."""
    least = int(NEW_PASSPHRASE["minLength"])
    ada, _ = await signed_up(client)
    stranger = Browser(client)
    try:
        for b, path, field, lang, words in (
                (stranger, "/", "passphrase", "en", f"at least {least} characters"),
                (stranger, "/", "passphrase", "es", f"al menos {least} caracteres"),
                (stranger, "/recover", "r-new", "en", f"at least {least} characters"),
                (ada, "/account", "a-new", "en", f"at least {least} characters"),
                (ada, "/account", "a-new", "es", f"al menos {least} caracteres"),
                (ada, "/my-data", "x-pass", "en", f"at least {least} characters")):
            page = await b.get(path, headers={"Accept-Language": lang})
            said = " ".join(page.by_id(i)["#text"]
                            for i in page.by_id(field).get("aria-describedby", "").split())
            assert words in " ".join(said.split()).casefold(), (path, lang, said)
    finally:
        await ada.close()
        await stranger.close()


def _items(page: Any, testid: str) -> dict[str, str]:
    """The text of each item ``testid`` marks, by its ``data-path``."""
    return {e["data-path"]: " ".join(e["#text"].split()) for e in page.elements
            if e.get("data-testid") == testid}


async def test_the_consent_page_names_the_claims_in_words_beside_their_names(
        app: Any, peer: Peer) -> None:
    """An employer asking for ``given_name`` sees "Given name"; the claims every presentation
    of the credential carries say what they are (issuer, type, dates, the learner's key), each
    still with its own name, in the page's language."""
    ada, _ = await signed_up(app)
    try:
        await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        client_id = "x509_san_dns:localhost"
        for lang, words in (("en", {'["given_name"]': "Given name (given_name): Ada",
                                    '["iat"]': "Issued (iat):",
                                    '["cnf","jwk","x"]': "Your key (cnf.jwk.x):"}),
                            ("es", {'["given_name"]': "Nombre (given_name): Ada",
                                    '["iat"]': "Expedida (iat):",
                                    '["cnf","jwk","x"]': "Tu clave (cnf.jwk.x):"})):
            link = peer.serve_request(lambda _f: peer.sign(peer.claims(
                client_id, dcql("given_name", "degree"))), client_id=client_id)
            page = await ada.post("/open", {"link": link}, headers={"Accept-Language": lang})
            shown = {**_items(page, "disclosed-claim"), **_items(page, "always-sent-claim")}
            assert shown, (lang, page.status, page.url, page.html[-3000:])
            for path, text in words.items():
                assert shown[path].startswith(text), (lang, path, shown[path])
            # what the key is for, said once
            assert page.html.count("verifier check that the credential is yours" if lang == "en"
                                   else "comprobar que la credencial es tuya") == 1
            # a claim with no name of its own keeps its claim name alone
            assert shown['["degree"]'] == "degree: BSc Computing"
            # the choices say the same words
            choice = next(e for e in page.elements if e.get("#tag") == "label"
                          and "given_name" in e["#text"])
            assert " ".join(choice["#text"].split()) == words['["given_name"]']
    finally:
        await ada.close()


async def test_the_erase_page_says_what_goes_and_which_passphrase_it_asks_for(
        app: Any, peer: Peer) -> None:
    """Before the irreversible step: how many credentials go, that the share links people hold
    stop working, and that the passphrase asked for is the wallet's (My data's other field is a
    new one for the export file)."""
    ada, _ = await signed_up(app)
    try:
        cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        await ada.get(f"/credentials/{cid}")
        made = await ada.post(f"/credentials/{cid}/share", [("claim", '["degree"]'),
                                                           ("expires_in", "86400"),
                                                           ("max_views", "3")])
        assert made.status == 200, made.html
        for lang, words in (("en", ["2 credentials", "1 share link stops working",
                                    "The passphrase you unlock this wallet with"]),
                            ("es", ["2 credenciales", "1 enlace compartido deja de funcionar",
                                    "La frase de contraseña con la que desbloqueas"])):
            page = await ada.get("/my-data/erase", headers={"Accept-Language": lang})
            text = " ".join(" ".join(e["#text"].split()) for e in page.elements
                            if e["#tag"] in ("p", "li"))
            for w in words:
                assert w in text, (lang, w, text)
            described = page.by_id("x-pass")["aria-describedby"].split()
            assert any(words[2] in page.by_id(i)["#text"] for i in described)
        refused = await ada.post("/my-data/erase", {"passphrase": OTHER})
        assert refused.status == 401 and "2 credentials" in refused  # still said
    finally:
        await ada.close()


def _downloaded_text(page: Any) -> str:
    [a] = [e for e in page.elements if e["#tag"] == "a" and "download" in e]
    assert a["href"].startswith("data:text/plain;charset=utf-8,"), a
    return unquote(a["href"].split(",", 1)[1])


async def test_the_downloaded_recovery_code_says_what_it_is_and_where_it_is_used(
        client: Any) -> None:
    """A file holding only 25 characters means nothing a year later: it says it is the
    recovery code of this wallet, where to use it, and to keep it private."""
    b, page = await signed_up(client)
    try:
        code = page.text_of("recovery-code")
        recover = client.app[SETTINGS].public_url.rstrip("/") + "/recover"
        for lang, words in (("en", "Satchel recovery code"),
                            ("es", "Código de recuperación de Satchel")):
            page = await b.get("/welcome", headers={"Accept-Language": lang})
            text = _downloaded_text(page)
            assert text.startswith(words) and code in text and recover in text, text
            assert ("private" if lang == "en" else "privado") in text, text
    finally:
        await b.close()


async def test_the_page_after_share_recalls_what_was_sent(app: Any, peer: Peer) -> None:
    """After Share the learner sees which claims left, named as the consent page named them,
    and what the receipt is for."""
    ada, _ = await signed_up(app)
    try:
        await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        client_id = "x509_san_dns:localhost"
        link = peer.serve_request(lambda _f: peer.sign(peer.claims(
            client_id, dcql("given_name", "degree"))), client_id=client_id)
        page = await ada.post("/open", {"link": link})
        consent = _items(page, "disclosed-claim")
        # what a browser sends with Share: the boxes ticked as drawn, and the summary's digest
        ticked = [(e["name"], e["value"]) for e in page.elements
                  if e["#tag"] == "input" and "checked" in e]
        page = await ada.post(urlsplit(page.url).path + "/share",
                              [*ticked, ("shown", page.hidden("shown"))])
        assert page.status == 200, page.html
        [got] = peer.posts
        assert {"given_name", "degree"} <= set(got.disclosed["degree"][0])
        assert _items(page, "sent-claim") == consent == {
            '["given_name"]': "Given name (given_name): Ada",
            '["degree"]': "degree: BSc Computing"}
        assert "signed record" in page
    finally:
        await ada.close()


async def test_a_new_share_link_names_its_credential_and_claims_in_words(
        app: Any, peer: Peer) -> None:
    """The page showing a new share link names the credential as its own page does (never its
    id) and the claims shared in words."""
    ada, _ = await signed_up(app)
    try:
        cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        await ada.get(f"/credentials/{cid}")
        made = await ada.post(f"/credentials/{cid}/share", [
            ("claim", '["given_name"]'), ("claim", '["degree"]'), ("expires_in", "86400"),
            ("max_views", "3")])
        assert made.status == 200, made.html
        assert cid not in made.by_id("main")["#text"]
        # the credential's own page calls it by its type's name (it has no title)
        assert "“micro-credential”" in made, made.html
        assert "Shared: Given name (given_name), degree" in made, made.html
    finally:
        await ada.close()


async def test_a_recovery_code_not_yet_saved_can_be_found_again(client: Any) -> None:
    """A learner who leaves the recovery code page by the navigation, without saying the code
    is kept, is told on every page and led back to it; once kept, no more."""
    b, page = await signed_up(client)
    try:
        code = page.text_of("recovery-code")
        for path in ("/credentials", "/inbox", "/account"):
            page = await b.get(path)
            assert 'href="/welcome"' in page.html, (path, page.html)
        page = await b.get("/welcome")
        assert page.text_of("recovery-code") == code
        assert 'href="/welcome"' not in page.html  # the page itself needs no reminder
        await b.post("/welcome", {"saved": "yes"})
        page = await b.get("/credentials")
        assert 'href="/welcome"' not in page.html
    finally:
        await b.close()


async def test_the_credential_page_names_its_claims_as_the_consent_page_does(
        app: Any, peer: Peer) -> None:
    """The claims table and the share link's claim boxes use the same words as the consent
    page, so "Given name (given_name)" is one thing everywhere."""
    ada, _ = await signed_up(app)
    try:
        cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        for lang, given, key in (("en", "Given name (given_name)", "Your key (cnf.jwk.x)"),
                                 ("es", "Nombre (given_name)", "Tu clave (cnf.jwk.x)")):
            page = await ada.get(f"/credentials/{cid}", headers={"Accept-Language": lang})
            rows = [" ".join(e["#text"].split()) for e in page.elements
                    if e["#tag"] == "th" and e.get("scope") == "row"]
            assert given in rows and key in rows and "degree" in rows, rows
            boxes = [" ".join(e["#text"].split()) for e in page.elements
                     if e["#tag"] == "label" and (e.get("for") or "").startswith("claim-")]
            assert given in boxes, boxes
    finally:
        await ada.close()


async def test_the_recovery_code_field_says_how_it_may_be_typed(client: Any) -> None:
    """The code as written on paper is accepted with or without its dashes and capitals: the
    field says so (and it is true)."""
    b, page = await signed_up(client)
    try:
        code = page.text_of("recovery-code")
        await b.post("/welcome", {"saved": "yes"})
        await b.post("/lock")
        page = await b.get("/recover")
        said = " ".join(page.by_id(i)["#text"] for i in page.by_id("r-code")["aria-describedby"]
                        .split())
        assert "capitals and dashes do not matter" in said, said
        page = await b.post("/recover", {
            "username": "ada", "recovery_code": code.replace("-", " ").lower(),
            "new_passphrase": OTHER, "confirm_passphrase": OTHER})
        assert page.status == 200 and page.text_of("recovery-code") != code, page.html
    finally:
        await b.close()
