"""Every problem a page can show is in the page's language: the services' English details never
reach a Spanish page (each problem code has a catalogue message; a code a peer made up gets its
status's), and the web layer's own refusals are catalogue messages too."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, make_mocked_request

from holder_api.web import setup_web
from holder_api.web.i18n import gettext_for
from holder_api.web.pages import Ctx, error_page
from holder_api.web.problems import PROBLEM_WORDS, STATUS_DETAILS, Refused
from tests.error_catalogue import every_code
from tests.holder_api.web_support import Browser, Page
from tests.support.http_api import PASSPHRASE
from wallet.errors import SatchelError

ENGLISH_DETAIL = "an English detail only the API shows"


def every_problem() -> dict[str, int]:
    """Every problem code Satchel's services and pages raise, with a status it comes with (the
    walk docs/errors.md is checked against)."""
    return {code: min(entry.statuses, default=400) for code, entry in every_code().items()}


PROBLEMS = every_problem()


def test_the_walk_finds_the_codes_of_every_package() -> None:
    assert len(PROBLEMS) > 100
    assert {"invalid_grant", "invalid_sd_jwt", "request_already_answered", "ledger_tampered",
            "invalid_credentials", "csrf_refused", "offer_not_waiting"} <= PROBLEMS.keys()


def test_every_problem_code_has_a_catalogue_message() -> None:
    assert sorted(PROBLEMS.keys() - PROBLEM_WORDS.keys()) == []


def _error_page(lang: str, err: SatchelError) -> Page:
    app = web.Application()
    setup_web(app)
    request = make_mocked_request("GET", "/credentials", app=app)
    resp = error_page(Ctx(request, lang, gettext_for(lang), "csrf"), err)
    assert isinstance(resp.text, str)
    return Page(resp.status, resp.text, resp.headers, "/credentials")


def _alert(page: Page) -> str:
    [alert] = [e["#text"] for e in page.elements if e.get("role") == "alert"]
    return alert


@pytest.mark.parametrize("code", sorted(PROBLEMS))
def test_a_spanish_page_shows_every_problem_in_spanish(code: str) -> None:
    err = SatchelError(ENGLISH_DETAIL, code=code)
    err.status = PROBLEMS[code]
    page = _error_page("es", err)
    english = set(PROBLEM_WORDS.values()) | set(STATUS_DETAILS.values())
    shown = _alert(page)
    assert shown == gettext_for("es")(PROBLEM_WORDS[code])
    assert shown not in english and ENGLISH_DETAIL not in page.html
    assert not any(words in page.html for words in english)
    assert page.status == PROBLEMS[code] and code in page.html  # the code itself, as it is
    # and the English page shows the same message, in English
    assert _alert(_error_page("en", err)) == PROBLEM_WORDS[code]


@pytest.mark.parametrize("status", sorted(STATUS_DETAILS))
def test_a_code_no_service_defines_gets_its_status_message(status: int) -> None:
    err = SatchelError(ENGLISH_DETAIL, code="temporarily_unavailable_x")
    err.status = status
    shown = _alert(_error_page("es", err))
    assert shown == gettext_for("es")(STATUS_DETAILS[status]) != STATUS_DETAILS[status]


def test_the_web_layers_own_refusals_are_catalogue_messages() -> None:
    page = _error_page("es", Refused("Unknown kind of consent."))
    assert _alert(page) == "Tipo de consentimiento desconocido."


async def test_refused_forms_answer_in_spanish(client: TestClient[Any, Any]) -> None:
    b = Browser(client)
    try:
        await b.get("/lang/es")
        page = await b.post("/signup", {"username": "x", "passphrase": PASSPHRASE})
        assert page.status == 400 and page.url.endswith("/signup")
        assert page.by_id("form-error")["#text"] == (
            "Un nombre de usuario tiene de 3 a 64 caracteres: letras, dígitos y . _ @ + -")
        assert page.invalid_fields() == ["username"]
        page = await b.post("/signup", {"username": "ada", "passphrase": "password"})
        assert page.status == 400 and page.invalid_fields() == ["passphrase"]
        assert page.by_id("form-error")["#text"] == (
            "Una frase de contraseña nueva necesita al menos 12 caracteres: cuatro o más "
            "palabras sin relación funcionan bien.")
        page = await b.post("/signup", {"username": "ada", "passphrase": "ab" * 8})
        assert page.status == 400 and page.invalid_fields() == ["passphrase"]
        assert "demasiado fácil de adivinar" in page.by_id("form-error")["#text"]
        # a page answering a sign-up asks the browser for a new password, not a saved one
        assert page.by_id("passphrase")["autocomplete"] == "new-password"
    finally:
        await b.close()
