"""Every flow the mouse walks take, by keyboard only, in real Chromium (issue 13): the walk acts
only with keys sent to whatever has the focus (Tab, Shift+Tab, Enter, Space, arrows, typing; a
file field gets its path typed into it), never a click or a script. It looks freely: where the
focus is, that the focus shows, and that on the account page Tab goes in reading order. The
sign-up, an offer, consent and share links by keyboard are in ``test_browser.py``."""

from __future__ import annotations

import json
from typing import Any

from tests.support.browser import (
    by_testid,
    card_ids,
    downloaded,
    in_reading_order,
    keyboard_sign_up,
    keyboard_unlock,
    main_text,
    press,
    press_and_wait,
    session_token,
    tab_order,
    tab_to,
)
from tests.support.browser_stack import ELM_SAMPLE, Stack, held_credentials, offer_link, push_offer
from tests.support.http_api import PASSPHRASE

SECOND = "a second passphrase for ada"
THIRD = "and a third one, from the recovery code"


def _here(d: Any) -> str:
    """The id at the end of the page's path (a credential's page)."""
    return str(d.current_url.rsplit("/", 1)[1].split("?")[0])


def test_keyboard_language_lock_and_account(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    d = driver
    first = keyboard_sign_up(d, stack, "ada")
    # the language switch, there and back
    tab_to(d, "Español")
    press_and_wait(d, Keys.ENTER)
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "es"
    tab_to(d, "Credenciales")  # the navigation speaks Spanish
    tab_to(d, "English", back=True)
    press_and_wait(d, Keys.ENTER)
    assert d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    # lock: the session is gone, not only the page; unlock again
    token = session_token(d)
    tab_to(d, "Lock")
    press_and_wait(d, Keys.ENTER)
    assert stack.api("GET", "/v1/credentials", token)[0] == 401
    keyboard_unlock(d, "ada", PASSPHRASE)
    assert d.current_url.endswith("/credentials")

    # the account page: Tab follows what the eye reads, and every stop shows it has the focus
    tab_to(d, "Account")
    press_and_wait(d, Keys.ENTER)
    stops = tab_order(d)
    names = [n for n, _ in stops]
    assert names[0] == "Skip to main content" and "Lock" in names, names
    assert (names.index("Current passphrase") < names.index("New passphrase")
            < names.index("New passphrase again") < names.index("Change passphrase")
            < names.index("Make a new recovery code")), names
    for (before, a), (after, b) in zip(stops, stops[1:], strict=False):
        assert in_reading_order(a, b), (before, a, after, b)

    # change the passphrase (a wrong current one first): every device is locked
    tab_to(d, "Current passphrase")
    press(d, "not the passphrase at all")
    tab_to(d, "New passphrase")
    press(d, SECOND)
    tab_to(d, "New passphrase again")
    press(d, SECOND)
    tab_to(d, "Change passphrase")
    press_and_wait(d, Keys.ENTER)
    assert "The current passphrase is wrong." in main_text(d)
    # the refused field has the focus: typing goes straight into it
    assert d.switch_to.active_element.get_attribute("aria-invalid") == "true"
    press(d, PASSPHRASE)
    tab_to(d, "New passphrase")
    press(d, SECOND)
    tab_to(d, "New passphrase again")
    press(d, SECOND)
    press_and_wait(d, Keys.ENTER)  # Enter in a field sends its form
    assert "Passphrase changed. Unlock with the new one." in main_text(d)
    assert not stack.unlocks("ada", PASSPHRASE) and stack.unlocks("ada", SECOND)
    keyboard_unlock(d, "ada", SECOND)

    # a new recovery code, reached from the bottom of the page with Shift+Tab
    tab_to(d, "Account")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Make a new recovery code")
    tab_to(d, "Current passphrase", back=True)
    press(d, SECOND)
    press_and_wait(d, Keys.ENTER)
    [shown] = by_testid(d, "recovery-code")
    second_code = str(shown.text)
    assert second_code and second_code != first
    tab_to(d, "I have saved my recovery code")
    press(d, Keys.SPACE)
    assert d.switch_to.active_element.is_selected()
    tab_to(d, "Continue")
    press_and_wait(d, Keys.ENTER)
    assert "the old one no longer works" in main_text(d)

    # recover with it, the passphrase forgotten
    tab_to(d, "Lock", back=True)
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Forgot your passphrase? Use your recovery code.")
    press_and_wait(d, Keys.ENTER)
    for label, typed in (("Username", "ada"), ("Recovery code", second_code),
                         ("New passphrase", THIRD), ("New passphrase again", THIRD)):
        tab_to(d, label)
        press(d, typed)
    tab_to(d, "Set new passphrase")
    press_and_wait(d, Keys.ENTER)
    assert "the old recovery code is used up" in main_text(d)
    [shown] = by_testid(d, "recovery-code")
    assert shown.text not in (first, second_code)
    tab_to(d, "I have saved my recovery code")
    press(d, Keys.SPACE)
    tab_to(d, "Continue")
    press_and_wait(d, Keys.ENTER)
    assert d.current_url.endswith("/account?notice=code_saved")
    assert not stack.unlocks("ada", SECOND) and stack.unlocks("ada", THIRD)


def test_keyboard_receiving_keeping_and_moving(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    d = driver
    keyboard_sign_up(d, stack, "kim")
    token = session_token(d)
    # an inbox link; the institution pushes two offers: one received, one refused
    tab_to(d, "Inbox")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Institution")
    press(d, "Test University")
    tab_to(d, "Create inbox link")
    press_and_wait(d, Keys.ENTER)
    url = by_testid(d, "inbox-link")[0].text
    assert push_offer(stack, url) == 202 and push_offer(stack, url) == 202
    tab_to(d, "Back to the inbox")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Receive")
    press_and_wait(d, Keys.ENTER)
    assert "The credential was received and verified." in main_text(d)
    received = _here(d)

    # the credential as received, downloaded by Enter on its link
    tab_to(d, "Download the credential as received")
    press(d, Keys.ENTER)  # a download: the page stays
    raw = downloaded(d, f"credential-{received[:36]}.*").read_text()
    assert raw == stack.api("GET", f"/v1/credentials/{received}", token)[1]["raw"]

    tab_to(d, "Inbox", back=True)
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Refuse")
    press_and_wait(d, Keys.ENTER)
    assert "Declined." in main_text(d) and "Nothing is waiting." in main_text(d)
    assert stack.api("GET", "/v1/inbox", token)[1]["items"] == []
    tab_to(d, "Delete")  # the inbox link
    press_and_wait(d, Keys.ENTER)
    assert "The inbox link was deleted." in main_text(d)
    assert push_offer(stack, url) == 404

    # a standing consent withdrawn in the history
    status, made = stack.api("POST", "/v1/inbox-links", token, body={"label": "Other College"})
    assert status == 201
    tab_to(d, "History", back=True)
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Withdraw")
    press_and_wait(d, Keys.ENTER)
    assert "Consent withdrawn." in main_text(d)
    assert push_offer(stack, made["url"]) == 404

    # an offer accepted, then deleted after its confirmation
    tab_to(d, "Link")
    press(d, offer_link(stack))
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Accept")
    press_and_wait(d, Keys.ENTER)
    doomed = _here(d)
    tab_to(d, "Delete this credential")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Delete")
    press_and_wait(d, Keys.ENTER)
    assert "The credential was deleted." in main_text(d)
    assert stack.api("GET", f"/v1/credentials/{doomed}", token)[0] == 404

    # an ELM file imported: its path typed into the focused file field
    tab_to(d, "Import a credential")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Or choose a file").send_keys(str(ELM_SAMPLE))
    tab_to(d, "Import")
    press_and_wait(d, Keys.ENTER)
    kept = {c["id"]: c["format"] for c in held_credentials(stack, token)}
    assert len(kept) == 2 and received in kept

    # search, then a filter chosen with the arrow keys
    tab_to(d, "Credentials", back=True)
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Search and filters")
    press(d, Keys.ENTER)  # the summary opens its details
    tab_to(d, "Search")
    press(d, "Digital micro-credential")
    press_and_wait(d, Keys.ENTER)
    assert card_ids(d) == {i for i, f in kept.items() if f == "ldp_vc"}
    tab_to(d, "Clear filters")
    press_and_wait(d, Keys.ENTER)
    assert card_ids(d) == set(kept)
    tab_to(d, "Search and filters")
    press(d, Keys.ENTER)
    fmt = tab_to(d, "Format")
    press(d, Keys.ARROW_DOWN)  # from "Any" to the first format
    chosen = fmt.get_attribute("value")
    assert chosen in kept.values()
    tab_to(d, "Filter")
    press_and_wait(d, Keys.ENTER)
    assert card_ids(d) == {i for i, f in kept.items() if f == chosen} != set(kept)

    # the export, into a new wallet by import
    tab_to(d, "My data", back=True)
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Passphrase")
    press(d, PASSPHRASE)
    tab_to(d, "Type it again")
    press(d, PASSPHRASE)
    tab_to(d, "Export")
    press(d, Keys.ENTER)  # a download: the page stays
    bundle = downloaded(d, "satchel-export.json")
    assert json.loads(bundle.read_text())["format"] == "satchel-export"
    tab_to(d, "Lock", back=True)
    press_and_wait(d, Keys.ENTER)
    keyboard_sign_up(d, stack, "zoe")
    tab_to(d, "My data")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Import an export file")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Export file").send_keys(str(bundle))
    tab_to(d, "Passphrase")
    press(d, PASSPHRASE)
    tab_to(d, "Import")
    press_and_wait(d, Keys.ENTER)
    assert "2 credentials" in main_text(d)
    moved = {c["id"] for c in held_credentials(stack, session_token(d))}
    assert moved == set(kept)
