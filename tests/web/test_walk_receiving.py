"""Receiving and keeping credentials in real Chromium: inbox links and what an institution pushes
to them (receive, refuse), deferred issuance shown as pending and then delivered, the list's
search and filters, the raw download and delete. Every effect is checked through the JSON API."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import (
    axe,
    button,
    by_label,
    by_testid,
    card_ids,
    downloaded,
    go,
    holder_jwk,
    link,
    main_text,
    open_link,
    pasted,
    session_token,
    shots,
    signed_up,
)
from tests.support.browser_stack import BACKENDS, ELM_SAMPLE, Stack, held_credentials, offer_link, push_offer
from tests.wallet.oid4vci_support import DEFERRED

#: per history entry: whether the "·" before its time is on the line where its title ends
_DOT_AFTER_TITLE = """
return [...document.querySelectorAll('[data-testid="ledger-event"] > p:first-of-type')].map(p => {
  const walk = document.createTreeWalker(p, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walk.nextNode()) && !node.textContent.includes("\u00b7")) {}
  const dot = document.createRange();
  const at = node.textContent.indexOf("\u00b7");
  dot.setStart(node, at);
  dot.setEnd(node, at + 1);
  const title = [...p.querySelector("strong").getClientRects()].pop();
  return Math.abs(dot.getBoundingClientRect().top - title.top) < 2;
});
"""


@pytest.mark.parametrize("stack", BACKENDS, indirect=True)
def test_inbox_link_pushes_and_deferred_issuance(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    d = driver
    signed_up(d, stack)
    token = session_token(d)
    go(d, link(d, "Inbox"))
    by_label(d, "Institution").send_keys("Test University")
    go(d, button(d, "Create inbox link"))
    url = by_testid(d, "inbox-link")[0].text
    assert url.startswith(stack.base + "/i/")
    go(d, link(d, "Back to the inbox"))
    assert "Test University" in main_text(d) and url not in d.page_source  # shown once
    status, links = stack.api("GET", "/v1/inbox-links", token)
    assert [x["label"] for x in links["items"]] == ["Test University"]
    assert push_offer(stack, url) == 202 and push_offer(stack, url) == 202
    # an issued credential pushed as JSON (the verifier peer's issuer: the offer issuer has no
    # holder key of ours until an offer runs)
    issued = stack.peer.issue(holder_jwk(stack, d))
    assert stack.api("POST", url, body={"credential": issued})[0] == 202
    pushed_items = {i["id"] for i in stack.api("GET", "/v1/inbox", token)[1]["items"]}
    assert len(pushed_items) == 3
    d.get(stack.base + "/inbox")
    assert main_text(d).count("A credential offer from") == 2
    assert main_text(d).count("A credential from") == 1
    axe(d)  # the inbox with items waiting
    go(d, d.find_element(By.XPATH, "//article[.//h3[starts-with(normalize-space(), "
                                   "'A credential from')]]//button[normalize-space()='Receive']"))
    assert "/credentials/" in d.current_url
    [pushed] = held_credentials(stack, token)
    assert stack.api("GET", f"/v1/credentials/{pushed['id']}", token)[1]["raw"] == issued
    go(d, link(d, "Inbox"))
    go(d, button(d, "Receive"))  # an offer: the issuer is asked for the credential now
    assert "/credentials/" in d.current_url
    assert "The credential was received and verified." in main_text(d)
    go(d, link(d, "Inbox"))
    go(d, button(d, "Refuse"))
    assert "Declined." in main_text(d) and "Nothing is waiting." in main_text(d)
    status, inbox = stack.api("GET", "/v1/inbox", token)
    assert status == 200 and inbox["items"] == []
    held = {c["id"] for c in held_credentials(stack, token)}
    assert len(held) == 2
    # the history joins each item's arrival to what became of it, by the item's id
    go(d, link(d, "History"))
    shown = []
    for entry in by_testid(d, "ledger-event"):
        item = entry.find_elements(By.CSS_SELECTOR, '[data-testid="inbox-item"]')
        item_id = item[0].get_attribute("data-item-id") if item else None
        if item:
            assert item[0].text.endswith(item_id[:8]), item[0].text  # what the learner reads
        shown.append((entry.get_attribute("data-event"), item_id))
    events = stack.api("GET", "/v1/consent/events?limit=200", token)[1]["items"]
    assert shown == [(e["kind"], e["inbox_item_id"]) for e in events]
    for item_id in pushed_items:  # its arrival and one outcome
        kinds = sorted(k for k, i in shown if i == item_id)
        assert len(kinds) == 2 and kinds[1] == "inbox_item_received", shown
    assert sorted(k for k, i in shown if i in pushed_items and k != "inbox_item_received") == [
        "credential_accepted", "credential_declined", "credential_received"]
    axe(d)  # the history with inbox items
    # on a phone no entry's line starts with the dot before its time: it stays with the title
    before = d.get_window_size()
    d.set_window_size(360, 800)
    assert all(d.execute_script(_DOT_AFTER_TITLE)), d.execute_script(_DOT_AFTER_TITLE)
    d.set_window_size(before["width"], before["height"])
    shots(d, "history-inbox")

    # deferred issuance: pending until the issuer is ready, then delivered on the next poll
    open_link(d, offer_link(stack, ids=(DEFERRED,)))
    go(d, button(d, "Accept"))
    assert "Pending: the issuer is still preparing this credential." in main_text(d)
    offer_id = d.current_url.split("/offers/", 1)[1].split("?")[0]
    assert stack.api("GET", f"/v1/offers/{offer_id}", token)[1]["status"] == "deferred"
    assert {c["id"] for c in held_credentials(stack, token)} == held
    axe(d)  # the offer, pending
    stack.advance(13)  # past the issuer's readiness and Satchel's polling interval
    go(d, button(d, "Check again"))
    assert "/credentials/" in d.current_url, main_text(d)
    assert "The credential was received and verified." in main_text(d)
    assert len({c["id"] for c in held_credentials(stack, token)} - held) == 1
    assert stack.issuer.transaction_ids and stack.issuer.deferred_polls

    # the link deleted: what the institution pushes now is refused
    go(d, link(d, "Inbox"))
    go(d, button(d, "Delete"))
    assert "The inbox link was deleted." in main_text(d)
    assert stack.api("GET", "/v1/inbox-links", token)[1]["items"] == []
    assert push_offer(stack, url) == 404


def test_search_filters_raw_download_and_delete(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    d = driver
    signed_up(d, stack)
    token = session_token(d)
    open_link(d, offer_link(stack))
    go(d, button(d, "Accept"))
    received = d.current_url.rsplit("/", 1)[1].split("?")[0]
    d.get(stack.base + "/credentials/import")
    by_label(d, "Or choose a file").send_keys(str(ELM_SAMPLE))
    go(d, button(d, "Import"))
    pasted(d, stack, stack.peer.issue(holder_jwk(stack, d)))
    held = {c["id"]: c for c in held_credentials(stack, token)}
    assert len(held) == 3
    eqf = {c["id"]: c.get("eqf") for c in stack.api("GET", "/v1/portfolio", token)[1][
        "credentials"]}

    def filtered(**fields: str) -> set[str]:
        go(d, link(d, "Credentials"))
        shut = d.find_elements(By.XPATH, "//details[not(@open)]/summary[normalize-space()="
                                         "'Search and filters']")
        for summary in shut:
            summary.click()
        for label, value in fields.items():
            box = by_label(d, label)
            if box.tag_name == "select":
                Select(box).select_by_visible_text(value)
            else:
                box.send_keys(value)
        go(d, button(d, "Filter"))
        return card_ids(d)

    elm = next(i for i, c in held.items() if c["format"] == "ldp_vc")
    assert filtered(Search="Digital micro-credential") == {elm}
    axe(d)  # a filtered list
    assert filtered(Format="dc+sd-jwt") == {i for i, c in held.items()
                                            if c["format"] == "dc+sd-jwt"} == set(held) - {elm}
    level = next(str(v) for v in eqf.values() if v is not None)
    assert filtered(**{"EQF level": level}) == {i for i, v in eqf.items() if str(v) == level}
    assert filtered(Search="no such credential anywhere") == set()
    assert "No credential matches these filters." in main_text(d)
    go(d, link(d, "Clear filters"))
    assert card_ids(d) == set(held)

    # the credential as received, downloaded byte for byte
    go(d, d.find_element(By.CSS_SELECTOR, f'[data-testid="credential"] a[href$="{received}"]'))
    link(d, "Download the credential as received").click()
    raw = downloaded(d, f"credential-{received[:36]}.*").read_text()
    assert raw == stack.api("GET", f"/v1/credentials/{received}", token)[1]["raw"]
    assert raw.count("~") >= 2  # the SD-JWT with its disclosures

    # delete, after the confirmation
    go(d, link(d, "Delete this credential"))
    go(d, button(d, "Delete"))
    assert "The credential was deleted." in main_text(d)
    assert card_ids(d) == set(held) - {received}
    assert stack.api("GET", f"/v1/credentials/{received}", token)[0] == 404
