"""Rate limits count every attempt, parallel ones included, on both backends.

On SQLite a deferred transaction reads before it takes the write lock and ``FOR UPDATE`` does
nothing, so 60 parallel hits once read the same count and all passed a limit of 10 (40 parallel
wrong passphrases for one account all got 401). Each counter update is now serialised.
"""

from __future__ import annotations

import asyncio

from holder_api.compose.migrations import run_migrations
from tests.conftest import Backend
from wallet.accounts.limits import RateLimiter
from wallet.db import create_engine
from wallet.errors import RateLimited


async def test_parallel_hits_are_each_counted(backend: Backend) -> None:
    engine = create_engine(backend.database_url)
    await run_migrations(engine)
    limiter = RateLimiter(engine, pepper=b"p" * 64)
    try:
        async def hit() -> bool:
            try:
                await limiter.hit("unlock", "learner-1", limit=10, window=3600, now=1_000_000)
            except RateLimited:
                return False
            return True

        outcomes = await asyncio.gather(*(hit() for _ in range(60)))
        assert outcomes.count(True) == 10, outcomes
        # another bucket is its own count
        await limiter.hit("unlock", "learner-2", limit=10, window=3600, now=1_000_000)
    finally:
        await engine.dispose()
