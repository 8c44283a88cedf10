"""The consent ledger on both backends: append, read, filter, page, concurrency, tampering,
erasure, receipts, portability and the canary (nothing personal in clear in the database)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from consent.chain import GENESIS, at_to_us, body_digest, entry_hash
from consent.errors import (
    BodyUnreadable,
    EventNotFound,
    ImportRejected,
    InvalidQuery,
    LearnerAssertedEntry,
    LedgerErased,
    LedgerTampered,
)
from consent.events import ConsentEvent, EventKind
from consent.ledger import Ledger, Staged
from consent.portability import MANIFEST_TYP
from consent.receipts import RECEIPT_TYP, RECEIPT_VERSION
from holder_api.serialise.consent import ledger_event
from tests.support.ledger import NaclSealer, StepClock
from wallet.crypto import DecryptionFailed

A, B = "learner-a", "learner-b"
VERIFIER = "x509_san_dns:verifier.example.org"
EMPLOYER = "redirect_uri:https://employer.example/cb"


def sent(counterparty: str = VERIFIER, **kw: object) -> ConsentEvent:
    base: dict[str, object] = dict(
        kind=EventKind.PRESENTATION_SENT, counterparty=counterparty,
        counterparty_name="Verifier Org", purpose="hiring check",
        claims=[["given_name"], ["degrees", None, "type"]], credential_ids=["cred-1"],
        data_categories=["identity", "education"], policy_url="https://verifier.example.org/p")
    base.update(kw)
    return ConsentEvent(**base)  # type: ignore[arg-type]


async def fill(ledger: Ledger, sealer: NaclSealer, n: int, ref: str = A) -> list[str]:
    ids = []
    for i in range(n):
        cp = VERIFIER if i % 2 == 0 else EMPLOYER
        ids.append((await ledger.append(ref, sealer, sent(cp, details={"n": i}))).id)
    return ids


async def sql(engine: AsyncEngine, stmt: str, **params: object) -> None:
    async with engine.begin() as conn:
        await conn.execute(text(stmt), params)


# -- append, read, filter, page --------------------------------------------------------------------

async def test_append_then_read_back_newest_first(ledger: Ledger, sealer: NaclSealer) -> None:
    first = await ledger.append(A, sealer, sent())
    second = await ledger.append(A, sealer, ConsentEvent(kind=EventKind.CREDENTIAL_ACCEPTED,
                                                          counterparty="https://uni.example"))
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == GENESIS and second.prev_hash == first.hash
    page = await ledger.events(A, sealer)
    assert [e.id for e in page.items] == [second.id, first.id]
    assert page.next_cursor is None
    got = page.items[1]
    assert got.event == sent() and got.hash == first.hash and got.at == first.at
    api = ledger_event(got)
    assert api["claims"] == [["given_name"], ["degrees", None, "type"]]
    assert api["counterparty"] == VERIFIER and api["hash"] == first.hash
    assert set(api) >= {"id", "at", "kind", "counterparty", "purpose", "claims",
                        "credential_ids", "hash"}


async def test_filters_and_pagination(ledger: Ledger, sealer: NaclSealer,
                                      clock: StepClock) -> None:
    ids = await fill(ledger, sealer, 7)
    await ledger.append(A, sealer, ConsentEvent(kind=EventKind.SHARE_LINK_REVOKED))
    await fill(ledger, NaclSealer(), 2, ref=B)
    # counterparty filter: blinded, per learner
    to_verifier = await ledger.events(A, sealer, counterparty=VERIFIER)
    assert [e.id for e in to_verifier.items] == [ids[6], ids[4], ids[2], ids[0]]
    assert (await ledger.events(A, sealer, counterparty="nobody")).items == []
    # kind filter, single and several
    revoked = await ledger.events(A, sealer, kind="share_link_revoked")
    assert [e.kind for e in revoked.items] == [EventKind.SHARE_LINK_REVOKED]
    both = await ledger.events(A, sealer, kind=[EventKind.SHARE_LINK_REVOKED,
                                                 EventKind.PRESENTATION_SENT])
    assert len(both.items) == 8
    # time filter: since inclusive, until exclusive
    all_items = (await ledger.events(A, sealer, limit=200)).items
    at = {e.seq: e.at for e in all_items}
    window = await ledger.events(A, sealer, since=at[3], until=at[6])
    assert [e.seq for e in window.items] == [5, 4, 3]
    # pagination walks everything once, newest first
    seen, cursor = [], None
    while True:
        page = await ledger.events(A, sealer, limit=3, cursor=cursor)
        seen += [e.seq for e in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(range(8, 0, -1))
    # filters combine with pages
    p1 = await ledger.events(A, sealer, counterparty=EMPLOYER, limit=2)
    p2 = await ledger.events(A, sealer, counterparty=EMPLOYER, limit=2, cursor=p1.next_cursor)
    assert [e.id for e in p1.items + p2.items] == [ids[5], ids[3], ids[1]]
    assert p2.next_cursor is None


@pytest.mark.parametrize("bad", [{"limit": 0}, {"limit": 201}, {"cursor": "not-a-cursor"},
                                 {"cursor": "djE6LTE"}, {"kind": "presentation_leaked"}])
async def test_bad_queries_are_typed(ledger: Ledger, sealer: NaclSealer, bad: dict) -> None:
    await ledger.append(A, sealer, sent())
    with pytest.raises(InvalidQuery):
        await ledger.events(A, sealer, **bad)


async def test_wrong_key_cannot_read_or_filter(ledger: Ledger, sealer: NaclSealer) -> None:
    await ledger.append(A, sealer, sent())
    with pytest.raises(BodyUnreadable):
        await ledger.events(A, NaclSealer())
    with pytest.raises(BodyUnreadable):
        await ledger.events(A, NaclSealer(), counterparty=VERIFIER)


async def test_unknown_learner_reads_empty_and_verifies(ledger: Ledger,
                                                        sealer: NaclSealer) -> None:
    assert (await ledger.events("nobody", sealer)).items == []
    report = await ledger.verify("nobody")
    assert report.valid and report.length == 0 and report.head == GENESIS


async def test_session_maker_bind_works_too(engine: AsyncEngine, signing_key,
                                            sealer: NaclSealer) -> None:
    ledger = Ledger(async_sessionmaker(engine), signing_key)
    await ledger.append(A, sealer, sent())
    assert (await ledger.verify(A)).valid
    assert len((await ledger.events(A, sealer)).items) == 1


# -- concurrency -----------------------------------------------------------------------------------

async def test_concurrent_appends_stay_linear(ledger: Ledger, sealer: NaclSealer) -> None:
    n = 24
    entries = await asyncio.gather(*(ledger.append(A, sealer, sent(details={"i": i}))
                                     for i in range(n)))
    assert sorted(e.seq for e in entries) == list(range(1, n + 1))
    by_seq = {e.seq: e for e in entries}
    for seq in range(2, n + 1):
        assert by_seq[seq].prev_hash == by_seq[seq - 1].hash
    report = await ledger.verify(A)
    assert report.valid and report.length == n and report.head == by_seq[n].hash


async def test_concurrent_appends_from_two_processes_worth_of_ledgers(
        backend, ledger: Ledger, signing_key, sealer: NaclSealer) -> None:
    """Two ledgers on separate engines (as two processes or replicas would be) share no
    in-process lock: the database alone must keep the chain linear."""
    from sqlalchemy.ext.asyncio import create_async_engine
    other_engine = create_async_engine(backend.database_url)
    other = Ledger(other_engine, signing_key)
    try:
        await asyncio.gather(*(lg.append(A, sealer, sent()) for _ in range(8)
                               for lg in (ledger, other)))
    finally:
        await other_engine.dispose()
    report = await ledger.verify(A)
    assert report.valid and report.length == 16


async def test_stale_cached_heads_fall_back_to_the_lock(engine: AsyncEngine, signing_key,
                                                        sealer: NaclSealer) -> None:
    """Each ledger caches the head it wrote last; another writer makes that hint stale."""
    one, two = Ledger(engine, signing_key), Ledger(engine, signing_key)
    written = []
    for i in range(6):
        written.append(await (one if i % 2 else two).append(A, sealer, sent()))
    assert [e.seq for e in written] == [1, 2, 3, 4, 5, 6]
    assert all(b.prev_hash == a.hash for a, b in zip(written, written[1:]))
    assert (await one.verify(A)).valid
    await two.erase(A)
    with pytest.raises(LedgerErased):  # one's cached head is stale and not erased
        await one.append(A, sealer, sent())
    report = await one.verify(A)
    assert report.valid and report.length == 7


async def test_concurrent_first_appends_of_many_learners(ledger: Ledger,
                                                         sealer: NaclSealer) -> None:
    refs = [f"l{i}" for i in range(6)]
    await asyncio.gather(*(ledger.append(r, sealer, sent()) for r in refs for _ in range(3)))
    for r in refs:
        report = await ledger.verify(r)
        assert report.valid and report.length == 3


# -- tampering -------------------------------------------------------------------------------------

TAMPER = {
    "sealed body changed": (
        "UPDATE ledger_entries SET sealed_body = :b WHERE learner_ref = 'learner-a' AND seq = 4",
        4),
    "kind changed": (
        "UPDATE ledger_entries SET kind = 'presentation_declined' "
        "WHERE learner_ref = 'learner-a' AND seq = 3", 3),
    "time changed": (
        "UPDATE ledger_entries SET at = (SELECT at FROM ledger_entries "
        "WHERE learner_ref = 'learner-a' AND seq = 1) WHERE learner_ref = 'learner-a' AND seq = 5",
        5),
    "counterparty tag changed": (
        "UPDATE ledger_entries SET counterparty_tag = (SELECT counterparty_tag FROM ledger_entries "
        "WHERE learner_ref = 'learner-a' AND seq = 2) WHERE learner_ref = 'learner-a' AND seq = 3",
        3),
    "middle row deleted": (
        "DELETE FROM ledger_entries WHERE learner_ref = 'learner-a' AND seq = 4", 4),
    "body erased without erasure": (
        "UPDATE ledger_entries SET sealed_body = NULL WHERE learner_ref = 'learner-a' AND seq = 2",
        2),
    "newest rows deleted (truncation)": (
        "DELETE FROM ledger_entries WHERE learner_ref = 'learner-a' AND seq >= 5", 5),
}


@pytest.mark.parametrize("case", list(TAMPER))
async def test_tampering_names_first_bad_entry(ledger: Ledger, sealer: NaclSealer,
                                               engine: AsyncEngine, case: str) -> None:
    await fill(ledger, sealer, 6)
    await fill(ledger, NaclSealer(), 3, ref=B)
    assert (await ledger.verify(A)).valid
    stmt, bad = TAMPER[case]
    await sql(engine, stmt, b=b"\x00" * 80)
    report = await ledger.verify(A)
    assert not report.valid
    assert report.first_bad_seq == bad, report
    assert report.reason
    assert (await ledger.verify(B)).valid


async def test_reordered_seq_is_caught(ledger: Ledger, sealer: NaclSealer,
                                       engine: AsyncEngine) -> None:
    await fill(ledger, sealer, 6)
    for a, b in ((3, -1), (5, 3), (-1, 5)):
        await sql(engine, "UPDATE ledger_entries SET seq = :b WHERE learner_ref = :r AND seq = :a",
                  a=a, b=b, r=A)
    report = await ledger.verify(A)
    assert not report.valid and report.first_bad_seq == 3


async def test_rewritten_tail_with_recomputed_hashes_is_caught_by_head(
        ledger: Ledger, sealer: NaclSealer, engine: AsyncEngine, signing_key) -> None:
    """An attacker who recomputes every hash after a change still cannot re-sign the head."""
    await fill(ledger, sealer, 4)
    async with engine.begin() as conn:
        rows = (await conn.execute(text(
            "SELECT id, seq, at, kind, counterparty_tag, prev_hash FROM ledger_entries "
            "WHERE learner_ref = 'learner-a' ORDER BY seq"))).all()
        prev = rows[1].prev_hash
        for r in rows[1:]:
            body = b"forged" + bytes([r.seq])
            at = r.at if isinstance(r.at, datetime) else datetime.fromisoformat(r.at)
            h = entry_hash(learner_ref=A, entry_id=r.id, seq=r.seq, prev_hash=prev, kind=r.kind,
                           at_us=at_to_us(at), counterparty_tag=r.counterparty_tag,
                           body_digest=body_digest(body))
            await conn.execute(text(
                "UPDATE ledger_entries SET sealed_body = :b, body_digest = :d, prev_hash = :p, "
                "entry_hash = :h WHERE id = :i"),
                {"b": body, "d": body_digest(body), "p": prev, "h": h, "i": r.id})
            prev = h
    report = await ledger.verify(A)
    assert not report.valid and not report.head_ok and report.first_bad_seq is None
    assert "head" in (report.reason or "")


@pytest.mark.parametrize("column", ["head_hash", "signed_head", "seq"])
async def test_edited_head_is_caught(ledger: Ledger, sealer: NaclSealer, engine: AsyncEngine,
                                     column: str) -> None:
    await fill(ledger, sealer, 3)
    value = {"head_hash": "ab" * 32, "signed_head": "eyJhbGciOiJub25lIn0.e30.", "seq": 2}[column]
    await sql(engine, f"UPDATE ledger_heads SET {column} = :v WHERE learner_ref = :r", v=value, r=A)
    report = await ledger.verify(A)
    assert not report.valid and not report.head_ok
    assert report.reason and "head" in report.reason


async def test_head_signed_by_another_key_is_caught(engine: AsyncEngine, sealer: NaclSealer,
                                                    signing_key) -> None:
    from cryptography.hazmat.primitives.asymmetric import ed25519
    await fill(Ledger(engine, ed25519.Ed25519PrivateKey.generate()), sealer, 2)
    report = await Ledger(engine, signing_key).verify(A)
    assert not report.valid and not report.head_ok


async def test_rotated_key_still_verifies_old_heads(engine: AsyncEngine, sealer: NaclSealer,
                                                   signing_key) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    await fill(Ledger(engine, signing_key), sealer, 2)
    rotated = Ledger(engine, ec.generate_private_key(ec.SECP256R1()),
                     previous_keys=[signing_key.public_key()])
    assert (await rotated.verify(A)).valid
    await rotated.append(A, sealer, sent())
    report = await rotated.verify(A)
    assert report.valid and report.length == 3


async def test_head_row_deleted_is_caught(ledger: Ledger, sealer: NaclSealer,
                                          engine: AsyncEngine) -> None:
    await fill(ledger, sealer, 2)
    await sql(engine, "DELETE FROM ledger_heads WHERE learner_ref = :r", r=A)
    report = await ledger.verify(A)
    assert not report.valid and not report.head_ok


# -- erasure ---------------------------------------------------------------------------------------

async def test_erasure_keeps_chain_verifiable(ledger: Ledger, sealer: NaclSealer,
                                              engine: AsyncEngine) -> None:
    await fill(ledger, sealer, 5)
    b_sealer = NaclSealer()
    await fill(ledger, b_sealer, 3, ref=B)
    b_before = await ledger.export_chain(B, b_sealer)
    async with engine.connect() as conn:
        old_bodies = [r[0] for r in (await conn.execute(text(
            "SELECT sealed_body FROM ledger_entries WHERE learner_ref = :r ORDER BY seq"),
            {"r": A})).all()]
    await ledger.erase(A)
    report = await ledger.verify(A)
    assert report.valid and report.length == 6
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT seq, kind, sealed_body FROM ledger_entries WHERE learner_ref = :r "
            "ORDER BY seq"), {"r": A})).all()
        head = (await conn.execute(text(
            "SELECT sealed_blind_key, erased FROM ledger_heads WHERE learner_ref = :r"),
            {"r": A})).one()
    assert all(r.sealed_body is None for r in rows[:5])
    assert rows[5].kind == "erasure" and b"tombstone" in bytes(rows[5].sealed_body)
    assert head.sealed_blind_key is None and head.erased
    # old ciphertext does not open with a fresh key, and the ledger refuses reads and appends
    with pytest.raises(DecryptionFailed):
        NaclSealer().open(bytes(old_bodies[0]))
    with pytest.raises(LedgerErased):
        await ledger.events(A, NaclSealer())
    with pytest.raises(LedgerErased):
        await ledger.append(A, sealer, sent())
    with pytest.raises(LedgerErased):
        await ledger.export_chain(A, sealer)
    async with engine.connect() as conn:
        ids = [r[0] for r in (await conn.execute(text(
            "SELECT id FROM ledger_entries WHERE learner_ref = :r ORDER BY seq"), {"r": A})).all()]
    for event_id in (ids[0], ids[-1]):  # an erased entry, and the tombstone itself
        with pytest.raises(LedgerErased):
            await ledger.receipt(A, sealer, event_id)
    await ledger.erase(A)  # idempotent
    assert (await ledger.verify(A)).length == 6
    # another learner's chain is untouched
    assert (await ledger.verify(B)).valid
    assert await ledger.export_chain(B, b_sealer) == b_before


async def test_erased_chain_still_catches_tampering(ledger: Ledger, sealer: NaclSealer,
                                                    engine: AsyncEngine) -> None:
    await fill(ledger, sealer, 4)
    await ledger.erase(A)
    await sql(engine,
              "UPDATE ledger_entries SET kind = 'export' WHERE learner_ref = :r AND seq = 2", r=A)
    report = await ledger.verify(A)
    assert not report.valid and report.first_bad_seq == 2


# -- receipts --------------------------------------------------------------------------------------

async def test_receipt_verifies_and_carries_fields(ledger: Ledger, sealer: NaclSealer,
                                                   signing_key) -> None:
    await ledger.append(A, sealer, ConsentEvent(kind=EventKind.CONSENT_GIVEN))
    entry = await ledger.append(A, sealer, sent(data_categories=["education", "health"]))
    token = await ledger.receipt(A, sealer, entry.id)
    assert jwt.get_unverified_header(token)["typ"] == RECEIPT_TYP
    claims = jwt.decode(token, signing_key.public_key(), algorithms=["EdDSA"])
    assert claims["version"] == RECEIPT_VERSION
    assert claims["jurisdiction"] == "EU"
    assert claims["consentTimestamp"] == int(entry.at.timestamp())
    assert claims["piiPrincipalId"] == A and claims["sub"] == A
    assert claims["entryHash"] == entry.hash and claims["eventId"] == entry.id
    assert claims["consentReceiptID"] == claims["jti"]
    assert claims["policyUrl"] == "https://verifier.example.org/p"
    assert claims["piiControllers"][0]["piiController"] == "Verifier Org"
    assert claims["piiControllers"][0]["piiControllerId"] == VERIFIER
    purpose = claims["services"][0]["purposes"][0]
    assert purpose["purpose"] == "hiring check"
    assert purpose["legalBasis"].startswith("GDPR Art. 6(1)(a)")
    assert purpose["thirdPartyDisclosure"] is True
    assert purpose["piiCategory"] == ["education", "health"]
    assert claims["sensitive"] is True and claims["spiCat"] == ["health"]
    assert claims["claims"] == [["given_name"], ["degrees", None, "type"]]
    assert claims["iss"] == "https://satchel.example"
    # the same entry gives the same receipt id
    again = jwt.decode(await ledger.receipt(A, sealer, entry.id), signing_key.public_key(),
                       algorithms=["EdDSA"])
    assert again["consentReceiptID"] == claims["consentReceiptID"]


async def test_receipt_paths_become_categories_without_data_categories(
        ledger: Ledger, sealer: NaclSealer, signing_key) -> None:
    entry = await ledger.append(A, sealer, sent(data_categories=[], policy_url=None))
    claims = jwt.decode(await ledger.receipt(A, sealer, entry.id), signing_key.public_key(),
                        algorithms=["EdDSA"])
    assert claims["services"][0]["purposes"][0]["piiCategory"] == ["given_name", "degrees[].type"]
    assert "policyUrl" not in claims and claims["sensitive"] is False


async def test_receipt_for_foreign_or_unknown_id_is_not_found(ledger: Ledger,
                                                              sealer: NaclSealer) -> None:
    entry = await ledger.append(A, sealer, sent())
    with pytest.raises(EventNotFound):
        await ledger.receipt(B, sealer, entry.id)
    with pytest.raises(EventNotFound):
        await ledger.receipt(A, sealer, "00000000-0000-0000-0000-000000000000")


async def test_no_receipt_for_a_tampered_entry(ledger: Ledger, sealer: NaclSealer,
                                               engine: AsyncEngine) -> None:
    entry = await ledger.append(A, sealer, sent())
    await sql(engine, "UPDATE ledger_entries SET kind = 'consent_given' WHERE id = :i", i=entry.id)
    with pytest.raises(LedgerTampered):
        await ledger.receipt(A, sealer, entry.id)


# -- portability -----------------------------------------------------------------------------------

async def test_export_import_round_trip(ledger: Ledger, sealer: NaclSealer,
                                        engine: AsyncEngine, signing_key) -> None:
    await fill(ledger, sealer, 4)
    exported = await ledger.export_chain(A, sealer)
    assert [r["type"] for r in exported] == ["entry"] * 4 + ["head"]
    # another Satchel (other key, other learner id and vault key) takes it over
    from cryptography.hazmat.primitives.asymmetric import ec
    other = Ledger(engine, ec.generate_private_key(ec.SECP256R1()), clock=StepClock())
    new_sealer = NaclSealer()
    await other.append("new-me", new_sealer, ConsentEvent(kind=EventKind.CONSENT_GIVEN))
    marker = await other.import_chain("new-me", new_sealer, exported)
    assert marker.kind == EventKind.IMPORT and marker.seq == 2
    assert marker.event is not None
    assert marker.event.details["source_head"] == exported[-1]["head"]
    assert marker.event.details["source_length"] == 4
    report = await other.verify("new-me")
    assert report.valid and report.length == 6
    items = (await other.events("new-me", new_sealer, limit=10)).items
    imported = [e for e in items if e.origin and "hash" in e.origin]
    assert [e.origin["hash"] for e in sorted(imported, key=lambda e: e.seq)] == \
        [r["hash"] for r in exported[:-1]]
    assert [e.event for e in sorted(imported, key=lambda e: e.seq)] == \
        [ConsentEvent.from_json(r["event"]) for r in exported[:-1]]
    assert [e.at.isoformat() for e in sorted(imported, key=lambda e: e.seq)] == \
        [r["at"] for r in exported[:-1]]
    # counterparty filter works with the new learner's blinding key
    assert len((await other.events("new-me", new_sealer, counterparty=VERIFIER)).items) == 2
    # the old key cannot read the new chain
    with pytest.raises(BodyUnreadable):
        await other.events("new-me", sealer)


async def test_a_chain_moved_twice_keeps_both_origins(ledger: Ledger, sealer: NaclSealer,
                                                      engine: AsyncEngine) -> None:
    """Each move adds one level: the second chain's entries name the first's, and the third's
    name the second's with the first's nested (the import marker's origin too)."""
    from cryptography.hazmat.primitives.asymmetric import ec
    await fill(ledger, sealer, 2)
    first = await ledger.export_chain(A, sealer)
    second, third = (Ledger(engine, ec.generate_private_key(ec.SECP256R1()), clock=StepClock())
                     for _ in range(2))
    s2, s3 = NaclSealer(), NaclSealer()
    await second.import_chain("second", s2, first)
    moved = await second.export_chain("second", s2)
    marker_origin = moved[0]["origin"]
    assert marker_origin is not None and set(marker_origin) == {"signed_head", "jwk", "learner_ref"}
    assert marker_origin["signed_head"] == first[-1]["signed_head"]
    assert marker_origin["jwk"] == first[-1]["jwk"]
    await third.import_chain("third", s3, moved)
    again = await third.export_chain("third", s3)
    assert [r["origin"] for r in again[1:-1]] == [
        {"id": r["id"], "seq": r["seq"], "hash": r["hash"],
         **({"origin": r["origin"]} if r["origin"] is not None else {})}
        for r in moved[:-1]]
    assert again[1]["origin"]["origin"] == marker_origin  # type: ignore[typeddict-item]
    assert again[2]["origin"]["origin"] == {  # type: ignore[typeddict-item]
        "id": first[0]["id"], "seq": 1, "hash": first[0]["hash"]}
    # and what was exported reads back the same from the sealed bodies
    entries = sorted((await third.events("third", s3, limit=10)).items, key=lambda e: e.seq)
    assert [e.origin for e in entries] == [r["origin"] for r in again[:-1]]


@pytest.mark.parametrize("origin", [
    {"note": "anything"},  # neither shape
    {"id": "x", "seq": True, "hash": "h"},  # a bool is not a seq
    {"id": "x", "seq": 1, "hash": "h", "extra": 1},  # an unknown member
    {"signed_head": "x", "jwk": {"kty": "EC", "d": "private"}, "learner_ref": "r"},
    {"id": "x", "seq": 1, "hash": "h", "origin": {"id": "y"}},  # a malformed nested one
    [1, 2],
])
async def test_import_rejects_an_origin_of_no_known_shape(ledger: Ledger, sealer: NaclSealer,
                                                          origin: object) -> None:
    await fill(ledger, sealer, 2)
    records = await ledger.export_chain(A, sealer)
    records[1]["origin"] = origin  # type: ignore[typeddict-item]
    with pytest.raises(ImportRejected, match="origin of entry 2"):
        await ledger.import_chain(B, NaclSealer(), records)


@pytest.mark.parametrize("damage", ["hash", "kind", "drop", "head", "event", "truncate",
                                    "rewrite", "origin", "manifest"])
async def test_import_rejects_damaged_exports(ledger: Ledger, sealer: NaclSealer,
                                              damage: str) -> None:
    await fill(ledger, sealer, 4)
    records = await ledger.export_chain(A, sealer)
    if damage == "hash":
        records[2]["hash"] = "00" * 32
    elif damage == "kind":
        records[1]["kind"] = "consent_given"
    elif damage == "drop":
        del records[2]
    elif damage == "head":
        records[-1]["head"] = "11" * 32
        records[-1]["signed_head"] = records[-1]["signed_head"][:-4] + "AAAA"
    elif damage == "event":
        records[0]["event"]["claims"] = [{"path": ["given_name"], "value": "Alice"}]
    elif damage == "truncate":
        del records[3]
    elif damage == "rewrite":  # the opened event alone: the chain's hashes do not cover it
        records[1]["event"]["purpose"] = "REWRITTEN-PURPOSE"
    elif damage == "origin":
        records[1]["origin"] = {"id": "x", "seq": 1, "hash": "00" * 32}
    elif damage == "manifest":
        records[-1]["manifest"] = records[-1]["signed_head"]  # type: ignore[typeddict-unknown-key]
    with pytest.raises(ImportRejected):
        await ledger.import_chain(B, NaclSealer(), records)
    assert (await ledger.events(B, NaclSealer())).items == []


async def test_a_takeover_before_manifests_reads_as_learner_asserted(
        ledger: Ledger, sealer: NaclSealer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Entries a release before manifests took over (no ``learner_asserted`` in their bodies,
    no attestation in the import entry) were bound by nothing: read as learner-asserted, no
    receipt, and counted so."""
    import dataclasses

    import consent.ledger as ledger_module
    await fill(ledger, sealer, 3)
    records = await ledger.export_chain(A, sealer)
    current = ledger_module.encode_body

    def as_before(event: ConsentEvent, origin: Any = None, learner_asserted: Any = None) -> bytes:
        if event.kind is EventKind.IMPORT:
            event = dataclasses.replace(event, details={
                k: v for k, v in event.details.items()
                if k not in ("attestation", "learner_asserted")})
        return current(event, origin)

    monkeypatch.setattr(ledger_module, "encode_body", as_before)
    b_sealer = NaclSealer()
    marker = await ledger.import_chain(B, b_sealer, records)
    monkeypatch.setattr(ledger_module, "encode_body", current)
    items = (await ledger.events(B, b_sealer)).items
    assert [(e.imported, e.learner_asserted) for e in items if e.id != marker.id] == [
        (True, True)] * 3
    [summary] = await ledger.imports(B, b_sealer)
    assert (summary.event_id, summary.entries, summary.learner_asserted,
            summary.attestation) == (marker.id, 3, 3, "unrecorded")
    with pytest.raises(LearnerAssertedEntry):
        await ledger.receipt(B, b_sealer, items[0].id)
    assert await ledger.receipt(B, b_sealer, marker.id)
    # its manifest under a key the bundle does not carry: unchecked, so the learner's word
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from consent.portability import MANIFEST_TYP
    from wallet.jose import parse_compact, sign_compact
    claims = json.loads(parse_compact(records[-1]["manifest"]).payload)  # type: ignore[typeddict-item]
    foreign = [dict(r) for r in records]
    foreign[-1]["manifest"] = sign_compact({"typ": MANIFEST_TYP, "kid": "rotated-away"}, claims,
                                           ed25519.Ed25519PrivateKey.generate())
    unknown = NaclSealer()
    await ledger.import_chain("learner-u", unknown, foreign)
    [summary] = await ledger.imports("learner-u", unknown)
    assert (summary.learner_asserted, summary.attestation) == (3, "unknown_key")
    # the same chain taken over now: this ledger's own manifest vouches for it
    fresh = NaclSealer()
    await ledger.import_chain("learner-c", fresh, records)
    [summary] = await ledger.imports("learner-c", fresh)
    assert (summary.learner_asserted, summary.attestation) == (0, "this_service")


async def test_a_manifest_vouches_for_its_chain_only_in_the_bundle_it_names(
        ledger: Ledger, sealer: NaclSealer) -> None:
    """The audit's A5: the manifest names the bundle's keys it was exported with; the importer
    says which bundle carried the chain (``carrier_keys``). Another (or none said): the
    chain is kept, learner-asserted (``another_bundle``); a manifest from before the binding is
    judged as before."""
    from consent.portability import bundle_keys_digest

    await fill(ledger, sealer, 3)
    bound = bundle_keys_digest({"check": "c1", "items": [{"kid": "k1"}]})
    assert bound != bundle_keys_digest({"check": "c2", "items": [{"kid": "k1"}]})
    assert bound != bundle_keys_digest({"check": "c1", "items": [{"kid": "k2"}]})
    records = await ledger.export_chain(A, sealer, bundle_keys=bound)
    old = await ledger.export_chain(A, sealer)
    for ref, chain, carrier, expected in (
            ("in-its-bundle", records, bound, ("this_service", 0)),
            ("lifted", records, "0" * 64, ("another_bundle", 3)),
            ("unsaid", records, None, ("another_bundle", 3)),
            ("before-binding", old, "0" * 64, ("this_service", 0))):
        carried: list[dict[str, Any]] = [dict(r) for r in chain]
        if carrier is not None:
            carried[-1]["carrier_keys"] = carrier
        to = NaclSealer()
        await ledger.import_chain(ref, to, carried)
        [summary] = await ledger.imports(ref, to)
        assert (summary.attestation, summary.learner_asserted) == expected, ref


# -- the canary: nothing personal in clear ---------------------------------------------------------

CANARY = "CANARY-7f3a9e-Alice-Smith-1999"


async def _dump(backend, engine: AsyncEngine) -> bytes:  # type: ignore[no-untyped-def]
    await engine.dispose()
    if backend.kind == "sqlite":
        base = Path(backend.database_url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in base.parent.glob(base.name + "*"))
    dbname = backend.database_url.rsplit("/", 1)[1]
    proc = await asyncio.create_subprocess_exec(
        "pg_dump", "-h", "127.0.0.1", "-U", "postgres", "--data-only", dbname,
        stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    assert proc.returncode == 0
    return out


async def test_canary_never_stored_in_clear(backend, engine: AsyncEngine, ledger: Ledger,
                                            sealer: NaclSealer) -> None:
    counterparty = "x509_san_dns:canary-verifier.example"
    event = sent(counterparty, purpose=f"purpose {CANARY}", counterparty_name=CANARY,
                 details={"note": CANARY})
    entry = await ledger.append(A, sealer, event)
    await ledger.receipt(A, sealer, entry.id)
    got = (await ledger.events(A, sealer)).items[0].event
    assert got is not None and got.details["note"] == CANARY  # it went in, and comes back out
    dump = await _dump(backend, engine)
    assert b"presentation_sent" in dump  # positive control: the dump holds the table
    assert entry.hash.encode() in dump
    for secret in (CANARY, counterparty, "given_name", "cred-1", "hiring check"):
        assert secret.encode() not in dump, secret


# -- staged entries (the vault's ledger outbox) ----------------------------------------------------

async def test_a_staged_id_held_by_another_learner_is_never_skipped(
        ledger: Ledger, sealer: NaclSealer) -> None:
    entry_id = "00000000-0000-4000-8000-0000000000aa"
    event = ConsentEvent(kind=EventKind.CREDENTIAL_RECEIVED, credential_ids=["cred-1"])
    at = datetime(2026, 1, 1, tzinfo=UTC)
    [appended] = await ledger.append_staged(A, sealer, [Staged(entry_id, at, event)])
    assert appended.id == entry_id
    assert await ledger.append_staged(A, sealer, [Staged(entry_id, at, event)]) == []  # once
    with pytest.raises(LedgerTampered):  # not B's entry: B's ledger would silently miss it
        await ledger.append_staged(B, sealer, [Staged(entry_id, at, event)])
    assert [e.id for e in (await ledger.events(B, sealer)).items] == []


async def test_staged_appends_check_everything_under_the_lock_in_few_statements(
        engine: AsyncEngine, ledger: Ledger, signing_key: Any, clock: StepClock,
        sealer: NaclSealer) -> None:
    """From the locked head: the head upsert, one read for both the ids already held and the head
    entry's time, the insert and the head update. After the head this process wrote last: one
    conditional update that checks and locks it, the held-ids read and the insert; a head moved by
    another writer, or a held id, rolls that back and the locked path decides."""
    head = await ledger.append(A, sealer, sent("x509_san_dns:v.example"))
    other = Ledger(engine, signing_key, clock=clock, issuer="https://satchel.example")  # cold
    statements: list[str] = []

    def seen(conn, cursor, statement, params, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement.split()[0].upper())

    def staged(n: int, at: datetime, **kw: Any) -> Staged:
        return Staged(f"00000000-0000-4000-8000-0000000000b{n}", at,
                      ConsentEvent(kind=EventKind.CREDENTIAL_RECEIVED, **kw))

    before = head.at.replace(year=head.at.year - 1)  # a lagging staging clock
    later = head.at.replace(year=head.at.year + 1)
    older, newer = staged(1, before, credential_ids=["c1"]), staged(2, later, counterparty="i")
    sa_event.listen(engine.sync_engine, "before_cursor_execute", seen)
    try:
        first, second = await other.append_staged(A, sealer, [older, newer])
        assert statements == ["INSERT", "SELECT", "INSERT", "UPDATE"]  # locked head path
        # the older one is moved up to the head entry's time and keeps its own in details
        assert first.at == head.at and first.event is not None
        assert first.event.details["staged_at"] == before.isoformat()
        assert second.at == later and second.seq == head.seq + 2
        statements.clear()
        [third] = await ledger.append_staged(A, sealer, [staged(3, before, credential_ids=["3"])])
        # its cached head was moved by the other writer: rolled back, then the locked path
        assert statements == ["UPDATE", "INSERT", "SELECT", "INSERT", "UPDATE"]
        assert (third.seq, third.at, third.prev_hash) == (head.seq + 3, later, second.hash)
        statements.clear()
        [fourth] = await ledger.append_staged(A, sealer, [older, newer, staged(4, later)])
        assert statements == ["UPDATE", "SELECT", "INSERT", "SELECT", "INSERT", "UPDATE"]
        assert fourth.seq == head.seq + 4  # the held ones once only
        statements.clear()
        [fifth] = await ledger.append_staged(A, sealer, [staged(5, before, counterparty="i")])
        assert statements == ["UPDATE", "SELECT", "INSERT"]  # the head it wrote last
        assert (fifth.seq, fifth.at, fifth.prev_hash) == (head.seq + 5, later, fourth.hash)
        assert fifth.event is not None and fifth.event.details["staged_at"] == before.isoformat()
    finally:
        sa_event.remove(engine.sync_engine, "before_cursor_execute", seen)
    assert (await ledger.verify(A)).valid
    entries = (await ledger.events(A, sealer, counterparty="i")).items
    assert [e.id for e in entries] == [fifth.id, second.id]  # one blinding key, both tagged
    assert [e.seq for e in (await ledger.events(A, sealer)).items] == list(
        range(head.seq + 5, head.seq - 1, -1))
    await ledger.append_staged(B, sealer, [staged(6, later)])  # B's head now cached
    with pytest.raises(LedgerTampered):  # A's id: refused however B's append starts
        await ledger.append_staged(B, sealer, [staged(7, later), older])
    assert [e.seq for e in (await ledger.events(B, sealer)).items] == [1]


@pytest.mark.parametrize("member", [0, 1])
async def test_a_signed_manifest_naming_text_that_is_not_ascii_is_rejected_not_a_500(
        ledger: Ledger, sealer: NaclSealer, member: int) -> None:
    """Audit F11: the manifest's members were compared with ``hmac.compare_digest`` on ``str``,
    which raises TypeError for one that is not ASCII: a bundle whose manifest is signed by the
    key it encloses (anyone's) made ``/v1/me/import`` a 500. Signed here by the ledger's own key."""
    await fill(ledger, sealer, 2)
    records = await ledger.export_chain(A, sealer)
    claims = jwt.decode(records[-1]["manifest"],  # type: ignore[typeddict-item]
                        options={"verify_signature": False})
    claims["entries"][0][member] = "é" + claims["entries"][0][member][1:]
    records[-1]["manifest"] = ledger.sign(MANIFEST_TYP, claims)  # type: ignore[typeddict-unknown-key]
    with pytest.raises(ImportRejected, match="entry 1 does not match the signed manifest"):
        await ledger.import_chain(B, NaclSealer(), records)
    assert (await ledger.events(B, NaclSealer())).items == []
