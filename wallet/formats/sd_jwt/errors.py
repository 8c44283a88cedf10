"""Errors of SD-JWT (RFC 9901) and SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-18) processing.

https://www.rfc-editor.org/rfc/rfc9901#section-7 (verification) and
https://datatracker.ietf.org/doc/draft-ietf-oauth-sd-jwt-vc/18/ (§3.2.2, §3.5, §4).

One class per failure, so callers and tests can tell them apart; every one is a
:class:`~wallet.errors.SatchelError`. Details never contain claim values or key material.

::

    VerificationFailed
    └── SdJwtError                        invalid_sd_jwt
        ├── MalformedSdJwt                the ``~`` serialization is broken or too large
        │   └── KeyBindingNotAllowed      an issuer sent an SD-JWT+KB (§4, issuance has no KB-JWT)
        ├── InvalidDisclosure             not base64url JSON of the right shape (§4.2)
        │   └── ForbiddenClaimName        a Disclosure names ``_sd`` or ``...`` (§4.2.1)
        ├── InvalidIssuerJwt              the Issuer-signed JWT's JWS does not verify (§7.1 step 2)
        ├── InvalidSdPayload              ``_sd``/``...``/``_sd_alg`` misplaced or mistyped
        ├── UnsupportedHashAlgorithm      ``_sd_alg`` names a hash Satchel does not support (§4.1.1)
        ├── DuplicateDigest               a digest occurs twice in the payload (§7.1 step 4)
        ├── DuplicateDisclosure           the same Disclosure is sent twice
        ├── ClaimNameCollision            a disclosed name already exists at its level
        ├── MisplacedDisclosure           array Disclosure in ``_sd``, object one in an array
        ├── UnreferencedDisclosure        a Disclosure no digest refers to (§7.1 step 5)
        ├── InvalidTimeClaim              ``exp``/``nbf``/``iat`` is not a number
        ├── Expired                       ``exp`` has passed (with clock skew)
        ├── NotYetValid                   ``nbf`` or ``iat`` lies in the future (with clock skew)
        ├── InvalidKeyBinding             KB-JWT missing, malformed, or wrong (§7.3)
        └── InvalidSdJwtVc                an SD-JWT VC rule is broken (draft -18 §3)
            ├── DisclosedProtectedClaim   ``iss``/``exp``/``cnf``/``vct``... disclosed
            ├── IssuerKeyNotFound         no trustworthy issuer key (§3.5, §4)
            └── SdJwtVcTypRefused         invalid_typ: ``typ`` is not ``dc+sd-jwt`` (§3.2.1)
    BadInput
    ├── UnknownClaimPath                  a path to present that the credential does not have
    └── WrongHolderKey                    the key offered for the KB-JWT is not the ``cnf`` key
"""

from __future__ import annotations

from wallet.errors import BadInput, VerificationFailed

__all__ = [
    "ClaimNameCollision",
    "DisclosedProtectedClaim",
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
    "KeyBindingNotAllowed",
    "MalformedSdJwt",
    "MisplacedDisclosure",
    "NotYetValid",
    "SdJwtError",
    "SdJwtVcTypRefused",
    "UnknownClaimPath",
    "UnreferencedDisclosure",
    "UnsupportedHashAlgorithm",
    "WrongHolderKey",
]


class SdJwtError(VerificationFailed):
    """Base: the SD-JWT must be rejected (RFC 9901 §7)."""

    code = "invalid_sd_jwt"
    title = "Invalid SD-JWT"


class MalformedSdJwt(SdJwtError):
    """The ``<JWT>~<D1>~...~<Dn>~[<KB-JWT>]`` serialization is broken or over the size limits."""


class KeyBindingNotAllowed(MalformedSdJwt):
    """An issued SD-JWT carries a KB-JWT; issuance never does (RFC 9901 §4, §5.1)."""


class InvalidDisclosure(SdJwtError):
    """A Disclosure is not base64url-encoded JSON array ``[salt, name, value]`` or ``[salt, value]``
    with a string salt and name (RFC 9901 §4.2.1, §4.2.2)."""


