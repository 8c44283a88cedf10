"""The usability pass of 2026-12-07, on both backends: a signed PDF with an ELM attached is a
card with the PDF's own title, the attachment's ECTS and EQF and "Signed PDF" (before: the
attachment's title "Micro-Credential", no ECTS, no EQF, left out of the "Credentials" total that
sat above one card more); the total says it counts micro-credentials, as a plural message; the
import form names signed PDFs, takes them (``accept``), and keeps a refused paste; an export
imported into a wallet that is not empty says what to do instead of "Not possible right now"."""

from __future__ import annotations

import dataclasses
import re
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from consent.errors import AccountNotEmpty
from holder_api.appkeys import SERVICES
from holder_api.web import setup_web
from holder_api.web.i18n import LANG_COOKIE, gettext_for
from holder_api.web.pages import Ctx, error_page
from tests.holder_api.pdf_api_support import with_edc
from tests.holder_api.web_support import Browser, Page, signed_up
from tests.support.apps import AppFactory


def _cards(page: Page) -> list[str]:
    return page.html.split('data-testid="credential"')[1:]


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


async def _upload_pdf(b: Browser) -> Page:
    await b.get("/credentials/import")
    form = aiohttp.FormData()
    form.add_field("raw", "")
    form.add_field("file", with_edc(), filename="diploma.pdf", content_type="application/pdf")
    page = await b.post("/credentials/import", form)
    assert page.url.endswith("?notice=imported"), page.html
    return page


async def test_a_signed_pdf_card_has_its_title_ects_and_eqf_and_the_total_counts_it(
        make_client: AppFactory) -> None:
    app: TestClient[Any, Any] = await make_client()
    ada, _ = await signed_up(app)
    try:
        detail = await _upload_pdf(ada)
        # the heading is the PDF's own title, not its attachment's
        assert re.search(r"<h1[^>]*>\s*Data Literacy Fundamentals\s*</h1>", detail.html), \
            detail.html[:3000]
        before = page = await ada.get("/credentials")
        cards = _cards(page)
        assert len(cards) == 2  # the PDF and the ELM it carries: each a credential
        pdf = next(c for c in cards if "Data Literacy Fundamentals" in c)
        words = _text(pdf)
        assert "ECTS 2 " in words and "EQF 6 " in words, words
        assert "Signed PDF" in words
        other = next(c for c in cards if c is not pdf)
        assert "Signed PDF" not in _text(other)
        totals = _text(page.html.split('class="totals"')[1].split("</section>")[0])
        assert "2 micro-credentials" in totals, totals
        # the same ECTS held twice (the PDF and its attachment) counts once
        assert "Total ECTS 2 " in totals, totals
        # a PDF stored before its portfolio items were, titled as its attachment: the items come
        # from its attachment on read, the title is re-derived (once) the first time it is read
        s = app.app[SERVICES]
        session = await s.accounts.authenticate(ada.cookie("satchel_session") or "")
        vault = s.credentials._vault.for_learner(session.learner_id, session.dek).credentials
        pdf_id = urlsplit(detail.url).path.rsplit("/", 1)[-1]
        old = await vault.get(pdf_id)
        assert old.data["portfolio_items"]
        await vault.replace(dataclasses.replace(old, title="Micro-Credential",
                                                data={**old.data, "portfolio_items": []}))
        page = await ada.get("/credentials")
        assert _text(page.html) == _text(before.html)
        await vault.replace(dataclasses.replace(old, title="Micro-Credential"))
        opened = await ada.get(f"/credentials/{pdf_id}")  # opened before any list
        assert re.search(r"<h1[^>]*>\s*Data Literacy Fundamentals\s*</h1>", opened.html)
        assert (await vault.get(pdf_id)).title == "Data Literacy Fundamentals"
        ada.session.cookie_jar.update_cookies({LANG_COOKIE: "es"})
        es = await ada.get("/credentials")
        totals = _text(es.html.split('class="totals"')[1].split("</section>")[0])
        assert "2 microcredenciales" in totals, totals
        assert "PDF firmado" in _text(es.html)
    finally:
        await ada.close()


def _ctx(lang: str) -> Ctx:
    app = web.Application()
    setup_web(app)
    return Ctx(make_mocked_request("POST", "/my-data/import", app=app), lang,
               gettext_for(lang), "csrf")


@pytest.mark.parametrize(("lang", "title", "says"), [
    ("en", "Import into a new wallet", "create a new wallet"),
    ("es", "Importar en un monedero nuevo", "crea un monedero nuevo"),
])
def test_an_export_into_a_wallet_that_is_not_empty_says_what_to_do(
        lang: str, title: str, says: str) -> None:
    resp = error_page(_ctx(lang), AccountNotEmpty("not empty"))
    assert isinstance(resp.text, str)
    assert resp.status == 409
    assert "right now" not in resp.text and "en este momento" not in resp.text
    assert f"<h1>{title}</h1>" in resp.text or f">{title}<" in resp.text, resp.text
    assert says in _text(resp.text), _text(resp.text)


async def test_the_import_form_names_pdfs_accepts_them_and_keeps_a_refused_paste(
        make_client: AppFactory) -> None:
    app: TestClient[Any, Any] = await make_client()
    ada, _ = await signed_up(app)
    try:
        for lang, word in (("en", "signed PDF"), ("es", "PDF firmado")):
            ada.session.cookie_jar.update_cookies({LANG_COOKIE: lang})
            form = await ada.get("/credentials/import")
            assert word in _text(form.html)
            field = form.by_id("i-file")
            assert "application/pdf" in field.get("accept", ""), field
            assert ".pdf" in field.get("accept", ""), field
        ada.session.cookie_jar.update_cookies({LANG_COOKIE: "en"})
        pasted = "eyJhbGciOiJFUzI1NiJ9.not-a-credential <&>"
        page = await ada.post("/credentials/import", {"raw": pasted})
        assert page.status in (400, 415, 422)
        # the form again, the error said, the text kept (escaped), the field marked
        assert 'action="/credentials/import"' in page.html
        assert "eyJhbGciOiJFUzI1NiJ9.not-a-credential &lt;&amp;&gt;</textarea>" in page.html
        assert "i-raw" in page.invalid_fields()
        assert 'role="alert"' in page.html
    finally:
        await ada.close()
