"""Every count the web wallet prints takes its language's plural form: 0, 1 and 2 in English and
Spanish, on each page that says one (the history's verified entries, the share link's views, the
seconds to wait, an import's credentials, keys and entries, a workload's hours, a passphrase's
length, a share link's lifetime). The history page is also walked on both backends with 0, 1 and
2 real entries.

Before, each page said "all 1 entries", "at most 1 views", "1 hours": one message for every count.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from holder_api.web import setup_web
from holder_api.web.i18n import LANG_COOKIE, gettext_for
from holder_api.web.pages import Ctx, error_page, render
from holder_api.web.problems import Refused, check_new_passphrase, problem_text
from holder_api.web.show import element_lines, path_label
from holder_api.web.views.credentials import EXPIRY_CHOICES
from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import Browser, Page, holder_jwk, imported, signed_up
from tests.support.http_api import auth
from wallet.errors import RateLimited

PEER_HOST = "localhost"  # the app fixture lets Satchel reach the verifier peer's issuer
COUNTS = [0, 1, 2]
LANGS = ["en", "es"]

#: (lang, n) -> what each page says, written out in full: no plural rule of the test's own
HISTORY = {
    ("en", 0): "Verified: 0 entries, unaltered and in order.",
    ("en", 1): "Verified: 1 entry, unaltered.",
    ("en", 2): "Verified: 2 entries, unaltered and in order.",
    ("es", 0): "Verificado: 0 entradas, intactas y en orden.",
    ("es", 1): "Verificado: 1 entrada, intacta.",
    ("es", 2): "Verificado: 2 entradas, intactas y en orden.",
}
VIEWS = {
    ("en", 0): "at most 0 views.", ("en", 1): "at most 1 view.", ("en", 2): "at most 2 views.",
    ("es", 0): "como máximo 0 visualizaciones.", ("es", 1): "como máximo 1 visualización.",
    ("es", 2): "como máximo 2 visualizaciones.",
}
SECONDS = {  # an offer that says to wait 0 seconds is asked again in about 5
    ("en", 0): "in about 5 seconds.", ("en", 1): "in about 1 second.",
    ("en", 2): "in about 2 seconds.",
    ("es", 0): "en unos 5 segundos.", ("es", 1): "en unos 1 segundo.",
    ("es", 2): "en unos 2 segundos.",
}
WAIT = {
    ("en", 1): "Try again in 1 second.", ("en", 2): "Try again in 2 seconds.",
    ("es", 1): "Vuelve a intentarlo dentro de 1 segundo.",
    ("es", 2): "Vuelve a intentarlo dentro de 2 segundos.",
}
IMPORTED = {
    ("en", 0): "Imported: 0 credentials, 0 keys and 0 history entries.",
    ("en", 1): "Imported: 1 credential, 1 key and 1 history entry.",
    ("en", 2): "Imported: 2 credentials, 2 keys and 2 history entries.",
    ("es", 0): "Importado: 0 credenciales, 0 claves y 0 entradas del historial.",
    ("es", 1): "Importado: 1 credencial, 1 clave y 1 entrada del historial.",
    ("es", 2): "Importado: 2 credenciales, 2 claves y 2 entradas del historial.",
}
HOURS = {("en", 0): "0 hours", ("en", 1): "1 hour", ("en", 2): "2 hours",
         ("es", 0): "0 horas", ("es", 1): "1 hora", ("es", 2): "2 horas"}
CHARACTERS = {
    ("en", 0): "at least 0 characters:", ("en", 1): "at least 1 character:",
    ("en", 2): "at least 2 characters:",
    ("es", 0): "al menos 0 caracteres:", ("es", 1): "al menos 1 carácter:",
    ("es", 2): "al menos 2 caracteres:",
}


def _ctx(lang: str) -> Ctx:
    app = web.Application()
    setup_web(app)
    return Ctx(make_mocked_request("GET", "/history", app=app), lang, gettext_for(lang), "csrf")


def _page(resp: web.Response) -> Page:
    assert isinstance(resp.text, str)
    return Page(resp.status, resp.text, resp.headers, "/")


def _said(page: Page, testid: str | None = None) -> str:
    """The page's text, spaces collapsed (or the text of the element with ``testid``)."""
    if testid is not None:
        return page.text_of(testid)
    return re.sub(r"\s+", " ", " ".join(e["#text"] for e in page.elements
                                        if e["#tag"] == "p"))


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("n", COUNTS)
def test_every_page_says_its_count_in_the_plural_form_of_its_language(lang: str, n: int) -> None:
    ctx = _ctx(lang)
    history = _page(render(ctx, "history.html", chain={"valid": True, "length": n}, events=[],
                           next_cursor=None, shares=[], links=[], words={}, titles={},
                           receipts=set(), path_label=path_label, notice=None))
    assert _said(history, "chain") == HISTORY[lang, n]

    shared = _page(render(ctx, "shared.html", c={"id": "c1", "title": "A"}, qr="",
                          shared=["name"], link={"url": "http://satchel.test/s/x",
                                                 "expires_at": "2027-01-01", "max_views": n}))
    assert VIEWS[lang, n] in _said(shared)

    offer = {"id": "o1", "status": "deferred", "retry_after": n, "credentials": [],
             "issuer": {"name": "Uni", "trusted": False, "id": "https://uni.example"}}
    pending = _page(render(ctx, "offer.html", offer=offer))
    assert SECONDS[lang, n] in _said(pending)

    imported = _page(render(ctx, "imported.html", result={
        "credentials": n, "keys": n, "ledger_entries": n}))
    assert IMPORTED[lang, n] in _said(imported)

    assert element_lines("workload", {"ects": None, "hours": n}, ctx._) == [HOURS[lang, n]]

    with pytest.raises(Refused) as refused:
        check_new_passphrase("")
    refused.value.extra["n"] = n  # the rule's own message, said of another length
    assert CHARACTERS[lang, n] in problem_text(ctx._, refused.value)

    if n:  # a wait is at least a second (RateLimited)
        wait = _page(error_page(ctx, RateLimited(retry_after=n)))
        assert WAIT[lang, n] in _said(wait)


