"""Rate limits count every attempt, parallel ones included (from two replicas too), on both
backends; a budget slides (no second one at a window boundary); a success is given back; a
remembered key is known until it lapses.

On SQLite a deferred transaction reads before it takes the write lock and ``FOR UPDATE`` does
nothing, so 60 parallel hits once read the same count and all passed a limit of 10 (40 parallel
wrong passphrases for one account all got 401). Each counter update is now serialised.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from holder_api.compose.migrations import run_migrations
from tests.conftest import Backend
from wallet.accounts.limits import RateLimiter
from wallet.db import create_engine
from wallet.errors import RateLimited


@pytest.fixture
async def limiter(backend: Backend) -> AsyncIterator[RateLimiter]:
    engine = create_engine(backend.database_url)
    await run_migrations(engine)
    try:
        yield RateLimiter(engine, pepper=b"p" * 64)
    finally:
        await engine.dispose()


async def _wait(limiter: RateLimiter, key: str, limit: int, window: int, t: float) -> int:
    """0 when an attempt at ``t`` passes a budget of ``limit`` per ``window``, else the
    Retry-After it gets."""
    try:
        await limiter.hit("budget", key, limit=limit, window=window, now=t)
    except RateLimited as exc:
        return exc.retry_after
    return 0


async def test_parallel_hits_are_each_counted(limiter: RateLimiter) -> None:
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


async def test_backoff_closes_for_longer_after_each_failure(limiter: RateLimiter) -> None:
    async def wait_at(t: int) -> int:
        """0 when an attempt at ``t`` passes, else the Retry-After it gets."""
        try:
            await limiter.backoff("pair", "acct|10.0.0.1", limit=3, window=60, cap=3600, now=t)
        except RateLimited as exc:
            return exc.retry_after
        return 0

    t0 = 1_000_020
    assert [await wait_at(t0 + i) for i in range(3)] == [0, 0, 0]
    assert await wait_at(t0 + 3) == 57  # closed for the window, from its first attempt
    assert await wait_at(t0 + 59) == 1  # refused attempts do not count
    assert await wait_at(t0 + 60) == 0  # reopened: one attempt...
    assert await wait_at(t0 + 61) == 119  # ...then closed twice as long
    assert await wait_at(t0 + 180) == 0
    assert await wait_at(t0 + 181) == 239
    # the cap bounds it, and a quiet spell as long as the last closure starts afresh
    assert await wait_at(t0 + 420) == 0
    assert await wait_at(t0 + 420 + 480 + 480) == 0
    assert [await wait_at(t0 + 1400 + i) for i in range(2)] == [0, 0]
    assert await wait_at(t0 + 1402) > 0
    # clear() (a success) empties the bucket at once
    await limiter.clear("pair", "acct|10.0.0.1")
    assert await wait_at(t0 + 1403) == 0
    # another pair of the same account is untouched throughout
    await limiter.backoff("pair", "acct|10.0.0.2", limit=3, window=60, now=t0 + 61)


async def test_an_attempt_given_back_leaves_the_back_off_as_it_was(limiter: RateLimiter) -> None:
    """unback() undoes what backoff() counted for an attempt that was refused further on (never
    tried): the attempt that reopened a closed bucket too (it once stayed counted, closing the
    bucket for twice as long), one that started a bucket (empty again: the next attempt starts
    it afresh), and with other attempts counted meanwhile, only its own."""
    async def wait_at(key: str, t: int, *, give_back: bool = False) -> int:
        """0 when an attempt at ``t`` passes (then given back if asked), else its Retry-After."""
        try:
            counted = await limiter.backoff("pair", key, limit=3, window=60, now=t)
        except RateLimited as exc:
            return exc.retry_after
        if give_back:
            await limiter.unback(counted)
        return 0

    t0 = 1_000_020
    assert [await wait_at("reopen", t0 + i) for i in range(3)] == [0, 0, 0]
    assert await wait_at("reopen", t0 + 3) == 57
    assert await wait_at("reopen", t0 + 60, give_back=True) == 0  # reopened, refused further on
    assert await wait_at("reopen", t0 + 61) == 0  # still open: as before that attempt
    assert await wait_at("reopen", t0 + 62) == 119  # this one counted: closed twice as long

    # a bucket's first attempt given back: the next one, 50 s on, starts it afresh
    assert await wait_at("fresh", t0, give_back=True) == 0
    assert [await wait_at("fresh", t0 + 50 + i) for i in range(3)] == [0, 0, 0]
    assert await wait_at("fresh", t0 + 59) == 51

    # attempts given back in any order, others counted meanwhile: each takes back its own
    first = await limiter.backoff("pair", "mixed", limit=3, window=60, now=t0)
    second = await limiter.backoff("pair", "mixed", limit=3, window=60, now=t0)
    await limiter.backoff("pair", "mixed", limit=3, window=60, now=t0)  # stays counted
    await limiter.unback(first)
    await limiter.unback(second)
    assert [await wait_at("mixed", t0 + 1 + i) for i in range(3)] == [0, 0, 57]
    # given back after a success emptied the bucket: nothing is taken from the attempts since
    await limiter.clear("pair", "mixed")
    assert await wait_at("mixed", t0 + 5) == 0
    await limiter.unback(first)
    assert [await wait_at("mixed", t0 + 6 + i) for i in range(3)] == [0, 0, 57]


async def test_a_refund_gives_back_one_attempt(limiter: RateLimiter) -> None:
    """Only failures use up a budget: a success is counted when let through, then given back;
    a budget that has refilled meanwhile is not made fuller than full by a late refund."""
    async def passes(t: float) -> bool:
        try:
            await limiter.hit("client", "10.0.0.1", limit=2, window=100, now=t)
        except RateLimited:
            return False
        return True

    t0 = 1_000_000
    for _ in range(5):  # five successes: each given back
        assert await passes(t0)
        await limiter.refund("client", "10.0.0.1", limit=2, window=100, now=t0)
    assert [await passes(t0 + 1) for _ in range(3)] == [True, True, False]
    # refilled after a whole window: an attempt of long ago gives back nothing more
    await limiter.refund("client", "10.0.0.1", limit=2, window=100, now=t0 + 200)
    assert [await passes(t0 + 200) for _ in range(3)] == [True, True, False]
    # given back now: one more passes
    await limiter.refund("client", "10.0.0.1", limit=2, window=100, now=t0 + 200)
    assert [await passes(t0 + 200) for _ in range(2)] == [True, False]


async def test_a_budget_slides_across_what_was_a_window_boundary(limiter: RateLimiter) -> None:
    """10 per 300 s: a whole budget spent in the last second of a fixed window used to be
    followed by another in the first second of the next (20 in two seconds), and a client
    held until the boundary (up to 300 s). Sliding, the next attempt passes one share of the
    window (30 s) after the budget was spent, one more each 30 s, whenever it was spent."""
    async def wait_at(t: float) -> int:
        return await _wait(limiter, "acct", 10, 300, t)

    end = 1_000_200 + 299  # the last second of a fixed 300-second window (1_000_200 % 300 == 0)
    assert [await wait_at(end) for _ in range(10)] == [0] * 10
    assert await wait_at(end + 1) == 29  # the boundary: no second budget
    assert [await wait_at(end + 30) for _ in range(2)] == [0, 30]
    assert [await wait_at(end + 90) for _ in range(3)] == [0, 0, 30]  # two shares refilled
    # spent at the start of a window, the wait is one share too, not the rest of the window
    start = 1_000_200 + 3000
    assert [await wait_at(start) for _ in range(10)] == [0] * 10
    assert await wait_at(start) == 30
    # a rate above one a second keeps its shares (120 per 60 s: one each half second)
    for _ in range(120):
        await limiter.hit("inbox-client", "10.0.0.9", limit=120, window=60, now=start)
    with pytest.raises(RateLimited):
        await limiter.hit("inbox-client", "10.0.0.9", limit=120, window=60, now=start + 0.4)
    await limiter.hit("inbox-client", "10.0.0.9", limit=120, window=60, now=start + 0.5)
    with pytest.raises(ValueError):  # a bucket left alone for a day is swept: no longer window
        await limiter.hit("inbox-client", "10.0.0.9", limit=120, window=86401, now=start)


async def test_a_clock_behind_makes_no_budget_and_holds_no_client_for_long(
        limiter: RateLimiter) -> None:
    """A reader whose clock is a little behind a budget's time (replicas' clocks apart) reads it
    as of that time: neither refilled nor more spent, so it makes no budget out of the other
    clock. One far behind (an NTP step back, a test pinning an earlier date) reads it as spent as
    it was, refilling from its own now, not frozen for as long as the clock went back."""
    async def wait_at(t: float) -> int:
        return await _wait(limiter, "10.0.0.3", 2, 60, t)

    t0 = 1_000_000
    assert [await wait_at(t0 + 50) for _ in range(2)] == [0, 0]  # spent, ahead
    assert await wait_at(t0) == 80  # 50 s behind: 30 s after the budget's time, on this clock
    assert await wait_at(t0 + 80) == 0  # spent again
    assert await wait_at(t0 - 86400) == 30  # a day back: as spent as it was, not for a day
    assert [await wait_at(t0 - 86400 + 30) for _ in range(2)] == [0, 30]  # refilling from then
    # a view made a minute ahead, then the clock set back: the next still passes
    await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0 + 61)
    await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0)


async def test_two_replicas_never_both_pass_the_last_attempt(backend: Backend) -> None:
    """Two replicas (two engines, so two connection pools) spend one budget at once, many
    attempts in flight on each: exactly the budget passes, from 9 of 10 already spent (the
    last attempt) and from a full budget; the rows they share hold the sliding timestamp."""
    engines = [create_engine(backend.database_url) for _ in range(2)]
    await run_migrations(engines[0])
    replicas = [RateLimiter(engine, pepper=b"p" * 64) for engine in engines]
    try:
        async def hit(replica: RateLimiter, key: str) -> bool:
            try:
                await replica.hit("unlock-account", key, limit=10, window=300, now=1_000_000)
            except RateLimited:
                return False
            return True

        for _ in range(9):
            await replicas[0].hit("unlock-account", "last", limit=10, window=300, now=1_000_000)
        outcomes = await asyncio.gather(*(hit(replicas[n % 2], "last") for n in range(8)))
        assert outcomes.count(True) == 1, outcomes
        outcomes = await asyncio.gather(*(hit(replicas[n % 2], "full") for n in range(30)))
        assert outcomes.count(True) == 10, outcomes
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_remembered_key_is_known_until_it_lapses(limiter: RateLimiter) -> None:
    t0 = 1_000_000
    assert await limiter.known_until("known", "acct|10.0.0.1", now=t0) is None
    await limiter.remember("known", "acct|10.0.0.1", seconds=50, now=t0)
    assert await limiter.known_until("known", "acct|10.0.0.1", now=t0 + 49) == t0 + 50
    assert await limiter.known_until("known", "acct|10.0.0.1", now=t0 + 50) is None
    assert await limiter.known_until("known", "acct|10.0.0.2", now=t0) is None
    await limiter.remember("known", "acct|10.0.0.1", seconds=50, now=t0 + 60)  # again
    assert await limiter.known_until("known", "acct|10.0.0.1", now=t0 + 100) == t0 + 110
