"""Presenting an SD-JWT with Key Binding, and checking one (RFC 9901 §4.3, §7.2, §7.3).

https://www.rfc-editor.org/rfc/rfc9901#section-7.2

The holder sends only the Disclosures that reveal the chosen claim paths plus the parents that
recursive Disclosures need (§4.2.6): never one twice, never one the issuer did not send. Choosing a
path selects everything beneath it (as a DCQL claims path does). The KB-JWT has ``typ: kb+jwt``
and the claims ``iat``, ``aud``, ``nonce`` and
``sd_hash`` = base64url(hash(``<JWT>~<D1>~...~<Dn>~``)) with the credential's ``_sd_alg`` (§4.3.1),
signed by the key in ``cnf``.

:func:`verify_key_binding` is the verifier's side (§7.3), used for our own tests and share links.
Pure: no I/O.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Collection, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from wallet.errors import BadInput
from wallet.formats.sd_jwt.errors import InvalidKeyBinding, UnknownClaimPath, WrongHolderKey
from wallet.formats.sd_jwt.verify import (
    DEFAULT_ALGS,
    DEFAULT_CLOCK_SKEW,
    VerifiedSdJwt,
    digest,
)
from wallet.jose import (
    ASYMMETRIC_ALGS,
    InvalidJws,
    PrivateKey,
    alg_for_key,
    b64url_encode,
    public_key_from_jwk,
    public_key_from_jwk_cached,
    sign_raw,
    verify_compact,
)

__all__ = [
    "KB_JWT_TYP",
    "build_presentation",
    "select_disclosures",
    "verify_key_binding",
]

KB_JWT_TYP = "kb+jwt"

#: A path as the caller gives it; ``None`` matches every array index (DCQL §7).
_ClaimPath = Sequence[str | int | None]
_STEP_TYPES = frozenset({str, int, type(None)})  # exactly: a bool is not an array index


def _matches(pattern: _ClaimPath, path: tuple[str | int, ...]) -> bool:
    """``pattern`` is a prefix of ``path`` (``None`` matches any index)."""
    if len(pattern) > len(path):
        return False
    for want, have in zip(pattern, path, strict=False):
        if want is None:
            if type(have) is not int:
                return False
        elif want != have or type(want) is not type(have):
            return False
    return True


def _resolve(claims: Any, pattern: _ClaimPath) -> list[Any]:
    """The claim values ``pattern`` selects (``None`` selects every element of an array)."""
    if None not in pattern:  # the common case: one value or none
        node = claims
        for step in pattern:
            if type(step) is str and type(node) is dict and step in node:
                node = node[step]
            elif type(step) is int and type(node) is list and 0 <= step < len(node):
                node = node[step]
            else:
                return []
        return [node]
    nodes = [claims]
    for step in pattern:
        nxt: list[Any] = []
        for node in nodes:
            if step is None and type(node) is list:
                nxt.extend(node)
            elif type(step) is str and type(node) is dict and step in node:
                nxt.append(node[step])
            elif type(step) is int and type(node) is list and 0 <= step < len(node):
                nxt.append(node[step])
        if not nxt:
            return nxt
        nodes = nxt
    return nodes


def _related(pattern: tuple[str | int | None, ...], path: tuple[str | int, ...]) -> bool:
    """``path`` lies beneath ``pattern``, or on the way to it (``None`` matches any index)."""
    return _matches(pattern, path) or _matches(path, pattern)  # type: ignore[arg-type]


def select_disclosures(verified: VerifiedSdJwt, disclose: Iterable[_ClaimPath], *,
                       exact: bool = False) -> list[str]:
    """The encoded Disclosures revealing ``disclose``, with their parents, in issued order.

    ``exact=True`` takes ``disclose`` as the very set of Disclosure paths to send (as a DCQL match
    computes it): those and their parents, *never* anything beneath them. Without it, a path
    selects everything beneath it (a learner choosing a claim for a share link).
    """
    records = verified.disclosures
    if exact:
        paths = {tuple(p) for p in disclose}
        chosen = [rec for rec in records if rec.path in paths]
        if len(chosen) != len(paths):
            raise UnknownClaimPath("a disclosure path is not in the credential")
        keep = {rec.digest for rec in chosen}
        for rec in chosen:
            keep.update(rec.parents)
        return [r.disclosure.encoded for r in records if r.digest in keep]
    by_path = {rec.path: rec for rec in records}
    wanted: set[str] = set()
    for raw_pattern in disclose:
        pattern = tuple(raw_pattern)
        values = _resolve(verified.claims, pattern) if _STEP_TYPES.issuperset(map(type, pattern)) else []
        if not values:
            raise UnknownClaimPath("a requested claim path is not in the credential")
        if None in pattern:  # wildcard: compared with every record
            for rec in records:
                if _related(pattern, rec.path):
                    wanted.add(rec.digest)
                    wanted.update(rec.parents)
            continue
        # on the way to it, itself included: the Disclosures at its prefixes (the parents of each
        # such Disclosure sit at shorter prefixes, so they are found here too)
        for end in range(1, len(pattern) + 1):
            on_the_way = by_path.get(pattern[:end])  # type: ignore[arg-type]
            if on_the_way is not None:
                wanted.add(on_the_way.digest)
        if type(values[0]) is dict or type(values[0]) is list:  # beneath it: a container only
            size = len(pattern)
            for rec in records:
                if len(rec.path) > size and rec.path[:size] == pattern:
                    wanted.add(rec.digest)
                    wanted.update(rec.parents)
    return [r.disclosure.encoded for r in records if r.digest in wanted]


def _is_key_of(jwk: dict[str, Any], key: PrivateKey) -> bool:
    """``jwk`` is the public half of ``key`` (key objects compared; JWK keys come from a cache)."""
    try:
        return public_key_from_jwk_cached(jwk) == key.public_key()
    except BadInput as exc:
        raise WrongHolderKey("the credential's cnf key cannot be compared") from exc


#: The encoded KB-JWT protected header per algorithm (it never changes).
_KB_HEADERS: dict[str, str] = {
    alg: b64url_encode(json.dumps({"alg": alg, "typ": KB_JWT_TYP}, separators=(",", ":")).encode())
    for alg in sorted(ASYMMETRIC_ALGS)
}
_json_str: Callable[[str], str] = json.encoder.encode_basestring_ascii


def build_presentation(
    verified: VerifiedSdJwt,
    disclose: Iterable[_ClaimPath],
    *,
    holder_key: PrivateKey | None,
    aud: str,
    nonce: str,
    iat: int,
    alg: str | None = None,
    exact: bool = False,
) -> str:
    """``<JWT>~<chosen Disclosures>~<KB-JWT>``; without ``holder_key``, no KB-JWT (ends in ``~``).

    ``aud`` is the verifier's full client_id and ``nonce`` the one from its request.
    """
    chosen = select_disclosures(verified, disclose, exact=exact)
    prefix = "~".join([verified.jwt, *chosen]) + "~"
    if holder_key is None:
        return prefix
    if not isinstance(aud, str) or not aud or not isinstance(nonce, str) or not nonce:
        raise BadInput("aud and nonce must be non-empty strings")
    if type(iat) is not int:
        raise BadInput("iat must be an integer")
    bound = verified.holder_jwk
    if bound is not None and not _is_key_of(bound, holder_key):
        raise WrongHolderKey("the holder key is not the credential's cnf key")
    alg = alg or alg_for_key(holder_key)
    header = _KB_HEADERS.get(alg)
    if header is None:
        raise BadInput("algorithm does not match the signing key")
    # the JSON text json.dumps(..., separators=(",", ":")) gives, without building an encoder
    claims = (f'{{"iat":{iat},"aud":{_json_str(aud)},"nonce":{_json_str(nonce)},'
              f'"sd_hash":"{digest(verified.hash_alg, prefix)}"}}')
    signing_input = f"{header}.{b64url_encode(claims.encode())}"
    signature = sign_raw(alg, holder_key, signing_input.encode())
    return f"{prefix}{signing_input}.{b64url_encode(signature)}"


def verify_key_binding(
    verified: VerifiedSdJwt,
    *,
    expected_aud: str,
    expected_nonce: str,
    now: datetime,
    max_age: timedelta = timedelta(minutes=5),
    clock_skew: timedelta = DEFAULT_CLOCK_SKEW,
    allowed_algs: Collection[str] = DEFAULT_ALGS,
) -> dict[str, Any]:
    """Check the KB-JWT of a presented SD-JWT+KB (RFC 9901 §7.3 step 5); return its claims."""
    kb = verified.kb_jwt
    if kb is None:
        raise InvalidKeyBinding("the presentation has no KB-JWT")
    jwk = verified.holder_jwk
    if jwk is None:
        raise InvalidKeyBinding("the credential binds no holder key (cnf.jwk)")
    try:
        key = public_key_from_jwk(jwk)
        parts = verify_compact(kb, lambda _h: key, allowed_algs=allowed_algs,
                               expected_typ={KB_JWT_TYP})
        claims = parts.claims()
    except (BadInput, InvalidJws, RecursionError) as exc:
        raise InvalidKeyBinding("the KB-JWT does not verify") from exc
    if claims.get("aud") != expected_aud or type(claims.get("aud")) is not str:
        raise InvalidKeyBinding("KB-JWT aud is not this verifier")
    if claims.get("nonce") != expected_nonce or type(claims.get("nonce")) is not str:
        raise InvalidKeyBinding("KB-JWT nonce is not the expected one")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise InvalidKeyBinding("KB-JWT iat is missing")
    ts, skew = now.timestamp(), clock_skew.total_seconds()
    if iat > ts + skew or iat < ts - max_age.total_seconds() - skew:
        raise InvalidKeyBinding("KB-JWT iat is outside the acceptable window")
    if claims.get("sd_hash") != digest(verified.hash_alg, verified.unverified.presented_prefix):
        raise InvalidKeyBinding("KB-JWT sd_hash does not match the presentation")
    return claims
