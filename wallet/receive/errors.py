"""Errors of the receive service (OpenID4VCI 1.0 offers and inbox pushes).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html §8.3.1, §11.

Why a separate tree: what an issuer does wrong is the learner's problem to see, not a fault of
Satchel, so issuer failures (5xx, garbage, timeouts, oversize answers) reach the client as a 4xx
problem (``issuer_failed``) instead of a 502, and a credential that is not bound to one of the
learner's keys is refused (``holder_binding_failed``) before anything is stored.

The one exception is an outage while a ``deferred`` offer is polled: the issuer has already agreed
to issue and the offer stays as it was, so the learner's app is told to poll again later
(``issuer_unavailable``, 502 like any peer failure in :mod:`wallet.errors`, with ``retry_after``)
instead of a 422 that reads as final. An outage is exactly a
:class:`wallet.errors.UpstreamUnavailable` (5xx/429, timeout, refused or reset connection,
temporary DNS failure); a 4xx without a spec code, garbage or an oversize answer stays
``issuer_failed`` even then, or the app would poll a broken issuer forever (a deferred offer never
expires).
"""

from __future__ import annotations

from typing import Any

from wallet.errors import (
    Conflict,
    Gone,
    NotFound,
    SatchelError,
    Unavailable,
    UpstreamUnavailable,
    VerificationFailed,
)

__all__ = ["HolderBindingFailed", "InboxItemExpired", "IssuanceFailed", "IssuerFailed",
           "IssuerUnavailable", "LinkNotFound", "OfferExpired", "OfferNotSaved",
           "OfferStateConflict"]


class IssuerFailed(SatchelError):
    """The issuer answered with an error, garbage, too slowly or too much (424-like, as 422)."""

    status, code, title = 422, "issuer_failed", "The issuer did not answer properly"


class IssuerUnavailable(UpstreamUnavailable):
    """A deferred poll met an issuer outage (5xx/429, timeout ...); the offer is kept: retry."""

    status, code, title = 502, "issuer_unavailable", "The issuer is unavailable for now"

    def __init__(self, detail: str = "", *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, retry_after=retry_after, **extra)
        # the problem body carries it too (``retry_after`` is a safe extra), like a 202's
        self.extra["retry_after"] = self.retry_after


class OfferNotSaved(Unavailable):
    """A refreshed token set could not be sealed into the offer record (the store is down)."""

    code, title = "offer_not_saved", "The offer could not be saved"


class HolderBindingFailed(VerificationFailed):
    code, title = "holder_binding_failed", "The credential is not bound to one of your keys"


class IssuanceFailed(VerificationFailed):
    code, title = "credential_refused", "The received credential was refused"


class OfferStateConflict(Conflict):
    code, title = "offer_state", "The offer is not in a state that allows this"


class LinkNotFound(NotFound):
    """Unknown or revoked inbox link (the same answer for both)."""


class OfferExpired(Gone):
    """A pending offer older than ``SATCHEL_INBOX_TTL`` (deleted as it is refused)."""

    code, title = "offer_expired", "The offer has expired"


class InboxItemExpired(Gone):
    """An inbox item older than ``SATCHEL_INBOX_TTL`` (deleted as it is refused)."""

    code, title = "inbox_item_expired", "The inbox item has expired"
