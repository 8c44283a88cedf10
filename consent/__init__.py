"""Satchel consent: the GDPR consent ledger and the learner's rights.

Specs: GDPR (Regulation (EU) 2016/679) Art. 6, 7, 9, 15, 17, 20 and 30,
https://eur-lex.europa.eu/eli/reg/2016/679/oj ; Kantara Consent Receipt v1.1 / ISO/IEC TS 27560
(receipts); RFC 7515 (signed heads and receipts); docs/consent.md.

Every event that touches a learner's data is one entry in a per-learner hash chain whose bodies are
sealed under the learner's key and whose head is signed by the service; the learner can read it,
verify it, get signed receipts, export and import it, and erase it (keeping a verifiable,
non-personal tombstone). Nothing is disclosed unless it was recorded first
(:meth:`ConsentService.record_before_disclosure`, fail closed).

Modules: :mod:`consent.events` (what an entry says), :mod:`consent.entries` (an entry as the
ledger hands it out, and its sealed body), :mod:`consent.chain` (hashes, signed head, verifier),
:mod:`consent.models` (tables), :mod:`consent.ledger` (the store), :mod:`consent.ledger_keys`
(its signing key and the learners' blinding keys), :mod:`consent.chain_transfer`
(export and import of a chain), :mod:`consent.receipts`, :mod:`consent.portability` (the export
format and its checks), :mod:`consent.service`, :mod:`consent.learner_ledger` (the learner's
front over the service: account ids to ledger references, catch-up first),
:mod:`consent.errors`.
The storage-bound names are loaded lazily, so importing the pure modules (events, entries, chain,
chain_transfer, receipts, portability) does not import SQLAlchemy.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from consent.chain import ChainReport
from consent.entries import LedgerEntry, Page
from consent.errors import (
    BodyUnreadable,
    ConsentError,
    EventNotFound,
    ImportRejected,
    InvalidEvent,
    InvalidQuery,
    LedgerErased,
    LedgerTampered,
    LedgerUnavailable,
)
from consent.events import ConsentEvent, EventKind
from consent.ports import BodySealer

if TYPE_CHECKING:
    from consent.ledger import Ledger
    from consent.models import create_all
    from consent.service import ConsentService

__all__ = [
    "BodySealer",
    "BodyUnreadable",
    "ChainReport",
    "ConsentError",
    "ConsentEvent",
    "ConsentService",
    "EventKind",
    "EventNotFound",
    "ImportRejected",
    "InvalidEvent",
    "InvalidQuery",
    "Ledger",
    "LedgerEntry",
    "LedgerErased",
    "LedgerTampered",
    "LedgerUnavailable",
    "Page",
    "create_all",
]

_LAZY = {"Ledger": "consent.ledger", "create_all": "consent.models",
         "ConsentService": "consent.service"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'consent' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
