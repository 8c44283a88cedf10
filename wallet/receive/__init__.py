"""Receiving credentials: OpenID4VCI 1.0 offers and inbox links (docs/receiving.md).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html — the protocol client
is :mod:`wallet.oid4vci`; this package is the wallet service around it (sealed flow state,
holder-key proofs, intake + holder binding, notifications, ledger) and the inbox (capability URLs,
pushes sealed to the learner's inbox key).
"""

from wallet.receive.errors import (
    HolderBindingFailed,
    InboxItemExpired,
    IssuanceFailed,
    IssuerFailed,
    LinkNotFound,
    OfferExpired,
    OfferStateConflict,
)
from wallet.receive.inbox import InboxService
from wallet.receive.inbox_store import InboxStore
from wallet.receive.offers import OfferFlow
from wallet.receive.push import MAX_PUSH_BYTES, parse_push
from wallet.receive.results import AcceptOutcome
from wallet.receive.service import ReceiveService

__all__ = [
    "MAX_PUSH_BYTES",
    "AcceptOutcome",
    "HolderBindingFailed",
    "InboxItemExpired",
    "InboxService",
    "InboxStore",
    "IssuanceFailed",
    "IssuerFailed",
    "LinkNotFound",
    "OfferExpired",
    "OfferFlow",
    "OfferStateConflict",
    "ReceiveService",
    "parse_push",
]
