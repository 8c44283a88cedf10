"""Presenting in real Chromium: the consent page's DCQL choices (a credential set's alternatives,
an optional set left out, a smaller claim set) with what the verifier then received, the signed
consent receipt, share links (views, revoke) and standing consents withdrawn from the history."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.holder_api.present_support import VCT
from tests.support.browser import (
    axe,
    button,
    by_label,
    by_testid,
    downloaded,
    go,
    holder_jwk,
    link,
    main_text,
    open_link,
    pasted,
    session_token,
    signed_up,
)
from tests.support.browser_stack import BACKENDS, ELM_SAMPLE, Stack

#: the share page as laid out: how far it scrolls sideways, its narrowest value cell, its table
_SHARE_PAGE_WIDTHS = """
const root = document.documentElement;
const cells = [...document.querySelectorAll("td")].map(td => td.getBoundingClientRect().width);
return [root.scrollWidth - root.clientWidth, Math.min(...cells),
        document.querySelector("table").getBoundingClientRect().width];
"""
PID_VCT = "https://credentials.example.edu/person"
CLIENT_ID = "x509_san_dns:localhost"


def _check(d: Any, label_has: str, on: bool) -> None:
    """Tick or untick the checkbox or radio button whose label contains ``label_has``."""
    from selenium.webdriver.common.by import By

    label = d.find_element(By.XPATH, f"//label[contains(normalize-space(), '{label_has}')]")
    box = d.find_element(By.ID, label.get_attribute("for"))
    if box.is_selected() != on:
        label.click()
    assert box.is_selected() == on


def _paths(d: Any) -> list[list[str]]:
    return [json.loads(e.get_attribute("data-path")) for e in by_testid(d, "disclosed-claim")]


@pytest.mark.parametrize("stack", BACKENDS, indirect=True)
def test_credential_set_and_claim_set_choices_and_the_receipt(stack: Stack,
                                                              driver: Any) -> None:
    from jwcrypto import jwk, jwt
    from selenium.webdriver.common.by import By

    d = driver
    signed_up(d, stack)
    token = session_token(d)
    peer = stack.peer
    holder = holder_jwk(stack, d)
    pasted(d, stack, peer.issue(holder))
    person = pasted(d, stack, peer.issue(holder, {
        "given_name": "Ada", "family_name": "King", "birthdate": "1815-12-10"},
        vct=PID_VCT))
    query = {"credentials": [
        {"id": "degree", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
         "claims": [{"path": ["degree"]}]},
        {"id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [PID_VCT]},
         "claims": [{"id": "g", "path": ["given_name"]}, {"id": "f", "path": ["family_name"]}],
         "claim_sets": [["g", "f"], ["g"]]},
        {"id": "contact", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
         "claims": [{"path": ["family_name"]}]}],
        "credential_sets": [{"options": [["degree"], ["pid"]]},
                            {"options": [["contact"]], "required": False}]}
    open_link(d, peer.serve_request(lambda _f: peer.sign(peer.claims(
        CLIENT_ID, query, purpose="Confirm who you are")), client_id=CLIENT_ID))
    # by default: the first alternative, and the optional set
    assert _paths(d) == [["degree"], ["family_name"]]
    d.find_element(By.XPATH, "//summary[normalize-space()='Choose what to send']").click()
    _check(d, "pid", True)  # the other alternative of the credential set
    _check(d, "Also send what is optional", False)
    go(d, button(d, "Update what will be sent"))
    assert _paths(d) == [["given_name"], ["family_name"]]
    assert "King" in d.find_element(By.CSS_SELECTOR, ".outgoing").text
    _check(d, "King", False)  # the smaller claim set: the given name only
    go(d, button(d, "Update what will be sent"))
    outgoing = d.find_element(By.CSS_SELECTOR, ".outgoing").text
    assert _paths(d) == [["given_name"]]
    assert not [v for v in ("King", "Lovelace", "BSc Computing") if v in outgoing], outgoing
    assert peer.posts == []
    axe(d)  # the consent page with its choices open
    go(d, button(d, "Share"))
    [got] = peer.posts
    assert got.errors == [] and list(got.disclosed) == ["pid"]
    [sent] = got.disclosed["pid"]
    assert sent["given_name"] == "Ada" and "family_name" not in sent  # nor the optional set
    assert "birthdate" not in sent
    status, requests = stack.api("GET", "/v1/presentation-requests", token)
    assert [r["state"] for r in requests["items"]] != ["pending"], requests
    status, events = stack.api("GET", "/v1/consent/events?kind=presentation_sent", token)
    [event] = events["items"]
    assert event["credential_ids"] == [person] and event["claims"] == [["given_name"]], event

    # the receipt: downloaded in one click, signed by the wallet's consent key
    link(d, "Download the consent receipt").click()
    receipt = downloaded(d, "consent-receipt-*.jwt").read_text().strip()
    keys = jwk.JWKSet.from_json(json.dumps(stack.api("GET", "/v1/consent/keys")[1]))
    claims = json.loads(jwt.JWT(jwt=receipt, key=keys).claims)
    text = json.dumps(claims)
    assert "localhost" in text and "given_name" in text and "family_name" not in text
    go(d, link(d, "Open the timeline"))
    assert by_testid(d, "ledger-event")[0].get_attribute("data-event") == "presentation_sent"


def test_share_link_views_revoke_and_withdrawal(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    d = driver
    signed_up(d, stack)
    token = session_token(d)
    cid = pasted(d, stack, stack.peer.issue(holder_jwk(stack, d)))

    def share_degree(views: str) -> str:
        d.get(f"{stack.base}/credentials/{cid}")
        for box in d.find_elements(By.CSS_SELECTOR, 'input[name="claim"]'):
            if json.loads(box.get_attribute("value")) != ["degree"]:
                box.click()
        allowed = by_label(d, "Number of views allowed")
        allowed.clear()
        allowed.send_keys(views)
        go(d, button(d, "Create share link"))
        return str(by_testid(d, "share-link")[0].text)

    url = share_degree("3")
    d.get(url)  # the link as someone given it sees it
    assert "BSc Computing" in d.page_source and "Lovelace" not in d.page_source
    status, view = stack.api("GET", url)
    assert status == 200 and view["claims"]["degree"] == "BSc Computing"
    assert "given_name" not in view["claims"] and "family_name" not in view["claims"]
    d.get(stack.base + "/credentials")
    go(d, link(d, "Share links"))
    [row] = by_testid(d, "share-link-row")
    assert "2 / 3" in row.text
    axe(d)
    go(d, row.find_element(By.TAG_NAME, "button"))  # Revoke
    assert "The share link was revoked." in main_text(d)
    assert "revoked" in by_testid(d, "share-link-row")[0].text
    assert stack.api("GET", url)[0] in (404, 410)
    assert [x["state"] for x in stack.api("GET", "/v1/share-links", token)[1]["items"]] == [
        "revoked"]

    # standing consents: a live share link and an inbox link, withdrawn from the history
    second = share_degree("10")
    status, made = stack.api("POST", "/v1/inbox-links", token, body={"label": "Test University"})
    assert status == 201
    go(d, link(d, "History"))
    withdraw = d.find_elements(By.XPATH, "//button[normalize-space()='Withdraw']")
    assert len(withdraw) == 2
    axe(d)  # the history with standing consents
    go(d, withdraw[0])
    assert "Consent withdrawn." in main_text(d)
    go(d, d.find_element(By.XPATH, "//button[normalize-space()='Withdraw']"))
    assert not d.find_elements(By.XPATH, "//button[normalize-space()='Withdraw']")
    kinds = [e.get_attribute("data-event") for e in by_testid(d, "ledger-event")]
    assert kinds[0] == "consent_withdrawn" and kinds.count("consent_withdrawn") == 2, kinds
    assert stack.api("GET", second)[0] in (404, 410)
    assert stack.api("POST", made["url"], form={"credential_offer": json.dumps(
        stack.issuer.make_pre_authorized_offer())})[0] == 404

    # a whole credential with long claim names, as the employer given the link reads it on a
    # phone and on a desktop: no sideways scrolling, every value in a column of its own width
    d.get(stack.base + "/credentials/import")
    by_label(d, "Or choose a file").send_keys(str(ELM_SAMPLE))  # typed, 700 kB would take ages
    go(d, button(d, "Import"))
    go(d, button(d, "Create share link"))
    whole = str(by_testid(d, "share-link")[0].text)
    for width in (360, 1280):
        d.set_window_size(width, 800)
        d.get(whole)
        assert "Digital micro-credential creation" in d.page_source
        sideways, narrowest, table = d.execute_script(_SHARE_PAGE_WIDTHS)
        assert sideways <= 1 and narrowest >= 0.4 * table, (width, sideways, narrowest, table)
