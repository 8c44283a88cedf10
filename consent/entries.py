"""A consent-ledger entry as the ledger hands it out, and its sealed body's plaintext.

What the ledger's modules share about one entry: the typed results (:class:`LedgerEntry`, a
:class:`Page` of them, a chain takeover's :class:`ImportSummary`, an entry :class:`Staged`
elsewhere first), the shape of a learner reference and of a staged entry's id, and the plaintext
of a sealed body (docs/consent.md). The store that chains and seals them is :mod:`consent.ledger`;
moving a chain in and out of it, :mod:`consent.chain_transfer`.

A body's plaintext is canonical JSON (sorted keys, no spaces, UTF-8): ``{"v": 1, "event": ...}``,
with ``origin`` for an entry taken over from another chain or the ``import`` entry that took it,
and ``learner_asserted`` for an imported entry; the tombstone's is ``{"v": 1, "tombstone": true,
"erased_entries": n}``. Bodies are sealed under the learner's key (:class:`~consent.ports.BodySealer`)
with associated data naming learner and entry (:func:`consent.chain.body_aad`).
Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from consent.chain import at_to_us, body_aad, body_digest, entry_hash
from consent.documents import Origin
from consent.errors import (
    BodyUnreadable,
    EntryFromNewerRelease,
    InvalidEvent,
    InvalidQuery,
    LedgerErased,
    LedgerTampered,
)
from consent.events import ConsentEvent, EventKind
from consent.portability import read_origin
from consent.ports import BodySealer
from wallet.crypto import DecryptionFailed

__all__ = ["STAGED_ID", "ImportSummary", "LedgerEntry", "NewerEntry", "OpenedChain", "Page",
           "Staged", "StoredEntry", "TakeoverItem", "check_own_hash", "check_ref", "encode_body",
           "only_known", "open_entry", "open_sealed", "read_entry", "tombstone_body", "utc"]

_REF = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
STAGED_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def utc(at: datetime) -> datetime:
    """``at`` as an aware UTC time (a naive one read as UTC, as the databases store it)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def check_ref(learner_ref: object) -> str:
    """``learner_ref``, if it is one (a short pseudonymous identifier); else InvalidQuery."""
    if not isinstance(learner_ref, str) or not _REF.fullmatch(learner_ref):
        raise InvalidQuery("learner_ref must be a short pseudonymous identifier")
    return learner_ref


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One entry, opened. ``event`` is ``None`` only for the erasure tombstone; ``origin`` names
    the source entry of an imported one."""

    id: str
    learner_ref: str
    seq: int
    at: datetime
    kind: EventKind
    hash: str
    prev_hash: str
    event: ConsentEvent | None
    origin: Origin | None = None
    #: an imported entry whose contents nothing this service holds binds (docs/consent.md):
    #: listed, never receipted as this service's own
    learner_asserted: bool = False

    @property
    def imported(self) -> bool:
        """Taken over from an exported chain (its ``origin`` names the source entry)."""
        return self.origin is not None and "hash" in self.origin


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """One chain takeover, as its ``import`` entry records it: how many entries came with it,
    how many of those are learner-asserted, and on whose word (the manifest's ``attestation``,
    ``"unrecorded"`` for a takeover by a release before manifests: all learner-asserted)."""

    event_id: str
    seq: int
    entries: int
    learner_asserted: int
    attestation: str


@dataclass(frozen=True, slots=True)
class NewerEntry:
    """An entry a newer release wrote (during a rolling upgrade) that this release cannot
    interpret — a kind it does not know, or a body it cannot decode — whose sealed body opens
    under the learner's key, names the kind stored beside it, and whose own hash checks: shown
    as what it is, never read as a known kind (docs/consent.md, "Entries from a newer
    release"). ``kind`` is the kind as stored."""

    id: str
    seq: int
    at: datetime
    kind: str
    hash: str


@dataclass(frozen=True, slots=True)
class Page:
    """Newest first; ``next_cursor`` is opaque and ``None`` on the last page. ``newer``: the
    entries among this page's (by ``seq``) that a newer release wrote, newest first."""

    items: list[LedgerEntry]
    next_cursor: str | None
    newer: list[NewerEntry] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Staged:
    """An entry committed elsewhere first (the vault's ledger outbox), with its own id and time."""

    id: str
    at: datetime
    event: ConsentEvent


@dataclass(frozen=True, slots=True)
class TakeoverItem:
    """One entry of a chain takeover, to be appended with its own id and time (``None``: the
    time it is written) and what its sealed body says besides the event: where it came from
    (``origin``) and, for an imported entry, whether it rests on the learner's word."""

    id: str
    at: datetime | None
    event: ConsentEvent
    origin: Origin | None = None
    learner_asserted: bool | None = None


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """An entry opened, with the stored columns an export carries besides it."""

    entry: LedgerEntry
    body_digest: str
    counterparty_tag: str | None


@dataclass(frozen=True, slots=True)
class OpenedChain:
    """A learner's whole chain opened, oldest first, and the head that signs it."""

    seq: int
    head_hash: str
    signed_head: str
    entries: list[StoredEntry]



def encode_body(event: ConsentEvent, origin: Origin | None = None,
          learner_asserted: bool | None = None) -> bytes:
    """The plaintext of a sealed body. An imported entry's says whether it is learner-asserted
    (``learner_asserted``); one with an entry ``origin`` and no such member was taken over by a
    release that did not bind the contents, and is read as learner-asserted."""
    obj: dict[str, Any] = {"v": 1, "event": event.to_json()}
    if origin is not None:
        obj["origin"] = origin
    if learner_asserted is not None:
        obj["learner_asserted"] = learner_asserted
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def tombstone_body(erased_entries: int) -> bytes:
    """The plaintext body of the erasure tombstone (stored as it is: nothing personal in it)."""
    return json.dumps({"v": 1, "tombstone": True, "erased_entries": erased_entries},
                      sort_keys=True, separators=(",", ":")).encode()


def open_sealed(sealer: BodySealer, sealed: bytes, aad: bytes) -> bytes:
    """``sealed`` opened under the learner's key; :class:`BodyUnreadable` if it does not open."""
    try:
        return sealer.open(sealed, aad)
    except DecryptionFailed as exc:  # a wrong or shredded key, or tampering: one fact
        raise BodyUnreadable("a consent ledger entry does not open with this key") from exc


def open_entry(learner_ref: str, sealer: BodySealer, row: Any) -> LedgerEntry:
    """The stored entry ``row`` (its ``id, seq, at, kind, sealed_body, prev_hash, entry_hash``)
    opened: its body decoded as :func:`encode_body` wrote it; :class:`LedgerErased` for an
    erased body or the tombstone, :class:`BodyUnreadable` for one that does not open or
    decode."""
    if row.sealed_body is None or row.kind == EventKind.ERASURE.value:
        raise LedgerErased("the consent ledger of this learner was erased")
    plain = open_sealed(sealer, row.sealed_body, body_aad(learner_ref, row.id))
    try:
        obj = json.loads(plain)
        if not isinstance(obj, dict) or obj.get("v") != 1:
            raise ValueError
        event = ConsentEvent.from_json(obj.get("event"), kind=row.kind)
        origin = None if obj.get("origin") is None else read_origin(obj["origin"])
        asserted = obj.get("learner_asserted", origin is not None and "hash" in origin)
        if not isinstance(asserted, bool):
            raise ValueError("learner_asserted")
    except (ValueError, InvalidEvent) as exc:
        raise BodyUnreadable("a consent ledger entry holds a malformed body") from exc
    return LedgerEntry(row.id, learner_ref, row.seq, utc(row.at), EventKind(row.kind),
                       row.entry_hash, row.prev_hash, event, origin, asserted)


def check_own_hash(learner_ref: str, row: Any) -> None:
    """:class:`LedgerTampered` unless the stored entry ``row`` (with a sealed body) still matches
    its own hash: its body's digest, and the hash over its columns and that digest."""
    digest = body_digest(row.sealed_body)
    recomputed = entry_hash(
        learner_ref=learner_ref, entry_id=row.id, seq=row.seq, prev_hash=row.prev_hash,
        kind=row.kind, at_us=at_to_us(row.at), counterparty_tag=row.counterparty_tag,
        body_digest=digest)
    if digest != row.body_digest or recomputed != row.entry_hash:
        raise LedgerTampered("this consent ledger entry was altered")


def read_entry(learner_ref: str, sealer: BodySealer, row: Any) -> LedgerEntry | NewerEntry:
    """:func:`open_entry`, except for an entry a newer release wrote: a :class:`NewerEntry`.

    That is one whose body opens under the learner's key (so the service wrote it: the seal
    binds learner and entry id), whose event names the kind stored in its row (when it names
    one), and whose row still matches its own hash, but which this release cannot decode (a kind
    it does not know, an event member or body version it does not read). Any of those checks
    failing is what it was before: :class:`BodyUnreadable` for a body that does not open,
    :class:`LedgerTampered` for the rest. ``row`` also has ``counterparty_tag`` and
    ``body_digest``."""
    try:
        return open_entry(learner_ref, sealer, row)
    except BodyUnreadable:
        if row.sealed_body is None:
            raise
        plain = open_sealed(sealer, row.sealed_body, body_aad(learner_ref, row.id))
    try:
        obj = json.loads(plain)
    except ValueError as exc:
        raise BodyUnreadable("a consent ledger entry holds a malformed body") from exc
    event = obj.get("event") if isinstance(obj, dict) else None
    if isinstance(event, dict) and event.get("kind", row.kind) != row.kind:
        raise LedgerTampered("a consent ledger entry's kind is not its body's")
    check_own_hash(learner_ref, row)
    return NewerEntry(row.id, row.seq, utc(row.at), str(row.kind), row.entry_hash)


def only_known(entry: LedgerEntry | NewerEntry) -> LedgerEntry:
    """``entry``, if this release can interpret it; else :class:`EntryFromNewerRelease` (what
    it cannot say it must not sign or export)."""
    if isinstance(entry, NewerEntry):
        raise EntryFromNewerRelease(
            f"the consent ledger entry {entry.seq} was written by a newer release (kind "
            f"{entry.kind[:64]!r}): this one cannot read it; a newer replica can")
    return entry
