"""Errors of status list decoding (draft-ietf-oauth-status-list, W3C Bitstring Status List 1.0).

A status list that cannot be trusted or read is a verification failure of the *list*; the checker
turns every one of them into the status ``"unknown"`` (fail closed, never ``"valid"``).
"""

from __future__ import annotations

from wallet.errors import VerificationFailed

__all__ = ["InvalidStatusList", "StatusIndexOutOfRange", "StatusListNotFromIssuer"]


class InvalidStatusList(VerificationFailed):
    """Malformed, unsigned, expired, mis-addressed or oversize status list."""

    code = "invalid_status_list"
    title = "Invalid status list"


class StatusIndexOutOfRange(InvalidStatusList):
    """The credential points past the end of its status list (draft §8.3 step: reject)."""

    code = "status_index_out_of_range"


class StatusListNotFromIssuer(InvalidStatusList):
    """The list's proof is not by a key bound to the credential's issuer.

    Whoever controls the status URL (or can put a document there) must not decide the status of
    someone else's credential: the list counts only when its signing key is the issuer's by the same
    rule the credential's own proof is judged by (DID, issuer metadata, a trust-list pin).
    """

    code = "status_list_not_from_issuer"
