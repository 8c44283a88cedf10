"""Every ledger event kind has its words in the web wallet, in English and in Spanish, and the
history page shows each kind in the page's language (never the raw kind), with a receipt link
exactly for the kinds that have one: a new kind fails here until the web can say it."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from html import unescape
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from consent.events import EventKind
from holder_api.appkeys import SERVICES, WIRING
from holder_api.web import data
from holder_api.web.i18n import gettext_for
from holder_api.web.views.rights import EVENT_WORDS, RECEIPT_LINKS
from tests.holder_api.web_support import signed_up
from wallet.ports import Activity, ActivityKind


def test_every_kind_has_words_and_only_kinds_do() -> None:
    assert all(isinstance(kind, EventKind) for kind in EVENT_WORDS)
    assert sorted(set(EventKind) - EVENT_WORDS.keys()) == []
    assert all(isinstance(kind, EventKind) for kind in RECEIPT_LINKS)


@pytest.mark.parametrize("kind", list(EventKind))
def test_every_kind_has_english_and_spanish_words(kind: EventKind) -> None:
    english = EVENT_WORDS[kind]
    spanish = gettext_for("es")(english)
    assert english.strip() and spanish.strip()
    assert spanish != english  # the catalogue has it (gettext answers the English when not)


def _timeline(html: str) -> dict[str, tuple[str, bool]]:
    """Each ledger event on the page: its kind, its heading words, whether it links a receipt."""
    shown = {}
    for kind, body in re.findall(
            r'<li data-testid="ledger-event" data-event="([^"]*)"[^>]*>(.*?)</li>', html, re.S):
        [words] = re.findall(r"<strong>(.*?)</strong>", body, re.S)
        shown[unescape(kind)] = (unescape(words), "/receipt" in body)
    return shown


@pytest.mark.parametrize("lang", ["en", "es"])
async def test_the_history_shows_every_kind_in_the_page_language(
        app: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch, lang: str) -> None:
    browser, _ = await signed_up(app)
    try:
        session = await app.app[SERVICES].accounts.authenticate(
            browser.cookie("satchel_session") or "")
        await app.app[WIRING].consent.activity.record(
            session.learner_id, session.dek, Activity(kind=ActivityKind.EXPORT))
        original: Callable[..., Awaitable[dict[str, Any]]] = data.events

        async def every_kind(request: web.Request, s: Any, **kw: Any) -> dict[str, Any]:
            """The learner's real entry, as the page gets it, once under every kind (the erasure
            tombstone, for one, is never shown to a learner who still has a wallet)."""
            page = await original(request, s, **kw)
            [entry] = page["items"]
            assert not entry["learner_asserted"]
            return {**page, "items": [{**entry, "id": f"{entry['id']}-{i}", "kind": kind.value}
                                      for i, kind in enumerate(EventKind)]}

        monkeypatch.setattr(data, "events", every_kind)
        page = await browser.get("/history", headers={"Accept-Language": lang})
        assert page.status == 200, page.html
        words = gettext_for(lang)
        assert _timeline(page.html) == {
            kind.value: (words(EVENT_WORDS[kind]), kind in RECEIPT_LINKS) for kind in EventKind}
    finally:
        await browser.close()
