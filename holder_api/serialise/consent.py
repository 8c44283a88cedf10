"""The consent ledger and the learner's rights on the wire: events, the chain report, an
import's outcome. (Receipts, the JWK Set, the bundle and its schema are documents, sent whole.)"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from consent.chain import ChainReport
from consent.entries import NewerEntry
from consent.events import DetailValue
from consent.learner_ledger import CaughtUpReport
from consent.ledger import LedgerEntry
from consent.rights import ImportResult
from holder_api.serialise.common import iso

__all__ = ["chain_report", "import_result", "ledger_event", "newer_release_entry"]


def ledger_event(entry: LedgerEntry) -> dict[str, Any]:
    """One ``GET /v1/consent/events`` item: claim paths, never claim values."""
    ev = entry.event  # None only for the erasure tombstone
    return {
        "id": entry.id,
        "seq": entry.seq,
        "at": iso(entry.at),
        "kind": entry.kind.value,
        "counterparty": ev.counterparty if ev else None,
        "counterparty_name": ev.counterparty_name if ev else None,
        "purpose": ev.purpose if ev else None,
        "legal_basis": ev.legal_basis if ev else None,
        "claims": [list(p) for p in ev.claims] if ev else [],
        "credential_ids": list(ev.credential_ids) if ev else [],
        "data_categories": list(ev.data_categories) if ev else [],
        "inbox_item_id": _inbox_item_id(ev.details) if ev else None,
        "hash": entry.hash,
        "imported": entry.imported,
        "learner_asserted": entry.learner_asserted,
    }


def newer_release_entry(entry: NewerEntry) -> dict[str, Any]:
    """One ``newer_release_entries`` item of ``GET /v1/consent/events``: an entry a newer release
    wrote that this one cannot interpret, its kind as stored (outside the ``kind`` enum)."""
    return {"id": entry.id, "seq": entry.seq, "at": iso(entry.at), "kind_as_stored": entry.kind,
            "hash": entry.hash}


def _inbox_item_id(details: Mapping[str, DetailValue]) -> str | None:
    """The inbox item an entry is about: its arrival, its expiry, and what the learner did with it
    (accepted: the credential's entry; declined) all keep its id as ``item_id`` in the sealed
    details, which only the inbox's entries use (docs/consent.md, "The inbox queue")."""
    item = details.get("item_id")
    return item if isinstance(item, str) else None


def chain_report(report: ChainReport) -> dict[str, Any]:
    """``{valid, length, head}`` plus, when invalid, what failed."""
    out: dict[str, Any] = {"valid": report.valid, "length": report.length, "head": report.head,
                           "head_ok": report.head_ok}
    if not report.valid:
        out["first_bad_seq"] = report.first_bad_seq
        out["first_bad"] = None if report.first_bad_seq is None else {"seq": report.first_bad_seq}
        out["reason"] = report.reason
    return out


def caught_up_report(caught_up: CaughtUpReport) -> dict[str, Any]:
    """:func:`chain_report` plus ``staged_pending`` and, if catching up failed, its code."""
    out = chain_report(caught_up.report)
    out["staged_pending"] = caught_up.staged_pending
    if caught_up.catch_up_error is not None:
        out["catch_up_error"] = caught_up.catch_up_error
    imports = caught_up.imports
    out["learner_asserted_entries"] = (None if imports is None
                                       else sum(i.learner_asserted for i in imports))
    out["imports"] = None if imports is None else [
        {"event_id": i.event_id, "seq": i.seq, "entries": i.entries,
         "learner_asserted": i.learner_asserted, "attestation": i.attestation}
        for i in imports]
    return out


def import_result(result: ImportResult) -> dict[str, Any]:
    return {"credentials": result.credentials, "keys": result.keys,
            "ledger_entries": result.ledger_entries, "records": [],  # no record sets beyond the vault
            "import_event_id": result.import_event_id, "replayed": result.replayed}
