"""The ledger's keys, pinned by the bytes they put in the store and hand out, on both backends.

Everything the ledger derives from a key is deterministic once its inputs are: an Ed25519
signature is, the blinding key comes from ``os.urandom`` (fixed here), and a sealer that seals
without a nonce makes the sealed bodies and the sealed blinding key fixed bytes too. So the
stored rows (counterparty tags, entry hashes, the signed head, the sealed blinding key), the
public JWK and its ``kid``, a signed document, a receipt, and a previous key's head after a
rotation are fixed values: moving the key handling out of :mod:`consent.ledger` cannot change
one of them (written before that move, and passing on the code it moved from)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent.entries import Staged
from consent.events import ConsentEvent, EventKind
from consent.ledger import Ledger
from tests.support.ledger import StepClock
from wallet.crypto import DecryptionFailed

REF = "learner-vectors"
VERIFIER = "x509_san_dns:verifier.example.org"
SIGNING_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PREVIOUS_KEY = ec.derive_private_key(0x5A7C4E1, ec.SECP256R1())
STAGED = [
    Staged("00000000-0000-4000-8000-000000000001", datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
           ConsentEvent(kind=EventKind.CONSENT_GIVEN, purpose="p")),
    Staged("00000000-0000-4000-8000-000000000002", datetime(2026, 3, 1, 8, 1, tzinfo=UTC),
           ConsentEvent(kind=EventKind.PRESENTATION_SENT, counterparty=VERIFIER,
                        claims=[["given_name"]], credential_ids=["cred-1"])),
]


class FixedSealer:
    """Seals without a nonce (the AAD's digest, then the plaintext), so sealed bytes are fixed."""

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        return hashlib.sha256(aad).digest()[:8] + plaintext

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        if ciphertext[:8] != hashlib.sha256(aad).digest()[:8]:
            raise DecryptionFailed()
        return ciphertext[8:]


def _sha(value: Any) -> str:
    return hashlib.sha256(value if isinstance(value, bytes) else str(value).encode()).hexdigest()


async def _stored(engine: AsyncEngine) -> dict[str, Any]:
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT id, seq, counterparty_tag, sealed_body, body_digest, prev_hash, entry_hash "
            "FROM ledger_entries WHERE learner_ref = :r ORDER BY seq"), {"r": REF})).all()
        head = (await conn.execute(text(
            "SELECT seq, head_hash, signed_head, sealed_blind_key FROM ledger_heads "
            "WHERE learner_ref = :r"), {"r": REF})).one()
    return {"rows": [(r.id, r.seq, r.counterparty_tag, _sha(bytes(r.sealed_body)), r.body_digest,
                      r.prev_hash, r.entry_hash) for r in rows],
            "head": (head.seq, head.head_hash, head.signed_head,
                     bytes(head.sealed_blind_key).hex())}


@pytest.fixture
def fixed_ledger(engine: AsyncEngine) -> Ledger:
    return Ledger(engine, SIGNING_KEY, clock=StepClock(), issuer="https://satchel.example",
                  previous_keys=[PREVIOUS_KEY.public_key()])


def test_the_public_key_and_a_signed_document(fixed_ledger: Ledger) -> None:
    assert fixed_ledger.public_jwk == {
        "kty": "OKP", "crv": "Ed25519", "x": "A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",
        "kid": "1IG2tMH7J2wbJZnOf8LJzQitKf7LMvoAElsuDMVM54Y"}
    assert fixed_ledger.sign("x+jwt", {"a": 1}) == (
        "eyJ0eXAiOiJ4K2p3dCIsImtpZCI6IjFJRzJ0TUg3SjJ3Ykpabk9mOExKelFpdEtmN0xNdm9BRWxzdURNVk01NFki"
        "LCJhbGciOiJFZERTQSJ9.eyJhIjoxfQ.hqvl-dR1Mmm4H6ns8EWqv4RQPSkhv8EnE7OtYDQj22zWjXqtRmAAhNgHa0"
        "Lh_IRRP1ncT3iAvH0UeeDANZuzCw")
    previous = "is6TAuFsZEsogE2D2AK9oOJz2gP2HQq-c8wpounj3mQ"
    assert fixed_ledger.own_key(previous) is not None
    assert fixed_ledger.own_jwk(previous)["crv"] == "P-256" and "kid" not in \
        fixed_ledger.own_jwk(previous)
    assert fixed_ledger.own_key("nobody") is None
    assert fixed_ledger.own_jwk("nobody") == {
        k: v for k, v in fixed_ledger.public_jwk.items() if k != "kid"}


