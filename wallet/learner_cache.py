"""Per-learner, time-bounded in-process caches of what an unlocked learner's requests compute.

Such a cache keeps plaintext (e.g. opened credential summaries), so it must not outlive the
learner's session (docs/architecture.md, "The vault's rows"):

- entries are grouped by learner: :func:`forget_learner` drops every group of a learner in every
  cache at once (logout, passphrase change, erasure);
- an entry not used for ``idle_seconds`` is never returned again; it is freed when its
  learner's entries are next opened, or by the sweep of every group that the first request after
  each ``idle_seconds / 4`` makes (so within 1.25 × the bound while the process serves anything);
  the bound defaults to the access token lifetime (``SATCHEL_TOKEN_TTL``, set with
  :func:`set_idle_seconds`), the longest a replica may still hold a learner's vault key in its
  token memo (wallet.accounts.tokens);
- a replica that serves nothing sweeps too: the app runs :func:`sweep_periodically`, so no entry
  stays in memory longer than 1.25 × the bound, busy or idle;
- the total size is bounded (the least recently used learner's oldest entry goes first).

Other in-process memos of what unlocks a learner register with :func:`sweep_also` to be swept on
the same schedule (the token memo of wallet.accounts.tokens: its entries of expired tokens).

A hit is one dict lookup and one store of the time it was used.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

__all__ = ["LearnerCache", "LearnerEntries", "Sweepable", "forget_learner", "set_idle_seconds",
           "sweep_all", "sweep_also", "sweep_periodically"]

K = TypeVar("K")
V = TypeVar("V")

#: The idle bound until :func:`set_idle_seconds`: the default access token lifetime.
DEFAULT_IDLE_SECONDS = 900.0

_CACHES: weakref.WeakSet[LearnerCache[Any, Any]] = weakref.WeakSet()


class Sweepable(Protocol):
    """Something :func:`sweep_all` frees the stale entries of (weakly referenced)."""

    def sweep(self) -> None: ...


_SWEPT: weakref.WeakSet[Sweepable] = weakref.WeakSet()


class _Entry(Generic[V]):
    """A cached value and when it was last used (monotonic seconds)."""

    __slots__ = ("used", "value")

    def __init__(self, value: V, used: float) -> None:
        self.value, self.used = value, used


class LearnerEntries(Generic[K, V]):
    """One learner's entries in one cache, for the duration of one request."""

    __slots__ = ("_cache", "_cutoff", "_entries", "_learner_id", "_now")

    def __init__(self, cache: LearnerCache[K, V], learner_id: str, entries: dict[K, _Entry[V]],
                 now: float) -> None:
        self._cache, self._learner_id, self._entries = cache, learner_id, entries
        self._now, self._cutoff = now, now - cache.idle_seconds

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None or entry.used < self._cutoff:
            return None
        entry.used = self._now
        return entry.value

    def put(self, key: K, value: V) -> None:
        self._cache._put(self._learner_id, self._entries, key, _Entry(value, self._now))


class LearnerCache(Generic[K, V]):
    """A bounded, per-learner cache whose entries go after ``idle_seconds`` unused."""

    __slots__ = ("__weakref__", "_clock", "_groups", "_idle", "_max", "_size", "_swept")

    def __init__(self, max_entries: int, *, idle_seconds: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_entries
        self._idle = idle_seconds
        self._clock = clock
        # learner id -> its entries (key -> [value, last used]); least recently opened first
        self._groups: dict[str, dict[K, _Entry[V]]] = {}
        self._size = 0
        self._swept = clock()
        _CACHES.add(self)

    @property
    def idle_seconds(self) -> float:
        return _IDLE[0] if self._idle is None else self._idle

    def entries(self, learner_id: str) -> LearnerEntries[K, V]:
        """The learner's entries (stale ones swept first); the learner becomes the most recent."""
        now = self._clock()
        idle = self.idle_seconds
        if now - self._swept >= idle / 4:
            self._sweep(now - idle)
            self._swept = now
        group = self._groups.pop(learner_id, None)
        if group is None:
            group = {}
        else:  # a list reads the whole group anyway: freeing its stale entries is as cheap
            self._sweep_group(group, now - idle)
        self._groups[learner_id] = group
        return LearnerEntries(self, learner_id, group, now)

    def _put(self, learner_id: str, group: dict[K, _Entry[V]], key: K,
             entry: _Entry[V]) -> None:
        if self._groups.get(learner_id) is not group:  # forgotten meanwhile: keep nothing
            return
        if key not in group:
            while self._size >= self._max:
                self._evict_one()
            self._groups.setdefault(learner_id, group)  # evicting may have emptied it
            self._size += 1
        group[key] = entry

    def _evict_one(self) -> None:
        learner_id, oldest = next(iter(self._groups.items()))
        if oldest:
            del oldest[next(iter(oldest))]
            self._size -= 1
        if not oldest:
            del self._groups[learner_id]

    def _sweep_group(self, group: dict[K, _Entry[V]], cutoff: float) -> None:
        stale = [k for k, e in group.items() if e.used < cutoff]
        for k in stale:
            del group[k]
        self._size -= len(stale)

    def _sweep(self, cutoff: float) -> None:
        for learner_id in list(self._groups):
            group = self._groups[learner_id]
            self._sweep_group(group, cutoff)
            if not group:
                del self._groups[learner_id]

    def sweep(self) -> None:
        """Free every entry idle past the bound now."""
        now = self._clock()
        self._sweep(now - self.idle_seconds)
        self._swept = now

    def forget(self, learner_id: str) -> None:
        group = self._groups.pop(learner_id, None)
        if group is not None:
            self._size -= len(group)
            group.clear()

    def learner_size(self, learner_id: str) -> int:
        return len(self._groups.get(learner_id, ()))

    def __len__(self) -> int:
        return self._size

    def clear(self) -> None:
        for group in self._groups.values():
            group.clear()
        self._groups.clear()
        self._size = 0


_IDLE = [DEFAULT_IDLE_SECONDS]


def set_idle_seconds(seconds: float) -> None:
    """The idle bound of every cache without one of its own (the app sets the token lifetime)."""
    if seconds <= 0:
        raise ValueError("the idle bound must be positive")
    _IDLE[0] = float(seconds)


def forget_learner(learner_id: str) -> None:
    """Drop the learner's entries from every per-learner cache in this process."""
    for cache in list(_CACHES):
        cache.forget(learner_id)


def sweep_also(memo: Sweepable) -> None:
    """Have :func:`sweep_all` (so the app's :func:`sweep_periodically`) sweep ``memo`` too, for
    as long as it exists."""
    _SWEPT.add(memo)


def sweep_all() -> None:
    """Free every entry idle past its bound, in every cache of this process, and what every
    :func:`sweep_also` memo holds past its own bound."""
    for cache in list(_CACHES):
        cache.sweep()
    for memo in list(_SWEPT):
        memo.sweep()


async def sweep_periodically() -> None:
    """Sweep every cache each quarter of the idle bound, until cancelled (the app's lifetime):
    without it a replica that stops serving would keep the plaintext it cached until its next
    request."""
    while True:
        await asyncio.sleep(_IDLE[0] / 4)
        sweep_all()
