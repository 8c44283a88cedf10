"""The ledger outbox: an acceptance's ledger entry commits with its credentials, in the vault, and
reaches the ledger after the answer — or, if the process died first, at the learner's next access.

"The process dies after the vault commit" is :class:`~wallet.ledger_outbox.LedgerOutbox`'s
background flush never starting; "it dies after the ledger commit" is the outbox's own cleanup
raising. Every view of the ledger must then show the entry exactly once, its chain must verify,
and the outbox must end empty. ``test_crash.py`` kills a real process at random points too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import weakref
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from consent.errors import InvalidEvent, LedgerUnavailable
from holder_api.appkeys import WIRING
from tests.holder_api.askar_calls import count_askar_calls
from tests.holder_api.receive_support import learner
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login
from tests.wallet.oid4vci_support import FakeClock, Issuer
from wallet import ledger_outbox
from wallet.accounts.service import LearnerSession
from wallet.after_answer import collect
from wallet.crypto import VaultKey
from wallet.errors import Unavailable
from wallet.ledger_outbox import (
    DEAD_LETTER_CATEGORY,
    OUTBOX_CATEGORY,
    LedgerOutbox,
    StagedEntry,
    _to_record,
)
from wallet.ports import Activity, ActivityKind
from wallet.receive.offers import OfferFlow
from wallet.vault.askar import AskarRecordStore
from wallet.vault.learner import Write


class Crash(Exception):  # noqa: N818 - it stands for the process dying, not an error
    """The process dies right here: nothing after it runs."""


@pytest.fixture
def no_background_flush(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies right after the vault commit: the staged entry never moves by itself."""
    monkeypatch.setattr(LedgerOutbox, "flush_soon", lambda *_args: None)


async def _offer(app: TestClient[Any, Any], token: str, issuer: Issuer) -> str:
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def _accept(app: TestClient[Any, Any], token: str, issuer: Issuer) -> str:
    r = await app.post(f"/v1/offers/{await _offer(app, token, issuer)}/accept", json={},
                       headers=auth(token))
    assert r.status == 200, await r.text()
    return str((await r.json())["credentials"][0]["id"])


async def _unlocked(app: TestClient[Any, Any]) -> tuple[str, LearnerSession]:
    """A new learner's bearer token and session (its vault key opens the outbox)."""
    token = await learner(app)
    return token, await app.app[WIRING].accounts.service.authenticate(token)


async def _staged(app: TestClient[Any, Any], token: str) -> list[str]:
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    records = s.stores.vault.for_learner(session.learner_id, session.dek).records(OUTBOX_CATEGORY)
    return [entry_id for entry_id, _ in await records.list()]


