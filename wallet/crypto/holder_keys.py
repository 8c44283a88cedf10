"""The learner's holder signing keys (proofs of possession) and how they are sealed in the vault.

They use ``cryptography``, not libsodium (docs/architecture.md: ~10x faster than Askar's ``Key``);
their DID is ``did:jwk`` (https://github.com/quartzjer/did-jwk/blob/main/spec.md) and their
``kid`` the RFC 7638 thumbprint (https://www.rfc-editor.org/rfc/rfc7638).

A module of its own because these are asymmetric JOSE keys that the issuance and presentation
flows sign with, sealed with the vault key like any record but otherwise apart from the wraps.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from wallet.clock import SYSTEM_CLOCK
from wallet.crypto.aead import DecryptionFailed, VaultKey
from wallet.errors import BadInput
from wallet.jose import (
    PrivateKey,
    b64url_encode,
    jwk_thumbprint,
    private_key_from_jwk,
    public_jwk,
    sign_raw,
)

_HOLDER_AAD = b"satchel/holder-key/v1"
_HOLDER_ALGS = ("ES256", "EdDSA")


@dataclass(frozen=True, slots=True)
class HolderKey:
    """A learner's signing key for proofs of possession (OpenID4VCI proofs, SD-JWT KB-JWTs)."""

    kid: str
    alg: str
    private_key: PrivateKey = field(repr=False)
    public_jwk: dict[str, str]
    did: str
    did_url: str
    created_at: datetime

    def sign(self, data: bytes) -> bytes:
        """A JOSE (raw) signature over ``data``."""
        return sign_raw(self.alg, self.private_key, data)


def _holder_key(private_key: PrivateKey, alg: str, created_at: datetime) -> HolderKey:
    jwk = public_jwk(private_key)
    did = "did:jwk:" + b64url_encode(json.dumps(jwk, separators=(",", ":")).encode())
    return HolderKey(kid=jwk_thumbprint(jwk), alg=alg, private_key=private_key, public_jwk=jwk,
                     did=did, did_url=did + "#0", created_at=created_at)


def generate_holder_key(alg: str = "ES256", *, created_at: datetime | None = None) -> HolderKey:
    """A new holder key: ``ES256`` (P-256, the OpenID4VC HAIP default) or ``EdDSA`` (Ed25519).

    Services pass ``created_at`` from their clock; without it, the system clock's time."""
    key: PrivateKey
    if alg == "ES256":
        key = ec.generate_private_key(ec.SECP256R1())
    elif alg == "EdDSA":
        key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise BadInput("holder keys are ES256 or EdDSA")
    return _holder_key(key, alg, created_at or SYSTEM_CLOCK())


def _private_jwk(key: PrivateKey) -> dict[str, str]:
    jwk = dict(public_jwk(key))
    if isinstance(key, ec.EllipticCurvePrivateKey):
        jwk["d"] = b64url_encode(key.private_numbers().private_value.to_bytes(32, "big"))
    elif isinstance(key, ed25519.Ed25519PrivateKey):
        jwk["d"] = b64url_encode(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()))
    else:
        raise BadInput("unsupported holder key type")
    return jwk


def seal_holder_key(dek: VaultKey, key: HolderKey) -> bytes:
    body = {"alg": key.alg, "jwk": _private_jwk(key.private_key),
            "created_at": key.created_at.isoformat()}
    return dek.seal(json.dumps(body, separators=(",", ":")).encode(), _HOLDER_AAD)


@dataclass(frozen=True, slots=True)
class HolderKeyInfo:
    """The public side of a holder key, read without rebuilding the private key (cheap listing)."""

    kid: str
    alg: str
    public_jwk: dict[str, str]
    did: str
    did_url: str
    created_at: datetime


def _open_holder_blob(dek: VaultKey, blob: bytes) -> tuple[str, datetime, Any]:
    """The sealed holder key's ``alg``, ``created_at`` and (private) ``jwk``, or DecryptionFailed."""
    plain = dek.open(blob, _HOLDER_AAD)
    try:
        body: Mapping[str, Any] = json.loads(plain)
        alg = str(body["alg"])
        created = datetime.fromisoformat(str(body["created_at"]))
        jwk = body["jwk"]
    except (KeyError, ValueError, TypeError) as exc:
        raise DecryptionFailed() from exc
    if alg not in _HOLDER_ALGS:
        raise DecryptionFailed()
    return alg, created, jwk


def open_holder_key_info(dek: VaultKey, blob: bytes) -> HolderKeyInfo:
    alg, created, jwk = _open_holder_blob(dek, blob)
    try:
        members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("crv", "kty", "x")
        public = {m: str(jwk[m]) for m in members}
    except (KeyError, ValueError, TypeError) as exc:
        raise DecryptionFailed() from exc
    did = "did:jwk:" + b64url_encode(json.dumps(public, separators=(",", ":")).encode())
    return HolderKeyInfo(kid=jwk_thumbprint(public), alg=alg, public_jwk=public, did=did,
                         did_url=did + "#0", created_at=created)


def open_holder_key(dek: VaultKey, blob: bytes) -> HolderKey:
    alg, created, jwk = _open_holder_blob(dek, blob)
    try:
        priv = private_key_from_jwk(jwk)
    except (KeyError, ValueError, TypeError, BadInput) as exc:
        raise DecryptionFailed() from exc
    return _holder_key(priv, alg, created)
