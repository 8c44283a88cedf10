"""Bounds on costly and guessable operations: the Argon2id gate and fixed-window rate limits.

Argon2id at 64 MiB costs ~100 ms of one core and its memory. :class:`UnlockGate` runs derivations
on worker threads (so the event loop keeps serving other endpoints) with at most ``concurrency``
at once (so memory stays bounded) and refuses fast when too many callers already wait.

:class:`RateLimiter` counts attempts per bucket in the shared database, so every replica sees the
same counts, one update at a time per bucket (:func:`wallet.db.serialised`), so parallel attempts
are each counted. Buckets are keyed hashes: the table never names an account or an address.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from wallet.accounts.models import rate_limits
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.db import serialised
from wallet.errors import RateLimited, Unavailable

__all__ = ["RateLimiter", "UnlockGate"]

T = TypeVar("T")


class UnlockGate:
    """Run key derivations off the event loop, ``concurrency`` at a time, ``max_waiting`` queued."""

    def __init__(self, concurrency: int, *, max_waiting: int = 128) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="argon2")
        self._max_waiting = max_waiting
        self._waiting = 0
        self.concurrency = concurrency

    @property
    def waiting(self) -> int:
        return self._waiting

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if self._waiting >= self._max_waiting:
            raise RateLimited("too many unlocks in progress", retry_after=1)
        self._waiting += 1
        try:
            async with self._sem:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, fn, *args)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class RateLimiter:
    """Fixed-window counters in the accounts database, shared by all replicas."""

    def __init__(self, engine: AsyncEngine, *, pepper: bytes, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._pepper = pepper
        self._clock = clock

    def _bucket(self, scope: str, key: str) -> str:
        return hashlib.blake2b(f"{scope}|{key}".encode(), key=self._pepper[:64],
                               digest_size=32).hexdigest()

    async def hit(self, scope: str, key: str, *, limit: int, window: int,
                  now: float | None = None) -> None:
        """Count one attempt; raise :class:`RateLimited` (with Retry-After) past ``limit``."""
        bucket = self._bucket(scope, key)
        t = int(self._clock().timestamp() if now is None else now)
        start = t - t % window
        for _ in range(3):
            try:
                # one counter update at a time per bucket: SQLite ignores FOR UPDATE, so its
                # deferred transactions let parallel hits read the same count (all would pass)
                async with serialised(self._engine, "rate/" + bucket) as conn:
                    row = (await conn.execute(
                        select(rate_limits.c.window_start, rate_limits.c.count)
                        .where(rate_limits.c.bucket == bucket).with_for_update())).first()
                    if row is None:
                        if t % 97 == 0:  # now and then, forget windows long past (bounded table)
                            await conn.execute(rate_limits.delete().where(
                                rate_limits.c.window_start < t - 86400))
                        await conn.execute(rate_limits.insert().values(
                            bucket=bucket, window_start=start, count=1))
                        return
                    count = 1 if row.window_start != start else int(row[1]) + 1
                    await conn.execute(update(rate_limits).where(rate_limits.c.bucket == bucket)
                                       .values(window_start=start, count=count))
                if count > limit:
                    raise RateLimited("too many attempts", retry_after=start + window - t)
                return
            except IntegrityError:
                continue  # two first hits raced on the insert: count again
            except SQLAlchemyError as exc:
                raise Unavailable("rate limit store unavailable") from exc
        raise Unavailable("rate limit store contended")
