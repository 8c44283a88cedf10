"""What holds the event loop is measured, and what start-up built is out of the collector's scans.

A full collection over every object a started replica holds (~200,000) held the event loop
~110 ms of CPU, a few times per 10,000 requests: the overload tail. ``satchel serve`` freezes
what start-up built (``gc.freeze``), and ``/metrics`` shows each collection's pause and the
event loop's lag. No test here times anything: pauses come from a clock the test sets, and the
lag probe is held far longer than the bound it is checked against.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client.values import MutexValue

from holder_api.app import create_app
from holder_api.pauses import GcPauses, LoopLag, freeze_startup_heap
from holder_api.settings import Settings
from tests.holder_api.served import Served
from tests.support.apps import app_env
from tests.support.backends import sqlite_backend


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float:
    value = registry.get_sample_value(name, labels)
    assert value is not None, name
    return value


class _Clocks:
    def __init__(self) -> None:
        self.wall = self.cpu = 0.0


def test_each_collection_is_recorded_by_generation_with_its_wall_and_cpu_time() -> None:
    registry, clocks = CollectorRegistry(), _Clocks()
    pauses = GcPauses(registry, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)

    def collection(generation: int, wall: float, cpu: float) -> None:
        pauses("start", {"generation": generation})
        clocks.wall += wall
        clocks.cpu += cpu
        pauses("stop", {"generation": generation, "collected": 0, "uncollectable": 0})

    collection(0, 0.0002, 0.0002)
    collection(2, 0.180, 0.110)  # preempted for 70 ms meanwhile: wall and CPU differ
    collection(2, 0.060, 0.050)

    assert _sample(registry, "satchel_gc_pause_seconds_count", generation="0") == 1
    assert _sample(registry, "satchel_gc_pause_seconds_count", generation="2") == 2
    assert _sample(registry, "satchel_gc_pause_seconds_bucket", generation="2", le="0.05") == 0
    assert _sample(registry, "satchel_gc_pause_seconds_bucket", generation="2", le="0.1") == 1
    assert _sample(registry, "satchel_gc_pause_longest_seconds", generation="2") == \
        pytest.approx(0.180)
    assert _sample(registry, "satchel_gc_cpu_seconds_total", generation="2") == \
        pytest.approx(0.160)
    assert _sample(registry, "satchel_gc_pause_seconds_count", generation="1") == 0


def test_a_collection_takes_no_metric_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    """A collection runs inside whatever allocation set it off, a /metrics scrape holding a
    metric's (non-reentrant) lock included: the callback must not take one, or it waits for
    itself. It records plain numbers; a collector reads them at scrape time."""
    registry, clocks = CollectorRegistry(), _Clocks()
    pauses = GcPauses(registry, clock=lambda: clocks.wall, cpu_clock=lambda: clocks.cpu)

    def locked(*_args: object) -> None:
        raise AssertionError("a prometheus_client value (and its lock) touched in a collection")

    with monkeypatch.context() as patched:
        for method in ("inc", "set", "get"):
            patched.setattr(MutexValue, method, locked)
        pauses("start", {"generation": 2})
        clocks.wall, clocks.cpu = 0.030, 0.020
        pauses("stop", {"generation": 2, "collected": 0, "uncollectable": 0})
    assert _sample(registry, "satchel_gc_pause_seconds_count", generation="2") == 1
    assert _sample(registry, "satchel_gc_pause_seconds_bucket", generation="2", le="0.025") == 0
    assert _sample(registry, "satchel_gc_pause_seconds_bucket", generation="2", le="+Inf") == 1
    assert _sample(registry, "satchel_gc_pause_seconds_sum", generation="2") == \
        pytest.approx(0.030)
    assert _sample(registry, "satchel_gc_pause_longest_seconds", generation="2") == \
        pytest.approx(0.030)
    assert _sample(registry, "satchel_gc_cpu_seconds_total", generation="2") == \
        pytest.approx(0.020)
    assert _sample(registry, "satchel_gc_frozen_objects") == gc.get_freeze_count()


def test_the_callback_records_without_a_registry() -> None:
    pauses = GcPauses(None)  # never registered: nothing to export to, and nothing needed
    pauses("start", {"generation": 0})
    pauses("stop", {"generation": 0, "collected": 0, "uncollectable": 0})
    exported = {m.name: m for m in pauses.collect()}
    assert exported["satchel_gc_pause_seconds"].type == "histogram"
    assert exported["satchel_gc_pause_longest_seconds"].type == "gauge"
    assert exported["satchel_gc_cpu_seconds"].type == "counter"
    counts = [s.value for s in exported["satchel_gc_pause_seconds"].samples
              if s.name == "satchel_gc_pause_seconds_count"]
    assert counts == [1, 0, 0]  # generations 0, 1, 2


async def test_the_lag_probe_sees_a_loop_held_by_blocking_work() -> None:
    registry = CollectorRegistry()
    probe = LoopLag(registry, period=0.01)
    lifetime = probe.running(web.Application())
    await anext(lifetime)
    await asyncio.sleep(0)  # the probe's first sleep is due 10 ms from now
    time.sleep(0.2)  # noqa: ASYNC251 -- holding the loop is the point: it wakes >= 190 ms late
    await asyncio.sleep(0.05)
    with pytest.raises(StopAsyncIteration):
        await anext(lifetime)
    late = _sample(registry, "satchel_event_loop_lag_seconds_count") - _sample(
        registry, "satchel_event_loop_lag_seconds_bucket", le="0.1")
    assert late >= 1


async def test_each_lag_reading_reaches_the_listener_with_the_loop_time() -> None:
    """The adaptive in-flight limit reads the probe's lags (no timer of its own)."""
    readings: list[tuple[float, float]] = []
    three = asyncio.Event()

    def listener(now: float, lag: float) -> None:
        readings.append((now, lag))
        if len(readings) == 3:
            three.set()

    probe = LoopLag(CollectorRegistry(), period=0.01, listener=listener)
    lifetime = probe.running(web.Application())
    await anext(lifetime)
    await asyncio.sleep(0)
    start = asyncio.get_running_loop().time()
    time.sleep(0.2)  # noqa: ASYNC251 -- holding the loop: the first reading is >= 190 ms late
    await asyncio.wait_for(three.wait(), 10)
    with pytest.raises(StopAsyncIteration):
        await anext(lifetime)
    assert readings[0][0] >= start + 0.2
    assert readings[0][1] >= 0.19
    assert [now for now, _ in readings] == sorted(now for now, _ in readings)


