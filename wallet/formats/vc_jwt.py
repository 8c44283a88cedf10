"""W3C Verifiable Credentials as JWTs: VCDM 1.1 ``vc`` claim, VCDM 2.0 (VC-JOSE-COSE), OB 3.0.

Specs: VC Data Model 1.1 §6.3.1 "JSON Web Token" (https://www.w3.org/TR/vc-data-model/#jwt-encoding:
``iss``→issuer, ``nbf``→issuanceDate, ``exp``→expirationDate, ``jti``→id, ``sub``→
credentialSubject.id); Securing VCs using JOSE and COSE, https://www.w3.org/TR/vc-jose-cose/ §3.1
(``typ`` ``vc+jwt``, the payload *is* the credential, ``iss``/``kid`` identify the key); Open Badges
3.0 §8.2 (VC-JWT proof format, ``kid`` a DID URL or a header ``jwk``); RFC 7515/7519; RFC 9278
(JWK thumbprint URIs as ``kid``); OpenID4VCI 1.0 Appendix A.1.1 (format ``jwt_vc_json``).

Why: the holder must tell a credential it can check from one it cannot, without ever letting the
token choose a key an attacker controls. Key sources, in order: a ``did:`` ``kid`` (or the DID
``iss``), which must belong to the issuer; an ``x5c`` chain validated to a configured anchor;
keys the caller already established for the issuer (``issuer_jwks``, e.g. from OpenID4VCI
metadata); last, a header ``jwk``, checked but reported as ``key_source="header_jwk"`` with the
problem ``issuer_key_self_asserted``, so that the trust list decides. No key at all is
``signature="no_key"``, never an exception. Only :class:`~wallet.errors.SatchelError` subclasses
escape, and only for input that is not a VC-JWT.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from wallet.clock import iso
from wallet.dids import (
    DidError,
    DidResolutionFailed,
    VerificationMethodNotFound,
    did_of,
    resolve_key,
    resolve_key_offline,
)
from wallet.errors import BadInput, SatchelError, UnsupportedFormat
from wallet.formats.jsonld import PARSE_LIMITS, describe_vc
from wallet.formats.jsonld.canon import check_shape
from wallet.formats.jsonld.errors import InvalidCredential
from wallet.formats.jsonld.vcdm import date_problems, utc_now
from wallet.formats.model import (
    ISSUER_KEY_SELF_ASSERTED,
    CheckedCredential,
    SignatureState,
    SignerChain,
)
from wallet.jose import (
    ASYMMETRIC_ALGS,
    InvalidJws,
    JwsParts,
    PublicKey,
    jwk_thumbprint,
    parse_compact,
    public_jwk,
    public_key_from_jwk,
    verify_compact,
)
from wallet.ports import Fetcher
from wallet.x509 import carried_chain, leaf_names_issuer
from wallet.x509 import validate_chain as x509_validate_chain

__all__ = ["VC_JWT_ALGS", "VC_JWT_TYPES", "ChainValidator", "check_vc_jwt", "decode_vc_jwt"]

#: Every asymmetric JOSE algorithm (``none`` and HMAC never).
VC_JWT_ALGS: frozenset[str] = ASYMMETRIC_ALGS
#: Accepted ``typ`` values (compared case-insensitively; absent is accepted too).
VC_JWT_TYPES = frozenset({"jwt", "vc+jwt", "vc+ld+jwt", "application/vc+jwt",
                          "application/vc+ld+jwt"})
_THUMBPRINT_URN = "urn:ietf:params:oauth:jwk-thumbprint:sha-256:"


class ChainValidator(Protocol):
    """``wallet.x509.validate_chain``: the leaf certificate of a chain valid to an anchor."""

    def __call__(self, chain_der: Sequence[bytes], anchors: Sequence[x509.Certificate], *,
                 at: datetime, server_name: str | None = None) -> x509.Certificate: ...


@dataclass(frozen=True, slots=True)
class _Key:
    key: PublicKey | None
    source: str | None
    jwk: dict[str, Any] | None = None
    cert_der: bytes | None = None
    verdict: SignatureState | None = None  # set when no key could be used
    problem: str | None = None


def _datetime(value: Any, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidCredential(f"JWT claim {name} must be a number")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise InvalidCredential(f"JWT claim {name} is out of range") from exc


def decode_vc_jwt(raw: str) -> tuple[JwsParts, dict[str, Any], dict[str, Any]]:
    """Parse (not verify): the JWS parts, the JWT claims and the credential document.

    For VCDM 1.1 the ``vc`` object gets the registered claims mapped in where it lacks them.
    """
    if not isinstance(raw, str):
        raise InvalidCredential("VC-JWT must be text")
    try:
        parts = parse_compact(raw.strip())
        claims = parts.claims()
    except (InvalidJws, RecursionError) as exc:  # RecursionError: absurdly nested JSON
        raise InvalidCredential("not a compact JWT") from exc
    check_shape(claims, PARSE_LIMITS)
    typ = parts.header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in VC_JWT_TYPES):
        raise UnsupportedFormat("JWT typ is not a VC-JWT type")
    if isinstance(claims.get("vc"), Mapping):
        doc = dict(claims["vc"])
        if claims.get("iss") is not None and "issuer" not in doc:
            doc["issuer"] = claims["iss"]
        nbf = _datetime(claims.get("nbf"), "nbf")
        if nbf is not None and "issuanceDate" not in doc and "validFrom" not in doc:
            doc["issuanceDate"] = iso(nbf, timespec="seconds")
        exp = _datetime(claims.get("exp"), "exp")
        if exp is not None and "expirationDate" not in doc and "validUntil" not in doc:
            doc["expirationDate"] = iso(exp, timespec="seconds")
        if isinstance(claims.get("jti"), str) and "id" not in doc:
            doc["id"] = claims["jti"]
        subject = doc.get("credentialSubject")
        if isinstance(claims.get("sub"), str) and isinstance(subject, Mapping) \
                and "id" not in subject:
            doc["credentialSubject"] = {**subject, "id": claims["sub"]}
    elif "@context" in claims:
        doc = dict(claims)
    else:
        raise UnsupportedFormat("JWT holds no W3C credential (no vc claim, no @context)")
    return parts, claims, doc


def _leaf_key(cert: x509.Certificate) -> PublicKey | None:
    key = cert.public_key()
    return key if isinstance(
        key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey) else None


def _x5c_key(header: Mapping[str, Any], anchors: Sequence[x509.Certificate], now: datetime,
             validator: ChainValidator, issuer: str) -> _Key:
    chain = header["x5c"]
    if not isinstance(chain, list) or not 1 <= len(chain) <= 10 or not all(
            isinstance(c, str) for c in chain):
        return _Key(None, "x5c", verdict="invalid", problem="x5c_malformed")
    try:
        ders = [base64.b64decode(c, validate=True) for c in chain]
    except (binascii.Error, ValueError):
        return _Key(None, "x5c", verdict="invalid", problem="x5c_malformed")
    if not anchors:
        return _Key(None, "x5c", cert_der=ders[0], verdict="no_key", problem="x5c_no_anchors")
    try:
        leaf = validator(ders, anchors, at=now)
    except SatchelError:
        return _Key(None, "x5c", cert_der=ders[0], verdict="no_key",
                    problem="x5c_chain_untrusted")
    if not leaf_names_issuer(leaf, issuer):
        # a certificate under a trusted anchor may only sign as the issuer it names
        return _Key(None, "x5c", cert_der=ders[0], verdict="invalid", problem="x5c_not_issuer")
    key = _leaf_key(leaf)
    if key is None:
        return _Key(None, "x5c", verdict="invalid", problem="x5c_key_unsupported")
    return _Key(key, "x5c", public_jwk(key), leaf.public_bytes(Encoding.DER))


async def _did_key(did_url: str, issuer: str, fetcher: Fetcher | None) -> _Key:
    if did_of(did_url) != issuer:
        return _Key(None, None, verdict="invalid", problem="kid_not_issuer")
    try:
        resolved = await resolve_key(did_url, fetcher)
    except (DidError, DidResolutionFailed, VerificationMethodNotFound):
        return _Key(None, None, verdict="no_key", problem="did_unresolvable")
    return _Key(resolved.key, resolved.source, resolved.jwk)


def _jwks_key(jwks: Mapping[str, Any], kid: Any) -> _Key:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return _Key(None, None, verdict="no_key", problem="issuer_jwks_malformed")
    candidates = [k for k in keys if isinstance(k, Mapping)
                  and (kid is None or k.get("kid") == kid)]
    if len(candidates) != 1:
        return _Key(None, None, verdict="no_key", problem="issuer_key_not_found")
    try:
        key = public_key_from_jwk(candidates[0])
        jwk = public_jwk(key)
        if isinstance(kid, str) and kid.startswith(_THUMBPRINT_URN) \
                and kid[len(_THUMBPRINT_URN):] != jwk_thumbprint(jwk):
            return _Key(None, None, verdict="invalid", problem="kid_thumbprint_mismatch")
    except BadInput:
        return _Key(None, None, verdict="no_key", problem="issuer_key_unusable")
    return _Key(key, "issuer_jwks", jwk)


async def _find_key(header: Mapping[str, Any], issuer: str, *, now: datetime,
                    fetcher: Fetcher | None, anchors: Sequence[x509.Certificate],
                    issuer_jwks: Mapping[str, Any] | None,
                    validator: ChainValidator) -> _Key:
    kid = header.get("kid")
    if isinstance(kid, str) and kid.startswith("did:"):
        return await _did_key(kid, issuer, fetcher)
    if issuer.startswith("did:") and (kid is None or (isinstance(kid, str)
                                                      and kid.startswith("#"))):
        return await _did_key(issuer + (kid or ""), issuer, fetcher)
    if "x5c" in header:
        return _x5c_key(header, anchors, now, validator, issuer)
    if issuer_jwks is not None:
        return _jwks_key(issuer_jwks, kid)
    if isinstance(header.get("jwk"), Mapping):
        try:
            key = public_key_from_jwk(header["jwk"])
        except BadInput:
            return _Key(None, "header_jwk", verdict="invalid", problem="header_jwk_invalid")
        if "d" in header["jwk"]:
            return _Key(None, "header_jwk", verdict="invalid", problem="header_jwk_private")
        return _Key(key, "header_jwk", public_jwk(key))
    return _Key(None, None, verdict="no_key", problem="no_issuer_key")


def _holder_jwk(claims: Mapping[str, Any], doc: Mapping[str, Any]) -> dict[str, Any] | None:
    for source in (claims, doc):
        cnf = source.get("cnf")
        if isinstance(cnf, Mapping) and isinstance(cnf.get("jwk"), Mapping):
            return dict(cnf["jwk"])
    sub = claims.get("sub")
    if isinstance(sub, str) and sub.startswith(("did:key:", "did:jwk:")):
        try:
            return resolve_key_offline(sub).jwk
        except (DidError, VerificationMethodNotFound):
            return None
    return None


async def check_vc_jwt(
    raw: str,
    *,
    now: datetime,
    fetcher: Fetcher | None = None,
    x5c_anchors: Sequence[x509.Certificate] = (),
    issuer_jwks: Mapping[str, Any] | None = None,
    allowed_algs: Collection[str] = VC_JWT_ALGS,
    validate_chain: ChainValidator | None = None,
) -> CheckedCredential:
    """Parse and verify a W3C VC-JWT (``jwt_vc_json``); see the module docstring.

    ``issuer_jwks`` are keys the caller already trusts for this issuer (a JWKS object);
    ``validate_chain`` defaults to ``wallet.x509.validate_chain``.
    """
    now = utc_now(now)
    parts, claims, doc = decode_vc_jwt(raw)
    info = describe_vc(doc, now)
    issuer: str = info["issuer"]
    problems: list[str] = []
    iss = claims.get("iss")
    if iss is not None and iss != issuer:
        if not isinstance(iss, str) or not iss:
            raise InvalidCredential("JWT iss must be a string")
        # VCDM 1.1 §6.3.1: iss *is* the issuer (it names the signing identity); VC-JOSE-COSE
        # payloads are the credential, so there the credential's issuer stands. Either way the
        # disagreement is reported.
        problems.append("vc_issuer_not_iss")
        if "vc" in claims:
            issuer = iss
    nbf, exp = _datetime(claims.get("nbf"), "nbf"), _datetime(claims.get("exp"), "exp")
    iat = _datetime(claims.get("iat"), "iat")
    valid_from = max((d for d in (info["valid_from"], nbf) if d is not None), default=None)
    expires_at = min((d for d in (info["expires_at"], exp) if d is not None), default=None)
    info.update(valid_from=valid_from, expires_at=expires_at,
                issued_at=iat or info["issued_at"], holder_jwk=_holder_jwk(claims, doc))
    info["problems"] = [p for p in info["problems"] if p not in ("expired", "not_yet_valid")]
    info["problems"] += date_problems(valid_from, expires_at, now)

    signature: SignatureState
    alg = parts.header.get("alg")
    found = _Key(None, None)
    if not isinstance(alg, str) or alg not in allowed_algs or alg not in ASYMMETRIC_ALGS:
        signature, problems = "invalid", [*problems, "alg_not_allowed"]
    else:
        found = await _find_key(parts.header, issuer, now=now, fetcher=fetcher,
                                anchors=x5c_anchors, issuer_jwks=issuer_jwks,
                                validator=validate_chain or x509_validate_chain)
        if found.key is None:
            signature = found.verdict or "no_key"
            problems.append(found.problem or "no_issuer_key")
        else:
            key = found.key
            def resolver(_header: Mapping[str, Any], key: PublicKey = key) -> PublicKey:
                return key
            if found.source == "header_jwk":
                # the token chose its own key: a valid signature says nothing about the issuer
                problems.append(ISSUER_KEY_SELF_ASSERTED)
            try:
                verify_compact(parts, resolver, allowed_algs=allowed_algs)
                signature = "valid"
            except InvalidJws as exc:
                signature = "invalid"
                problems.append("crit_not_understood" if "crit" in exc.detail
                                else "signature_mismatch")
    return CheckedCredential(
        format="jwt_vc_json", raw=raw, claims=doc, signature=signature,
        key_source=found.source, issuer_jwk=found.jwk, issuer_cert_der=found.cert_der,
        signer_chains=(SignerChain(found.jwk, carried_chain(parts.header)),),
        issuer=issuer, types=info["types"], title=info["title"], issued_at=info["issued_at"],
        valid_from=info["valid_from"], expires_at=info["expires_at"],
        holder_jwk=info["holder_jwk"], status=info["status"],
        problems=tuple(dict.fromkeys([*problems, *info["problems"]])),
    )

