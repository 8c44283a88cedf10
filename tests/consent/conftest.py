"""Fixtures for the consent ledger: a PyNaCl sealer, a service key, and a ledger on each backend
(the sealer and the clock are in tests/support/ledger.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from consent.ledger import Ledger
from consent.models import create_all
from tests.support.ledger import NaclSealer, StepClock


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