async def test_the_app_times_collections_only_while_it_runs(tmp_path: Path) -> None:
    def timing() -> int:
        return sum(isinstance(cb, GcPauses) for cb in gc.callbacks)

    before = timing()  # an app another test left running would count too
    app = create_app(Settings.from_env(app_env(sqlite_backend(tmp_path))))
    async with TestClient(TestServer(app)) as client:
        assert timing() == before + 1
        gc.collect(2)
        metrics = await (await client.get("/metrics")).text()
        assert 'satchel_gc_pause_seconds_count{generation="2"}' in metrics
        assert 'satchel_gc_pause_seconds_count{generation="2"} 0.0' not in metrics
        assert "satchel_event_loop_lag_seconds_count" in metrics
    assert timing() == before  # removed at cleanup


#: a ``sitecustomize`` that records each full collection in a served process (its docstring)
GC_PROBE = Path(__file__).parent / "gc_probe"
_FULL = 'satchel_gc_pause_seconds_count{generation="2"}'


async def _metrics(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    async with http.get(url + "/metrics") as r:
        text = await r.text()
    return dict(line.rsplit(" ", 1) for line in text.splitlines()
                if line and not line.startswith("#"))


async def test_satchel_serve_freezes_what_start_up_built(tmp_path: Path) -> None:
    """What the freeze guarantees, whatever full collections the collector runs on its own
    meanwhile: start-up's objects are frozen; every full collection after start-up (one is
    forced, SIGUSR1 to the probe) examines a fraction of them, and the pause metrics count it;
    the freeze's own full collection ran with ``gc.callbacks`` emptied, so no pause metric
    holds it (it was ~90 ms, shown as the longest pause for the process's life). Counts from
    the process's own collector (:data:`GC_PROBE`), no clock."""
    served, probed = Served(sqlite_backend(tmp_path)), tmp_path / "full-collections.jsonl"
    served.env["PYTHONPATH"] += os.pathsep + str(GC_PROBE)
    served.env["SATCHEL_TEST_GC_PROBE"] = str(probed)
    async with served, aiohttp.ClientSession() as http:
        served.signal(signal.SIGUSR1)
        for _ in range(600):  # until the forced collection shows (at most 30 s)
            samples = await _metrics(http, served.url)
            if float(samples[_FULL]) >= 1:
                break
            await asyncio.sleep(0.05)
        full: list[dict[str, Any]] = [json.loads(line)
                                      for line in probed.read_text().splitlines()]
    frozen = float(samples["satchel_gc_frozen_objects"])
    assert frozen > 10_000  # modules, functions, types
    after = [c for c in full if c["frozen"]]  # the full collections after the freeze
    assert after, full
    assert max(c["scanned"] for c in after) < frozen / 4, after
    # each was timed (the probe's line is written before GcPauses counts: never fewer lines)
    assert all(c["timed"] for c in after)
    assert 1 <= float(samples[_FULL]) <= sum(c["timed"] for c in full)
    # the freeze's collection, and only it, ran no callback: GcPauses never saw it
    assert [c["unseen"] for c in after] == [1] * len(after), full


def test_the_freeze_collects_unseen_by_the_pause_metrics() -> None:
    registry = CollectorRegistry()
    pauses = GcPauses(registry)
    gc.callbacks.append(pauses)
    try:
        assert freeze_startup_heap() > 0
    finally:
        gc.unfreeze()  # the test process's heap is no start-up heap: back to the collector
        gc.callbacks.remove(pauses)  # still installed: put back after the collection
    assert _sample(registry, "satchel_gc_pause_seconds_count", generation="2") == 0
