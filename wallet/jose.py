"""Compact JWS for Satchel: RFC 7515 (JWS), RFC 7517 (JWK), RFC 7518 (JWA), RFC 8037 (OKP).

https://www.rfc-editor.org/rfc/rfc7515

A small, fail-closed core that every format module shares. Signatures use ``cryptography``
directly (docs/architecture.md: ~40 µs per P-256 signature, ten times cheaper than Askar's ``Key``).

Rules it enforces for every caller:
- the algorithm must be in the caller's allowlist, and ``none`` / ``HS*`` never are;
- the key is chosen by the caller (a resolver), never by ``jwk``/``jku``/``x5u`` headers;
- a ``crit`` header naming anything the caller did not declare understood is rejected;
- the key type must match the algorithm (no HS256-with-a-public-key confusion).
Pure: no I/O.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypedDict, TypeGuard

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from pybase64 import b64decode as _simd_b64decode

from wallet.errors import BadInput, InvalidAlg, InvalidJws, InvalidTyp

__all__ = [
    "ASYMMETRIC_ALGS",
    "InvalidJws",
    "JwsParts",
    "PrivateKey",
    "PublicJwk",
    "PublicKey",
    "alg_for_key",
    "as_public_jwk",
    "b64url_decode",
    "b64url_encode",
    "jwk_thumbprint",
    "parse_compact",
    "private_key_from_jwk",
    "public_jwk",
    "public_key_from_jwk",
    "public_key_from_jwk_cached",
    "sign_compact",
    "sign_raw",
    "verify_compact",
    "verify_raw",
]

PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey


class PublicJwk(TypedDict, total=False):
    """The members of a public JWK Satchel reads or shows (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2).

    ``kty`` always; ``crv``/``x``/``y`` (EC), ``crv``/``x`` (OKP) or ``n``/``e`` (RSA) by key type;
    ``kid``, ``alg`` and ``use`` when known. A private member (``d``...) is never one of them.
    """

    kty: str
    crv: str
    x: str
    y: str
    n: str
    e: str
    kid: str
    alg: str
    use: str


_PUBLIC_MEMBERS = ("kty", "crv", "x", "y", "n", "e", "kid", "alg", "use")
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")


def _is_public_jwk(value: object) -> TypeGuard[PublicJwk]:
    return (isinstance(value, dict) and isinstance(value.get("kty"), str)
            and all(isinstance(value.get(m, ""), str) for m in _PUBLIC_MEMBERS)
            and not any(m in value for m in _PRIVATE_MEMBERS))


def as_public_jwk(value: object) -> PublicJwk:
    """``value`` itself, typed, when it is a public JWK: an object with a ``kty``, every
    :class:`PublicJwk` member it has a string (RFC 7517 §4, RFC 7518 §6) and no private member
    (RFC 7518 §6.2.2, §6.3.2, §6.4); other members are kept as they are. :class:`BadInput`
    otherwise."""
    if not _is_public_jwk(value):
        raise BadInput("not a public JWK")
    return value


#: Every asymmetric algorithm Satchel can verify. Callers pass a narrower allowlist per use.
ASYMMETRIC_ALGS: frozenset[str] = frozenset(
    {"ES256", "ES384", "ES512", "EdDSA", "Ed25519", "RS256", "RS384", "RS512", "PS256", "PS384",
     "PS512"}
)

_EC_CURVES: dict[str, tuple[type[ec.EllipticCurve], int, str]] = {
    "P-256": (ec.SECP256R1, 32, "ES256"),
    "P-384": (ec.SECP384R1, 48, "ES384"),
    "P-521": (ec.SECP521R1, 66, "ES512"),
}
_EC_ALG_CURVE = {"ES256": "secp256r1", "ES384": "secp384r1", "ES512": "secp521r1"}
_ALG_BY_CURVE_NAME = {curve: alg for alg, curve in _EC_ALG_CURVE.items()}
_EC_SIZE = {"ES256": 32, "ES384": 48, "ES512": 66}  # bytes per r and s
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "256": hashes.SHA256, "384": hashes.SHA384, "512": hashes.SHA512,
}
#: ECDSA parameter objects are immutable: built once, not per signature.
_ECDSA = {alg: ec.ECDSA(_HASHES[alg[2:]]()) for alg in _EC_ALG_CURVE}


_URL_TO_STD = bytes.maketrans(b"-_", b"+/")
_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
#: Padding that makes an unpadded base64 string whole, by its length modulo 4 (1 is never valid
#: and gets three, which the strict decoder refuses).
_PAD = (b"", b"===", b"==", b"=")
#: From this length on, pybase64's SIMD decoder (same strict rules: alphabet, padding) is faster
#: than ``binascii`` (5x on a JWT payload of a few kilobytes); below it, its call costs more.
_SIMD_FROM = 256


def b64url_encode(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_STD_TO_URL).rstrip(b"=").decode()


def b64url_decode(data: object) -> bytes:
    """Strict base64url without padding (RFC 7515 §2); raises :class:`BadInput`.

    Only ``A-Z a-z 0-9 - _`` are accepted: ``+``, ``/`` and ``=`` are refused here, anything else
    (whitespace, other characters) by the strict decoder.
    """
    if not isinstance(data, str) or "=" in data or "+" in data or "/" in data:
        raise BadInput("value is not unpadded base64url")
    try:
        raw = data.encode("ascii")
        if len(raw) >= _SIMD_FROM:
            return _simd_b64decode(raw + _PAD[len(raw) & 3], altchars=b"-_", validate=True)
        return binascii.a2b_base64(raw.translate(_URL_TO_STD) + _PAD[len(raw) & 3], strict_mode=True)
    except (binascii.Error, ValueError) as exc:  # UnicodeEncodeError is a ValueError
        raise BadInput("value is not base64url") from exc


def _int_b64(n: int, size: int) -> str:
    return b64url_encode(n.to_bytes(size, "big"))


def _b64_int(s: object) -> int:
    if not isinstance(s, str):
        raise BadInput("JWK member must be a base64url string")
    return int.from_bytes(b64url_decode(s), "big")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> PublicKey:
    """A public key from a JWK; private members, if present, are ignored."""
    if not isinstance(jwk, Mapping):
        raise BadInput("JWK must be an object")
    kty = jwk.get("kty")
    try:
        if kty == "EC":
            crv = _EC_CURVES.get(str(jwk.get("crv")))
            if crv is None:
                raise BadInput("unsupported EC curve")
            curve_cls, size, _ = crv
            x, y = b64url_decode(jwk.get("x")), b64url_decode(jwk.get("y"))
            if len(x) != size or len(y) != size:
                raise BadInput("EC coordinates have the wrong length")
            return ec.EllipticCurvePublicNumbers(
                int.from_bytes(x, "big"), int.from_bytes(y, "big"), curve_cls()
            ).public_key()
        if kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise BadInput("unsupported OKP curve")
            raw = b64url_decode(jwk.get("x"))
            return ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if kty == "RSA":
            n, e = _b64_int(jwk.get("n")), _b64_int(jwk.get("e"))
            if n.bit_length() < 2048:
                raise BadInput("RSA keys below 2048 bits are refused")
            return rsa.RSAPublicNumbers(e, n).public_key()
    except BadInput:
        raise
    except (ValueError, TypeError) as exc:
        raise BadInput("JWK does not describe a valid public key") from exc
    raise BadInput("unsupported JWK key type")


_KEY_MEMBERS = ("kty", "crv", "x", "y", "n", "e")
_CACHEABLE = frozenset({str, type(None)})


@lru_cache(maxsize=128)
def _cached_public_key(members: tuple[object, ...]) -> PublicKey:
    return public_key_from_jwk(dict(zip(_KEY_MEMBERS, members, strict=True)))


def public_key_from_jwk_cached(jwk: Mapping[str, Any]) -> PublicKey:
    """:func:`public_key_from_jwk` behind a bounded LRU cache (128 keys).

    Building a key object (point decoding and on-curve check) costs as much as the rest of an
    SD-JWT verification, and a wallet sees the same few holder and issuer keys again and again.
    The cache key is the members that define the public key (``kty crv x y n e``), so ``kid``,
    ``use`` or private members never split or poison an entry; key objects are immutable. A JWK
    whose members are not all strings (or absent) is not cached, only checked.
    """
    if not isinstance(jwk, Mapping):
        raise BadInput("JWK must be an object")
    members = tuple(map(jwk.get, _KEY_MEMBERS))
    if not _CACHEABLE.issuperset(map(type, members)):
        return public_key_from_jwk(jwk)
    return _cached_public_key(members)


def private_key_from_jwk(jwk: Mapping[str, Any]) -> PrivateKey:
    """A private key from a JWK carrying ``d`` (EC P-curves and Ed25519)."""
    pub = public_key_from_jwk(jwk)
    d = jwk.get("d")
    if not isinstance(d, str):
        raise BadInput("JWK has no private part")
    if isinstance(pub, ec.EllipticCurvePublicKey):
        return ec.EllipticCurvePrivateNumbers(_b64_int(d), pub.public_numbers()).private_key()
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return ed25519.Ed25519PrivateKey.from_private_bytes(b64url_decode(d))
    raise BadInput("unsupported private JWK")


def public_jwk(key: PublicKey | PrivateKey) -> dict[str, str]:
    """The public JWK of a key, members in RFC 7638 order (no ``kid``/``alg``)."""
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, ec.EllipticCurvePublicKey):
        for name, (curve_cls, size, _) in _EC_CURVES.items():
            if isinstance(pub.curve, curve_cls):
                nums = pub.public_numbers()
                return {"crv": name, "kty": "EC", "x": _int_b64(nums.x, size),
                        "y": _int_b64(nums.y, size)}
        raise BadInput("unsupported EC curve")
    if isinstance(pub, ed25519.Ed25519PublicKey):
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        raw = pub.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return {"crv": "Ed25519", "kty": "OKP", "x": b64url_encode(raw)}
    if isinstance(pub, rsa.RSAPublicKey):
        rsa_nums = pub.public_numbers()
        e, n = rsa_nums.e, rsa_nums.n
        return {"e": b64url_encode(e.to_bytes((e.bit_length() + 7) // 8, "big")),
                "kty": "RSA",
                "n": b64url_encode(n.to_bytes((n.bit_length() + 7) // 8, "big"))}
    raise BadInput("unsupported key type")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url."""
    required = {"EC": ("crv", "kty", "x", "y"), "OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}
    members = required.get(str(jwk.get("kty")))
    if members is None:
        raise BadInput("unsupported JWK key type")
    canon = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canon.encode()).digest())