async def test_what_the_keys_put_in_the_store(fixed_ledger: Ledger, engine: AsyncEngine,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    sealer = FixedSealer()
    monkeypatch.setattr(os, "urandom", lambda n: bytes([7]) * n)  # the blinding key
    await fixed_ledger.append_staged(REF, sealer, STAGED)
    monkeypatch.undo()
    stored = await _stored(engine)
    head_hash = "a360003ace1af084ff58043742b2837dc99ae1f29e86b63ebd3afd9e900f6615"
    first_hash = "b506be834dec44b06970cf5288e50c24e0e9791947253bc2c73bce3465cc0eb0"
    assert stored == {
        "rows": [
            (STAGED[0].id, 1, None,
             "266bdbe7cb0c7dc2ea978543ffdb26d9b8b9254e74a7f446a563be4f6b4ebd56",
             "9073418666453a615e6f31e32fa45fbda051e688788fafef1d9c1316a29ddae4", "0" * 64,
             first_hash),
            (STAGED[1].id, 2,
             "c854cd99ba52e3ed1bbcbbe55308054d4f776c014ffcc3a76a02ea2b35ca7307",  # the blind tag
             "8e06edf09ade1167ed2ba33e121db1819b720d2284b9a896271103e52b59cb3b",
             "6885622316b36d7c4a843a003263a44b0050be1d5ec8c3af985d9c3f01f6fe66", first_hash,
             head_hash)],
        "head": (
            2, head_hash,
            "eyJ0eXAiOiJjb25zZW50LWxlZGdlci1oZWFkK2p3dCIsImtpZCI6IjFJRzJ0TUg3SjJ3Ykpabk9mOExKelFp"
            "dEtmN0xNdm9BRWxzdURNVk01NFkiLCJhbGciOiJFZERTQSJ9.eyJzdWIiOiJsZWFybmVyLXZlY3RvcnMiLCJz"
            "ZXEiOjIsImhlYWQiOiJhMzYwMDAzYWNlMWFmMDg0ZmY1ODA0Mzc0MmIyODM3ZGM5OWFlMWYyOWU4NmI2M2Vi"
            "ZDNhZmQ5ZTkwMGY2NjE1IiwiZXJhc2VkIjpmYWxzZSwiaWF0IjoxNzcyMzU1NjAxfQ.IGpCBlEPXMqV11iYkd"
            "Im3tCxORFmTabv6asWi4HF29hcUX1NJl33G36httLU95uWCBI1Cwp7AUIOPDSoaOLsAw",
            "8ebb2e1a7d368626" + "07" * 32)}  # the sealed blinding key: AAD digest, key
    report = await fixed_ledger.verify(REF)
    assert report.valid
    receipt = await fixed_ledger.receipt(REF, sealer, STAGED[1].id)
    assert _sha(receipt) == "60d62dc2b01ee7828033cdbd8ed8d9cf815d3c0349346e1aa3510b950b5517dd"
    page = await fixed_ledger.events(REF, sealer, counterparty=VERIFIER)
    assert [e.id for e in page.items] == [STAGED[1].id]


async def test_a_previous_keys_head_verifies_and_an_unknown_one_does_not(
        engine: AsyncEngine) -> None:
    old = Ledger(engine, PREVIOUS_KEY, clock=StepClock())
    await old.append_staged(REF, FixedSealer(), STAGED[:1])
    rotated = Ledger(engine, SIGNING_KEY, clock=StepClock(),
                     previous_keys=[PREVIOUS_KEY.public_key()])
    assert (await rotated.verify(REF)).valid
    stranger = Ledger(engine, SIGNING_KEY, clock=StepClock())
    report = await stranger.verify(REF)
    assert (report.valid, report.head_ok, report.reason) == (
        False, False, "the signed head does not verify")
