"""The learner's inbox key: an X25519 key pair whose private half is sealed with the vault key,
and the sealed boxes (libsodium ``crypto_box_seal``) pushes are sealed to.

A module of its own because it is the one part of the hierarchy usable while the vault is locked:
a push can be sealed to the learner's public half, and only the unlocked learner opens it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nacl.exceptions
import nacl.public

from wallet.crypto.aead import KEY_BYTES, DecryptionFailed, VaultKey
from wallet.errors import BadInput

_INBOX_AAD = b"satchel/inbox-key/v1"


@dataclass(frozen=True, slots=True)
class InboxKeyPair:
    """The learner's inbox key pair. ``public`` is stored in clear; the private half is sealed."""

    private_key: nacl.public.PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> InboxKeyPair:
        return cls(nacl.public.PrivateKey.generate())

    @property
    def public(self) -> bytes:
        return bytes(self.private_key.public_key)

    def seal_private(self, dek: VaultKey) -> bytes:
        return dek.seal(bytes(self.private_key), _INBOX_AAD)

    @classmethod
    def open_private(cls, dek: VaultKey, blob: bytes) -> InboxKeyPair:
        raw = dek.open(blob, _INBOX_AAD)
        if len(raw) != KEY_BYTES:
            raise DecryptionFailed()
        return cls(nacl.public.PrivateKey(raw))


def seal_to_inbox(public: bytes, data: bytes) -> bytes:
    """Seal ``data`` to an inbox public key (anonymous sender; only the key holder can open)."""
    if not isinstance(public, bytes) or len(public) != KEY_BYTES:
        raise BadInput("an inbox public key is 32 bytes")
    return bytes(nacl.public.SealedBox(nacl.public.PublicKey(public)).encrypt(data))


def open_inbox(private_key_pair: InboxKeyPair, ciphertext: bytes) -> bytes:
    """Open a sealed inbox item; raises :class:`DecryptionFailed` on a wrong key or tampering."""
    try:
        return bytes(nacl.public.SealedBox(private_key_pair.private_key).decrypt(ciphertext))
    except (nacl.exceptions.CryptoError, TypeError) as exc:
        raise DecryptionFailed() from exc