def alg_for_key(key: PublicKey | PrivateKey) -> str:
    """The JOSE algorithm Satchel uses for a key of this type."""
    curve = getattr(key, "curve", None)  # EC keys, private or public: by curve name, no ABC checks
    if curve is not None and isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey):
        alg = _ALG_BY_CURVE_NAME.get(curve.name)
        if alg is not None:
            return alg
    pub = key.public_key() if hasattr(key, "public_key") else key
    if isinstance(pub, ec.EllipticCurvePublicKey):
        for curve_cls, _, alg in _EC_CURVES.values():
            if isinstance(pub.curve, curve_cls):
                return alg
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(pub, rsa.RSAPublicKey):
        return "PS256"
    raise BadInput("unsupported key type")


def sign_raw(alg: str, key: PrivateKey, data: bytes) -> bytes:
    """A JOSE signature (raw ``r||s`` for ECDSA) over ``data``."""
    if alg in _EC_ALG_CURVE and isinstance(key, ec.EllipticCurvePrivateKey):
        if key.curve.name != _EC_ALG_CURVE[alg]:
            raise BadInput("key curve does not match the algorithm")
        r, s = decode_dss_signature(key.sign(data, _ECDSA[alg]))
        size = _EC_SIZE[alg]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    if alg in ("EdDSA", "Ed25519") and isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    if alg.startswith("RS") and isinstance(key, rsa.RSAPrivateKey):
        return key.sign(data, padding.PKCS1v15(), _HASHES[alg[2:]]())
    if alg.startswith("PS") and isinstance(key, rsa.RSAPrivateKey):
        h = _HASHES[alg[2:]]()
        return key.sign(data, padding.PSS(padding.MGF1(h), h.digest_size), h)
    raise BadInput("algorithm does not match the signing key")


