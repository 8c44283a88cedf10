"""What stops the event loop: the garbage collector's pauses, and the loop's lag.

One replica is one event loop, so anything that holds the loop holds every request in flight:
a pause of 200 ms is a 200 ms tail for all of them at once, whatever admission does. Two probes
make such pauses visible in ``/metrics``:

- :class:`GcPauses` times every collection of CPython's cyclic garbage collector (``gc.callbacks``
  run at its start and stop), by generation;
- :class:`LoopLag` sleeps a short, fixed time over and over and records how late it woke up: the
  longest the loop spent on other work in that time (a collection, a long callback, or the
  process not getting the CPU at all).

They are installed for the app's lifetime (a ``cleanup_ctx``): ``gc.callbacks`` is one list for
the process, so an app that is cleaned up removes its callback again.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = ["GcPauses", "LoopLag", "freeze_startup_heap"]

_PAUSE_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0)
_LAG_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0, 2.5)


class GcPauses:
    """Each collection's pause, by generation (0, 1, 2), and the longest so far."""

    def __init__(self, registry: CollectorRegistry,
                 clock: Callable[[], float] = time.perf_counter,
                 cpu_clock: Callable[[], float] = time.thread_time) -> None:
        self._clock, self._cpu_clock = clock, cpu_clock
        self._started = self._cpu_started = 0.0
        self._pause = Histogram("satchel_gc_pause_seconds", "How long each collection of the "
                                "garbage collector held the event loop, by generation",
                                ["generation"], buckets=_PAUSE_BUCKETS, registry=registry)
        self._longest = Gauge("satchel_gc_pause_longest_seconds", "The longest collection "
                              "pause since the start, by generation", ["generation"],
                              registry=registry)
        # CPU time too: on a shared machine a pause's wall time includes time without the CPU
        self._cpu = Counter("satchel_gc_cpu_seconds", "CPU time the event loop's thread spent "
                            "in collections, by generation", ["generation"], registry=registry)
        self._by_gen = [(self._pause.labels(str(g)), self._longest.labels(str(g)),
                         self._cpu.labels(str(g))) for g in range(3)]
        self._max = [0.0, 0.0, 0.0]
        Gauge("satchel_gc_frozen_objects", "Objects in the collector's permanent generation "
              "(gc.freeze at start-up): never scanned again",
              registry=registry).set_function(lambda: float(gc.get_freeze_count()))

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started, self._cpu_started = self._clock(), self._cpu_clock()
            return
        paused = self._clock() - self._started
        generation = info["generation"]
        pause, longest, cpu = self._by_gen[generation]
        pause.observe(paused)
        cpu.inc(max(0.0, self._cpu_clock() - self._cpu_started))
        if paused > self._max[generation]:
            self._max[generation] = paused
            longest.set(paused)

    async def installed(self, _app: web.Application) -> AsyncIterator[None]:
        """Time collections while the app runs (a ``cleanup_ctx`` body)."""
        gc.callbacks.append(self)
        try:
            yield
        finally:
            gc.callbacks.remove(self)


class LoopLag:
    """How late a sleep of ``period`` seconds wakes up, over and over."""

    def __init__(self, registry: CollectorRegistry, period: float = 0.025) -> None:
        self.period = period
        self._lag = Histogram("satchel_event_loop_lag_seconds", "How late the event loop ran a "
                              f"callback due after {period * 1000:g} ms: the time it was held "
                              "by other work (collections, long callbacks, no CPU)",
                              buckets=_LAG_BUCKETS, registry=registry)

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period
            await asyncio.sleep(self.period)
            self._lag.observe(max(0.0, loop.time() - due))

    async def running(self, _app: web.Application) -> AsyncIterator[None]:
        """Probe while the app runs (a ``cleanup_ctx`` body)."""
        task = asyncio.create_task(self._probe())
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


def freeze_startup_heap() -> int:
    """Move every object alive once the replica has started into the collector's permanent
    generation (``gc.freeze``); the number of objects frozen.

    A started replica holds ~200,000 objects the collector tracks — modules, functions, types,
    the settings, the compiled SQL, the keyring — that live as long as the process. CPython
    scans all of them at every full (generation 2) collection: ~110 ms of CPU here, holding the
    event loop, and so every request in flight, that long, a few times per 10,000 requests.
    None of them will ever be garbage, so they are frozen: a full collection then scans only
    what was created since (caches, requests in flight). Frozen objects are still freed when
    their last reference goes; only a reference cycle among them would stay, and what start-up
    built lives until exit anyway. Collected first, so no garbage is frozen.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

