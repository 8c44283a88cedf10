"""The account in real Chromium, on both backends: recovering with the recovery code, changing the
passphrase, making a new recovery code. Each step is checked on the page and through the JSON API
(which passphrase unlocks, which recovery code is still in force)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import axe, button, by_label, by_testid, go, link, main_text, shots, signed_up
from tests.support.browser_stack import BACKENDS, Stack
from tests.support.http_api import PASSPHRASE

SECOND = "a second passphrase for ada"
THIRD = "and a third one, after the change"


def _recovery_works(stack: Stack, code: str, new: str) -> bool:
    """Whether ``code`` still resets ada's passphrase (to ``new``) through the JSON API."""
    status, body = stack.api("POST", "/v1/learners/me/passphrase", body={
        "username": "ada", "recovery_code": code, "new_passphrase": new})
    assert status in (204, 401), (status, body)
    return status == 204


@pytest.mark.parametrize("stack", BACKENDS, indirect=True)
def test_recover_change_passphrase_and_new_recovery_code(stack: Stack, driver: Any) -> None:
    d = driver
    first = signed_up(d, stack)
    go(d, button(d, "Lock"))
    # the passphrase is forgotten: the recovery code sets a new one
    go(d, link(d, "Forgot your passphrase? Use your recovery code."))
    by_label(d, "Username").send_keys("ada")
    by_label(d, "Recovery code").send_keys("not-the-code-" + first[:8])
    by_label(d, "New passphrase").send_keys(SECOND)
    by_label(d, "New passphrase again").send_keys(SECOND)
    go(d, button(d, "Set new passphrase"))
    assert "Wrong username or recovery code." in main_text(d)
    assert by_label(d, "Recovery code").get_attribute("aria-invalid") == "true"
    axe(d)  # the refused form
    by_label(d, "Recovery code").send_keys(first)
    by_label(d, "New passphrase").send_keys(SECOND)
    by_label(d, "New passphrase again").send_keys(SECOND)
    go(d, button(d, "Set new passphrase"))
    # unlocked, and the used-up code is replaced at once
    assert "the old recovery code is used up" in main_text(d)
    [shown] = by_testid(d, "recovery-code")
    second_code = shown.text
    assert second_code and second_code != first
    axe(d)
    shots(d, "recovered")
    by_label(d, "I have saved my recovery code").click()
    go(d, button(d, "Continue"))
    assert d.current_url.endswith("/account?notice=code_saved")
    assert not stack.unlocks("ada", PASSPHRASE) and stack.unlocks("ada", SECOND)
    assert not _recovery_works(stack, first, THIRD)  # one use only

    # change the passphrase: every device is locked, the new one unlocks
    by_label(d, "Current passphrase").send_keys("not the passphrase at all")
    by_label(d, "New passphrase").send_keys(THIRD)
    by_label(d, "New passphrase again").send_keys(THIRD)
    go(d, button(d, "Change passphrase"))
    assert "The current passphrase is wrong." in main_text(d)
    axe(d)
    d.find_element("id", "a-current").send_keys(SECOND)
    by_label(d, "New passphrase").send_keys(THIRD)
    by_label(d, "New passphrase again").send_keys(THIRD)
    go(d, button(d, "Change passphrase"))
    assert "Passphrase changed. Unlock with the new one." in main_text(d)
    assert not stack.unlocks("ada", SECOND) and stack.unlocks("ada", THIRD)
    d.get(stack.base + "/account")
    by_label(d, "Username")  # the session of this browser was revoked too
    by_label(d, "Username").send_keys("ada")
    by_label(d, "Passphrase").send_keys(THIRD)
    go(d, button(d, "Unlock"))
    assert d.current_url.endswith("/account")  # back where it was going

    # a new recovery code: the one before stops working
    d.find_element("id", "a-rc-pass").send_keys(THIRD)
    go(d, button(d, "Make a new recovery code"))
    [shown] = by_testid(d, "recovery-code")
    third_code = shown.text
    assert third_code not in (first, second_code)
    by_label(d, "I have saved my recovery code").click()
    go(d, button(d, "Continue"))
    assert "the old one no longer works" in main_text(d)
    axe(d)
    assert not _recovery_works(stack, second_code, PASSPHRASE)
    assert _recovery_works(stack, third_code, PASSPHRASE)
    assert stack.unlocks("ada", PASSPHRASE)
