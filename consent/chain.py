"""The hash chain of a learner's consent ledger: entry hashes, the signed head, and the verifier.

Specs: FIPS 180-4 SHA-256; RFC 2104 HMAC; RFC 7515 JWS (the signed head),
https://www.rfc-editor.org/rfc/rfc7515 ; GDPR Art. 5(1)(f) integrity and Art. 7(1) (being able to
demonstrate consent).

Entry hash, version 1 (every stored column except the hash itself is covered)::

    lp(b)        = u32be(len(b)) || b
    body_digest  = SHA-256("satchel/consent-ledger/body/v1" 0x00 || sealed_body)
    entry_hash   = SHA-256("satchel/consent-ledger/entry/v1" 0x00
                           || lp(utf8(learner_ref)) || lp(ascii(entry_id)) || u64be(seq)
                           || prev_hash (32 raw bytes; 32 zero bytes before seq 1)
                           || lp(ascii(kind)) || i64be(at, microseconds since the Unix epoch, UTC)
                           || lp(counterparty_tag raw bytes, empty when none)
                           || body_digest (32 raw bytes))

Why over a *digest* of the sealed body: erasure (GDPR Art. 17) deletes the ciphertext itself and
keeps ``body_digest``, so the chain still recomputes link by link after the learner is gone, while a
body that is still present must hash to its digest (a changed body is caught). Hashes are unkeyed on
purpose: anyone can verify without a key; what an attacker with write access could recompute (a
rewritten tail) is caught by the **signed head**, which names the last seq and hash and is kept in a
separate table, so deleting the newest rows (truncation) is caught too.

What it cannot catch: replacing the head row with an *older* signed head together with deleting
the entries after it (a rollback to a genuine earlier state). The learner, or an external anchor,
holding the latest head closes that gap.
Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from wallet.errors import SatchelError
from wallet.jose import PublicKey, verify_compact

__all__ = [
    "GENESIS",
    "HEAD_TYP",
    "ChainReport",
    "ChainRow",
    "ChainWalker",
    "HeadClaims",
    "at_from_us",
    "at_to_us",
    "blind_key_aad",
    "body_aad",
    "body_digest",
    "counterparty_tag",
    "entry_hash",
    "read_head",
]

GENESIS = "0" * 64
HEAD_TYP = "consent-ledger-head+jwt"
HEAD_ALGS = frozenset({"EdDSA", "Ed25519", "ES256", "ES384"})
_ENTRY_DOMAIN = b"satchel/consent-ledger/entry/v1\x00"
_BODY_DOMAIN = b"satchel/consent-ledger/body/v1\x00"
_TAG_DOMAIN = b"satchel/consent-ledger/counterparty/v1\x00"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def at_to_us(at: datetime) -> int:
    """Microseconds since the epoch; naive datetimes are read as UTC (SQLite returns them so)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return (at - _EPOCH) // timedelta(microseconds=1)


def at_from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def body_digest(sealed_body: bytes) -> str:
    return hashlib.sha256(_BODY_DOMAIN + sealed_body).hexdigest()


def entry_hash(*, learner_ref: str, entry_id: str, seq: int, prev_hash: str, kind: str,
               at_us: int, counterparty_tag: str | None, body_digest: str) -> str:
    """The version-1 entry hash (module docstring); hex in, hex out."""
    data = b"".join((
        _ENTRY_DOMAIN,
        _lp(learner_ref.encode()),
        _lp(entry_id.encode("ascii")),
        seq.to_bytes(8, "big"),
        bytes.fromhex(prev_hash),
        _lp(kind.encode("ascii")),
        at_us.to_bytes(8, "big", signed=True),
        _lp(bytes.fromhex(counterparty_tag) if counterparty_tag else b""),
        bytes.fromhex(body_digest),
    ))
    return hashlib.sha256(data).hexdigest()


def counterparty_tag(blind_key: bytes, counterparty: str) -> str:
    """HMAC-SHA-256 of the counterparty under the learner's blinding key (hex)."""
    return hmac.new(blind_key, _TAG_DOMAIN + counterparty.encode(), hashlib.sha256).hexdigest()


def body_aad(learner_ref: str, entry_id: str) -> bytes:
    """AEAD associated data binding a sealed body to its learner and entry."""
    return b"satchel/consent-ledger/body/v1\x00" + _lp(learner_ref.encode()) + entry_id.encode()


def blind_key_aad(learner_ref: str) -> bytes:
    return b"satchel/consent-ledger/blind-key/v1\x00" + learner_ref.encode()


@dataclass(frozen=True, slots=True)
class ChainReport:
    """The outcome of recomputing one learner's chain.

    ``first_bad_seq`` names the first entry that fails (for truncation: the first missing seq);
    it is ``None`` when the entries are sound and only the head is wrong (``head_ok`` false).
    """

    valid: bool
    length: int
    head: str
    first_bad_seq: int | None = None
    reason: str | None = None
    head_ok: bool = True


