"""Errors of the receive service (OpenID4VCI 1.0 offers and inbox pushes).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html §8.3.1, §11.

Why a separate tree: what an issuer does wrong is the learner's problem to see, not a fault of
Satchel, so issuer failures (5xx, garbage, timeouts, oversize answers) reach the client as a 4xx
problem (``issuer_failed``) instead of a 502, and a credential that is not bound to one of the
learner's keys is refused (``holder_binding_failed``) before anything is stored.
"""

from __future__ import annotations

from wallet.errors import Conflict, Gone, NotFound, SatchelError, VerificationFailed

__all__ = ["HolderBindingFailed", "InboxItemExpired", "IssuanceFailed", "IssuerFailed",
           "LinkNotFound", "OfferExpired", "OfferStateConflict"]


class IssuerFailed(SatchelError):
    """The issuer answered with an error, garbage, too slowly or too much (424-like, as 422)."""

    status, code, title = 422, "issuer_failed", "The issuer did not answer properly"


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
