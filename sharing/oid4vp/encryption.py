"""Encrypted authorization responses for ``direct_post.jwt`` (OpenID4VP 1.0 §8.3, §8.3.1).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-encrypted-responses

The response is an unsigned, encrypted JWT (a JWE, compact serialization) whose payload holds the
response parameters as top-level members. The key comes from ``client_metadata.jwks``: a key whose
``use`` is absent or ``enc``, with an ``alg`` we support (the JWE ``alg`` MUST equal it) and its
``kid`` copied into the JWE header. ``enc`` is the first value of
``encrypted_response_enc_values_supported`` we support, ``A128GCM`` when the verifier names none.

The JWE itself is built by joserfc, a maintained JOSE library; only the choice of key and
algorithms is ours. The key is chosen when the request is validated, so a request we could not
answer encrypted fails before the learner is asked anything.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import import_key

from sharing.oid4vp.errors import InvalidRequest
from sharing.oid4vp.metadata import ClientMetadata

__all__ = [
    "DEFAULT_ENC",
    "KEY_ALGS",
    "CONTENT_ENCS",
    "ResponseEncryption",
    "encrypt_response",
    "select_response_encryption",
]

DEFAULT_ENC = "A128GCM"
#: Key management algorithms we encrypt with, and the key types each needs.
KEY_ALGS: Mapping[str, frozenset[str]] = MappingProxyType({
    "ECDH-ES": frozenset({"EC", "OKP"}),
    "ECDH-ES+A128KW": frozenset({"EC", "OKP"}),
    "ECDH-ES+A256KW": frozenset({"EC", "OKP"}),
    "RSA-OAEP-256": frozenset({"RSA"}),
})
CONTENT_ENCS = frozenset({"A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"})
_PUBLIC_MEMBERS = {"EC": ("kty", "crv", "x", "y"), "OKP": ("kty", "crv", "x"),
                   "RSA": ("kty", "n", "e")}
_CURVES = {"EC": {"P-256", "P-384", "P-521"}, "OKP": {"X25519", "X448"}}


@dataclass(frozen=True, slots=True)
class ResponseEncryption:
    """The verifier key and algorithms the response will be encrypted with."""

    jwk: Mapping[str, Any] = field(compare=False, hash=False)  # public members only
    alg: str = "ECDH-ES"
    enc: str = DEFAULT_ENC
    kid: str | None = None


def _usable(key: Mapping[str, Any]) -> ResponseEncryption | None:
    if key.get("use") not in (None, "enc"):
        return None
    alg, kty = key.get("alg"), key.get("kty")
    if not isinstance(alg, str) or not isinstance(kty, str) or kty not in KEY_ALGS.get(alg, ()):
        return None
    if kty in _CURVES and key.get("crv") not in _CURVES[kty]:
        return None
    public = {m: key[m] for m in _PUBLIC_MEMBERS[kty] if m in key}
    if len(public) != len(_PUBLIC_MEMBERS[kty]):
        return None
    try:
        import_key(public)
    except (JoseError, ValueError, TypeError):
        return None
    kid = key.get("kid")
    return ResponseEncryption(MappingProxyType(public), alg, DEFAULT_ENC,
                              kid if isinstance(kid, str) else None)


def select_response_encryption(metadata: ClientMetadata) -> ResponseEncryption:
    """Pick the first usable key of ``metadata.jwks`` and the ``enc`` (§8.3)."""
    wanted = metadata.encrypted_response_enc_values_supported or (DEFAULT_ENC,)
    enc = next((e for e in wanted if e in CONTENT_ENCS), None)
    if enc is None:
        raise InvalidRequest("no supported content encryption in "
                             "encrypted_response_enc_values_supported")
    for key in metadata.jwks:
        choice = _usable(key)
        if choice is not None:
            return ResponseEncryption(choice.jwk, choice.alg, enc, choice.kid)
    raise InvalidRequest("direct_post.jwt needs an encryption key with a supported alg in "
                         "client_metadata.jwks")


def encrypt_response(payload: Mapping[str, Any], encryption: ResponseEncryption) -> str:
    """The compact JWE of ``payload`` (the response parameters as top-level JSON members)."""
    header: dict[str, Any] = {"alg": encryption.alg, "enc": encryption.enc}
    if encryption.kid is not None:
        header["kid"] = encryption.kid
    key = import_key(dict(encryption.jwk))
    plaintext = json.dumps(dict(payload), separators=(",", ":"), ensure_ascii=False).encode()
    return jwe.encrypt_compact(header, plaintext, key,
                               algorithms=[encryption.alg, encryption.enc])
