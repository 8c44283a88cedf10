"""What the ledger stores and exports, byte for byte, and the staged takeover, on both backends.

Pins the stored format the ledger's modules share (the plaintext of every kind of sealed body:
a plain entry, an ``import`` entry, an imported entry, the erasure tombstone; the blinding key),
the shape of an exported chain and its manifest, and :meth:`Ledger.import_staged_chain` (once,
never another learner's, never into an erased ledger) — so moving the code between modules
cannot change what is written or handed out (docs/consent.md)."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Mapping
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent.chain import blind_key_aad, body_aad
from consent.errors import InvalidEvent, LedgerErased, LedgerTampered
from consent.events import ConsentEvent, EventKind
from consent.ledger import Ledger
from consent.portability import MANIFEST_TYP, content_digest
from tests.support.ledger import NaclSealer, StepClock
from wallet.jose import jwk_thumbprint

A, B = "learner-a", "learner-b"
VERIFIER = "x509_san_dns:verifier.example.org"


def _canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _manifest(head: Mapping[str, Any]) -> str:
    """The manifest an export's last record (its head) carries."""
    return str(head["manifest"])


def _jws(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = [json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
             for p in token.split(".")[:2]]
    return parts[0], parts[1]


async def _rows(engine: AsyncEngine, ref: str) -> list[Any]:
    async with engine.connect() as conn:
        return list((await conn.execute(text(
            "SELECT id, seq, kind, at, counterparty_tag, sealed_body FROM ledger_entries "
            "WHERE learner_ref = :r ORDER BY seq"), {"r": ref})).all())


async def _blind_key(engine: AsyncEngine, ref: str) -> bytes | None:
    async with engine.connect() as conn:
        value = (await conn.execute(text(
            "SELECT sealed_blind_key FROM ledger_heads WHERE learner_ref = :r"),
            {"r": ref})).scalar_one()
    return None if value is None else bytes(value)


def _opened(sealer: NaclSealer, ref: str, row: Any) -> bytes:
    return sealer.open(bytes(row.sealed_body), body_aad(ref, row.id))


async def test_every_kind_of_body_keeps_its_stored_format(
        ledger: Ledger, sealer: NaclSealer, engine: AsyncEngine) -> None:
    given = ConsentEvent(kind=EventKind.CONSENT_GIVEN, purpose="p")
    sent = ConsentEvent(kind=EventKind.PRESENTATION_SENT, counterparty=VERIFIER,
                        claims=[["given_name"]], credential_ids=["cred-1"])
    await ledger.append(A, sealer, given)
    await ledger.append(A, sealer, sent)
    [r1, r2] = await _rows(engine, A)
    assert _opened(sealer, A, r1) == _canonical({"v": 1, "event": given.to_json()})
    assert _opened(sealer, A, r2) == _canonical({"v": 1, "event": sent.to_json()})
    assert r1.counterparty_tag is None and r2.counterparty_tag is not None
    sealed_key = await _blind_key(engine, A)
    assert sealed_key is not None and len(sealer.open(sealed_key, blind_key_aad(A))) == 32

    exported = await ledger.export_chain(A, sealer)
    other = Ledger(engine, ec.generate_private_key(ec.SECP256R1()), clock=StepClock())
    b_sealer = NaclSealer()
    marker = await other.import_chain(B, b_sealer, exported)
    [m, e1, e2] = await _rows(engine, B)
    head = exported[-1]
    assert _opened(b_sealer, B, m) == _canonical({
        "v": 1,
        "event": ConsentEvent(kind=EventKind.IMPORT, details={
            "source_length": 2, "source_head": head["head"],
            "source_key": jwk_thumbprint(head["jwk"]), "attestation": "another_service",
            "learner_asserted": 2}).to_json(),
        "origin": {"signed_head": head["signed_head"], "jwk": head["jwk"],
                   "learner_ref": A}})  # an import entry's body has no learner_asserted member
    assert (m.id, m.kind, m.counterparty_tag) == (marker.id, "import", None)
    for row, source, event in ((e1, exported[0], given), (e2, exported[1], sent)):
        assert _opened(b_sealer, B, row) == _canonical({
            "v": 1, "event": event.to_json(), "learner_asserted": True,
            "origin": {"id": source["id"], "seq": source["seq"], "hash": source["hash"]}})
        assert row.kind == source["kind"]
    assert e1.counterparty_tag is None
    assert e2.counterparty_tag is not None and e2.counterparty_tag != r2.counterparty_tag

    await ledger.erase(A)
    rows = await _rows(engine, A)
    assert [r.sealed_body is None for r in rows] == [True, True, False]
    assert bytes(rows[-1].sealed_body) == b'{"erased_entries":2,"tombstone":true,"v":1}'
    assert rows[-1].kind == "erasure" and rows[-1].counterparty_tag is None
    assert await _blind_key(engine, A) is None


async def test_an_export_keeps_its_records_and_manifest(
        ledger: Ledger, sealer: NaclSealer, engine: AsyncEngine, signing_key: Any) -> None:
    given = ConsentEvent(kind=EventKind.CONSENT_GIVEN, counterparty=VERIFIER)
    first = await ledger.append(A, sealer, given)
    records = await ledger.export_chain(A, sealer, bundle_keys="ab" * 32)
    entry, head = records
    assert set(entry) == {"type", "id", "seq", "at", "kind", "prev_hash", "hash", "body_digest",
                          "counterparty_tag", "event", "origin", "learner_asserted"}
    assert (entry["type"], entry["id"], entry["seq"], entry["at"], entry["kind"],
            entry["hash"], entry["prev_hash"], entry["event"], entry["origin"],
            entry["learner_asserted"]) == (
        "entry", first.id, 1, first.at.isoformat(), "consent_given", first.hash,
        first.prev_hash, given.to_json(), None, False)
    assert set(head) == {"type", "format", "learner_ref", "seq", "head", "signed_head", "jwk",
                         "manifest"}
    assert (head["type"], head["format"], head["learner_ref"], head["seq"], head["head"]) == (
        "head", "satchel-consent-chain/v1", A, 1, first.hash)
    without_kid = {k: v for k, v in ledger.public_jwk.items() if k != "kid"}
    assert head["jwk"] == without_kid  # the JWK as signed heads name it (kid in the header)
    header, claims = _jws(_manifest(head))
    assert header == {"alg": "EdDSA", "typ": MANIFEST_TYP, "kid": ledger.public_jwk["kid"]}
    assert claims == {"sub": A, "seq": 1, "head": first.hash, "iss": "https://satchel.example",
                      "bundle_keys": "ab" * 32,
                      "entries": [[first.id, first.hash, content_digest(given, None, False)]]}
    # a head signed under a previous key is exported with that key's JWK
    rotated = Ledger(engine, ec.generate_private_key(ec.SECP256R1()),
                     previous_keys=[signing_key.public_key()], clock=StepClock())
    again = await rotated.export_chain(A, sealer)
    assert again[-1]["jwk"] == without_kid and again[-1]["signed_head"] == \
        head["signed_head"]
    assert _jws(_manifest(again[-1]))[0]["kid"] == rotated.public_jwk["kid"]


async def test_a_staged_takeover_is_taken_over_once_and_only_by_its_learner(
        ledger: Ledger, sealer: NaclSealer) -> None:
    for n in range(3):
        await ledger.append(A, sealer, ConsentEvent(kind=EventKind.CONSENT_GIVEN,
                                                    details={"n": n}))
    records = await ledger.export_chain(A, sealer)
    b_sealer = NaclSealer()
    with pytest.raises(InvalidEvent):
        await ledger.import_staged_chain(B, b_sealer, "not-a-uuid", records)
    marker_id = str(uuid.uuid4())
    marker = await ledger.import_staged_chain(B, b_sealer, marker_id, records)
    assert marker is not None and (marker.id, marker.seq, marker.kind) == (
        marker_id, 1, EventKind.IMPORT)
    assert marker.event is not None and marker.event.details["attestation"] == "this_service"
    assert await ledger.import_staged_chain(B, b_sealer, marker_id, records) is None  # once
    assert (await ledger.verify(B)).length == 4
    with pytest.raises(LedgerTampered):  # the id is B's: never skipped for another learner
        await ledger.import_staged_chain("learner-c", NaclSealer(), marker_id, records)
    [summary] = await ledger.imports(B, b_sealer)
    assert (summary.event_id, summary.seq, summary.entries, summary.learner_asserted,
            summary.attestation) == (marker_id, 1, 3, 0, "this_service")
    entries = sorted((await ledger.events(B, b_sealer)).items, key=lambda e: e.seq)
    assert [(e.imported, e.learner_asserted) for e in entries] == [(False, False)] + [
        (True, False)] * 3

    await ledger.erase(B)
    assert await ledger.imports(B, b_sealer) == []
    with pytest.raises(LedgerErased):
        await ledger.import_staged_chain(B, b_sealer, str(uuid.uuid4()), records)
    with pytest.raises(LedgerErased):
        await ledger.import_chain(B, b_sealer, records)
