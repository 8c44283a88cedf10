"""Rate limits count every attempt, parallel ones included (from two replicas too), on both
backends; a budget slides (no second one at a window boundary); a success is given back; a
remembered key is known until it lapses.

On SQLite a deferred transaction reads before it takes the write lock and ``FOR UPDATE`` does
nothing, so 60 parallel hits once read the same count and all passed a limit of 10 (40 parallel
wrong passphrases for one account all got 401). Each counter update is now serialised.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from holder_api.compose.migrations import run_migrations
from tests.support.backends import Backend
from wallet.accounts.limits import RateLimiter
from wallet.accounts.models import rate_limits
from wallet.clock import ManualClock, SystemClock
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


async def test_check_refuses_where_hit_would_and_counts_nothing(limiter: RateLimiter) -> None:
    """A budget counted only on an outcome (a name found taken) is checked before the work:
    checks spend nothing, and refuse with hit's own Retry-After once the budget is spent."""
    for _ in range(10):
        await limiter.check("taken", "addr", limit=2, window=60, now=1_000_000)
    assert await _wait(limiter, "addr-unrelated", 2, 60, 1_000_000) == 0
    await limiter.hit("taken", "addr", limit=2, window=60, now=1_000_000)
    await limiter.check("taken", "addr", limit=2, window=60, now=1_000_000)
    await limiter.hit("taken", "addr", limit=2, window=60, now=1_000_000)
    with pytest.raises(RateLimited) as refused:
        await limiter.check("taken", "addr", limit=2, window=60, now=1_000_000)
    with pytest.raises(RateLimited) as hit:
        await limiter.hit("taken", "addr", limit=2, window=60, now=1_000_000)
    assert refused.value.retry_after == hit.value.retry_after == 30
    await limiter.check("taken", "addr", limit=2, window=60, now=1_000_030)  # one share back


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


async def test_a_clock_behind_makes_no_budget_and_never_moves_a_budget_back(
        limiter: RateLimiter) -> None:
    """A reader whose clock is behind a budget's time, however far, reads it as of that time:
    neither refilled nor more spent, and what it writes is at that time, never earlier. Once it
    wrote an earlier time (a clock an hour or a day back), and the next reader with a correct
    clock took the whole difference as elapsed and refilled the budget: a clock read afterwards
    finds the budget as spent as it was."""
    async def wait_at(t: float) -> int:
        return await _wait(limiter, "10.0.0.3", 2, 60, t)

    t0 = 1_000_000
    assert [await wait_at(t0 + 50) for _ in range(2)] == [0, 0]  # spent, ahead
    assert await wait_at(t0) == 80  # 50 s behind: 30 s after the budget's time, on this clock
    assert await wait_at(t0 + 80) == 0  # spent again, at t0 + 80
    assert await wait_at(t0 - 86400) == 86400 + 110  # a day back: refused until then
    # the correct clock afterwards: not refilled by the day the other clock went back
    assert await wait_at(t0 + 80) == 30
    assert [await wait_at(t0 + 110) for _ in range(2)] == [0, 30]
    # an attempt let through by a clock behind is spent as of the budget's time: a view made a
    # minute ahead, then 58 from a clock set back (they pass: 60 per 60 s) ...
    await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0 + 61)
    for _ in range(58):
        await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0)
    # ... and the clock ahead finds 59 spent, one left, not 59 seconds of refill
    await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0 + 61)
    with pytest.raises(RateLimited):
        await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0 + 61)
    # a refund from a clock behind gives back one share as of the budget's time, no more
    await limiter.refund("view", "10.0.0.4", limit=60, window=60, now=t0 - 3600)
    await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0 + 61)
    with pytest.raises(RateLimited):
        await limiter.hit("view", "10.0.0.4", limit=60, window=60, now=t0 + 61)


@pytest.mark.parametrize(("behind", "limit", "window"), [(3600, 5, 3600), (360, 30, 300)])
async def test_a_replica_with_a_clock_behind_refills_no_budget_for_another(
        backend: Backend, behind: int, limit: int, window: int) -> None:
    """Two replicas (two engines) spend one budget, B's clock ``behind`` seconds behind A's.
    After each refusal on A, one attempt goes to B. B used to write the row at its own earlier
    time, and A took the difference as elapsed: 20 attempts through A in under a second of a
    5 per 3600 s budget (B an hour behind), 300 in 10 s of 30 per 300 s (B six minutes behind).
    Now A lets the budget through and no more, and B is refused too."""
    engines = [create_engine(backend.database_url) for _ in range(2)]
    await run_migrations(engines[0])
    a, b = (RateLimiter(engine, pepper=b"p" * 64) for engine in engines)
    t0, passed = 2_000_000_000.0, 0
    try:
        for second in range(10):  # ten seconds on A's clock
            for _ in range(limit + 1):
                try:
                    await a.hit("unlock-client", "198.51.100.7", limit=limit, window=window,
                                now=t0 + second)
                    passed += 1
                except RateLimited:
                    pass
            with pytest.raises(RateLimited):  # B: spent as of the budget's time too
                await b.hit("unlock-client", "198.51.100.7", limit=limit, window=window,
                            now=t0 + second - behind)
    finally:
        for engine in engines:
            await engine.dispose()
    assert passed == limit, passed  # nine seconds: less than one share (720 s, 10 s) refilled


