"""Moving a learner's consent chain out of the ledger and another one in (GDPR Art. 15, 20).

Export opens the learner's chain, oldest first, and ends it with its signed head and a manifest
signed with the ledger's key; import checks an exported chain end to end
(:func:`consent.portability.parse_export`) and takes it over behind one ``import`` entry, exactly
once when it was staged in the learner's vault first (docs/consent.md, "The ledger outbox" and
"What an import vouches for"). The format and its checks are :mod:`consent.portability`'s; the
store is :class:`consent.ledger.Ledger`, which builds one :class:`ChainTransfer` and hands its
callers over to it.

The transfer sees the ledger only through :class:`ChainStore`: its keys, the learner's chain read
whole or by kind, and one append of a takeover's entries (each with its own id, time and origin)
under the head lock. It reads no table and seals nothing itself, so it holds no SQL.
Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from consent.documents import EntryOrigin, ExportedRecord, ImportOrigin
from consent.entries import (
    STAGED_ID,
    ImportSummary,
    LedgerEntry,
    OpenedChain,
    TakeoverItem,
    check_ref,
    utc,
)
from consent.errors import InvalidEvent
from consent.events import ConsentEvent, EventKind
from consent.portability import (
    EXPORT_FORMAT,
    MANIFEST_TYP,
    ImportedChain,
    content_digest,
    manifest_claims,
    parse_export,
)
from consent.ports import BodySealer
from wallet.jose import PublicKey

__all__ = ["ChainStore", "ChainTransfer"]


class ChainStore(Protocol):
    """All a :class:`ChainTransfer` needs of the ledger it moves chains for
    (:class:`consent.ledger.Ledger`): its keys, and three operations on a learner's chain."""

    @property
    def issuer(self) -> str | None:
        """Who the ledger's signed documents name as their issuer (``iss``), if anyone."""
        ...

    def own_key(self, kid: str) -> PublicKey | None:
        """One of the ledger's keys (current or previous) by its ``kid``, else ``None``."""
        ...

    def own_jwk(self, kid: str) -> dict[str, str]:
        """The public JWK of the ledger's key ``kid``; the current key's for any other."""
        ...

    def sign(self, typ: str, claims: Mapping[str, Any]) -> str:
        """A compact JWS of ``claims`` under the ledger's current key."""
        ...

    async def read_chain(self, learner_ref: str, sealer: BodySealer) -> OpenedChain | None:
        """The learner's chain opened, oldest first, with its signed head (``None``: no
        chain; :class:`~consent.errors.LedgerErased` once erased)."""
        ...

    async def read_kind(self, learner_ref: str, sealer: BodySealer,
                        kind: EventKind) -> list[LedgerEntry]:
        """The learner's entries of ``kind``, opened, oldest first (none once erased)."""
        ...

    async def append_takeover(self, learner_ref: str, sealer: BodySealer,
                              items: Sequence[TakeoverItem], *,
                              once: bool = False) -> list[LedgerEntry] | None:
        """``items`` appended in order in one transaction (``None``: ``once`` and the first
        item's id is held already)."""
        ...