async def _chain_says(b: Browser, lang: str) -> str:
    b.session.cookie_jar.update_cookies({LANG_COOKIE: lang})
    page = await b.get("/history")
    assert page.status == 200, page.html
    return page.text_of("chain")


async def test_the_history_page_counts_its_real_entries(client: TestClient[Any, Any]) -> None:
    """Both backends: a new wallet's history, then one and two entries (inbox links made)."""
    b, _ = await signed_up(client)
    token = b.cookie("satchel_session") or ""
    try:
        for n in COUNTS:
            report = await (await client.get("/v1/consent/verify", headers=auth(token))).json()
            assert report["valid"] is True and report["length"] == n, report
            for lang in LANGS:
                assert await _chain_says(b, lang) == HISTORY[lang, n]
            r = await client.post("/v1/inbox-links", json={"label": f"School {n}"},
                                  headers=auth(token))
            assert r.status == 201, await r.text()
    finally:
        await b.close()


async def test_the_share_forms_lifetimes_are_counted_too(app: TestClient[Any, Any],
                                                         peer: Peer) -> None:
    """The expiry choices of a share link are counts of hours and days, not fixed words."""
    b, _ = await signed_up(app)
    try:
        cid = await imported(app, b, peer.issue(await holder_jwk(app, b)))
        for lang, words in (("en", ["1 hour", "1 day", "7 days", "30 days"]),
                            ("es", ["1 hora", "1 día", "7 días", "30 días"])):
            b.session.cookie_jar.update_cookies({LANG_COOKIE: lang})
            page = await b.get(f"/credentials/{cid}")
            assert page.status == 200, page.html
            shown = {e["value"]: e["#text"] for e in page.elements if e["#tag"] == "option"}
            assert [shown[str(s)] for s in EXPIRY_CHOICES] == words
    finally:
        await b.close()