@dataclass(frozen=True, slots=True)
class ChainRow:
    """One stored entry as the verifier sees it (no key needed)."""

    id: str
    seq: int
    at_us: int
    kind: str
    counterparty_tag: str | None
    sealed_body: bytes | None
    body_digest: str
    prev_hash: str
    entry_hash: str


@dataclass(frozen=True, slots=True)
class HeadClaims:
    """The verified payload of a signed head."""

    learner_ref: str
    seq: int
    head: str
    erased: bool


def read_head(token: str, learner_ref: str,
              resolve_key: Callable[[Mapping[str, Any]], PublicKey]) -> HeadClaims | str:
    """Verify a signed head; return its claims, or the reason it fails."""
    try:
        parts = verify_compact(token, resolve_key, allowed_algs=HEAD_ALGS, expected_typ=(HEAD_TYP,))
        claims = json.loads(parts.payload)
    except (SatchelError, ValueError, RecursionError):
        # a bad signature or header (InvalidJws), a key resolve_key refuses (an unknown kid:
        # its SatchelError, as verify_compact requires), a payload that is not JSON
        return "the signed head does not verify"
    if not isinstance(claims, dict) or claims.get("sub") != learner_ref:
        return "the signed head belongs to another learner"
    seq, head, erased = claims.get("seq"), claims.get("head"), claims.get("erased", False)
    if (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not isinstance(head, str)
            or not isinstance(erased, bool)):
        return "the signed head is malformed"
    return HeadClaims(learner_ref, seq, head, erased)


class ChainWalker:
    """Feed entries in ascending seq; it remembers the first one that fails and why."""

    def __init__(self, learner_ref: str, *, erased: bool) -> None:
        self._learner_ref = learner_ref
        self._erased = erased
        self.expected_seq = 1
        self.prev_hash = GENESIS
        self.length = 0
        self.first_bad_seq: int | None = None
        self.reason: str | None = None

    def _fail(self, seq: int, reason: str) -> None:
        if self.first_bad_seq is None:
            self.first_bad_seq, self.reason = seq, reason

    def feed(self, row: ChainRow) -> None:
        self.length += 1
        if self.first_bad_seq is not None:
            return
        expected = self.expected_seq
        if row.seq != expected:
            self._fail(expected, f"entry {expected} is missing or out of order")
            return
        if row.prev_hash != self.prev_hash:
            self._fail(row.seq, f"entry {row.seq} does not link to the entry before it")
            return
        if row.sealed_body is None:
            if not self._erased:
                self._fail(row.seq, f"entry {row.seq} has lost its body without an erasure")
                return
            digest = row.body_digest
        else:
            digest = body_digest(row.sealed_body)
            if digest != row.body_digest:
                self._fail(row.seq, f"entry {row.seq} body does not match its digest")
                return
        try:
            computed = entry_hash(
                learner_ref=self._learner_ref, entry_id=row.id, seq=row.seq,
                prev_hash=row.prev_hash, kind=row.kind, at_us=row.at_us,
                counterparty_tag=row.counterparty_tag, body_digest=digest)
        except (ValueError, UnicodeEncodeError, OverflowError):
            self._fail(row.seq, f"entry {row.seq} holds malformed values")
            return
        if not hmac.compare_digest(computed, row.entry_hash):
            self._fail(row.seq, f"entry {row.seq} does not match its hash")
            return
        self.prev_hash = computed
        self.expected_seq += 1

    def finish(self, head: HeadClaims | str | None, *, head_columns: tuple[int, str] | None,
               last_kind: str | None) -> ChainReport:
        """Judge the walk together with the head (``None``: there is no head row)."""
        length, last = self.length, self.prev_hash

        def bad(seq: int | None, reason: str, head_ok: bool = True) -> ChainReport:
            return ChainReport(False, length, last, seq, reason, head_ok)

        if self.first_bad_seq is not None:
            return bad(self.first_bad_seq, self.reason or "entry fails")
        if head is None:
            if length == 0:
                return ChainReport(True, 0, GENESIS)
            return bad(None, "the chain has entries but no signed head", False)
        if isinstance(head, str):
            return bad(None, head, False)
        if head_columns != (head.seq, head.head):
            return bad(None, "the head row does not match its signature", False)
        if head.seq > length:
            return bad(length + 1,
                       f"the chain is truncated: the signed head names entry {head.seq}")
        if head.seq < length:
            return bad(head.seq + 1, f"entry {head.seq + 1} lies beyond the signed head", False)
        if head.head != last:
            return bad(None, "the signed head does not match the last entry", False)
        if head.erased and last_kind != "erasure":
            return bad(None, "the head claims an erasure the chain does not end with", False)
        return ChainReport(True, length, last)
