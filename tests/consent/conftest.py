"""Fixtures for the consent ledger: a PyNaCl sealer, a service key, and a ledger on each backend."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from nacl.bindings import (
    crypto_aead_xchacha20poly1305_ietf_decrypt,
    crypto_aead_xchacha20poly1305_ietf_encrypt,
    crypto_aead_xchacha20poly1305_ietf_NPUBBYTES,
)
from nacl.exceptions import CryptoError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consent.ledger import Ledger
from consent.models import create_all
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


@pytest.fixture
def sealer() -> NaclSealer:
    return NaclSealer()


@pytest.fixture
def signing_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


@pytest.fixture
async def engine(backend) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    eng = create_async_engine(backend.database_url)
    await create_all(eng)
    try:
        yield eng
    finally:
        await eng.dispose()


@pytest.fixture
def clock() -> StepClock:
    return StepClock()


@pytest.fixture
def ledger(engine: AsyncEngine, signing_key: ed25519.Ed25519PrivateKey,
           clock: StepClock) -> Ledger:
    return Ledger(engine, signing_key, clock=clock, issuer="https://satchel.example")