def verify_raw(alg: str, key: PublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid ``alg`` signature by ``key``; never raises on bad input."""
    try:
        if alg in _EC_ALG_CURVE:
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != _EC_ALG_CURVE[alg]:
                return False
            size = _EC_SIZE[alg]
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            key.verify(encode_dss_signature(r, s), data, _ECDSA[alg])
            return True
        if alg in ("EdDSA", "Ed25519"):
            if not isinstance(key, ed25519.Ed25519PublicKey):
                return False
            key.verify(signature, data)
            return True
        if alg[:2] in ("RS", "PS") and alg[2:] in _HASHES:
            if not isinstance(key, rsa.RSAPublicKey):
                return False
            h = _HASHES[alg[2:]]()
            pad: padding.AsymmetricPadding = (
                padding.PKCS1v15() if alg.startswith("RS")
                else padding.PSS(padding.MGF1(h), padding.PSS.AUTO)
            )
            key.verify(signature, data, pad, h)
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def _json_b64(obj: Mapping[str, Any]) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def sign_compact(header: Mapping[str, Any], payload: Mapping[str, Any] | bytes,
                 key: PrivateKey) -> str:
    """A compact JWS. ``header['alg']`` defaults to :func:`alg_for_key`."""
    hdr = dict(header)
    hdr.setdefault("alg", alg_for_key(key))
    body = payload if isinstance(payload, bytes) else json.dumps(
        payload, separators=(",", ":")).encode()
    signing_input = f"{_json_b64(hdr)}.{b64url_encode(body)}".encode("ascii")
    sig = sign_raw(str(hdr["alg"]), key, signing_input)
    return signing_input.decode("ascii") + "." + b64url_encode(sig)


@dataclass(frozen=True, slots=True)
class JwsParts:
    """A parsed, *unverified* compact JWS."""

    header: dict[str, Any]
    payload: bytes
    signing_input: bytes
    signature: bytes

    def claims(self) -> dict[str, Any]:
        try:  # UTF-8 (RFC 7519 §7.2), decoded first: json.loads(bytes) would guess the encoding
            obj = json.loads(self.payload.decode("utf-8"))
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:
            raise InvalidJws("JWS payload is not JSON") from exc
        if not isinstance(obj, dict):
            raise InvalidJws("JWS payload is not a JSON object")
        return obj


def _decode_json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(b64url_decode(segment).decode("utf-8"))
    except (BadInput, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidJws(f"{what} is not base64url JSON") from exc
    if not isinstance(obj, dict):
        raise InvalidJws(f"{what} is not a JSON object")
    return obj


def parse_compact(token: str, *, max_length: int = 1 << 20) -> JwsParts:
    """Split a compact JWS into its parts without trusting anything in it."""
    if not isinstance(token, str) or len(token) > max_length:
        raise InvalidJws("JWS must be a string of bounded length")
    parts = token.split(".")
    if len(parts) != 3:
        raise InvalidJws("compact JWS must have three parts")
    header = _decode_json_object(parts[0], "JWS header")
    try:
        payload = b64url_decode(parts[1])
        signature = b64url_decode(parts[2])
    except BadInput as exc:
        raise InvalidJws("JWS payload or signature is not base64url") from exc
    return JwsParts(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def verify_compact(
    token: str | JwsParts,
    resolve_key: Callable[[Mapping[str, Any]], PublicKey],
    *,
    allowed_algs: Collection[str],
    expected_typ: Collection[str] | None = None,
    understood_crit: Collection[str] = (),
) -> JwsParts:
    """Verify a compact JWS; return its parts. Fail-closed: every check must pass.

    ``resolve_key`` gets the (untrusted) header and returns the key the *caller* trusts for it;
    it raises a :class:`~wallet.errors.SatchelError` when there is none.
    """
    parts = token if isinstance(token, JwsParts) else parse_compact(token)
    alg = parts.header.get("alg")
    if not isinstance(alg, str) or alg not in ASYMMETRIC_ALGS or alg not in allowed_algs:
        raise InvalidAlg("JWS algorithm is not allowed here")
    typ = parts.header.get("typ")
    if expected_typ is not None and (not isinstance(typ, str | None) or typ not in expected_typ):
        raise InvalidTyp("JWS typ is not the expected one")
    crit = parts.header.get("crit")
    if crit is not None:
        if not isinstance(crit, list) or not crit or not all(isinstance(c, str) for c in crit):
            raise InvalidJws("JWS crit must be a non-empty list of names")
        if any(c not in understood_crit or c not in parts.header for c in crit):
            raise InvalidJws("JWS carries a critical header Satchel does not understand")
    key = resolve_key(parts.header)
    if not verify_raw(alg, key, parts.signing_input, parts.signature):
        raise InvalidJws("JWS signature does not verify")
    return parts