async def test_replicas_judge_a_budget_at_the_database_clock(backend: Backend) -> None:
    """On PostgreSQL a budget is judged at the database server's clock (read in the bucket's
    transaction), not the replica's: a replica whose own clock is an hour ahead writes the
    budget's time as the server's now, so a replica with a correct clock is not held for an
    hour. On SQLite (one process) the process's clock is the one clock; an injected clock (a
    test's) wins on both."""
    class Ahead(SystemClock):
        def __call__(self) -> datetime:
            return datetime.now(UTC) + timedelta(hours=1)

    engine = create_engine(backend.database_url)
    await run_migrations(engine)
    try:
        before = time.time()
        await RateLimiter(engine, pepper=b"p" * 64, clock=Ahead()).hit(
            "budget", "10.0.0.8", limit=1, window=60)
        async with engine.connect() as conn:
            written = (await conn.execute(select(rate_limits.c.window_start))).scalar_one()
        if backend.kind == "postgres":
            assert before - 5 <= written <= time.time() + 5
        else:
            assert written >= before + 3600 - 5
        await RateLimiter(engine, pepper=b"p" * 64, clock=ManualClock(
            datetime.fromtimestamp(3_000_000_000, UTC))).hit("budget", "10.0.0.9", limit=1,
                                                             window=60)
        async with engine.connect() as conn:
            rows = (await conn.execute(select(rate_limits.c.window_start))).scalars().all()
        assert 3_000_000_000 in rows
    finally:
        await engine.dispose()


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


async def test_a_clock_behind_never_moves_a_pair_or_a_known_mark_back(
        limiter: RateLimiter) -> None:
    """A reader whose clock is behind a pair's time counts its attempt as of that time, and a
    known mark it writes never ends earlier than the one there. Once a pair emptied by a give-back
    (unback) took the earlier time of a clock behind, and the next reader with a correct clock
    took the window as over and started it afresh: one attempt more; and a client a replica with
    a clock behind remembered lapsed early for every other replica."""
    async def wait_at(t: int) -> int:
        try:
            await limiter.backoff("pair", "acct|10.0.0.5", limit=3, window=60, now=t)
        except RateLimited as exc:
            return exc.retry_after
        return 0

    t0 = 1_000_000
    await limiter.unback(await limiter.backoff("pair", "acct|10.0.0.5", limit=3, window=60,
                                               now=t0 + 100))  # emptied at t0 + 100
    assert await wait_at(t0) == 0  # a clock 100 s behind: counted as of t0 + 100
    assert [await wait_at(t0 + 130) for _ in range(3)] == [0, 0, 30]  # the window still holds
    await limiter.remember("known", "acct|10.0.0.5", seconds=50, now=t0 + 100)
    await limiter.remember("known", "acct|10.0.0.5", seconds=50, now=t0)  # a clock behind
    assert await limiter.known_until("known", "acct|10.0.0.5", now=t0 + 120) == t0 + 150
    assert await limiter.known_for("known", "acct|10.0.0.5", now=t0 + 120) == 30


async def test_replicas_judge_the_pair_back_off_and_known_clients_at_the_database_clock(
        backend: Backend) -> None:
    """Two replicas (two engines), A's own clock an hour ahead, B's an hour behind. On
    PostgreSQL the (account, client) back-off and the known-client marks are judged at the
    database server's clock, as the sliding budgets are: a pair A closed holds B for the window
    (once, two hours and the window), and a client B remembered is known to A for the time it was
    remembered for (once, B wrote an end already an hour past for A). On SQLite (one process) the
    process's clock is the one clock: the injected clocks are what each reads."""
    class Skewed(SystemClock):
        def __init__(self, by: timedelta) -> None:
            self._by = by

        def __call__(self) -> datetime:
            return datetime.now(UTC) + self._by

    engines = [create_engine(backend.database_url) for _ in range(2)]
    await run_migrations(engines[0])
    a, b = (RateLimiter(engine, pepper=b"p" * 64, clock=Skewed(timedelta(hours=h)))
            for engine, h in zip(engines, (1, -1), strict=True))
    try:
        for _ in range(3):
            await a.backoff("unlock-pair", "acct|198.51.100.9", limit=3, window=60)
        with pytest.raises(RateLimited) as held:
            await b.backoff("unlock-pair", "acct|198.51.100.9", limit=3, window=60)
        if backend.kind == "postgres":
            assert held.value.retry_after <= 61
        else:
            assert held.value.retry_after >= 7200
        before = time.time()
        await b.remember("known-client", "acct|198.51.100.9", seconds=600)
        known = await a.known_for("known-client", "acct|198.51.100.9")
        until = await a.known_until("known-client", "acct|198.51.100.9")
        after = time.time()
    finally:
        for engine in engines:
            await engine.dispose()
    if backend.kind == "postgres":
        assert known is not None and 590 <= known <= 600
        assert until is not None and before + 595 <= until <= after + 605
    else:
        assert known is None and until is None  # B's end is an hour before A's now
