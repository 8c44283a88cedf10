"""Bounds on costly and guessable operations: the Argon2id gate and sliding rate limits.

Argon2id at 64 MiB costs ~100 ms of one core and its memory. :class:`UnlockGate` runs derivations
on worker threads (so the event loop keeps serving other endpoints) with at most ``concurrency``
at once (so memory stays bounded) and refuses fast when too many callers already wait.

:class:`RateLimiter` counts attempts per bucket in the shared database, so every replica sees the
same counts, one update at a time per bucket (:func:`wallet.db.serialised`), so parallel attempts
are each counted, from any replica. Buckets are keyed hashes: the table never names an account or
an address. A budget of ``n`` per ``w`` seconds is sliding (:meth:`RateLimiter.hit`, GCRA): a
fixed window let a second budget through right after the first, at its boundary (twice the
stated rate), and held a client until the boundary, however little of the window was left.
A budget is judged at one clock for all replicas: on PostgreSQL the database server's, read
inside the bucket's serialised transaction (replicas' own clocks may be minutes apart); on SQLite,
one process, the process's. Whatever the clock, a budget's time only moves forward: a reader
behind it decides as of that time and never writes an earlier one, so no clock makes budget out
of another's. The (account, client) back-off and the known-client marks are judged at that same
clock, and never moved back either.

Why wrong passphrases are counted per (account, client address) with back-off, and per account
only under a much higher ceiling: a per-account budget alone lets a stranger with one address lock
the learner out on every device. The stranger's pair closes, for longer and longer; the learner's
own address has its own pair; the account ceiling only bounds a storm from many addresses, and a
client that opened the account lately (:meth:`RateLimiter.remember`) is not held by it. Only
failures use up a budget: an attempt is counted when it is let through (so parallel attempts are
each counted) and given back (:meth:`RateLimiter.refund`) when it succeeds. The reasons are in
docs/operations.md, "Unlock limits".
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from wallet.accounts.models import rate_limits
from wallet.clock import SYSTEM_CLOCK, Clock, SystemClock
from wallet.db import failing_as, reading, serialised, writing
from wallet.errors import RateLimited, Unavailable

__all__ = ["MAX_WINDOW", "STEP_ASIDE", "Counted", "RateLimiter", "UnlockGate"]

#: The longest window of a :meth:`RateLimiter.hit` budget: a bucket left alone for a day is swept.
MAX_WINDOW = 86400

T = TypeVar("T")
_UNAVAILABLE = "rate limit store unavailable"
#: old ``(window_start, count)`` and the time it is judged at (epoch milliseconds) → the new
#: row (``None``: keep it) and the seconds to wait
_Step = Callable[[tuple[int, int] | None, int], tuple[tuple[int, int] | None, int]]


def _share(limit: int, window: int) -> int:
    """Milliseconds one attempt of a ``limit`` per ``window`` budget takes to refill (rounded
    up: the budget is never more generous than stated)."""
    return -(-window * 1000 // limit)


def _spent(row: tuple[int, int] | None, t: int) -> tuple[int, int]:
    """A sliding budget's state read at ``t`` (epoch milliseconds): its time and how much of it
    is spent then (milliseconds of the window to refill, one share per attempt).

    The row keeps when it was last moved, in whole seconds (``window_start``: the sweep of rows a
    day past removes a budget long refilled, as it removed windows), and what was spent as of
    that second (``count``, in milliseconds). A reader ahead of that time refills the budget for
    the time between; a reader behind it, however far (a clock stepped back, a test pinning an
    earlier date), reads it as of that time, refilled no further and no more spent: the time
    returned is never before the row's, so what is written from it never moves the budget back
    (a later clock would take the difference as elapsed and refill it)."""
    if row is None:
        return t, 0
    since, spent = row[0] * 1000, row[1]
    if t >= since:
        return t, max(0, spent - (t - since))
    return since, spent


def _row(at: int, spent: int) -> tuple[int, int]:
    """The row of a budget ``spent`` at ``at``: as of the whole second before."""
    return at // 1000, spent + at % 1000


def _spend(row: tuple[int, int] | None, t: int, share: int,
           limit: int) -> tuple[tuple[int, int] | None, int]:
    """One attempt against a sliding budget at ``t``: its new row and 0, or (refused) ``None``
    and the seconds until one passes, on the reader's clock (longer when behind), rounded up."""
    at, spent = _spent(row, t)
    if spent + share > share * limit:
        return None, -(-(at - t + spent + share - share * limit) // 1000)
    return _row(at, spent + share), 0


#: What the caller holds and gives back while :meth:`UnlockGate.run` waits and derives: the HTTP
#: layer sets it to the request's admission slot (holder_api.admission), so a burst of unlocks
#: waiting for the gate does not hold the slots cheaper requests need. Unset: nothing.
STEP_ASIDE: ContextVar[Callable[[], AbstractAsyncContextManager[None]] | None] = ContextVar(
    "satchel_step_aside", default=None)


class UnlockGate:
    """Run key derivations off the event loop, ``concurrency`` at a time, ``max_waiting`` queued
    (the caller's :data:`STEP_ASIDE` given back meanwhile)."""

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
        step_aside = STEP_ASIDE.get()
        try:
            async with step_aside() if step_aside else nullcontext(), self._sem:
                loop = asyncio.get_running_loop()
                return await loop.run_in_executor(self._executor, fn, *args)
        finally:
            self._waiting -= 1

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


@dataclass(frozen=True, slots=True)
class Counted:
    """What :meth:`RateLimiter.backoff` did to its bucket for one attempt let through: the row
    before (``None``: none) and after, so that :meth:`RateLimiter.unback` can undo exactly that."""

    bucket: str
    before: tuple[int, int] | None
    after: tuple[int, int]


class RateLimiter:
    """Counters in the accounts database, shared by all replicas: sliding budgets (:meth:`hit`)
    and closures that double while a client keeps failing (:meth:`backoff`)."""

    def __init__(self, engine: AsyncEngine, *, pepper: bytes, clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._pepper = pepper
        self._clock = clock

    def _bucket(self, scope: str, key: str) -> str:
        return hashlib.blake2b(f"{scope}|{key}".encode(), key=self._pepper[:64],
                               digest_size=32).hexdigest()

    def _sliding(self, scope: str, key: str) -> str:
        """The bucket of a :meth:`hit` budget: named apart from the fixed windows earlier
        versions kept under the scope's own name, so that replicas of both versions during an
        upgrade never read each other's rows as their own (the old rows lapse in a day)."""
        return self._bucket(f"sliding/{scope}", key)

    def _fixed_ms(self, now: float | None) -> int | None:
        """The time a sliding budget, a back-off or a known mark is judged at (epoch
        milliseconds), or ``None``: the database server's clock, read in the bucket's
        transaction (:meth:`_apply`, :meth:`_known`).

        ``now`` wins, then a clock that is not the system's (a test's or a benchmark's
        ``ManualClock``: it stands for the one clock of the deployment). Otherwise PostgreSQL's
        clock, so that replicas whose clocks are apart judge a budget at one time; SQLite is
        one process, whose own clock is that one time."""
        if now is not None:
            return int(now * 1000)
        if not isinstance(self._clock, SystemClock) or self._engine.dialect.name == "sqlite":
            return int(self._clock().timestamp() * 1000)
        return None

    async def hit(self, scope: str, key: str, *, limit: int, window: int,
                  now: float | None = None) -> None:
        """Count one attempt against a sliding budget of ``limit`` per ``window`` seconds; raise
        :class:`RateLimited` (with Retry-After: when the next attempt passes) past it.

        GCRA (the generic cell rate algorithm: a token bucket kept as how much of the window is
        spent): each attempt let through spends one share, ``window / limit``, and the budget
        refills with time; an attempt passes while no more than the whole window is spent. So at
        most ``limit`` pass at once, then one per share as the budget refills: no window boundary
        lets a second budget through right after the first, and a client held waits for one
        share, never for a boundary. Refused attempts are not counted (the bucket is unchanged).
        """
        if not 0 < window <= MAX_WINDOW or limit < 1:
            raise ValueError("a budget needs a count and a window of at most a day")
        share = _share(limit, window)

        def step(row: tuple[int, int] | None, t: int) -> tuple[tuple[int, int] | None, int]:
            return _spend(row, t, share, limit)

        await self._update(self._sliding(scope, key), step, self._fixed_ms(now))

    async def check(self, scope: str, key: str, *, limit: int, window: int,
                    now: float | None = None) -> None:
        """Raise :class:`RateLimited` where :meth:`hit` would, counting nothing: for a budget
        counted only once an attempt's outcome is known (a name found taken), checked before
        the work that tells it, so an attempt past the budget learns nothing."""
        share = _share(limit, window)

        def step(row: tuple[int, int] | None, t: int) -> tuple[tuple[int, int] | None, int]:
            return None, _spend(row, t, share, limit)[1]

        await self._update(self._sliding(scope, key), step, self._fixed_ms(now))

    async def backoff(self, scope: str, key: str, *, limit: int, window: int,
                      cap: int = 86400, now: float | None = None) -> Counted:
        """Allow ``limit`` attempts per ``window``; then the bucket is closed for ``window``,
        and each attempt made right as it reopens closes it for twice as long (up to ``cap``).

        A bucket left alone for as long as its last closure starts afresh, and so does one
        :meth:`clear` empties (a success) or :meth:`unback` emptied. Attempts refused while
        closed are not counted: the closure already grows with every attempt that is let
        through. What an attempt let through counted is returned, for :meth:`unback`.

        Judged at the one clock, as :meth:`hit` is (on PostgreSQL the server's): a replica
        whose own clock is ahead closes no pair for longer, one behind reopens none sooner. A
        reader behind the pair's time counts as of that time (its waits are on its own clock);
        no step writes an earlier time than the row's (only a later clock starts a pair afresh).
        """
        bucket = self._bucket(scope, key)
        counted: list[Counted] = []

        def step(row: tuple[int, int] | None, ms: int) -> tuple[tuple[int, int] | None, int]:
            t = ms // 1000
            if row is None or row[1] == 0:
                # an emptied pair keeps its time: a reader behind it counts as of that time
                new = (t if row is None else max(t, row[0]), 1)
            elif row[1] < limit:
                new = (t, 1) if t - row[0] >= window else (row[0], row[1] + 1)
            else:
                since, count = row
                closed_for = min(window << min(count - limit, 20), cap)
                reopens = since + closed_for
                if t < reopens:
                    return None, reopens - t
                new = (t, 1) if t - reopens >= closed_for else (t, count + 1)
            counted[:] = [Counted(bucket, row, new)]
            return new, 0

        await self._update(bucket, step, self._fixed_ms(now))
        return counted[0]

    async def unback(self, counted: Counted) -> None:
        """Give back an attempt :meth:`backoff` let through (``counted``) that was not tried
        after all (refused further on): the bucket is as it was before it, closure included,
        when nothing was counted since; else it counts one attempt less. Nothing once the
        bucket was emptied since (a success: the attempt is no longer in it)."""
        before, after = counted.before, counted.after

        def step(row: tuple[int, int] | None, _t: int) -> tuple[tuple[int, int] | None, int]:
            if row is None or row[0] != after[0] or row[1] <= 0:
                return None, 0  # emptied, or started afresh since
            if row == after:
                return before or (row[0], 0), 0  # (…, 0): empty, as a bucket never counted
            return (row[0], row[1] - 1), 0

        # the step reads no time: the replica's own is as good as any, and costs no query
        await self._update(counted.bucket, step, int(self._clock().timestamp()) * 1000)

    async def refund(self, scope: str, key: str, *, limit: int, window: int,
                     now: float | None = None) -> None:
        """Give back one attempt :meth:`hit` let through (it succeeded, or was not tried after
        all), so only failures use up the budget: one share less spent, never less than none (a
        budget refilled meanwhile is full, and stays so)."""
        share = _share(limit, window)

        def step(row: tuple[int, int] | None, t: int) -> tuple[tuple[int, int] | None, int]:
            at, spent = _spent(row, t)
            return (None, 0) if spent == 0 else (_row(at, max(0, spent - share)), 0)

        await self._update(self._sliding(scope, key), step, self._fixed_ms(now))

    async def remember(self, scope: str, key: str, *, seconds: int,
                       now: float | None = None) -> None:
        """Mark ``key`` known for ``seconds`` from now (:meth:`known_until` tells until when).

        Kept in the same table as the counters, under a keyed hash like them: the row's
        ``window_start`` is the time it is known until (so the sweep of windows long past
        removes it a day after it lapsed), its ``count`` 0. Now is the one clock's (on
        PostgreSQL the server's, read in the row's transaction), and a mark never ends earlier
        than the one already there (a replica with a clock behind shortens none)."""
        def step(row: tuple[int, int] | None, t: int) -> tuple[tuple[int, int] | None, int]:
            until = t // 1000 + seconds
            return (until if row is None else max(until, row[0]), 0), 0

        await self._update(self._bucket(scope, key), step, self._fixed_ms(now))

    async def known_until(self, scope: str, key: str, *, now: float | None = None) -> int | None:
        """Until when :meth:`remember` marked ``key`` known (epoch seconds), None if not now
        (judged at the one clock, as :meth:`remember` wrote it)."""
        known = await self._known(scope, key, now)
        return None if known is None else known[0]

    async def known_for(self, scope: str, key: str, *, now: float | None = None) -> int | None:
        """How many more seconds ``key`` is known (:meth:`known_until` less the one clock's
        now), None if not now."""
        known = await self._known(scope, key, now)
        return None if known is None else known[0] - known[1]

    async def _known(self, scope: str, key: str, now: float | None) -> tuple[int, int] | None:
        """(until, now) of ``key``'s mark, in epoch seconds, when it is known now; now is the
        database server's clock on PostgreSQL, read with the row."""
        fixed = self._fixed_ms(now)
        bucket = self._bucket(scope, key)
        columns: list[Any] = [rate_limits.c.window_start]
        if fixed is None:
            columns.append(func.extract("epoch", func.clock_timestamp()))
        async with reading(self._engine, _UNAVAILABLE) as conn:
            row = (await conn.execute(select(*columns)
                                      .where(rate_limits.c.bucket == bucket))).first()
        if row is None:
            return None
        until, t = int(row[0]), (fixed // 1000 if fixed is not None else int(row[1]))
        return (until, t) if until > t else None

    async def clear(self, scope: str, key: str) -> None:
        """Forget a bucket (the client proved itself): its next attempt starts afresh."""
        bucket = self._bucket(scope, key)
        async with writing(self._engine, _UNAVAILABLE) as conn:
            await conn.execute(rate_limits.delete().where(rate_limits.c.bucket == bucket))

    async def _update(self, bucket: str, step: _Step, t: int | None) -> None:
        """Apply ``step`` (old ``(window_start, count)`` and the time → new one or ``None`` to
        keep it, and the seconds to wait, 0 to pass) to the bucket's row, one caller at a time,
        at ``t`` (epoch milliseconds; ``None``: the database server's clock)."""
        for _ in range(3):
            try:
                with failing_as(_UNAVAILABLE, passing=(IntegrityError,)):
                    wait = await self._apply(bucket, step, t)
            except IntegrityError:
                continue  # two first hits raced on the insert: count again
            if wait > 0:
                raise RateLimited("too many attempts", retry_after=wait)
            return
        raise Unavailable("rate limit store contended")

    async def _apply(self, bucket: str, step: _Step, at: int | None) -> int:
        """One try of :meth:`_update`; the seconds to wait."""
        # one counter update at a time per bucket: SQLite ignores FOR UPDATE, so its deferred
        # transactions let parallel hits read the same count (all would pass)
        async with serialised(self._engine, "rate/" + bucket) as conn:
            # the server's clock once the bucket is ours (clock_timestamp, not the
            # transaction's start: updates of one bucket then come in the order of their times)
            if at is None:
                now = (await conn.execute(
                    select(func.extract("epoch", func.clock_timestamp())))).scalar_one()
                at = int(now * 1000)
            t = at
            row = (await conn.execute(
                select(rate_limits.c.window_start, rate_limits.c.count)
                .where(rate_limits.c.bucket == bucket).with_for_update())).first()
            old = None if row is None else (int(row[0]), int(row[1]))
            new, wait = step(old, t)
            if new is not None and old is None:
                if t // 1000 % 97 == 0:  # now and then, forget windows long past (bounded table)
                    await conn.execute(rate_limits.delete().where(
                        rate_limits.c.window_start < t // 1000 - 86400))
                await conn.execute(rate_limits.insert().values(
                    bucket=bucket, window_start=new[0], count=new[1]))
            elif new is not None:
                await conn.execute(update(rate_limits).where(
                    rate_limits.c.bucket == bucket).values(window_start=new[0], count=new[1]))
        return wait
