"""Verifying an SD-JWT and recovering its claims (RFC 9901 §7.1, §7.3).

https://www.rfc-editor.org/rfc/rfc9901#section-7.1

Steps: the Issuer-signed JWT's signature with a key the *caller* established (allowlisted ``alg``,
never ``none``/``HS*``, unknown ``crit`` refused — :func:`wallet.jose.verify_compact`); ``_sd_alg``
at the top level only (§4.1.1); every digest, in ``_sd`` arrays and ``{"...": digest}`` array
elements, replaced by its Disclosure, recursively (§4.2.6); digests without a Disclosure are decoys
and are ignored, undisclosed array elements dropped; a digest seen twice, a name that already exists
at its level, a Disclosure in the wrong kind of place and a Disclosure no digest refers to are
rejected (§7.1 steps 3-5); ``exp``/``nbf``/``iat`` checked with a small clock skew.

The result keeps, for every Disclosure, the claim path it reveals (a DCQL-style tuple of keys and
indices into the processed claims) and the digests of the Disclosures that contain it, so the
learner can choose by path and the presenter can add the parents a recursive Disclosure needs.
Pure: no I/O.
"""

from __future__ import annotations

import binascii
import hashlib
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from wallet.formats.sd_jwt.errors import (
    ClaimNameCollision,
    DuplicateDigest,
    DuplicateDisclosure,
    Expired,
    InvalidIssuerJwt,
    InvalidSdPayload,
    InvalidTimeClaim,
    MalformedSdJwt,
    MisplacedDisclosure,
    NotYetValid,
    UnreferencedDisclosure,
    UnsupportedHashAlgorithm,
)
from wallet.formats.sd_jwt.parse import Disclosure, UnverifiedSdJwt
from wallet.jose import InvalidJws, PublicKey, b64url_encode, verify_compact
from wallet.numbers import finite_number

__all__ = [
    "DEFAULT_ALGS",
    "DEFAULT_CLOCK_SKEW",
    "HASH_ALGORITHMS",
    "DisclosedClaim",
    "IssuerKeyResolver",
    "Path",
    "VerifiedSdJwt",
    "check_time_claims",
    "digest",
    "process_payload",
    "static_key",
    "verify_sd_jwt",
]

#: Issuer JWS algorithms accepted by default (asymmetric only; never ``none`` or ``HS*``).
DEFAULT_ALGS: frozenset[str] = frozenset(
    {"ES256", "ES384", "ES512", "EdDSA", "Ed25519", "PS256", "PS384", "PS512", "RS256"}
)
DEFAULT_CLOCK_SKEW = timedelta(seconds=60)
#: IANA "Named Information Hash Algorithm" names allowed in ``_sd_alg`` (RFC 9901 §4.1.1).
HASH_ALGORITHMS: dict[str, Callable[[bytes], Any]] = {
    "sha-256": hashlib.sha256, "sha-384": hashlib.sha384, "sha-512": hashlib.sha512,
}

#: A claim path into the processed claims: object keys and array indices (as DCQL uses them).
Path = tuple[str | int, ...]
#: Gets the (untrusted) JOSE header and payload; returns the key the caller trusts for them, or
#: raises a :class:`~wallet.errors.SatchelError`.
IssuerKeyResolver = Callable[[Mapping[str, Any], Mapping[str, Any]], PublicKey]


def static_key(key: PublicKey) -> IssuerKeyResolver:
    """A resolver for an issuer key the caller already established."""
    return lambda _header, _payload: key


def digest(hash_alg: str, encoded: str) -> str:
    """base64url(hash(ASCII(encoded))) — the digest of a Disclosure (§4.2.3) or ``sd_hash``."""
    return b64url_encode(HASH_ALGORITHMS[hash_alg](encoded.encode("ascii")).digest())


class DisclosedClaim(NamedTuple):
    """A Disclosure as found in the payload: what it reveals and what it depends on."""

    disclosure: Disclosure
    digest: str
    path: Path  # where it lands in the processed claims
    parents: tuple[str, ...]  # digests of the Disclosures containing it, outermost first


