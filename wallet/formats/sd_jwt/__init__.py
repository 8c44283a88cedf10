"""Selective Disclosure for JWTs (SD-JWT), RFC 9901 — receive, verify and present.

https://www.rfc-editor.org/rfc/rfc9901

- :class:`UnverifiedSdJwt` ``.parse`` — §4 (serialization) and §4.2 (Disclosures), strict.
- :func:`verify_sd_jwt` — §7.1: issuer signature, digests, recursive Disclosures (§4.2.6), decoys,
  time claims; gives a :class:`VerifiedSdJwt` that knows the claim path of every Disclosure.
- :func:`build_presentation` — §4.3 / §7.2: only the chosen Disclosures (plus needed parents) and a
  KB-JWT; :func:`verify_key_binding` — §7.3, the verifier's side.

Why our own: the learner chooses claims *by path* (as OpenID4VP's DCQL asks for them), every failure
must be a typed, fail-closed error, and issuer keys come only from the caller's resolver. The SD-JWT
VC rules on top live in :mod:`wallet.formats.sd_jwt_vc`. Pure: no I/O.
"""

from __future__ import annotations

from wallet.formats.sd_jwt.errors import (
    ClaimNameCollision,
    DisclosedProtectedClaim,
    DuplicateDigest,
    DuplicateDisclosure,
    Expired,
    ForbiddenClaimName,
    InvalidDisclosure,
    InvalidIssuerJwt,
    InvalidKeyBinding,
    InvalidSdJwtVc,
    InvalidSdPayload,
    InvalidTimeClaim,
    IssuerKeyNotFound,
    KeyBindingNotAllowed,
    MalformedSdJwt,
    MisplacedDisclosure,
    NotYetValid,
    SdJwtError,
    SdJwtVcTypRefused,
    UnknownClaimPath,
    UnreferencedDisclosure,
    UnsupportedHashAlgorithm,
    WrongHolderKey,
)
from wallet.formats.sd_jwt.parse import Disclosure, UnverifiedSdJwt, decode_disclosure
from wallet.formats.sd_jwt.present import (
    KB_JWT_TYP,
    build_presentation,
    select_disclosures,
    verify_key_binding,
)
from wallet.formats.sd_jwt.verify import (
    DEFAULT_ALGS,
    DEFAULT_CLOCK_SKEW,
    HASH_ALGORITHMS,
    DisclosedClaim,
    IssuerKeyResolver,
    Path,
    VerifiedSdJwt,
    check_time_claims,
    digest,
    process_payload,
    static_key,
    verify_sd_jwt,
)

__all__ = [
    "DEFAULT_ALGS",
    "DEFAULT_CLOCK_SKEW",
    "HASH_ALGORITHMS",
    "KB_JWT_TYP",
    "ClaimNameCollision",
    "DisclosedClaim",
    "DisclosedProtectedClaim",
    "Disclosure",
    "DuplicateDigest",
    "DuplicateDisclosure",
    "Expired",
    "ForbiddenClaimName",
    "InvalidDisclosure",
    "InvalidIssuerJwt",
    "InvalidKeyBinding",
    "InvalidSdJwtVc",
    "InvalidSdPayload",
    "InvalidTimeClaim",
    "IssuerKeyNotFound",
    "IssuerKeyResolver",
    "KeyBindingNotAllowed",
    "MalformedSdJwt",
    "MisplacedDisclosure",
    "NotYetValid",
    "Path",
    "SdJwtError",
    "SdJwtVcTypRefused",
    "UnknownClaimPath",
    "UnreferencedDisclosure",
    "UnsupportedHashAlgorithm",
    "UnverifiedSdJwt",
    "VerifiedSdJwt",
    "WrongHolderKey",
    "build_presentation",
    "check_time_claims",
    "decode_disclosure",
    "digest",
    "process_payload",
    "select_disclosures",
    "static_key",
    "verify_key_binding",
    "verify_sd_jwt",
]
