"""The sealed record of one OpenID4VCI offer (records category ``oid4vci-offer``), typed.

Why: the offer's flow state lives in the learner's vault between requests (wallet/receive/offers.py
says why); this class names what that record holds and in which state, so a new grant or step
changes one dataclass instead of string keys spread over the flow. The stored keys are the ones
written since offers existed (tests/holder_api/test_offer_records.py pins them), and
:meth:`OfferRecord.from_record` reads every shape written so far: ``state`` missing reads as
``pending``, ``copies`` missing as 1. A key this version does not know (one a newer replica wrote
during a rolling upgrade) is kept in :attr:`OfferRecord.extra` and written back, as the dicts this
class replaces did.

The offer as resolved (``resolved``) stays the JSON it was stored as: parsing it
(:meth:`wallet.oid4vci.ResolvedOffer.from_json`) is the costly part of reading an offer, and the
flow does it once per request, where it needs it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from wallet.crypto import RecordUnreadable
from wallet.errors import SatchelError
from wallet.oid4vci import AuthorizationStart, Deferred, TokenSet
from wallet.receive.results import TransactionProblem

__all__ = ["OFFER_STATES", "OfferRecord", "OfferState"]

#: ``pending``: resolved, nothing asked of the issuer yet; ``authorization_required``: the learner
#: is signing in at the authorization server; ``deferred``: the issuer will deliver later.
OfferState = Literal["pending", "authorization_required", "deferred"]
OFFER_STATES: tuple[OfferState, ...] = get_args(OfferState)

_KNOWN = frozenset({"resolved", "state", "source", "created_at", "inbox_item_id", "authorization",
                    "copies", "token", "received", "deferred", "problem"})


@dataclass(frozen=True, slots=True)
class OfferRecord:
    """One offer as sealed in the vault. Fields that belong to a later state are ``None`` (or
    empty) before it: ``authorization`` and ``copies`` once an authorization started, ``token``,
    ``received`` and ``deferred`` once the issuer deferred, ``problem`` after a poll failed."""

    #: ResolvedOffer.to_json(): parsed by the flow, once a request (not shown: it holds codes)
    resolved: Mapping[str, Any] = field(repr=False)
    state: OfferState = "pending"
    source: str | None = None  # api | inbox: how the offer came in (its ledger entries say it)
    created_at: str | None = None  # ISO 8601, UTC ("Z"); an offer with none never expires
    inbox_item_id: str | None = None  # the inbox item it was pushed as (named in its entries)
    authorization: AuthorizationStart | None = None  # authorization_required: PKCE, state
    copies: int | None = None  # asked for when the authorization started (None: 1)
    token: TokenSet | None = None  # deferred: the access (and refresh) token
    received: tuple[str, ...] = ()  # deferred: ids of the credentials delivered so far
    deferred: tuple[Deferred, ...] = ()  # deferred: the transactions still to poll
    problem: TransactionProblem | None = None  # why the last poll backed off
    #: keys this version does not know, written back as they were
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_record(cls, r: Mapping[str, Any]) -> OfferRecord:
        """The typed record; :class:`~wallet.crypto.RecordUnreadable` for one this version
        cannot read (a list skips it, a single read answers 409)."""
        try:
            return cls._parse(r)
        except RecordUnreadable:
            raise
        except (SatchelError, KeyError, TypeError, ValueError, AttributeError) as exc:
            raise RecordUnreadable("a sealed offer record is malformed") from exc

    @classmethod
    def _parse(cls, r: Mapping[str, Any]) -> OfferRecord:
        state = r.get("state", "pending")
        resolved, copies = r.get("resolved"), r.get("copies")
        if (state not in OFFER_STATES or not isinstance(resolved, Mapping)
                or not (copies is None or isinstance(copies, int))):
            raise RecordUnreadable("a sealed offer record is malformed")
        authorization, token, problem = r.get("authorization"), r.get("token"), r.get("problem")
        if state == "deferred" and token is None:  # a deferred offer is polled with its token
            raise RecordUnreadable("a sealed offer record is malformed")
        return cls(
            resolved=resolved, state=state, source=_text(r.get("source")),
            created_at=_text(r.get("created_at")), inbox_item_id=_text(r.get("inbox_item_id")),
            authorization=None if authorization is None
            else AuthorizationStart.from_json(authorization),
            copies=copies, token=None if token is None else TokenSet.from_json(token),
            received=tuple(str(i) for i in r.get("received", ())),
            deferred=tuple(Deferred.from_json(d) for d in r.get("deferred", ())),
            problem=TransactionProblem.from_record(problem) if isinstance(problem, dict)
            else None,
            extra={k: v for k, v in r.items() if k not in _KNOWN})

    def to_record(self) -> dict[str, Any]:
        """The stored shape: a key a state does not use is left out, as it always was."""
        out: dict[str, Any] = {**self.extra, "resolved": self.resolved, "state": self.state,
                               "source": self.source, "created_at": self.created_at}
        if self.inbox_item_id is not None:
            out["inbox_item_id"] = self.inbox_item_id
        if self.authorization is not None:
            out["authorization"] = self.authorization.to_json()
        if self.copies is not None:
            out["copies"] = self.copies
        if self.token is not None:
            out["token"] = self.token.to_json()
        if self.state == "deferred":
            out["received"] = list(self.received)
            out["deferred"] = [d.to_json() for d in self.deferred]
        if self.problem is not None:
            out["problem"] = self.problem.to_record()
        return out


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
