"""Moving a learner's consent chain out of the ledger and another one in (GDPR Art. 15, 20).

Export opens the learner's chain, oldest first, and ends it with its signed head and a manifest
signed with the ledger's key; import checks an exported chain end to end
(:func:`consent.portability.parse_export`) and takes it over behind one ``import`` entry, exactly
once when it was staged in the learner's vault first (docs/consent.md, "The ledger outbox" and
"What an import vouches for"). The format and its checks are :mod:`consent.portability`'s; the
store is :class:`consent.ledger.Ledger`, which builds one :class:`ChainTransfer` and hands its
callers over to it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Table, select

from consent.chain import body_aad, counterparty_tag
from consent.documents import EntryOrigin, ExportedRecord, ImportOrigin
from consent.entries import (
    _STAGED_ID,
    ImportSummary,
    LedgerEntry,
    _body,
    _check_ref,
    _New,
    _utc,
)
from consent.errors import InvalidEvent, LedgerErased, LedgerTampered
from consent.events import ConsentEvent, EventKind
from consent.models import metadata
from consent.portability import (
    EXPORT_FORMAT,
    MANIFEST_TYP,
    ImportedChain,
    content_digest,
    manifest_claims,
    parse_export,
)
from consent.ports import BodySealer
from wallet.jose import PublicKey, sign_compact

if TYPE_CHECKING:
    from consent.ledger import Ledger

__all__ = ["ChainTransfer"]

_E: Table = metadata.tables["ledger_entries"]


class ChainTransfer:
    """Export and import of one :class:`~consent.ledger.Ledger`'s chains."""

    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger

    async def export_chain(self, learner_ref: str, sealer: BodySealer, *,
                           bundle_keys: str | None = None) -> list[ExportedRecord]:
        """GDPR Art. 15/20: the chain, opened, oldest first, ending with its signed head;
        ``bundle_keys``: the digest of the bundle's keys it is exported in, which the manifest
        binds it to (consent.portability)."""
        _check_ref(learner_ref)
        async with self._ledger._tx() as conn:
            head = await self._ledger._read_head(conn, learner_ref)
            if head is None:
                return []
            if head.erased:
                raise LedgerErased("the consent ledger of this learner was erased")
            q = select(_E).where(_E.c.learner_ref == learner_ref, _E.c.seq <= head.seq)
            rows = (await conn.execute(q.order_by(_E.c.seq))).all()
        out: list[ExportedRecord] = []
        listed: list[tuple[str, str, str]] = []
        for r in rows:
            entry = self._ledger._entry(learner_ref, sealer, r)
            assert entry.event is not None
            out.append({"type": "entry", "id": r.id, "seq": r.seq,
                        "at": entry.at.isoformat(), "kind": r.kind, "prev_hash": r.prev_hash,
                        "hash": r.entry_hash, "body_digest": r.body_digest,
                        "counterparty_tag": r.counterparty_tag, "event": entry.event.to_json(),
                        "origin": entry.origin, "learner_asserted": entry.learner_asserted})
            listed.append((r.id, r.entry_hash,
                           content_digest(entry.event, entry.origin, entry.learner_asserted)))
        kid = _kid_of(head.signed_head)
        jwk = self._ledger._keys.get(kid, (None, self._ledger._jwk))[1]
        # the manifest binds each opened event to its chained entry (consent.portability)
        manifest = sign_compact({"typ": MANIFEST_TYP, "kid": self._ledger._kid}, manifest_claims(
            learner_ref, head.seq, head.head_hash, listed, self._ledger._issuer, bundle_keys),
            self._ledger._key)
        out.append({"type": "head", "format": EXPORT_FORMAT, "learner_ref": learner_ref,
                    "seq": head.seq, "head": head.head_hash, "signed_head": head.signed_head,
                    "jwk": dict(jwk), "manifest": manifest})
        return out

    def _own_key(self, kid: str) -> PublicKey | None:
        found = self._ledger._keys.get(kid)
        return None if found is None else found[0]

    def check_export(self, records: Sequence[Mapping[str, Any]]) -> ImportedChain:
        """An exported chain checked end to end (:func:`consent.portability.parse_export`),
        its manifest judged against this ledger's own keys: what an import would take over."""
        return parse_export(records, own_key=self._own_key)

    async def imports(self, learner_ref: str, sealer: BodySealer) -> list[ImportSummary]:
        """Every chain takeover in the learner's ledger, oldest first (their ``import``
        entries opened: the chain's verification reads no body, this does)."""
        _check_ref(learner_ref)
        q = select(_E.c.id, _E.c.seq, _E.c.at, _E.c.kind, _E.c.sealed_body, _E.c.prev_hash,
                   _E.c.entry_hash).where(_E.c.learner_ref == learner_ref,
                                          _E.c.kind == EventKind.IMPORT.value)
        async with self._ledger._tx() as conn:
            head = await self._ledger._read_head(conn, learner_ref)
            if head is None or head.erased:
                return []
            rows = (await conn.execute(q.order_by(_E.c.seq))).all()
        out = []
        for row in rows:
            entry = self._ledger._entry(learner_ref, sealer, row)
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
        if not isinstance(marker_id, str) or not _STAGED_ID.fullmatch(marker_id):
            raise InvalidEvent("a staged entry has a UUID for its id")
        return await self._import_chain(learner_ref, sealer, entries, marker_id, staged=True)

    async def _import_chain(self, learner_ref: str, sealer: BodySealer,
                            entries: Sequence[Mapping[str, Any]], marker_id: str, *,
                            staged: bool = False) -> LedgerEntry | None:
        _check_ref(learner_ref)
        chain = self.check_export(entries)
        now = self._ledger._now()
        marker = ConsentEvent(
            kind=EventKind.IMPORT,
            details={"source_length": len(chain.entries), "source_head": chain.head,
                     "source_key": chain.key_thumbprint, "attestation": chain.attestation,
                     "learner_asserted": chain.learner_asserted})
        marker_origin: ImportOrigin = {"signed_head": chain.signed_head, "jwk": chain.jwk,
                                       "learner_ref": chain.source_ref}
        async with self._ledger._write_tx() as conn:
            head = await self._ledger._lock_head(conn, learner_ref, now)
            if head.erased:
                raise LedgerErased("the consent ledger of this learner was erased")
            if staged:
                held = (await conn.execute(select(_E.c.learner_ref).where(
                    _E.c.id == marker_id))).first()
                if held is not None:
                    if held.learner_ref != learner_ref:
                        raise LedgerTampered("a staged entry's id is held by another ledger")
                    return None  # taken over already (a repeated move)
            key, new_key = self._ledger._blind_key(learner_ref, sealer, head.sealed_blind_key)
            items = [_New(marker_id, now, EventKind.IMPORT, None,
                          sealer.seal(_body(marker, marker_origin),
                                      body_aad(learner_ref, marker_id)))]
            for e in chain.entries:
                new_id = str(uuid.uuid4())
                origin: EntryOrigin = {"id": e.id, "seq": e.seq, "hash": e.hash}
                if e.origin is not None:
                    origin["origin"] = e.origin
                tag = (counterparty_tag(key, e.event.counterparty)
                       if e.event.counterparty is not None else None)
                items.append(_New(new_id, _utc(e.at), e.kind, tag,
                                  sealer.seal(_body(e.event, origin, e.learner_asserted),
                                              body_aad(learner_ref, new_id))))
            prep = await self._ledger._write(conn, learner_ref, head, items, now, new_blind_key=new_key)
        self._ledger._remember(learner_ref, prep.new_head)
        seq, prev, h = prep.links[0]
        return LedgerEntry(marker_id, learner_ref, seq, now, EventKind.IMPORT, h, prev, marker,
                           marker_origin)


def _kid_of(token: str) -> str:
    try:
        header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
        return str(header.get("kid"))
    except (ValueError, binascii.Error, AttributeError):
        return ""
