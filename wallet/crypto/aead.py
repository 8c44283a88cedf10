"""The symmetric layer everything else in the key hierarchy is built on: Argon2id cost and key
derivation, the XChaCha20-Poly1305 seal and open, and ``VaultKey`` (the learner's DEK).

Argon2id (RFC 9106, https://www.rfc-editor.org/rfc/rfc9106) derives the key-encryption key (KEK)
from the learner's passphrase and, with its own salt, from the one-time recovery code.
XChaCha20-Poly1305 IETF (draft-irtf-cfrg-xchacha, https://datatracker.ietf.org/doc/draft-irtf-cfrg-xchacha/;
RFC 8439 §2.8 for the AEAD) seals everything: its 24-byte nonce is safe to draw at random for
every message, so no nonce bookkeeping is needed across replicas. BLAKE2b keyed mode (RFC 7693
§2.5, https://www.rfc-editor.org/rfc/rfc7693) is the PRF behind sub-keys and blinded index values.

A module of its own because the wraps, the inbox and the holder keys all seal with it, and it
is the one hot path of the package (every list opens one summary per credential).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import unicodedata
from dataclasses import dataclass

import nacl.bindings as sodium
import nacl.exceptions
import nacl.pwhash.argon2id as argon2id

from wallet.errors import BadInput
from wallet.errors import DecryptionFailed as DecryptionFailed  # its home before wallet.errors
from wallet.errors import RecordUnreadable as RecordUnreadable
from wallet.jose import b64url_encode

KEY_BYTES = 32
SALT_BYTES = argon2id.SALTBYTES  # 16
_NONCE_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES  # 24
_TAG_BYTES = sodium.crypto_aead_xchacha20poly1305_ietf_ABYTES  # 16
_BLIND_BYTES = 16  # 128-bit blinded index values: collisions are negligible, tags stay short



# --------------------------------------------------------------------------------------------
# Argon2id


@dataclass(frozen=True, slots=True)
class KdfCost:
    """Argon2id cost parameters (libsodium units: passes, bytes)."""

    opslimit: int
    memlimit: int

    def __post_init__(self) -> None:
        if not (argon2id.OPSLIMIT_MIN <= self.opslimit <= argon2id.OPSLIMIT_MAX):
            raise BadInput("Argon2id opslimit out of range")
        if not (argon2id.MEMLIMIT_MIN <= self.memlimit <= argon2id.MEMLIMIT_MAX):
            raise BadInput("Argon2id memlimit out of range")


#: 64 MiB, 3 passes: above OWASP's Argon2id floor (19 MiB, 2 passes) and RFC 9106's second
#: recommended option (64 MiB, 3 passes); ~130 ms on the 2-core reference machine (docs/architecture.md).
PRODUCTION_KDF = KdfCost(opslimit=3, memlimit=64 * 1024 * 1024)
#: libsodium's minimum (1 pass, 8 KiB). Tests only: it protects nothing.
TEST_KDF = KdfCost(opslimit=argon2id.OPSLIMIT_MIN, memlimit=argon2id.MEMLIMIT_MIN)


def _normalize_secret(secret: str) -> bytes:
    # NFKC so the same passphrase typed on two keyboards/input methods gives the same key
    # (NIST SP 800-63B §5.1.1.2).
    return unicodedata.normalize("NFKC", secret).encode("utf-8")


def derive_kek(passphrase: str, salt: bytes, cost: KdfCost) -> bytes:
    """Argon2id(passphrase, salt) → 32-byte key-encryption key. CPU heavy: run in an executor."""
    if not isinstance(passphrase, str):
        raise BadInput("passphrase must be a string")
    if len(salt) != SALT_BYTES:
        raise BadInput("Argon2id salt must be 16 bytes")
    return argon2id.kdf(KEY_BYTES, _normalize_secret(passphrase), salt,
                        opslimit=cost.opslimit, memlimit=cost.memlimit)


# --------------------------------------------------------------------------------------------
# Sealing


def _seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(_NONCE_BYTES)
    return nonce + sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, key)


_xchacha_decrypt = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt


def _open(key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    # PyNaCl's public binding: its own argument checks cost ~5 µs a call over libsodium's
    # function (a list opens one summary per credential); the private cffi module that skipped
    # them is not an API PyNaCl promises to keep. Lengths are checked here so that every
    # failure is DecryptionFailed, never PyNaCl's TypeError.
    if not isinstance(ciphertext, bytes | bytearray | memoryview) or (
        len(ciphertext) < _NONCE_BYTES + _TAG_BYTES
    ):
        raise DecryptionFailed()
    if len(key) != KEY_BYTES or not isinstance(aad, bytes):
        raise DecryptionFailed()
    data = bytes(ciphertext)
    try:
        return _xchacha_decrypt(data[_NONCE_BYTES:], aad, data[:_NONCE_BYTES], key)
    except (nacl.exceptions.CryptoError, TypeError) as exc:  # TypeError: a key not bytes
        raise DecryptionFailed() from exc


def _prf(key: bytes, person: bytes, data: bytes, size: int = KEY_BYTES) -> bytes:
    return hashlib.blake2b(data, digest_size=size, key=key, person=person).digest()


class VaultKey:
    """The learner's vault key (DEK): 32 random bytes that seal everything in their vault.

    Never printed (``repr`` is redacted) and compared in constant time.
    """

    __slots__ = ("_blind_key", "_key")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise BadInput("a vault key is 32 bytes")
        self._key = key
        # derived at the first blind index (writes and filtered lists): every authenticated
        # request makes a VaultKey, most never blind anything
        self._blind_key: bytes | None = None

    @classmethod
    def generate(cls) -> VaultKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def from_bytes(cls, key: bytes) -> VaultKey:
        return cls(bytes(key))

    @property
    def raw(self) -> bytes:
        return self._key

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        """XChaCha20-Poly1305 with a random nonce; output is ``nonce || ciphertext || tag``."""
        return _seal(self._key, plaintext, aad)

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        """Inverse of :meth:`seal`; raises :class:`DecryptionFailed` on any mismatch."""
        return _open(self._key, ciphertext, aad)

    def subkey(self, context: str) -> bytes:
        """An independent 32-byte key for one purpose (BLAKE2b-keyed PRF over ``context``)."""
        return _prf(self._key, b"satchel.subkey", context.encode("utf-8"))

    def blind(self, kind: str, value: str) -> str:
        """A blinded (keyed-hash) index value: equal inputs match, nothing else is revealed.

        ``kind`` separates domains, so the same issuer string blinded as ``issuer`` and as
        ``type`` gives unrelated values.
        """
        blind_key = self._blind_key
        if blind_key is None:
            blind_key = self._blind_key = _prf(self._key, b"satchel.subkey", b"blind/v1")
        data = kind.encode("utf-8") + b"\x00" + value.encode("utf-8")
        return b64url_encode(_prf(blind_key, b"satchel.blind", data, _BLIND_BYTES))

    def check_value(self) -> str:
        """A public fingerprint of this key (PRF output), to detect a wrong DEK early."""
        return b64url_encode(_prf(self._key, b"satchel.check", b"dek/v1", 16))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, VaultKey) and hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.check_value())

    def __repr__(self) -> str:
        return "VaultKey(<redacted>)"
