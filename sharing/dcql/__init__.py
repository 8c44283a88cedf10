"""DCQL, the Digital Credentials Query Language: OpenID for Verifiable Presentations 1.0 §6
(with §7, Claims Path Pointer, and Appendix B for the format-specific ``meta``).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-digital-credentials-query-l

Three pure steps, each its own module, because each answers a different party:
- :mod:`~sharing.dcql.query` parses the verifier's query into frozen typed objects
  (``invalid_request`` for anything §6 forbids);
- :mod:`~sharing.dcql.match` evaluates it against the learner's credentials and says, per query,
  which credentials fit and exactly which claims and SD-JWT disclosures each would reveal
  (a query compiled once by :mod:`~sharing.dcql.plan`; options from :mod:`~sharing.dcql.option`);
- :mod:`~sharing.dcql.select` checks the learner's choice against that result and fixes the
  presentations to build. Nothing outside a :class:`Selection` may be disclosed.
"""

from sharing.dcql.errors import (
    CredentialNotAnOption,
    IncompleteSelection,
    InvalidDcqlQuery,
    InvalidSelection,
    MultipleNotAllowed,
    UnknownCredentialQuery,
)
from sharing.dcql.match import (
    SD_JWT_FORMATS,
    W3C_FORMATS,
    Candidate,
    CredentialOption,
    CredentialSetMatch,
    MatchResult,
    QueryMatch,
    SelectedClaim,
    known_akis,
    match_query,
)
from sharing.dcql.path import path_overlaps, select_claims
from sharing.dcql.query import (
    ClaimsQuery,
    ClaimValue,
    CredentialQuery,
    CredentialSetQuery,
    DcqlQuery,
    QueryFormat,
    TrustedAuthority,
    UnknownFormat,
    parse_dcql_query,
)
from sharing.dcql.select import SelectedPresentation, Selection, select_for_response

__all__ = [
    "SD_JWT_FORMATS",
    "W3C_FORMATS",
    "Candidate",
    "ClaimValue",
    "ClaimsQuery",
    "CredentialNotAnOption",
    "CredentialOption",
    "CredentialQuery",
    "CredentialSetMatch",
    "CredentialSetQuery",
    "DcqlQuery",
    "IncompleteSelection",
    "InvalidDcqlQuery",
    "InvalidSelection",
    "MatchResult",
    "MultipleNotAllowed",
    "QueryMatch",
    "SelectedClaim",
    "SelectedPresentation",
    "Selection",
    "QueryFormat",
    "TrustedAuthority",
    "UnknownFormat",
    "UnknownCredentialQuery",
    "known_akis",
    "match_query",
    "parse_dcql_query",
    "path_overlaps",
    "select_claims",
    "select_for_response",
]
