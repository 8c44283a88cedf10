"""A consent-ledger entry as the ledger hands it out, and its sealed body's plaintext.

What the ledger's modules share about one entry: the typed results (:class:`LedgerEntry`, a
:class:`Page` of them, a chain takeover's :class:`ImportSummary`, an entry :class:`Staged`
elsewhere first), the shape of a learner reference and of a staged entry's id, and the plaintext
of a sealed body (docs/consent.md). The store that chains and seals them is :mod:`consent.ledger`;
moving a chain in and out of it, :mod:`consent.chain_transfer`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consent.documents import Origin
from consent.errors import InvalidQuery
from consent.events import ConsentEvent, EventKind

__all__ = ["ImportSummary", "LedgerEntry", "OpenedChain", "Page", "Staged", "StoredEntry",
           "TakeoverItem"]

_REF = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
_STAGED_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _utc(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


def _check_ref(learner_ref: object) -> str:
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
class Page:
    """Newest first; ``next_cursor`` is opaque and ``None`` on the last page."""

    items: list[LedgerEntry]
    next_cursor: str | None


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


@dataclass(frozen=True, slots=True)
class _New:
    id: str
    at: datetime
    kind: EventKind
    tag: str | None
    sealed: bytes



def _body(event: ConsentEvent, origin: Origin | None = None,
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
