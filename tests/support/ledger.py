"""What the consent ledger's tests give the ledger: the learner's vault key as a PyNaCl sealer
(an implementation of the sealing contract we did not write) and a clock that steps."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
)
from nacl.exceptions import CryptoError

from wallet.crypto import DecryptionFailed


class NaclSealer:
    """The learner's vault key as the ledger sees it: XChaCha20-Poly1305, nonce || ciphertext."""

    def __init__(self, key: bytes | None = None) -> None:
        self.key = key or os.urandom(32)

    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        nonce = os.urandom(crypto_aead_xchacha20poly1305_ietf_NPUBBYTES)
        return nonce + crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, aad, nonce, self.key)

    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        n = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
        try:
            return crypto_aead_xchacha20poly1305_ietf_decrypt(ciphertext[n:], aad, ciphertext[:n],
                                                              self.key)
        except CryptoError as exc:  # the BodySealer contract
            raise DecryptionFailed() from exc


class StepClock:
    """A clock that moves one second per reading, so ordering by time is deterministic."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 3, 1, 9, 0, 0, 123456, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now