class ChainTransfer:
    """Export and import of the chains of one ledger (:class:`ChainStore`)."""

    def __init__(self, store: ChainStore) -> None:
        self._store = store

    async def export_chain(self, learner_ref: str, sealer: BodySealer, *,
                           bundle_keys: str | None = None) -> list[ExportedRecord]:
        """GDPR Art. 15/20: the chain, opened, oldest first, ending with its signed head;
        ``bundle_keys``: the digest of the bundle's keys it is exported in, which the manifest
        binds it to (consent.portability)."""
        check_ref(learner_ref)
        chain = await self._store.read_chain(learner_ref, sealer)
        if chain is None:
            return []
        out: list[ExportedRecord] = []
        listed: list[tuple[str, str, str]] = []
        for stored in chain.entries:
            entry = stored.entry
            assert entry.event is not None
            out.append({"type": "entry", "id": entry.id, "seq": entry.seq,
                        "at": entry.at.isoformat(), "kind": entry.kind.value,
                        "prev_hash": entry.prev_hash, "hash": entry.hash,
                        "body_digest": stored.body_digest,
                        "counterparty_tag": stored.counterparty_tag,
                        "event": entry.event.to_json(), "origin": entry.origin,
                        "learner_asserted": entry.learner_asserted})
            listed.append((entry.id, entry.hash,
                           content_digest(entry.event, entry.origin, entry.learner_asserted)))
        jwk = self._store.own_jwk(_kid_of(chain.signed_head))
        # the manifest binds each opened event to its chained entry (consent.portability)
        manifest = self._store.sign(MANIFEST_TYP, manifest_claims(
            learner_ref, chain.seq, chain.head_hash, listed, self._store.issuer, bundle_keys))
        out.append({"type": "head", "format": EXPORT_FORMAT, "learner_ref": learner_ref,
                    "seq": chain.seq, "head": chain.head_hash, "signed_head": chain.signed_head,
                    "jwk": dict(jwk), "manifest": manifest})
        return out

    def check_export(self, records: Sequence[Mapping[str, Any]]) -> ImportedChain:
        """An exported chain checked end to end (:func:`consent.portability.parse_export`),
        its manifest judged against this ledger's own keys: what an import would take over."""
        return parse_export(records, own_key=self._store.own_key)

    async def imports(self, learner_ref: str, sealer: BodySealer) -> list[ImportSummary]:
        """Every chain takeover in the learner's ledger, oldest first (their ``import``
        entries opened: the chain's verification reads no body, this does)."""
        check_ref(learner_ref)
        out = []
        for entry in await self._store.read_kind(learner_ref, sealer, EventKind.IMPORT):
            details = {} if entry.event is None else entry.event.details
            length = details.get("source_length")
            if entry.origin is None or "hash" in entry.origin or not isinstance(length, int):
                continue  # a plain import entry (a bundle without a chain), not a takeover
            attestation = details.get("attestation")
            asserted = details.get("learner_asserted")
            if not isinstance(attestation, str) or not isinstance(asserted, int):
                attestation, asserted = "unrecorded", length
            out.append(ImportSummary(entry.id, entry.seq, length, asserted, attestation))
        return out

    async def import_chain(self, learner_ref: str, sealer: BodySealer,
                           entries: Sequence[Mapping[str, Any]]) -> LedgerEntry:
        """Take over an exported chain: check it end to end, then append an ``import`` entry and
        one re-sealed entry per imported event (see :mod:`consent.portability`)."""
        entry = await self._import_chain(learner_ref, sealer, entries, str(uuid.uuid4()))
        assert entry is not None  # a fresh id is never held
        return entry

    async def import_staged_chain(self, learner_ref: str, sealer: BodySealer, marker_id: str,
                                  entries: Sequence[Mapping[str, Any]]) -> LedgerEntry | None:
        """:meth:`import_chain` for a takeover staged in the learner's vault first (the ledger
        outbox: an import commits its credentials and this takeover in one vault transaction),
        exactly once: its ``import`` entry takes ``marker_id`` (the staged record's id), and a
        takeover whose id the ledger already holds (checked under the head lock) appends
        nothing (``None``): a move repeated after a crash, or two at once, take the chain over
        once. An id held by another learner's ledger is :class:`LedgerTampered`."""
        if not isinstance(marker_id, str) or not STAGED_ID.fullmatch(marker_id):
            raise InvalidEvent("a staged entry has a UUID for its id")
        return await self._import_chain(learner_ref, sealer, entries, marker_id, staged=True)

    async def _import_chain(self, learner_ref: str, sealer: BodySealer,
                            entries: Sequence[Mapping[str, Any]], marker_id: str, *,
                            staged: bool = False) -> LedgerEntry | None:
        check_ref(learner_ref)
        chain = self.check_export(entries)
        marker = ConsentEvent(
            kind=EventKind.IMPORT,
            details={"source_length": len(chain.entries), "source_head": chain.head,
                     "source_key": chain.key_thumbprint, "attestation": chain.attestation,
                     "learner_asserted": chain.learner_asserted})
        marker_origin: ImportOrigin = {"signed_head": chain.signed_head, "jwk": chain.jwk,
                                       "learner_ref": chain.source_ref}
        items = [TakeoverItem(marker_id, None, marker, marker_origin)]
        for e in chain.entries:
            origin: EntryOrigin = {"id": e.id, "seq": e.seq, "hash": e.hash}
            if e.origin is not None:
                origin["origin"] = e.origin
            items.append(TakeoverItem(str(uuid.uuid4()), utc(e.at), e.event, origin,
                                      e.learner_asserted))
        written = await self._store.append_takeover(learner_ref, sealer, items, once=staged)
        return None if written is None else written[0]


def _kid_of(token: str) -> str:
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        return str(header.get("kid"))
    except (ValueError, binascii.Error, AttributeError):
        return ""