async def _events(app: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    r = await app.get("/v1/consent/events?limit=200", headers=auth(token))
    assert r.status == 200, await r.text()
    return list((await r.json())["items"])


def _naming(events: Sequence[dict[str, Any]], credential_id: str) -> list[dict[str, Any]]:
    return [e for e in events
            if e["kind"] == "credential_accepted" and credential_id in e["credential_ids"]]


async def _verified(app: TestClient[Any, Any], token: str) -> dict[str, Any]:
    r = await app.get("/v1/consent/verify", headers=auth(token))
    assert r.status == 200, await r.text()
    report = dict(await r.json())
    assert report["valid"], report
    return report


async def test_every_view_of_the_ledger_shows_a_staged_entry(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None) -> None:
    token = await learner(app)
    # the history
    first = await _accept(app, token, issuer)
    assert len(await _staged(app, token)) == 1
    [entry] = _naming(await _events(app, token), first)
    assert entry["counterparty"] == issuer.credential_issuer
    assert await _staged(app, token) == []
    # a receipt, asked for by the id the entry will have (the staged record's)
    second = await _accept(app, token, issuer)
    [staged_id] = await _staged(app, token)
    r = await app.get(f"/v1/consent/receipts/{staged_id}", headers=auth(token))
    assert r.status == 200, await r.text()
    assert r.content_type == "application/jwt"
    assert [e["id"] for e in _naming(await _events(app, token), second)] == [staged_id]
    # the chain's verification counts it
    length = (await _verified(app, token))["length"]
    await _accept(app, token, issuer)
    assert (await _verified(app, token))["length"] == length + 1
    assert await _staged(app, token) == []
    # the export's chain names it, before the export's own entry
    fourth = await _accept(app, token, issuer)
    r = await app.post("/v1/me/export", json={"passphrase": "an export passphrase, long enough"},
                       headers=auth(token))
    assert r.status == 200, await r.text()
    records = (await r.json())["ledger"]["records"]
    kinds = [(rec["kind"], rec["event"]["credential_ids"]) for rec in records
             if rec["type"] == "entry"]
    assert kinds[-2:] == [("credential_accepted", [fourth]), ("export", [])]


async def test_the_entry_keeps_its_place_before_what_the_learner_did_next(
        app: TestClient[Any, Any], issuer: Issuer, clock: FakeClock,
        no_background_flush: None) -> None:
    token = await learner(app)
    accepted = await _accept(app, token, issuer)
    clock.advance(5)  # time moves on: the deletion's entry must come after, in seq and time
    r = await app.delete(f"/v1/credentials/{accepted}", headers=auth(token))
    assert r.status == 204, await r.text()
    events = await _events(app, token)  # newest first
    assert [(e["kind"], e["credential_ids"]) for e in events[:2]] == [
        ("credential_deleted", [accepted]), ("credential_accepted", [accepted])]
    assert events[1]["at"] < events[0]["at"]
    await _verified(app, token)


async def test_an_entry_staged_on_a_lagging_clock_never_goes_back_in_time(
        app: TestClient[Any, Any], issuer: Issuer, clock: FakeClock,
        no_background_flush: None) -> None:
    token = await learner(app)
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    accepted = await _accept(app, token, issuer)
    assert len(_naming(await _events(app, token), accepted)) == 1  # in the ledger, at now
    # another replica whose clock is 5 s behind stages an entry, committed after ours
    lagging = LedgerOutbox(s.stores.vault, s.consent.outbox._ledger,
                           clock=lambda: clock() - timedelta(seconds=5))
    staged_at = clock() - timedelta(seconds=5)
    async with s.stores.vault.for_learner(session.learner_id, session.dek).atomic() as tx:
        await lagging.stage(tx, Activity(kind=ActivityKind.CREDENTIAL_RECEIVED, credential_ids=("late",)))
    events = await _events(app, token)  # newest first
    assert [e["credential_ids"] for e in events[:2]] == [["late"], [accepted]]
    assert events[1]["at"] <= events[0]["at"]  # seq order and time order agree
    newest = (await s.consent.service.history(s.consent.ledger.ref(session.learner_id),
                                              session.dek, limit=1)).items[0].event
    assert newest is not None  # the staged time is kept in the entry's details
    assert datetime.fromisoformat(str(newest.details["staged_at"])) == staged_at
    await _verified(app, token)


async def test_a_crash_before_the_flush_is_repaired_at_the_next_unlock(
        app: TestClient[Any, Any], issuer: Issuer, make_client: AppFactory, clock: FakeClock,
        no_background_flush: None) -> None:
    token = await learner(app)
    accepted = await _accept(app, token, issuer)
    await app.close()  # the process is gone; the entry is only in the vault's outbox
    restarted = await make_client(clock=clock)
    token = await login(restarted, "ada")  # unlocked again
    assert len(_naming(await _events(restarted, token), accepted)) == 1
    await _verified(restarted, token)
    assert await _staged(restarted, token) == []
    assert len(_naming(await _events(restarted, token), accepted)) == 1


def _cleanup_fails(monkeypatch: pytest.MonkeyPatch, exc: Exception) -> Callable[[], None]:
    """Deleting staged records raises ``exc`` (after the ledger commit); returns the undo.
    (Several go in one transaction, one alone as a single remove.)"""
    apply, remove = AskarRecordStore.apply, AskarRecordStore.remove

    async def fails(store: AskarRecordStore, writes: Sequence[Write]) -> None:
        if any(w.op == "remove" and w.category.endswith(OUTBOX_CATEGORY) for w in writes):
            raise exc
        await apply(store, writes)

    async def fails_alone(store: AskarRecordStore, category: str, name: str) -> None:
        if category.endswith(OUTBOX_CATEGORY):
            raise exc
        await remove(store, category, name)

    monkeypatch.setattr(AskarRecordStore, "apply", fails)
    monkeypatch.setattr(AskarRecordStore, "remove", fails_alone)

    def undo() -> None:
        monkeypatch.setattr(AskarRecordStore, "apply", apply)
        monkeypatch.setattr(AskarRecordStore, "remove", remove)
    return undo


async def test_a_crash_after_the_ledger_commit_records_once(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = await learner(app)
    accepted = await _accept(app, token, issuer)
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    restore = _cleanup_fails(monkeypatch, Crash())
    with pytest.raises(Crash):
        await s.consent.outbox.flush(session.learner_id, session.dek)
    restore()
    assert len(await _staged(app, token)) == 1  # in the ledger, and still staged
    assert len(_naming(await _events(app, token), accepted)) == 1
    assert await _staged(app, token) == []
    await _verified(app, token)


async def test_an_entry_the_ledger_refuses_stops_the_write_it_names(
        app: TestClient[Any, Any], no_background_flush: None) -> None:
    token = await learner(app)
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    lv = s.stores.vault.for_learner(session.learner_id, session.dek)
    refused = [Activity(kind=ActivityKind.CREDENTIAL_RECEIVED, counterparty="https://i.example/" + "a" * 3000,
                        credential_ids=("c1",)),
               Activity(kind=ActivityKind.CREDENTIAL_ACCEPTED,
                        credential_ids=tuple(f"c{i}" for i in range(65)))]
    for activity in refused:
        with pytest.raises(InvalidEvent):
            async with lv.atomic() as tx:
                await tx.records("notes").put("n1", {"a": 1})
                await s.consent.outbox.stage(tx, activity)
        assert await lv.records("notes").list() == []  # the whole write was refused
        assert await _staged(app, token) == []


async def test_a_staged_record_the_ledger_cannot_take_never_blocks_the_ledger(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None) -> None:
    token = await learner(app)
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    lv = s.stores.vault.for_learner(session.learner_id, session.dek)
    outbox = lv.records(OUTBOX_CATEGORY)
    # staged by an older release: one the ledger refuses, one that no longer decodes
    too_long = Activity(kind=ActivityKind.CREDENTIAL_RECEIVED, counterparty="https://i.example/" + "a" * 3000,
                        credential_ids=("c1",))
    await outbox.put("00000000-0000-4000-8000-000000000001",
                     _to_record(too_long, s.stores.clock(), 0))
    await outbox.put("00000000-0000-4000-8000-000000000002", {"v": 1, "at": "not a time"})
    # and one whose seal does not open (vault integrity): skipped, left for an operator
    unopenable = "00000000-0000-4000-8000-000000000003"
    await s.stores.vault.for_learner(session.learner_id, VaultKey.generate()).records(
        OUTBOX_CATEGORY).put(unopenable, {"v": 1})
    accepted = await _accept(app, token, issuer)
    assert len((await outbox.list_readable())[0]) == 3
    # history, verification and a disclosure-style append all work, and the good entry is there
    assert len(_naming(await _events(app, token), accepted)) == 1
    assert (await _verified(app, token))["staged_pending"] == 1  # the one that does not open
    assert await outbox.list_readable() == ([], [unopenable])
    dead = await lv.records(DEAD_LETTER_CATEGORY).list()
    assert sorted((i, b["reason"]) for i, b in dead) == [
        ("00000000-0000-4000-8000-000000000001", "invalid_consent_event"),
        ("00000000-0000-4000-8000-000000000002", "decryption_failed")]


async def test_an_unknown_event_kind_is_a_refused_event_never_a_server_error(
        app: TestClient[Any, Any], no_background_flush: None) -> None:
    """A kind the ledger does not know (a typo past the type checker, or a record staged by
    another release) is the ledger's typed refusal, never a bare ``ValueError`` (a 500)."""
    token = await learner(app)
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    lv = s.stores.vault.for_learner(session.learner_id, session.dek)
    misspelled = Activity(kind=cast(Any, "credential_recieved"), credential_ids=("c1",))
    with pytest.raises(InvalidEvent):  # staging: the write it names is refused (400)
        async with lv.atomic() as tx:
            await tx.records("notes").put("n1", {"a": 1})
            await s.consent.outbox.stage(tx, misspelled)
    assert await lv.records("notes").list() == []
    with pytest.raises(InvalidEvent):  # an entry written first: refused before anything is
        await s.consent.activity.record(session.learner_id, session.dek, misspelled,
                                        before_disclosure=True)
    # staged by another release under a kind this one does not know: the learner's ledger
    # still reads (it is flushed before every read), the entry waits for a release that
    # knows its kind (below)
    unknown = "00000000-0000-4000-8000-000000000004"
    record = _to_record(Activity(kind=ActivityKind.CREDENTIAL_RECEIVED, credential_ids=("c1",)),
                        s.stores.clock(), 0)
    record["activity"]["kind"] = "credential_refreshed"
    await lv.records(OUTBOX_CATEGORY).put(unknown, record)
    r = await app.get("/v1/consent/events", headers=auth(token))
    assert r.status == 200, await r.text()
    assert await _staged(app, token) == [unknown]
    assert await lv.records(DEAD_LETTER_CATEGORY).list() == []


def _a_newer_release(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    """This process becomes a release that knows ``kind`` (read as ``credential_received``:
    an enum cannot grow a member at run time, and the move is what is tested)."""
    known = ledger_outbox._kind
    monkeypatch.setattr(ledger_outbox, "_kind", lambda raw: (
        ActivityKind.CREDENTIAL_RECEIVED if raw == kind else known(raw)))


async def test_an_entry_of_a_kind_from_a_newer_release_waits_staged_for_a_release_that_knows_it(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A rolling upgrade: a replica of the newer release staged an entry of a kind this one does
    not know; this one's flushes move everything else and leave that entry staged (never set
    aside, where nothing reads it back), and the newer release's next flush moves it, once."""
    token, session = await _unlocked(app)
    s = app.app[WIRING]
    lv = s.stores.vault.for_learner(session.learner_id, session.dek)
    newer = "00000000-0000-4000-8000-000000000005"
    record = _to_record(Activity(kind=ActivityKind.CREDENTIAL_RECEIVED, credential_ids=("new",)),
                        s.stores.clock(), 0)
    record["activity"]["kind"] = "credential_refreshed"
    await lv.records(OUTBOX_CATEGORY).put(newer, record)
    accepted = await _accept(app, token, issuer)  # staged behind it
    assert len(_naming(await _events(app, token), accepted)) == 1  # the rest moved
    assert await _staged(app, token) == [newer]
    assert await lv.records(DEAD_LETTER_CATEGORY).list() == []
    assert (await _verified(app, token))["staged_pending"] == 1  # and it is counted as waiting
    _a_newer_release(monkeypatch, "credential_refreshed")
    for _ in range(2):
        events = await _events(app, token)
        assert [e["credential_ids"] for e in events if e["id"] == newer] == [["new"]]
    assert await _staged(app, token) == []
    await _verified(app, token)


async def test_an_entry_an_earlier_release_set_aside_is_moved_by_a_release_that_can_take_it(
        app: TestClient[Any, Any], no_background_flush: None) -> None:
    """Releases before this one set a kind they did not know aside in ``ledger-outbox-dead``
    (the reason ``invalid_consent_event``); a release that knows the kind moves it into the
    ledger, once, and what it cannot take either stays set aside."""
    token, session = await _unlocked(app)
    s = app.app[WIRING]
    lv = s.stores.vault.for_learner(session.learner_id, session.dek)
    dead = lv.records(DEAD_LETTER_CATEGORY)
    known = "00000000-0000-4000-8000-000000000006"
    expired = Activity(kind=ActivityKind.INBOX_ITEM_EXPIRED, counterparty="inbox_link:l1",
                       details={"item_id": "i1"})
    await dead.put(known, {"reason": "invalid_consent_event",
                           "staged": _to_record(expired, s.stores.clock(), 3)})
    refused = "00000000-0000-4000-8000-000000000007"
    too_long = Activity(kind=ActivityKind.CREDENTIAL_RECEIVED,
                        counterparty="https://i.example/" + "a" * 3000, credential_ids=("c1",))
    await dead.put(refused, {"reason": "invalid_consent_event",
                             "staged": _to_record(too_long, s.stores.clock(), 4)})
    undecodable = "00000000-0000-4000-8000-000000000008"
    await dead.put(undecodable, {"reason": "decryption_failed",
                                 "staged": {"v": 1, "at": "not a time"}})
    for _ in range(2):
        events = await _events(app, token)
        assert [e["kind"] for e in events if e["id"] == known] == ["inbox_item_expired"]
    assert sorted(i for i, _ in await dead.list()) == [refused, undecodable]
    assert await _staged(app, token) == []
    await _verified(app, token)


async def test_an_interrupted_erasure_finishes_with_entries_staged_after_the_tombstone(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None) -> None:
    token = await learner(app)
    await _accept(app, token, issuer)
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    calls: list[str] = []

    async def fails_once(learner_id: str) -> None:  # the store behind a feature is down once
        calls.append(learner_id)
        if len(calls) == 1:
            raise Unavailable("the store is down")

    s.consent.personal_data.add_eraser("flaky", fails_once)  # runs after the tombstone
    with pytest.raises(Unavailable):
        await s.rights.erase(session, PASSPHRASE, client="test")
    # another tab's import commits after the tombstone: its entry is staged in the vault
    async with s.stores.vault.for_learner(session.learner_id, session.dek).atomic() as tx:
        await s.consent.outbox.stage(tx, Activity(kind=ActivityKind.CREDENTIAL_RECEIVED,
                                                  credential_ids=("c1",)))
    await s.rights.erase(session, PASSPHRASE, client="test")  # the retry finishes the job
    assert len(calls) == 2
    assert not await s.stores.vault.has_profile(session.learner_id)


def _ledger_down(outbox: LedgerOutbox, monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The ledger store answers 503 to the next ``times`` moves, then is back."""
    ledger = outbox._ledger
    record_staged, failures = ledger.record_staged, [times]

    async def down(*args: Any) -> int | None:
        if failures[0] > 0:
            failures[0] -= 1
            raise LedgerUnavailable("the ledger store is down")
        return await record_staged(*args)

    monkeypatch.setattr(ledger, "record_staged", down)

    async def no_wait(_seconds: float) -> None:
        return None

    monkeypatch.setattr(outbox, "_sleep", no_wait)


async def test_the_background_flush_retries_while_the_ledger_is_down(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    accepted = await _accept(app, token, issuer)
    _ledger_down(outbox, monkeypatch, times=2)  # down for the first two tries only
    await outbox._flush_quietly(session.learner_id, session.dek)
    assert await _staged(app, token) == []
    assert outbox.failed_flushes == 0
    _ledger_down(outbox, monkeypatch, times=3)  # down for as long as the retries last
    await _accept(app, token, issuer)
    await outbox._flush_quietly(session.learner_id, session.dek)
    assert len(await _staged(app, token)) == 1  # still staged: the next access moves it
    assert outbox.failed_flushes == 1 and outbox.pending_flushes == 0
    metrics = await (await app.get("/metrics")).text()
    assert "satchel_ledger_outbox_flushes_failed 1.0" in metrics
    assert "satchel_ledger_outbox_flushes_pending 0.0" in metrics
    assert len(_naming(await _events(app, token), accepted)) == 1


async def test_a_cleanup_failure_after_the_ledger_commit_does_not_fail_the_request(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = await learner(app)
    accepted = await _accept(app, token, issuer)
    restore = _cleanup_fails(monkeypatch, Unavailable("the vault store is down"))
    assert len(_naming(await _events(app, token), accepted)) == 1  # 200, the ledger is fine
    restore()
    assert len(await _staged(app, token)) == 1  # its delete failed; the next flush skips it
    assert len(_naming(await _events(app, token), accepted)) == 1
    assert await _staged(app, token) == []
    await _verified(app, token)


async def test_verification_never_fails_because_of_staged_entries(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = await learner(app)
    await _accept(app, token, issuer)
    report = await _verified(app, token)  # caught up
    assert report["staged_pending"] == 0 and "catch_up_error" not in report
    length = report["length"]
    await _accept(app, token, issuer)
    # the ledger refuses writes: the chain as it stands verifies, the staged entry is reported
    _ledger_down(app.app[WIRING].consent.outbox, monkeypatch, times=1)
    report = await _verified(app, token)
    assert (report["length"], report["staged_pending"], report["catch_up_error"]) == (
        length, 1, "ledger_unavailable")

    # the vault does not answer: the chain still verifies, what waits there is unknown
    async def down(*_args: Any, **_kw: Any) -> None:
        raise Unavailable("the vault store is down")

    monkeypatch.setattr(AskarRecordStore, "fetch_all", down)
    monkeypatch.setattr(AskarRecordStore, "count", down)
    report = await _verified(app, token)
    assert (report["length"], report["staged_pending"]) == (length, None)
    assert report["catch_up_error"] == Unavailable.code
    monkeypatch.undo()
    assert (await _verified(app, token))["length"] == length + 1



async def test_a_large_outbox_moves_in_bounded_chunks(
        app: TestClient[Any, Any], no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token = await learner(app)
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    outbox = s.consent.outbox
    monkeypatch.setattr(ledger_outbox, "FLUSH_CHUNK", 3)
    async with s.stores.vault.for_learner(session.learner_id, session.dek).atomic() as tx:
        for i in range(7):  # an outbox grown during a ledger outage
            await outbox.stage(tx, Activity(kind=ActivityKind.CREDENTIAL_RECEIVED,
                                            credential_ids=(f"c{i}",)))
    record_staged, sizes = outbox._ledger.record_staged, []

    async def counted(learner_id: str, sealer: Any, staged: Sequence[Any]) -> int | None:
        sizes.append(len(staged))
        return await record_staged(learner_id, sealer, staged)

    monkeypatch.setattr(outbox._ledger, "record_staged", counted)
    assert await outbox.flush(session.learner_id, session.dek) == 7
    assert sizes == [3, 3, 1]
    assert await _staged(app, token) == []
    events = await _events(app, token)  # newest first: staged order kept across chunks
    assert [e["credential_ids"] for e in events[:7]] == [[f"c{i}"] for i in reversed(range(7))]
    await _verified(app, token)



async def test_the_shutdown_drain_does_not_wait_for_a_hung_store(
        app: TestClient[Any, Any], issuer: Issuer, no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    await _accept(app, token, issuer)
    hung = asyncio.Event()  # never set: the ledger store stopped answering

    async def hangs(*_args: Any) -> int:
        await hung.wait()
        return 0

    monkeypatch.setattr(outbox._ledger, "record_staged", hangs)
    # what flush_soon starts once the answer is out (the fixture keeps it from starting itself)
    task = asyncio.create_task(outbox._flush_quietly(session.learner_id, session.dek))
    outbox._flushing.add(task)
    task.add_done_callback(outbox._flushing.discard)
    await outbox.drain(grace=0.05)  # returns, the hung flush cancelled
    assert task.cancelled() and not outbox._flushing
    assert len(await _staged(app, token)) == 1  # still staged: moved at the next access



async def test_background_flushes_run_a_bounded_number_at_once(
        app: TestClient[Any, Any], no_background_flush: None,
        monkeypatch: pytest.MonkeyPatch) -> None:
    s = app.app[WIRING]
    outbox = LedgerOutbox(s.stores.vault, s.consent.outbox._ledger, background_flushes=2)
    running, most, release = [0], [0], asyncio.Event()

    async def slow_flush(_learner_id: str, _sealer: Any, _ticket: int | None = None) -> int:
        running[0] += 1
        most[0] = max(most[0], running[0])
        await release.wait()
        running[0] -= 1
        return 0

    monkeypatch.setattr(outbox, "_flush", slow_flush)
    session = await s.accounts.service.authenticate(await learner(app))
    tasks = [asyncio.create_task(outbox._flush_quietly(f"l{i}", session.dek)) for i in range(5)]
    for _ in range(20):
        await asyncio.sleep(0)
    assert (most[0], outbox.pending_flushes) == (2, 5)  # 2 running, 3 waiting for a slot
    release.set()
    await asyncio.gather(*tasks)
    assert (most[0], outbox.pending_flushes, outbox.failed_flushes) == (2, 0, 0)


# -- the after-answer work when the request does not end in its answer ------------------------


def _after_the_commit(monkeypatch: pytest.MonkeyPatch,
                      then: Callable[[], Awaitable[None]]) -> None:
    """The acceptance runs ``then`` right after its vault commit (and its ``flush_soon``)."""
    async def notify(*_args: Any) -> None:
        await then()

    monkeypatch.setattr(OfferFlow, "_notify_all", notify)


async def _moved_in_the_background(app: TestClient[Any, Any], token: str,
                                   caplog: pytest.LogCaptureFixture) -> None:
    """The accepted credential is stored (the commit stands, so must its entry) and its staged
    entry was moved by the after-answer flush alone (no ledger read ran first), exactly once,
    with no background task failing unseen."""
    r = await app.get("/v1/credentials", headers=auth(token))
    assert r.status == 200, await r.text()
    [accepted] = [str(c["id"]) for c in (await r.json())["items"]]
    outbox = app.app[WIRING].consent.outbox
    await outbox.drain(grace=10)
    assert await _staged(app, token) == []  # a vault read: it flushes nothing itself
    assert outbox.failed_flushes == 0
    assert len(_naming(await _events(app, token), accepted)) == 1
    await _verified(app, token)
    assert not [rec for rec in caplog.records if "never retrieved" in rec.getMessage()]


@pytest.mark.parametrize(("failure", "status"), [
    (Unavailable("the notification store is down"), 503),
    (RuntimeError("a bug after the commit"), 500)])
async def test_a_request_failing_after_the_commit_still_moves_the_entry(
        app: TestClient[Any, Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture, failure: Exception, status: int) -> None:
    token = await learner(app)

    async def fails() -> None:
        raise failure

    _after_the_commit(monkeypatch, fails)
    r = await app.post(f"/v1/offers/{await _offer(app, token, issuer)}/accept", json={},
                       headers=auth(token))
    problem = await assert_problem(r, status)
    assert "a bug" not in json.dumps(problem)  # a 500 names no internals
    await _moved_in_the_background(app, token, caplog)


async def test_a_client_gone_before_the_answer_still_gets_the_entry_moved(
        app: TestClient[Any, Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The client hangs up while the handler runs after the commit: aiohttp cancels it."""
    token = await learner(app)
    committed = asyncio.Event()

    async def waits() -> None:
        committed.set()
        await asyncio.Event().wait()  # until cancelled

    _after_the_commit(monkeypatch, waits)
    offer_id = await _offer(app, token, issuer)
    request = asyncio.create_task(app.post(f"/v1/offers/{offer_id}/accept", json={},
                                           headers=auth(token)))
    await asyncio.wait_for(committed.wait(), 10)
    request.cancel()  # the client hangs up
    with contextlib.suppress(asyncio.CancelledError):
        await request
    outbox = app.app[WIRING].consent.outbox
    for _ in range(500):  # until the server has seen the hang-up and started the flush
        if outbox.pending_flushes or not await _staged(app, token):
            break
        await asyncio.sleep(0.01)
    await _moved_in_the_background(app, token, caplog)


async def test_an_answer_that_cannot_be_written_still_gets_the_entry_moved(
        app: TestClient[Any, Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """The handler answered, but writing the answer fails (the connection is gone)."""
    token = await learner(app)
    offer_id = await _offer(app, token, issuer)
    prepare = web.Response.prepare

    async def breaks(response: web.Response, request: web.BaseRequest) -> Any:
        if request.path.endswith("/accept"):
            raise ConnectionResetError("the client is gone")
        return await prepare(response, request)

    monkeypatch.setattr(web.Response, "prepare", breaks)
    with pytest.raises(aiohttp.ClientError):  # no answer reached the client
        await app.post(f"/v1/offers/{offer_id}/accept", json={}, headers=auth(token))
    monkeypatch.setattr(web.Response, "prepare", prepare)
    await _moved_in_the_background(app, token, caplog)


async def test_two_processes_flushing_at_once_record_once(
        app: TestClient[Any, Any], issuer: Issuer, make_client: AppFactory, clock: FakeClock,
        no_background_flush: None) -> None:
    """Two apps on the same stores, each with its own engine (pool) and Ledger: on PostgreSQL
    their flushes race in different connections, only the ledger's own locking keeps it once."""
    token = await learner(app)
    accepted = await _accept(app, token, issuer)
    other = await make_client(clock=clock)
    s, t = app.app[WIRING], other.app[WIRING]
    assert s.stores.engine is not t.stores.engine
    session = await s.accounts.service.authenticate(token)
    moved = await asyncio.gather(*(o.consent.outbox.flush(session.learner_id, session.dek)
                                   for o in (s, t, s, t)))
    assert sum(moved) == 1  # appended by exactly one of them
    for client in (app, other):
        assert len(_naming(await _events(client, token), accepted)) == 1
    assert await _staged(app, token) == []
    await _verified(app, token)


async def _stage_on(app: TestClient[Any, Any], session: LearnerSession, label: str) -> None:
    """``app``'s outbox stages an entry naming ``label`` for the learner (one vault transaction)."""
    s = app.app[WIRING]
    async with s.stores.vault.for_learner(session.learner_id, session.dek).atomic() as tx:
        await s.consent.outbox.stage(tx, Activity(kind=ActivityKind.CREDENTIAL_RECEIVED,
                                                  credential_ids=(label,)))


async def test_entries_staged_on_replicas_with_skewed_clocks_move_in_staging_order(
        app: TestClient[Any, Any], make_client: AppFactory, clock: FakeClock,
        no_background_flush: None) -> None:
    """Two apps on the same stores, each with its own engine, the second's clock a minute
    behind: the ledger takes their entries in the order they were staged, not clock order."""
    token, session = await _unlocked(app)
    behind = FakeClock(clock.now - 60)
    other = await make_client(clock=behind)
    assert app.app[WIRING].stores.engine is not other.app[WIRING].stores.engine
    order = ["a1", "b1", "a2", "b2", "a3"]
    for label in order:
        await _stage_on(app if label[0] == "a" else other, session, label)
        clock.advance(1)
        behind.advance(1)
    events = await _events(app, token)  # newest first
    assert [e["credential_ids"][0] for e in reversed(events[:5])] == order
    await _verified(app, token)


async def test_replicas_staging_at_once_never_share_a_place(
        app: TestClient[Any, Any], make_client: AppFactory, clock: FakeClock,
        no_background_flush: None) -> None:
    """Both apps stage for one learner concurrently: every entry gets its own staging number,
    and the ledger takes them in that order. (PostgreSQL: the counter's row is fetched for
    update, and Askar itself locks the learner's profile row in every transaction; SQLite: write
    transactions are exclusive, a busy one is retried.)"""
    token, session = await _unlocked(app)
    other = await make_client(clock=FakeClock(clock.now - 60))
    labels = [f"{side}{i}" for i in range(6) for side in "ab"]
    await asyncio.gather(*(_stage_on(app if label[0] == "a" else other, session, label)
                           for label in labels))
    lv = app.app[WIRING].stores.vault.for_learner(session.learner_id, session.dek)
    staged = await lv.records(OUTBOX_CATEGORY).list()
    numbered = sorted((body["seq"], body["activity"]["credential_ids"][0]) for _, body in staged)
    assert [seq for seq, _ in numbered] == list(range(len(labels)))
    events = await _events(app, token)  # newest first
    assert [e["credential_ids"][0] for e in reversed(events[:len(labels)])] == [
        label for _, label in numbered]
    await _verified(app, token)


class _TracedKey(VaultKey):
    """A vault key a test can watch die (``weakref``): the learner's key, copied."""

    __slots__ = ("__weakref__",)


def _traced(session: LearnerSession) -> tuple[_TracedKey, weakref.ref[_TracedKey]]:
    key = _TracedKey(session.dek.raw)
    return key, weakref.ref(key)


def _gone(ref: weakref.ref[_TracedKey]) -> bool:
    gc.collect()
    return ref() is None


async def test_a_background_flush_on_a_hung_store_times_out_and_lets_the_key_go(
        app: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    await _stage_on(app, session, "c1")
    hung = asyncio.Event()  # never set: the ledger store stopped answering

    async def hangs(*_args: Any) -> int:
        await hung.wait()
        return 0

    monkeypatch.setattr(outbox._ledger, "record_staged", hangs)
    monkeypatch.setattr(outbox, "flush_timeout", 0.2)
    key, ref = _traced(session)
    outbox.flush_soon(session.learner_id, key)  # outside a request: it starts at once
    del key
    [task] = outbox._flushing
    await asyncio.wait_for(asyncio.shield(task), 10)  # it ends by itself, no drain needed
    assert not task.cancelled()
    assert (outbox.failed_flushes, outbox.pending_flushes, outbox._flushing) == (1, 0, set())
    del task
    assert _gone(ref)  # nothing holds the learner's key any more
    assert session.learner_id not in outbox._queued  # a later background flush may start
    monkeypatch.undo()
    assert len(await _staged(app, token)) == 1  # still staged: the next access moves it
    assert [e["credential_ids"] for e in await _events(app, token)][0] == ["c1"]


async def test_a_deferred_flush_keeps_no_key_once_it_has_run(app: TestClient[Any, Any]) -> None:
    """Whatever still holds the request's deferred jobs once they ran (the middleware's list, a
    context copied into a task started during the request) holds no vault key."""
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    await _stage_on(app, session, "c1")
    key, ref = _traced(session)
    with collect() as jobs:  # what the HTTP layer does around a request
        outbox.flush_soon(session.learner_id, key)
        outbox.flush_soon(session.learner_id, key)  # a second write in the same request
    del key
    for job in jobs:  # the answer is out
        job()
    await outbox.drain()
    assert await _staged(app, token) == []  # the flush ran
    assert len(jobs) == 2 and _gone(ref)  # the jobs are still held, the key is not


# -- the background flush of an entry that was alone in the outbox ----------------------------


async def _stage(app: TestClient[Any, Any], session: LearnerSession, label: str) -> StagedEntry:
    s = app.app[WIRING]
    async with s.stores.vault.for_learner(session.learner_id, session.dek).atomic() as tx:
        return await s.consent.outbox.stage(tx, Activity(kind=ActivityKind.CREDENTIAL_RECEIVED,
                                                         credential_ids=(label,)))


async def _received(app: TestClient[Any, Any], token: str) -> list[list[str]]:
    """The ``credential_received`` entries' credential ids, oldest first."""
    return [e["credential_ids"] for e in reversed(await _events(app, token))
            if e["kind"] == "credential_received"]


async def test_an_entry_alone_in_the_outbox_moves_without_reading_the_outbox_back(
        app: TestClient[Any, Any]) -> None:
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    staged = await _stage(app, session, "c1")
    assert staged.alone
    with count_askar_calls() as calls:
        outbox.flush_soon(session.learner_id, session.dek, staged)  # outside a request: now
        await outbox.drain()
    assert calls.calls == ["session", "remove", "close"]  # moved, then removed; nothing read
    assert await _staged(app, token) == []
    assert await _received(app, token) == [["c1"]]


async def test_an_entry_staged_behind_another_moves_after_it(app: TestClient[Any, Any]) -> None:
    """The entry before it never moved (the process died): the flush lists the outbox."""
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    first = await _stage(app, session, "c1")
    second = await _stage(app, session, "c2")
    assert (first.alone, second.alone) == (True, False)
    outbox.flush_soon(session.learner_id, session.dek, second)
    await outbox.drain()
    assert await _staged(app, token) == []
    assert await _received(app, token) == [["c1"], ["c2"]]


async def test_a_queued_flush_for_an_entry_alone_moves_those_staged_behind_it_too(
        app: TestClient[Any, Any]) -> None:
    """A second write's flush finds the first one's still queued and leaves its entry to it:
    that flush must then list the outbox, not move its own entry only."""
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    first = await _stage(app, session, "c1")
    second = await _stage(app, session, "c2")
    outbox.flush_soon(session.learner_id, session.dek, first)
    outbox.flush_soon(session.learner_id, session.dek, second)  # queued behind the first
    assert len(outbox._flushing) == 1
    await outbox.drain()
    assert await _staged(app, token) == []
    assert await _received(app, token) == [["c1"], ["c2"]]


async def test_an_entry_moved_by_another_flush_first_is_recorded_once(
        app: TestClient[Any, Any]) -> None:
    """A ledger read moved it before its background flush ran (another replica's flush would do
    the same): the background flush appends nothing and finds nothing to remove."""
    token, session = await _unlocked(app)
    outbox = app.app[WIRING].consent.outbox
    staged = await _stage(app, session, "c1")
    assert await _received(app, token) == [["c1"]]  # the read flushed first
    outbox.flush_soon(session.learner_id, session.dek, staged)
    await outbox.drain()
    assert (outbox.failed_flushes, await _staged(app, token)) == (0, [])
    assert await _received(app, token) == [["c1"]]
    await _verified(app, token)
