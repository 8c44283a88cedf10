"""Credential Request/Response encryption (OpenID4VCI 1.0 §10, §8.2, §12.2.4).

https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html#section-10

Requests: the JSON request becomes a compact JWE (``application/jwt``) to one of the issuer's
``credential_request_encryption.jwks`` keys; the JWE ``alg`` equals the key's ``alg`` and its
``kid`` is copied into the header (§10). §8.2 makes this mandatory whenever the request carries
``credential_response_encryption`` (so an attacker cannot substitute the response key).

When the issuer requires it (metadata ``credential_response_encryption.encryption_required``) the
wallet sends a fresh ephemeral public key per request and receives the response as a compact JWE
(``application/jwt``). JWE processing uses ``joserfc``: the algorithm set is pinned to the one
``alg``/``enc`` pair we asked for, ciphertext size is bounded, and compression (``zip``) is refused
because we never ask for it — an issuer cannot make us inflate a bomb. Pure: no I/O.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwe
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, OKPKey, import_key

from wallet.jsontext import parse_json_object
from wallet.oid4vci.errors import InvalidCredentialResponse, InvalidEncryptionParameters
from wallet.oid4vci.metadata import RequestEncryption, ResponseEncryption

__all__ = ["EphemeralEncryptionKey", "encrypt_request", "new_response_encryption"]

#: Key-agreement algorithms Satchel can decrypt (ECDH-ES family on P-256), preferred first.
SUPPORTED_ALGS = ("ECDH-ES", "ECDH-ES+A256KW", "ECDH-ES+A128KW")
SUPPORTED_ENCS = ("A256GCM", "A128GCM", "A192GCM", "A128CBC-HS256", "A256CBC-HS512")
#: Largest JWE accepted (base64url characters).
MAX_JWE = 2 * 1024 * 1024


class _Registry(jwe.JWERegistry):
    max_ciphertext_length = MAX_JWE


@dataclass(frozen=True, slots=True)
class EphemeralEncryptionKey:
    """One-use response-encryption key; ``request_param`` goes into the credential request."""

    key: ECKey = field(repr=False)
    alg: str
    enc: str
    kid: str

    @property
    def request_param(self) -> dict[str, Any]:
        pub = self.key.as_dict(private=False)
        jwk = {k: pub[k] for k in ("kty", "crv", "x", "y")}
        jwk.update({"alg": self.alg, "use": "enc", "kid": self.kid})
        return {"jwk": jwk, "enc": self.enc}

    def decrypt(self, token: str) -> dict[str, Any]:
        """The JSON object inside a compact JWE addressed to this key."""
        if not isinstance(token, str) or len(token) > MAX_JWE or token.count(".") != 4:
            raise InvalidCredentialResponse("encrypted response is not a compact JWE")
        registry = _Registry(algorithms=[self.alg, self.enc])
        try:
            obj = jwe.decrypt_compact(token, self.key, registry=registry)
        except (JoseError, ValueError) as exc:
            raise InvalidCredentialResponse("encrypted response could not be decrypted") from exc
        header = obj.protected
        if header.get("zip") is not None:
            raise InvalidCredentialResponse("compressed responses are refused")
        if header.get("alg") != self.alg or header.get("enc") != self.enc:
            raise InvalidCredentialResponse("response encrypted with unexpected algorithms")
        return parse_json_object(
            obj.plaintext or b"", InvalidCredentialResponse("decrypted response is not JSON"),
            InvalidCredentialResponse("decrypted response is not a JSON object"))


def new_response_encryption(meta: ResponseEncryption) -> EphemeralEncryptionKey:
    """A fresh P-256 key and the first ``alg``/``enc`` both sides support."""
    alg = next((a for a in SUPPORTED_ALGS if a in meta.alg_values), None)
    enc = next((e for e in SUPPORTED_ENCS if e in meta.enc_values), None)
    if alg is None or enc is None:
        raise InvalidEncryptionParameters(
            "the issuer requires response encryption with algorithms Satchel does not support")
    return EphemeralEncryptionKey(ECKey.generate_key("P-256", private=True), alg, enc,
                                  secrets.token_urlsafe(8))


def encrypt_request(meta: RequestEncryption, payload: Mapping[str, Any]) -> str:
    """The credential (or deferred) request as a compact JWE to one of the issuer's keys."""
    enc = next((e for e in SUPPORTED_ENCS if e in meta.enc_values), None)
    for jwk in meta.keys:
        alg = jwk.get("alg")
        if alg not in SUPPORTED_ALGS or jwk.get("use", "enc") != "enc" or enc is None:
            continue
        try:
            key = import_key(dict(jwk))
        except (JoseError, ValueError, TypeError):
            continue
        if not isinstance(key, ECKey | OKPKey) or key.is_private:
            continue
        header = {"alg": alg, "enc": enc, "kid": jwk["kid"]}
        try:
            return jwe.encrypt_compact(header, json.dumps(payload).encode(), key,
                                       algorithms=[str(alg), enc])
        except (JoseError, ValueError) as exc:
            raise InvalidEncryptionParameters("the issuer's request encryption key is unusable"
                                              ) from exc
    raise InvalidEncryptionParameters(
        "the issuer offers no request encryption key/algorithm Satchel supports")
