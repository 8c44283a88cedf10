"""Every verification and status badge a credential can show, on its card in the list and on its
own page, in English and Spanish: the import checks (verified, issuer not trusted, signature
invalid, issuer key not found, not checked, nothing recorded), the status list's word (valid,
revoked, suspended, unknown, none) and expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.api_support import put_credential
from tests.holder_api.web_support import Page, signed_up
from tests.support.apps import app_clock

#: import checks -> (the summary's ``verified``, the badge's words in English, in Spanish)
VERIFICATIONS: list[tuple[dict[str, Any], str | None, str, str]] = [
    ({"signature": "valid", "issuer_trusted": True}, "trusted", "Verified", "Verificada"),
    ({"signature": "valid", "issuer_trusted": False}, "untrusted", "Not trusted issuer",
     "Emisor no de confianza"),
    ({"signature": "invalid"}, "invalid", "Signature invalid", "Firma no válida"),
    ({"signature": "no_key"}, "no_key", "Issuer key not found",
     "No se encontró la clave del emisor"),
    ({"signature": "unsupported"}, "unsupported", "Signature not checked",
     "Firma no comprobada"),
    ({"checked_at": None}, None, "—", "—"),
]
#: status -> its words in English, in Spanish
STATUSES = {"valid": ("Valid", "Válida"), "invalid": ("Revoked or invalid", "Revocada o no válida"),
            "suspended": ("Suspended", "Suspendida"), "unknown": ("Status unknown",
                                                                   "Estado desconocido"),
            "none": ("No status list", "Sin lista de estado")}


def _badges(page: Page) -> dict[str, Any]:
    """What the page's badges say (the first status badge: the credential's own)."""
    verified = [e for e in page.elements if e.get("data-testid") == "verification"]
    status = [e for e in page.elements if e.get("data-testid") == "status"]
    marked = [e for e in page.elements if "data-verified" in e]
    return {"verification": verified[0]["#text"].strip() if verified else None,
            "verified": marked[0]["data-verified"] if marked else None,
            "status": status[0]["#text"], "status_key": status[0]["data-status"],
            "expired": [e["#text"] for e in page.elements
                        if e.get("data-testid") == "expired"]}


def _cards(page: Page) -> dict[str, Page]:
    """Credential id -> its card, as a page of its own."""
    out = {}
    for chunk in page.html.split('data-testid="credential"')[1:]:
        cid = chunk.split('<a href="/credentials/', 1)[1].split('"', 1)[0]
        out[cid] = Page(page.status, "<li " + chunk, {}, page.url)
    return out


async def test_every_badge_on_the_cards_and_the_credential_page(
        client: TestClient[Any, Any]) -> None:
    ada, _ = await signed_up(client)
    try:
        token = ada.cookie("satchel_session") or ""
        now = datetime.now(UTC)
        expected: dict[str, tuple[int, str, bool]] = {}
        for i, (checks, _v, _en, _es) in enumerate(VERIFICATIONS):
            status = list(STATUSES)[i % len(STATUSES)]
            expired = i % 2 == 1
            cid = await put_credential(
                client, token, title=f"Course {i}", status=status,
                verification={**checks, "status": status, "checked_at": None},
                expires_at=now + timedelta(days=-1 if expired else 30))
            expected[cid] = (i, status, expired)
        assert {s for _i, s, _e in expected.values()} == set(STATUSES)  # every status shown

        for lang, col in (("en", 2), ("es", 3)):
            headers = {"Accept-Language": lang}
            cards = _cards(await ada.get("/credentials", headers=headers))
            assert cards.keys() == expected.keys()
            for cid, (i, status, expired) in expected.items():
                _checks, verified, *words = VERIFICATIONS[i]
                for where, page in (("card", cards[cid]),
                                    ("page", await ada.get(f"/credentials/{cid}",
                                                           headers=headers))):
                    shown = _badges(page)
                    assert shown["verification"] == words[col - 2], (where, cid)
                    assert shown["verified"] == verified, (where, cid)
                    assert shown["status_key"] == status, (where, cid)
                    assert shown["status"] == STATUSES[status][col - 2], (where, cid)
                    assert shown["expired"] == (
                        [["Expired", "Caducado"][col - 2]] if expired else []), (where, cid)
    finally:
        await ada.close()


async def test_a_credential_expires_while_in_the_wallet(client: TestClient[Any, Any]) -> None:
    """The expiry badge follows the service clock, not the time of import."""
    ada, _ = await signed_up(client)
    try:
        token = ada.cookie("satchel_session") or ""
        cid = await put_credential(client, token, title="Short course",
                                   expires_at=app_clock(client)() + timedelta(minutes=1))
        assert _badges(await ada.get(f"/credentials/{cid}"))["expired"] == []
        app_clock(client).advance(timedelta(minutes=2))  # the session lives on
        assert _badges(await ada.get(f"/credentials/{cid}"))["expired"] == ["Expired"]
        [card] = _cards(await ada.get("/credentials")).values()
        assert _badges(card)["expired"] == ["Expired"]
    finally:
        await ada.close()
