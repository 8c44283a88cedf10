"""WCAG 2.2 AA on the server-rendered HTML: every refused form marks exactly the fields its error
concerns (``aria-invalid``, ``aria-errormessage`` and ``aria-describedby`` to the message, focus on
the first), new passphrases ask the browser for a new password, and a credential's values in
another language than the page say which (``lang``)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import Page, holder_jwk, imported, signed_up
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE

PEER_HOST = "localhost"
OTHER = "another long passphrase 42"


def assert_points_at_message(page: Page, fields: list[str], message: str = "form-error",
                             help_ids: dict[str, str] | None = None) -> None:
    assert page.invalid_fields() == fields, page.html
    assert page.by_id(message)["role"] == "alert"
    for i, field in enumerate(fields):
        element = page.by_id(field)
        assert element["aria-errormessage"] == message
        described = element["aria-describedby"].split()
        assert described == [*([help_ids[field]] if help_ids and field in help_ids else []),
                             message]
        assert ("autofocus" in element) == (i == 0)
    assert sum("autofocus" in e for e in page.elements) == 1


async def test_account_recover_and_erase_forms_point_at_their_errors(
        client: TestClient[Any, Any]) -> None:
    ada, _ = await signed_up(client)
    try:
        account = await ada.get("/account")
        assert account.invalid_fields() == []
        assert account.by_id("a-current")["autocomplete"] == "current-password"
        assert account.by_id("a-new")["autocomplete"] == "new-password"
        assert account.by_id("a-confirm")["autocomplete"] == "new-password"
        assert account.by_id("a-rc-pass")["autocomplete"] == "current-password"

        page = await ada.post("/account/passphrase", {"current_passphrase": PASSPHRASE,
                                                      "new_passphrase": OTHER,
                                                      "confirm_passphrase": OTHER + "x"})
        assert page.status == 400
        assert_points_at_message(page, ["a-new", "a-confirm"], help_ids={"a-new": "a-least"})
        page = await ada.post("/account/passphrase", {"current_passphrase": "wrong " * 3,
                                                      "new_passphrase": OTHER,
                                                      "confirm_passphrase": OTHER})
        assert page.status == 401
        assert_points_at_message(page, ["a-current"])
        page = await ada.post("/account/passphrase", {"current_passphrase": PASSPHRASE,
                                                      "new_passphrase": "short",
                                                      "confirm_passphrase": "short"})
        assert page.status == 400 and "at least 12 characters" in page
        assert_points_at_message(page, ["a-new", "a-confirm"], help_ids={"a-new": "a-least"})
        page = await ada.post("/account/recovery-code", {"passphrase": "wrong " * 3})
        assert page.status == 401
        assert_points_at_message(page, ["a-rc-pass"])

        page = await ada.post("/my-data/erase", {"passphrase": "wrong " * 3})
        assert page.status == 401
        assert_points_at_message(page, ["x-pass"], help_ids={"x-pass": "erase-help"})
        assert page.by_id("x-pass")["autocomplete"] == "current-password"
    finally:
        await ada.close()
    bob, _ = await signed_up(client, "bob")
    try:
        await bob.post("/lock")
        recover = await bob.get("/recover")
        assert recover.by_id("r-new")["autocomplete"] == "new-password"
        assert recover.by_id("r-again")["autocomplete"] == "new-password"
        page = await bob.post("/recover", {"username": "bob", "recovery_code": "X" * 20,
                                           "new_passphrase": OTHER,
                                           "confirm_passphrase": OTHER})
        assert page.status == 401
        assert_points_at_message(page, ["r-username", "r-code"],
                                 help_ids={"r-code": "r-code-help"})
        page = await bob.post("/recover", {"username": "bob", "recovery_code": "X" * 20,
                                           "new_passphrase": OTHER, "confirm_passphrase": "no"})
        assert page.status == 400
        assert_points_at_message(page, ["r-new", "r-again"], help_ids={"r-new": "r-least"})
    finally:
        await bob.close()


async def test_start_page_asks_for_a_saved_or_a_new_password(
        client: TestClient[Any, Any]) -> None:
    ada, _ = await signed_up(client)
    try:
        await ada.post("/lock")
        start = await ada.get("/")
        assert start.by_id("passphrase")["autocomplete"] == "current-password"
        assert start.by_id("passphrase")["aria-describedby"] == "pass-help"
        [create] = [e for e in start.elements if e.get("formaction") == "/signup"]
        assert create["data-autocomplete"] == "new-password"  # app.js switches the field
        page = await ada.post("/signup", {"username": "ada", "passphrase": OTHER})
        assert page.status == 409  # taken: only the username is at fault
        assert page.by_id("passphrase")["autocomplete"] == "new-password"
        assert_points_at_message(page, ["username"])
        assert page.by_id("passphrase")["aria-describedby"] == "pass-help"
        page = await ada.post("/unlock", {"username": "ada", "passphrase": OTHER})
        assert page.status == 401
        assert page.by_id("passphrase")["autocomplete"] == "current-password"
        assert_points_at_message(page, ["username", "passphrase"],
                                 help_ids={"passphrase": "pass-help"})
    finally:
        await ada.close()


async def test_share_form_points_at_its_error(app: TestClient[Any, Any], peer: Peer) -> None:
    ada, _ = await signed_up(app)
    try:
        cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        page = await ada.post(f"/credentials/{cid}/share", {"expires_in": "3600"})
        assert page.status == 400
        boxes = [e["id"] for e in page.elements if e.get("name") == "claim"]
        assert len(boxes) == 3
        assert_points_at_message(page, boxes, message="share-error")
        assert "form-error" not in page.html  # the message is beside the form it belongs to
    finally:
        await ada.close()


async def test_values_in_another_language_than_the_page_say_which(
        app: TestClient[Any, Any], peer: Peer) -> None:
    ada, _ = await signed_up(app)
    try:
        jwk = await holder_jwk(app, ada)
        cid = await imported(app, ada, peer.issue(jwk, {
            "title": {"en": "Data literacy", "fr": "Culture des données"},
            "achievement_description": {"@value": "Lire des données", "@language": "fr"},
            "degree": "BSc"}))

        def langs(page: Page) -> dict[str, str | None]:
            """Shown text -> its lang attribute, for the heading and the claim values."""
            out: dict[str, str | None] = {}
            for e in page.elements:
                if e["#tag"] in ("td", "span") and e["#text"].strip() and (
                        "wrap" in e.get("class", "") or e.get("lang")):
                    out.setdefault(e["#text"].strip(), e.get("lang"))
            return out

        es = await ada.get(f"/credentials/{cid}", headers={"Accept-Language": "es"})
        [h1] = [e for e in es.elements if e["#tag"] == "h1"]
        assert h1["#text"] == "Data literacy"  # no Spanish title: the English one, marked so
        shown = langs(es)
        assert shown["Data literacy"] == "en" and shown["Culture des données"] == "fr"
        assert shown["Lire des données"] == "fr" and shown["BSc"] is None
        en = await ada.get(f"/credentials/{cid}", headers={"Accept-Language": "en"})
        shown = langs(en)
        assert "Data literacy" not in shown or shown["Data literacy"] is None
        assert shown["Culture des données"] == "fr" and shown["Lire des données"] == "fr"
        assert all(e.get("lang") in (None, "en", "fr") for e in en.elements if e["#tag"] != "a")
    finally:
        await ada.close()


async def test_too_many_attempts_mark_no_field(make_client: AppFactory) -> None:
    client: TestClient[Any, Any] = await make_client(SATCHEL_UNLOCK_LIMIT="3/60")
    ada, _ = await signed_up(client)
    try:
        await ada.post("/lock")
        await ada.get("/")
        statuses = []
        for _ in range(6):
            page = await ada.post("/unlock", {"username": "ada", "passphrase": OTHER})
            statuses.append(page.status)
        assert statuses[0] == 401 and statuses[-1] == 429, statuses
        assert page.by_id("form-error")["role"] == "alert"
        assert page.invalid_fields() == []  # no field is wrong: the form waits
    finally:
        await ada.close()
