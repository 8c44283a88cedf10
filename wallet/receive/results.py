"""What the receive services return: offers, accept outcomes, inbox links and items (typed; the
HTTP API shapes them in ``holder_api.serialise.receive``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from wallet.credentials import CredentialDetail
from wallet.errors import SatchelError
from wallet.oid4vci import TxCode

__all__ = ["AcceptOutcome", "InboxItem", "InboxLink", "NewInboxLink", "Offer", "OfferIssuer",
           "OfferedCredential", "TransactionProblem"]


@dataclass(frozen=True, slots=True)
class OfferIssuer:
    id: str
    name: str | None
    trusted: bool


@dataclass(frozen=True, slots=True)
class OfferedCredential:
    configuration_id: str
    format: str
    name: str | None


@dataclass(frozen=True, slots=True)
class Offer:
    """A resolved OpenID4VCI offer and where it stands."""

    id: str
    status: str  # pending | authorization_required | deferred
    issuer: OfferIssuer
    credentials: tuple[OfferedCredential, ...]
    created_at: str | None
    tx_code: TxCode | None = None  # a pre-authorized code that needs a transaction code
    retry_after: int | None = None  # deferred: seconds before the next poll does anything


@dataclass(frozen=True, slots=True)
class TransactionProblem:
    """A failed transaction, as a partial answer reports it (the fields of its error)."""

    status: int
    code: str
    detail: str

    @classmethod
    def of(cls, err: SatchelError) -> TransactionProblem:
        return cls(err.status, err.code, err.detail)

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> TransactionProblem:
        return cls(int(record["status"]), str(record["code"]), str(record["detail"]))

    def to_record(self) -> dict[str, Any]:
        """Sealed in the offer record: an early poll answers with it."""
        return {"status": self.status, "code": self.code, "detail": self.detail}


@dataclass(frozen=True, slots=True)
class AcceptOutcome:
    """What accepting (or polling) an offer came to.

    ``issued``: ``credentials`` are stored (``problem``: a transaction the issuer dropped).
    ``deferred``: the issuer will deliver later; poll again after ``retry_after`` seconds
    (``credentials``: what arrived meanwhile). ``authorization_required``: the learner opens
    ``authorization_url`` and comes back to ``redirect_uri``.
    """

    status: Literal["issued", "deferred", "authorization_required"]
    offer_id: str | None = None
    credentials: tuple[CredentialDetail, ...] = ()
    retry_after: int | None = None
    problem: TransactionProblem | None = None
    authorization_url: str | None = None
    redirect_uri: str | None = None


@dataclass(frozen=True, slots=True)
class NewInboxLink:
    """A link just created: its URL exists only here (only a hash of its token is kept)."""

    id: str
    url: str
    label: str
    created_at: str


@dataclass(frozen=True, slots=True)
class InboxLink:
    id: str
    label: str | None
    created_at: str | None


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A push waiting for the learner (opened with their inbox key)."""

    id: str
    kind: str | None  # offer | credential
    sender: str | None  # the label of the link it came through
    issuer: str | None
    link_id: str
    received_at: datetime