class ForbiddenClaimName(InvalidDisclosure):
    """"The claim name MUST NOT be ``_sd`` or ``...``" (RFC 9901 §4.2.1; §7.1 step 3.c.ii.2)."""


class InvalidIssuerJwt(SdJwtError):
    """The Issuer-signed JWT is malformed, uses a refused ``alg``/``typ``/``crit``, or its signature
    does not verify (RFC 9901 §7.1 step 2). ``code`` keeps the JOSE layer's code."""


class InvalidSdPayload(SdJwtError):
    """``_sd`` is not an array of strings, an ``...`` digest is not a string, or ``_sd_alg``
    appears below the top level (RFC 9901 §4.1, §4.1.1, §4.2.4)."""


class UnsupportedHashAlgorithm(SdJwtError):
    """``_sd_alg`` names a hash algorithm outside sha-256/384/512 (RFC 9901 §4.1.1)."""


class DuplicateDigest(SdJwtError):
    """"If any digest value is encountered more than once ... the SD-JWT MUST be rejected"
    (RFC 9901 §7.1 step 4)."""


class DuplicateDisclosure(SdJwtError):
    """The same Disclosure appears twice in the serialization (RFC 9901 §7.1 steps 4-5)."""


class ClaimNameCollision(SdJwtError):
    """"If the claim name already exists at the level of the ``_sd`` key, the SD-JWT MUST be
    rejected" (RFC 9901 §7.1 step 3.c.ii.3)."""


class MisplacedDisclosure(SdJwtError):
    """An array-element Disclosure referenced from ``_sd``, or an object-property Disclosure
    referenced from an array element (RFC 9901 §7.1 steps 3.c.ii.1, 3.d.ii.1)."""


class UnreferencedDisclosure(SdJwtError):
    """"If any Disclosure was not referenced by digest value in the Issuer-signed JWT (directly or
    recursively via other Disclosures), the SD-JWT MUST be rejected" (RFC 9901 §7.1 step 5)."""


class InvalidTimeClaim(SdJwtError):
    """``exp``, ``nbf`` or ``iat`` is present but not a NumericDate (RFC 7519 §2, §4.1)."""


class Expired(SdJwtError):
    """``exp`` lies in the past, beyond the allowed clock skew (RFC 9901 §7.1 step 6)."""

    code = "expired"


class NotYetValid(SdJwtError):
    """``nbf`` (or ``iat``) lies in the future, beyond the allowed clock skew."""

    code = "not_yet_valid"


class InvalidKeyBinding(SdJwtError):
    """The KB-JWT is missing, malformed, not signed by the ``cnf`` key, or its ``typ``, ``aud``,
    ``nonce``, ``iat`` or ``sd_hash`` is wrong (RFC 9901 §4.3, §7.3)."""

    code = "invalid_key_binding"


class InvalidSdJwtVc(SdJwtError):
    """An SD-JWT VC rule is broken: ``typ``, ``vct``, ``iss``, ``cnf`` or ``status`` (draft-18
    §3)."""

    code = "invalid_sd_jwt_vc"


class SdJwtVcTypRefused(InvalidSdJwtVc):
    """An SD-JWT VC whose ``typ`` is not ``dc+sd-jwt`` (the legacy ``vc+sd-jwt`` only where it
    is accepted): the JOSE layer's own code for a wrong ``typ``, ``invalid_typ``."""

    code = "invalid_typ"


class DisclosedProtectedClaim(InvalidSdJwtVc):
    """A claim that "MUST NOT be selectively disclosed" arrived in a Disclosure (draft-18
    §3.2.2)."""


class IssuerKeyNotFound(InvalidSdJwtVc):
    """No key could be established for the issuer through JWT VC Issuer Metadata or a validated
    ``x5c`` chain (draft-18 §3.5, §4)."""

    code = "issuer_key_not_found"


class UnknownClaimPath(BadInput):
    """A claim path asked for in a presentation does not exist in the credential."""

    code = "unknown_claim_path"


class WrongHolderKey(BadInput):
    """The key offered to sign the KB-JWT is not the one bound in the credential's ``cnf``."""

    code = "wrong_holder_key"
