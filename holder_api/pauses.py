"""What stops the event loop: the garbage collector's pauses, and the loop's lag.

One replica is one event loop, so anything that holds the loop holds every request in flight:
a pause of 200 ms is a 200 ms tail for all of them at once, whatever admission does. Two probes
make such pauses visible in ``/metrics``:

- :class:`GcPauses` times every collection of CPython's cyclic garbage collector (``gc.callbacks``
  run at its start and stop), by generation;
- :class:`LoopLag` sleeps a short, fixed time over and over and records how late it woke up: the
  longest the loop spent on other work in that time (a collection, a long callback, or the
  process not getting the CPU at all); each reading also goes to the adaptive in-flight limit
  (:class:`holder_api.concurrency_limit.LoopLimit`), which needs no timer of its own.

They are installed for the app's lifetime (a ``cleanup_ctx``): ``gc.callbacks`` is one list for
the process, so an app that is cleaned up removes its callback again.
"""

from __future__ import annotations

import asyncio
import gc
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Callable, Iterator
from itertools import accumulate
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric

__all__ = ["GcPauses", "LoopLag", "freeze_startup_heap"]

_PAUSE_BUCKETS = (.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0)
_PAUSE_LE = (*(str(bound) for bound in _PAUSE_BUCKETS), "+Inf")  # as exported
_LAG_BUCKETS = (.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1.0, 2.5)


class GcPauses:
    """Each collection's pause, by generation (0, 1, 2), and the longest so far.

    A collection runs synchronously inside whatever allocation set it off, a ``/metrics``
    scrape holding a metric's (non-reentrant) lock included; so the callback takes no lock:
    it adds to plain numbers, and :meth:`collect` (this is a prometheus collector) reads them
    at scrape time. A scrape may see a collection in one series and not yet in another; the
    next scrape has it in both.
    """

    def __init__(self, registry: CollectorRegistry | None,
                 clock: Callable[[], float] = time.perf_counter,
                 cpu_clock: Callable[[], float] = time.thread_time) -> None:
        self._clock, self._cpu_clock = clock, cpu_clock
        self._started = self._cpu_started = 0.0
        # per generation: collections per bucket (the last one: above every bound), their sum
        self._buckets = [[0] * (len(_PAUSE_BUCKETS) + 1) for _ in range(3)]
        self._sum = [0.0, 0.0, 0.0]
        self._max = [0.0, 0.0, 0.0]
        self._cpu = [0.0, 0.0, 0.0]
        if registry is not None:
            registry.register(self)

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started, self._cpu_started = self._clock(), self._cpu_clock()
            return
        paused = self._clock() - self._started
        generation = info["generation"]
        self._buckets[generation][bisect_left(_PAUSE_BUCKETS, paused)] += 1
        self._sum[generation] += paused
        self._cpu[generation] += max(0.0, self._cpu_clock() - self._cpu_started)
        if paused > self._max[generation]:
            self._max[generation] = paused

    def collect(self) -> Iterator[Metric]:
        """The metrics, from the numbers the callback keeps (a prometheus collector)."""
        pause = HistogramMetricFamily(
            "satchel_gc_pause_seconds", "How long each collection of the garbage collector "
            "held the collecting thread (the event loop's, in a replica), by generation",
            labels=["generation"])
        longest = GaugeMetricFamily("satchel_gc_pause_longest_seconds", "The longest "
                                    "collection pause since the start, by generation",
                                    labels=["generation"])
        # CPU time too: on a shared machine a pause's wall time includes time without the CPU
        cpu = CounterMetricFamily("satchel_gc_cpu_seconds", "CPU time the collecting thread "
                                  "spent in collections, by generation", labels=["generation"])
        for generation in range(3):
            label = [str(generation)]
            counts = accumulate(list(self._buckets[generation]))
            pause.add_metric(label, list(zip(_PAUSE_LE, counts, strict=True)),
                             self._sum[generation])
            longest.add_metric(label, self._max[generation])
            cpu.add_metric(label, self._cpu[generation])
        yield pause
        yield longest
        yield cpu
        yield GaugeMetricFamily("satchel_gc_frozen_objects", "Objects in the collector's "
                                "permanent generation (gc.freeze at start-up): never scanned "
                                "again", value=float(gc.get_freeze_count()))

    async def installed(self, _app: web.Application) -> AsyncIterator[None]:
        """Time collections while the app runs (a ``cleanup_ctx`` body)."""
        gc.callbacks.append(self)
        try:
            yield
        finally:
            gc.callbacks.remove(self)


class LoopLag:
    """How late a sleep of ``period`` seconds wakes up, over and over."""

    def __init__(self, registry: CollectorRegistry, period: float = 0.025,
                 listener: Callable[[float, float], None] | None = None) -> None:
        self.period = period
        self._listener = listener  # called with (loop time, lag) at each reading
        self._lag = Histogram("satchel_event_loop_lag_seconds", "How late the event loop ran a "
                              f"callback due after {period * 1000:g} ms: the time it was held "
                              "by other work (collections, long callbacks, no CPU)",
                              buckets=_LAG_BUCKETS, registry=registry)

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            due = loop.time() + self.period
            await asyncio.sleep(self.period)
            now = loop.time()
            lag = max(0.0, now - due)
            self._lag.observe(lag)
            if self._listener is not None:
                self._listener(now, lag)

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
    their last reference goes, but a reference cycle through one is never collected (the
    collector no longer looks at it): a start-up cycle dropped later stays, with what hangs
    from it, for good. Bounded and one-time: only start-up's objects are frozen, each can be
    lost once. Collected first, so no garbage is frozen.

    That collection runs with ``gc.callbacks`` emptied: it is start-up's, not a pause the
    replica had while serving, and :class:`GcPauses` (installed as the app started) would
    otherwise show it as the longest full collection for the process's whole life.
    """
    callbacks = gc.callbacks[:]
    gc.callbacks.clear()
    try:
        gc.collect()
        gc.freeze()
    finally:
        gc.callbacks[:0] = callbacks  # the same list, in place: gc holds that one
    return gc.get_freeze_count()

