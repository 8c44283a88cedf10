"""Inbox pushes reach the consent ledger (both backends).

A push arrives while the learner is locked, so its ``inbox_item_received`` entry is queued,
sealed to the learner's inbox key, in the transaction that stores the item; an expiry queues
``inbox_item_expired`` in the transaction that deletes the item. Both move into the ledger at the
learner's next access, before anything reads it: the learner's events and receipts show them,
naming the link that took the push (never a claim value), each once, and the chain verifies.
Before this, a push left the learner's events unchanged and an expired item vanished unnamed.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from holder_api.appkeys import INBOX_SWEEP, SERVICES, WIRING
from tests.holder_api.receive_support import inbox_link
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE, assert_problem, auth, learner
from wallet.clock import ManualClock

OFFER = {"credential_issuer": "https://uni.example/issuer",
         "credential_configuration_ids": ["x"]}
PUSH = {"credential_offer": json.dumps(OFFER)}
#: a claim value the pushed credential carries: it must never reach the ledger
SECRET = "Zebulon Quartermaine-Secretvalue"
CREDENTIAL = {"credential": {"@context": ["https://www.w3.org/ns/credentials/v2"],
                             "type": ["VerifiableCredential"], "issuer": "did:example:uni",
                             "credentialSubject": {"name": SECRET}}}
LABEL = "Ledger University"


async def _events(client: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    """The learner's ledger as the API shows it, oldest first."""
    r = await client.get("/v1/consent/events?limit=200", headers=auth(token))
    assert r.status == 200, await r.text()
    return list((await r.json())["items"])[::-1]


async def _verified(client: TestClient[Any, Any], token: str) -> dict[str, Any]:
    report = await (await client.get("/v1/consent/verify", headers=auth(token))).json()
    assert report["valid"] is True and report["staged_pending"] == 0, report
    return dict(report)


async def test_pushes_and_their_fate_reach_the_ledger(make_client: AppFactory) -> None:
    clock = ManualClock()
    client = await make_client(clock=clock, SATCHEL_INBOX_TTL="3600",
                               SATCHEL_TOKEN_TTL=str(86400))
    token = await learner(client)
    link_id, path = await inbox_link(client, token, LABEL)
    before = [e["kind"] for e in await _events(client, token)]
    assert (await client.post(path, json=CREDENTIAL)).status == 202
    for _ in range(3):
        assert (await client.get(path, params=PUSH)).status == 202

    # the learner's events show every push at once (no inbox listing needed), naming the link
    events = await _events(client, token)
    received = [e for e in events if e["kind"] == "inbox_item_received"]
    assert [e["kind"] for e in events][:len(before)] == before
    assert len(received) == 4
    assert {(e["counterparty"], e["counterparty_name"]) for e in received} == {
        (f"inbox_link:{link_id}", LABEL)}
    assert SECRET not in json.dumps(events)
    r = await client.get(f"/v1/consent/receipts/{received[0]['id']}", headers=auth(token))
    assert r.status == 200 and r.content_type == "application/jwt"
    assert SECRET not in await r.text()
    await _verified(client, token)
    assert len([e for e in await _events(client, token)
                if e["kind"] == "inbox_item_received"]) == 4  # moved once

    items = (await (await client.get("/v1/inbox", headers=auth(token))).json())["items"]
    assert len(items) == 4
    ids = [i["id"] for i in items]  # newest first
    r = await client.post(f"/v1/inbox/{ids[0]}/decline", headers=auth(token))
    assert r.status == 204

    clock.advance(timedelta(minutes=61))  # the other three have expired
    # one refused as expired (deleted then), the other two by the background sweep
    await assert_problem(await client.post(f"/v1/inbox/{ids[1]}/accept", json={},
                                           headers=auth(token)), 410, "inbox_item_expired")
    sweep = client.app[INBOX_SWEEP]
    passes = sweep.passes
    sweep.wake()
    await sweep.wait_for_pass(passes + 1)
    events = await _events(client, token)
    kinds = [e["kind"] for e in events]
    assert kinds.count("inbox_item_expired") == 3
    assert kinds.count("credential_declined") == 1
    # each item's arrival comes before what became of it
    assert max(i for i, k in enumerate(kinds) if k == "inbox_item_received") < min(
        i for i, k in enumerate(kinds) if k in ("inbox_item_expired", "credential_declined"))
    assert {e["counterparty"] for e in events if e["kind"] == "inbox_item_expired"} == {
        f"inbox_link:{link_id}"}
    # each names its item, as its arrival does: the history joins them
    assert sorted(e["inbox_item_id"] for e in events if e["kind"] in (
        "inbox_item_expired", "credential_declined")) == sorted(ids)
    assert sorted(e["inbox_item_id"] for e in events if e["kind"] == "inbox_item_received") \
        == sorted(ids)
    report = await _verified(client, token)
    assert report["length"] == len(events)
    assert (await (await client.get("/v1/inbox", headers=auth(token))).json())["items"] == []


async def test_two_moves_at_once_record_each_queued_entry_once(
        client: TestClient[Any, Any]) -> None:
    token = await learner(client)
    _, path = await inbox_link(client, token, LABEL)
    for _ in range(5):
        assert (await client.get(path, params=PUSH)).status == 202
    services = client.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    inbox = client.app[SERVICES].receive.inbox
    assert await inbox.waiting_events(session.learner_id) == 5
    moved = await asyncio.gather(*(inbox.drain_events(session.learner_id, session.dek)
                                   for _ in range(3)))
    assert sum(moved) == 5
    assert await inbox.waiting_events(session.learner_id) == 0
    kinds = [e["kind"] for e in await _events(client, token)]
    assert kinds.count("inbox_item_received") == 5
    await _verified(client, token)


async def test_the_queue_goes_with_the_account(client: TestClient[Any, Any]) -> None:
    token = await learner(client)
    _, path = await inbox_link(client, token, LABEL)
    assert (await client.post(path, json=CREDENTIAL)).status == 202
    inbox = client.app[SERVICES].receive.inbox
    services = client.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    assert await inbox.waiting_events(session.learner_id) == 1
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                          headers=auth(token))
    assert r.status == 204, await r.text()
    assert await inbox.store.count_events(session.learner_id) == 0
