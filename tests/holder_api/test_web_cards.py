"""The credential list's cards: the Annex I awarding body (the issuer when the credential names
none) and the verification at import as a badge, in English and Spanish, on each backend."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import Page, holder_jwk, imported, signed_up
from tests.support.apps import AppFactory


async def test_cards_show_the_awarding_body_and_the_verification(
        make_client: AppFactory, ca_file: Path, tmp_path: Path, peer: Peer) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"issuers": [{"id": peer.base, "name": "Peer University"}]}))
    app: TestClient[Any, Any] = await make_client(
        SATCHEL_FETCH_ALLOW_HOSTS="localhost", SATCHEL_EXTRA_CA_FILE=str(ca_file),
        SATCHEL_TRUST_LIST=str(trust))
    ada, _ = await signed_up(app)
    try:
        jwk = await holder_jwk(app, ada)
        named = await imported(app, ada, peer.issue(jwk, {
            "title": "Data literacy", "awarding_body": "Ghent Data School"}))
        unnamed = await imported(app, ada, peer.issue(jwk, {"title": "Statistics"}))

        page = await ada.get("/credentials")
        cards = page.html.split('data-testid="credential"')[1:]
        assert len(cards) == 2
        by_id = {cid: next(c for c in cards if f'href="/credentials/{cid}"' in c)
                 for cid in (named, unnamed)}
        assert 'data-testid="awarding-body">Ghent Data School<' in by_id[named]
        assert f'data-testid="awarding-body">{peer.base}<' in by_id[unnamed]  # the fallback
        for card in by_id.values():
            assert ">Verified</span>" in card and "Signature not checked" not in card
        es = await ada.get("/credentials", headers={"Accept-Language": "es"})
        assert es.html.count(">Verificada</span>") == 2

        # the JSON list says the same (fields added beside the existing ones)
        token = ada.cookie("satchel_session") or ""
        listed = await (await app.get("/v1/credentials", headers={
            "Authorization": f"Bearer {token}"})).json()
        items = {i["id"]: i for i in listed["items"]}
        assert items[named]["awarding_body"] == "Ghent Data School"
        assert items[unnamed]["awarding_body"] is None
        assert {i["verified"] for i in items.values()} == {"trusted"}
    finally:
        await ada.close()


def _card_langs(page: Page, cid: str) -> tuple[tuple[str, str | None], tuple[str, str | None]]:
    """(text, lang) of a card's title link and of its awarding body, parsed from the page."""
    elements = page.elements
    [start] = [i for i, e in enumerate(elements)
               if e["#tag"] == "a" and e.get("href") == f"/credentials/{cid}"]
    title = elements[start]
    body = next(e for e in elements[start:] if e.get("data-testid") == "awarding-body")
    return ((title["#text"], title.get("lang")), (body["#text"], body.get("lang")))


async def test_cards_mark_a_title_and_awarding_body_in_another_language(
        make_client: AppFactory, ca_file: Path, peer: Peer) -> None:
    app: TestClient[Any, Any] = await make_client(
        SATCHEL_FETCH_ALLOW_HOSTS="localhost", SATCHEL_EXTRA_CA_FILE=str(ca_file))
    ada, _ = await signed_up(app)
    try:
        jwk = await holder_jwk(app, ada)
        french = await imported(app, ada, peer.issue(jwk, {
            "title": {"fr": "Culture des données"},
            "awarding_body": {"name": {"fr": "École des données"}}}))
        spanish = await imported(app, ada, peer.issue(jwk, {
            "title": {"es": "Análisis de datos"}, "awarding_body": "Ghent Data School"}))

        en = await ada.get("/credentials", headers={"Accept-Language": "en"})
        assert _card_langs(en, french) == (("Culture des données", "fr"),
                                           ("École des données", "fr"))
        assert _card_langs(en, spanish) == (("Análisis de datos", "es"),
                                            ("Ghent Data School", None))  # untagged
        es = await ada.get("/credentials", headers={"Accept-Language": "es"})
        assert 'lang="es"' in es.html  # the page's own language ...
        assert _card_langs(es, french) == (("Culture des données", "fr"),
                                           ("École des données", "fr"))
        # ... is never repeated on a text in that language
        assert _card_langs(es, spanish) == (("Análisis de datos", None),
                                            ("Ghent Data School", None))

        # the JSON list carries the languages (fields added beside the existing ones)
        token = ada.cookie("satchel_session") or ""
        listed = await (await app.get("/v1/credentials", headers={
            "Authorization": f"Bearer {token}"})).json()
        items = {i["id"]: i for i in listed["items"]}
        assert (items[french]["title_lang"], items[french]["awarding_body_lang"]) == ("fr", "fr")
        assert (items[spanish]["title_lang"], items[spanish]["awarding_body_lang"]) == ("es", None)
    finally:
        await ada.close()
