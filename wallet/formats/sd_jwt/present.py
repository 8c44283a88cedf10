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

from collections.abc import Collection, Iterable, Sequence
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
    InvalidJws,
    PrivateKey,
    alg_for_key,
    jwk_thumbprint,
    public_jwk,
    public_key_from_jwk,
    sign_compact,
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


def _exists(claims: Any, pattern: _ClaimPath) -> bool:
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
            return False
        nodes = nxt
    return True


def select_disclosures(verified: VerifiedSdJwt, disclose: Iterable[_ClaimPath]) -> list[str]:
    """The encoded Disclosures revealing ``disclose``, with their parents, in issued order."""
    patterns = [tuple(p) for p in disclose]
    for p in patterns:
        if not all(s is None or type(s) in (str, int) for s in p) or not _exists(
            verified.claims, p
        ):
            raise UnknownClaimPath("a requested claim path is not in the credential")
    wanted: set[str] = set()
    for rec in verified.disclosures:
        path = rec.path
        for p in patterns:
            # beneath the chosen path, or an ancestor the chosen path needs revealed
            if _matches(p, path) or _matches(path, p):  # type: ignore[arg-type]
                wanted.add(rec.digest)
                wanted.update(rec.parents)
                break
    return [r.disclosure.encoded for r in verified.disclosures if r.digest in wanted]


def build_presentation(
    verified: VerifiedSdJwt,
    disclose: Iterable[_ClaimPath],
    *,
    holder_key: PrivateKey | None,
    aud: str,
    nonce: str,
    iat: int,
    alg: str | None = None,
) -> str:
    """``<JWT>~<chosen Disclosures>~<KB-JWT>``; without ``holder_key``, no KB-JWT (ends in ``~``).

    ``aud`` is the verifier's full client_id and ``nonce`` the one from its request.
    """
    chosen = select_disclosures(verified, disclose)
    prefix = "~".join([verified.jwt, *chosen]) + "~"
    if holder_key is None:
        return prefix
    if not isinstance(aud, str) or not aud or not isinstance(nonce, str) or not nonce:
        raise BadInput("aud and nonce must be non-empty strings")
    if type(iat) is not int:
        raise BadInput("iat must be an integer")
    bound = verified.holder_jwk
    if bound is not None:
        try:
            same = jwk_thumbprint(bound) == jwk_thumbprint(public_jwk(holder_key))
        except (BadInput, KeyError) as exc:
            raise WrongHolderKey("the credential's cnf key cannot be compared") from exc
        if not same:
            raise WrongHolderKey("the holder key is not the credential's cnf key")
    header = {"alg": alg or alg_for_key(holder_key), "typ": KB_JWT_TYP}
    claims = {"iat": iat, "aud": aud, "nonce": nonce,
              "sd_hash": digest(verified.hash_alg, prefix)}
    return prefix + sign_compact(header, claims, holder_key)


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
