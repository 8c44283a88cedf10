"""Errors of the DCQL engine (OpenID4VP 1.0 §6).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-digital-credentials-query-l

Two families: the verifier sent a query Satchel will not evaluate (``invalid_request``, §8.5), or
the learner's choice of credentials does not fit what the query allows (a ``BadInput`` from our
own API, never sent to the verifier)::

    sharing.errors.InvalidRequest                    invalid_request
    └── InvalidDcqlQuery                             the query breaks a rule of §6
    wallet.errors.BadInput                           invalid_request (our API)
    └── InvalidSelection                             invalid_selection
        ├── UnknownCredentialQuery                   a choice names a query id the request lacks
        ├── CredentialNotAnOption                    the credential did not match that query
        ├── MultipleNotAllowed                       several credentials, ``multiple`` is false
        └── IncompleteSelection                      the choices do not satisfy the request

Details name the offending member (a query id, a JSON pointer into the query), never a claim value.
"""

from __future__ import annotations

from sharing.errors import InvalidRequest
from wallet.errors import BadInput

__all__ = [
    "CredentialNotAnOption",
    "IncompleteSelection",
    "InvalidDcqlQuery",
    "InvalidSelection",
    "MultipleNotAllowed",
    "UnknownCredentialQuery",
]


class InvalidDcqlQuery(InvalidRequest):
    """The DCQL query is malformed (OpenID4VP 1.0 §6: types, required members, id syntax,
    uniqueness, references from ``claim_sets`` and ``credential_sets``)."""

    title = "Invalid DCQL query"


class InvalidSelection(BadInput):
    """The learner's choice of credentials cannot be used to answer the request."""

    code, title = "invalid_selection", "Invalid credential selection"


class UnknownCredentialQuery(InvalidSelection):
    """A choice names a credential query id that is not in the request."""


class CredentialNotAnOption(InvalidSelection):
    """The chosen credential is not among the credentials that matched that query."""


class MultipleNotAllowed(InvalidSelection):
    """Several credentials were chosen for a query without ``multiple: true`` (§6.1)."""


class IncompleteSelection(InvalidSelection):
    """The choices leave a required credential query or credential set unanswered, or answer only
    part of a credential set option (which would disclose data the verifier cannot use)."""
