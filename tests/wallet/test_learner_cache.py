"""wallet.learner_cache: grouped by learner, bounded in time and size."""

from __future__ import annotations

import asyncio
import contextlib

from wallet import learner_cache
from wallet.learner_cache import (
    LearnerCache,
    forget_learner,
    set_idle_seconds,
    sweep_periodically,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_entry_idle_past_the_bound_is_not_returned_and_is_freed() -> None:
    clock = Clock()
    cache: LearnerCache[str, str] = LearnerCache(10, idle_seconds=60, clock=clock)
    cache.entries("a").put("k", "plaintext")
    cache.entries("a").put("used", "v")
    clock.now += 50
    assert cache.entries("a").get("used") == "v"  # used: its idle time starts again
    clock.now += 11  # "k" idle 61 s, "used" 11 s
    kept = cache.entries("a")
    assert kept.get("k") is None and kept.get("used") == "v"
    assert len(cache) == 1 and cache.learner_size("a") == 1  # freed, not only hidden


def test_other_learners_idle_groups_are_freed_by_any_request() -> None:
    clock = Clock()
    cache: LearnerCache[str, str] = LearnerCache(10, idle_seconds=60, clock=clock)
    cache.entries("gone").put("k", "plaintext")
    clock.now += 61
    cache.entries("other")
    assert cache.learner_size("gone") == 0 and len(cache) == 0


def test_forget_learner_drops_one_learner_in_every_cache() -> None:
    one: LearnerCache[str, str] = LearnerCache(10, idle_seconds=60)
    two: LearnerCache[str, int] = LearnerCache(10, idle_seconds=60)
    for learner in ("a", "b"):
        one.entries(learner).put("k", learner)
        two.entries(learner).put("k", 1)
    kept_a = one.entries("a")
    forget_learner("a")
    assert (one.learner_size("a"), two.learner_size("a")) == (0, 0)
    assert (one.learner_size("b"), two.learner_size("b")) == (1, 1)
    assert kept_a.get("k") is None  # a request under way finds nothing either
    kept_a.put("late", "x")  # and keeps nothing for a forgotten learner
    assert one.learner_size("a") == 0 and len(one) == 1


def test_the_size_bound_holds_across_learners() -> None:
    cache: LearnerCache[int, int] = LearnerCache(3, idle_seconds=60)
    for i in range(3):
        cache.entries("old").put(i, i)
    cache.entries("new").put(0, 0)
    assert len(cache) == 3
    assert cache.learner_size("old") == 2  # the least recent learner's oldest went
    assert cache.entries("old").get(0) is None and cache.entries("old").get(2) == 2
    kept = cache.entries("only")
    for i in range(5):
        kept.put(i, i)
    assert len(cache) == 3 and cache.learner_size("only") == 3


async def test_an_idle_process_frees_expired_entries_without_any_request() -> None:
    """No request comes after the learner's last list: the periodic sweep frees the plaintext."""
    clock = Clock()
    cache: LearnerCache[str, str] = LearnerCache(10, idle_seconds=60, clock=clock)
    cache.entries("a").put("k", "plaintext")
    bound = learner_cache._IDLE[0]
    set_idle_seconds(0.04)  # the sweep runs every 10 ms (this cache keeps its own 60 s bound)
    sweeper = asyncio.create_task(sweep_periodically())
    try:
        await asyncio.sleep(0.05)
        assert len(cache) == 1  # not idle past its own bound yet
        clock.now += 61
        for _ in range(100):
            if len(cache) == 0:
                break
            await asyncio.sleep(0.01)
        assert len(cache) == 0 and cache.learner_size("a") == 0
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        set_idle_seconds(bound)