@dataclass(frozen=True, slots=True)
class VerifiedSdJwt:
    """An SD-JWT whose signature and Disclosures verified (RFC 9901 §7.1)."""

    unverified: UnverifiedSdJwt
    header: dict[str, Any]  # the Issuer-signed JWT's protected header
    payload: dict[str, Any]  # the Issuer-signed JWT payload, as signed (digests and all)
    claims: dict[str, Any]  # processed: Disclosures applied, ``_sd``/``_sd_alg`` removed
    hash_alg: str
    disclosures: tuple[DisclosedClaim, ...]  # in the order received

    @property
    def jwt(self) -> str:
        return self.unverified.jwt

    @property
    def kb_jwt(self) -> str | None:
        return self.unverified.kb_jwt

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every claim path that a Disclosure reveals (what the learner may withhold)."""
        return tuple(d.path for d in self.disclosures)

    @property
    def holder_jwk(self) -> dict[str, Any] | None:
        """``cnf.jwk`` (RFC 7800), the key a KB-JWT must be signed with, when there is one."""
        cnf = self.claims.get("cnf")
        jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
        return jwk if isinstance(jwk, dict) else None


_new_tuple = tuple.__new__
_ONLY_STR = frozenset({str})
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")


def _digests(hash_alg: str, disclosures: tuple[Disclosure, ...]) -> list[str]:
    """:func:`digest` of every Disclosure, with one base64 encoding for all of them.

    Each hash is followed by the zero bytes that round it up to a multiple of 3, so the encoding of
    the concatenation is the concatenation of the encodings; the zero bits only fill the unpadded
    encoding's last character exactly as unpadded base64url does (RFC 7515 §2), and the characters
    they add beyond it are cut off.
    """
    hash_fn = HASH_ALGORITHMS[hash_alg]
    hashes = [hash_fn(d.encoded.encode()).digest() for d in disclosures]
    if not hashes:
        return []
    size = len(hashes[0])
    fill = b"\0" * (-size % 3)
    width, used = (size + len(fill)) * 4 // 3, (size * 4 + 2) // 3
    text = binascii.b2a_base64(fill.join(hashes) + fill, newline=False).translate(_STD_TO_URL)
    encoded = text.decode()
    return [encoded[i:i + used] for i in range(0, len(encoded), width)]


class _Processor:
    """One pass over the payload, replacing digests by Disclosures (§7.1 step 3).

    Hot loop of verification: scalars are copied without building their paths; ``found[i]`` is the
    record of the ``i``-th Disclosure received, so records come out in the order received.
    """

    __slots__ = ("by_digest", "disclosures", "found", "seen")

    def __init__(self, by_digest: dict[str, int], disclosures: tuple[Disclosure, ...]) -> None:
        self.by_digest = by_digest
        self.disclosures = disclosures
        self.seen: set[str] = set()
        self.found: list[DisclosedClaim | None] = [None] * len(disclosures)

    def _lookup(self, dig: Any) -> int | None:
        if type(dig) is not str:
            raise InvalidSdPayload("digests must be strings")
        if dig in self.seen:
            raise DuplicateDigest("a digest occurs more than once")
        self.seen.add(dig)
        return self.by_digest.get(dig)

    def value(self, node: Any, path: Path, parents: tuple[str, ...]) -> Any:
        kind = type(node)
        if kind is dict:
            return self.obj(node, path, parents)
        if kind is list:
            return self.array(node, path, parents)
        return node

    def obj(self, node: dict[str, Any], path: Path, parents: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, val in node.items():
            kind = type(val)
            if key == "_sd" or key == "_sd_alg":
                if key == "_sd_alg" and path:
                    raise InvalidSdPayload("_sd_alg is allowed at the top level only")
            elif kind is dict:
                out[key] = self.obj(val, (*path, key), parents)
            elif kind is list:
                out[key] = self.array(val, (*path, key), parents)
            else:
                out[key] = val
        sd = node.get("_sd")
        if sd is None:
            return out
        if type(sd) is not list:
            raise InvalidSdPayload("_sd must be an array of digests")
        seen = self.seen
        before = len(seen)
        try:
            seen.update(sd)
        except TypeError as exc:  # unhashable: an object or array where a digest belongs
            raise InvalidSdPayload("digests must be strings") from exc
        if len(seen) != before + len(sd):
            raise DuplicateDigest("a digest occurs more than once")
        if not _ONLY_STR.issuperset(map(type, sd)):
            raise InvalidSdPayload("digests must be strings")
        by_digest, disclosures, found = self.by_digest, self.disclosures, self.found
        for dig in filter(by_digest.__contains__, sd):  # the others: decoys, or not disclosed
            index = by_digest[dig]
            disclosure = disclosures[index]
            _, _, name, val = disclosure
            if name is None:
                raise MisplacedDisclosure("an array-element disclosure is referenced from _sd")
            if name in out or name in node:
                raise ClaimNameCollision("a disclosed claim name already exists at its level")
            sub = (*path, name)
            found[index] = _new_tuple(DisclosedClaim, (disclosure, dig, sub, parents))
            kind = type(val)
            if kind is dict:
                out[name] = self.obj(val, sub, (*parents, dig))
            elif kind is list:
                out[name] = self.array(val, sub, (*parents, dig))
            else:
                out[name] = val
        return out

    def array(self, node: list[Any], path: Path, parents: tuple[str, ...]) -> list[Any]:
        out: list[Any] = []
        for element in node:
            kind = type(element)
            if kind is dict and len(element) == 1 and "..." in element:
                dig = element["..."]
                index = self._lookup(dig)
                if index is None:
                    continue  # undisclosed or decoy element: dropped (§7.1 step 3.d.ii)
                disclosure = self.disclosures[index]
                if disclosure.name is not None:
                    raise MisplacedDisclosure("an object-property disclosure is in an array")
                sub = (*path, len(out))
                self.found[index] = _new_tuple(DisclosedClaim, (disclosure, dig, sub, parents))
                out.append(self.value(disclosure.value, sub, (*parents, dig)))
            elif kind is dict or kind is list:
                out.append(self.value(element, (*path, len(out)), parents))
            else:
                out.append(element)
        return out


def process_payload(
    payload: dict[str, Any], disclosures: tuple[Disclosure, ...]
) -> tuple[dict[str, Any], str, tuple[DisclosedClaim, ...]]:
    """Apply ``disclosures`` to a (signature-checked) payload: claims, ``_sd_alg``, records."""
    hash_alg = payload.get("_sd_alg", "sha-256")
    if type(hash_alg) is not str or hash_alg not in HASH_ALGORITHMS:
        raise UnsupportedHashAlgorithm("unsupported _sd_alg")
    digests = _digests(hash_alg, disclosures)
    by_digest = dict(zip(digests, range(len(digests)), strict=True))
    if len(by_digest) != len(digests):
        raise DuplicateDisclosure("a disclosure is sent more than once")
    proc = _Processor(by_digest, disclosures)
    try:
        claims = proc.obj(payload, (), ())
    except RecursionError as exc:
        raise MalformedSdJwt("SD-JWT payload is nested too deeply") from exc
    found = tuple(proc.found)
    if None in found:
        raise UnreferencedDisclosure("a disclosure is not referenced by any digest")
    return claims, hash_alg, found  # type: ignore[return-value]  # no None left


def _numeric(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    number = finite_number(value)  # not a bool, NaN, 1e400 or 10**400
    if number is None:
        raise InvalidTimeClaim(f"{name} must be a finite NumericDate")
    return number


def check_time_claims(
    claims: Mapping[str, Any], *, now: datetime, clock_skew: timedelta = DEFAULT_CLOCK_SKEW
) -> None:
    """``exp`` not passed, ``nbf`` and ``iat`` not in the future, each with ``clock_skew``."""
    ts, skew = now.timestamp(), clock_skew.total_seconds()
    exp, nbf, iat = _numeric(claims, "exp"), _numeric(claims, "nbf"), _numeric(claims, "iat")
    if exp is not None and ts - skew >= exp:
        raise Expired("the credential has expired")
    if nbf is not None and ts + skew < nbf:
        raise NotYetValid("the credential is not valid yet")
    if iat is not None and ts + skew < iat:
        raise NotYetValid("the credential was issued in the future")


def verify_sd_jwt(
    unverified: UnverifiedSdJwt,
    *,
    issuer_key_resolver: IssuerKeyResolver,
    now: datetime,
    allowed_algs: Collection[str] = DEFAULT_ALGS,
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    expected_typ: Collection[str] | None = None,
) -> VerifiedSdJwt:
    """Verify the Issuer-signed JWT and the Disclosures (RFC 9901 §7.1). The KB-JWT, if any, is
    *not* checked here: see :func:`wallet.formats.sd_jwt.verify_key_binding`."""
    payload = unverified.unverified_claims()
    try:
        verify_compact(
            unverified.jws,
            lambda header: issuer_key_resolver(header, payload),
            allowed_algs=allowed_algs,
            expected_typ=expected_typ,
        )
    except InvalidJws as exc:
        raise InvalidIssuerJwt(exc.detail, code=exc.code) from exc
    claims, hash_alg, found = process_payload(payload, unverified.disclosures)
    check_time_claims(claims, now=now, clock_skew=clock_skew)
    return VerifiedSdJwt(unverified, unverified.header, payload, claims, hash_alg, found)
