"""The adaptive in-flight limit reads the event loop, not requests' wall time: it shrinks while the
loop is saturated and callbacks queue in it, never while requests wait on the database, grows
back once the loop has time to spare, and stays within its floor and ceiling.

Deterministic: the controller gets its readings (busy share, lag) from the test; the simulations
run an admission in front of a simulated event loop (one CPU shared by the requests ready to run,
database waits that take no CPU) on a clock the test moves, and feed the limit what the loop-lag
probe and the kernel would tell it.
"""

from __future__ import annotations

import asyncio
import inspect
import random
import statistics
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from holder_api import concurrency_limit
from holder_api.admission import Admission, _Ticket
from holder_api.appkeys import ADMISSION, SETTINGS
from holder_api.concurrency_limit import LoopLimit, thread_sched_seconds
from holder_api.errors import Overloaded
from holder_api.settings import DECLARED, Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]

SATURATED, QUEUEING = 1.0, 0.010  # the loop never idle; callbacks wait 10 ms for it


def _limits(limit: LoopLimit, readings: list[tuple[float, float]]) -> list[int]:
    seen = []
    for busy, lag in readings:
        limit.update(busy, lag)
        seen.append(limit.limit)
    return seen


# ------------------------------------------------------------------------------- the controller

def test_a_saturated_loop_whose_callbacks_queue_shrinks_the_limit_down_to_the_floor() -> None:
    limit = LoopLimit(16, floor=2)
    seen = _limits(limit, [(SATURATED, QUEUEING)] * 60)
    assert seen == sorted(seen, reverse=True)  # never up while it is saturated
    assert seen[:4] == [12, 9, 7, 5]  # by a quarter at most: toward lag on target, smoothly
    assert seen[-1] == 2  # and never below the floor


def test_a_saturated_loop_without_queueing_holds_the_limit() -> None:
    """The band between shrinking and growing: the loop is kept busy and callbacks do not wait
    in it; the limit stays where it is (no oscillation)."""
    limit = LoopLimit(16, floor=2)
    assert _limits(limit, [(SATURATED, QUEUEING)] * 3) == [12, 9, 7]
    assert _limits(limit, [(SATURATED, 0.0015)] * 50) == [7] * 50  # no cut past the need
    # one late interval after calm ones (a collection, a preemption) is smoothed away
    assert _limits(limit, [(SATURATED, 0.0008), (SATURATED, 0.0025)] * 10) == [7] * 20
    # callbacks hardly wait (the smoothed lag under half the target from the second interval):
    # one more in flight at a time
    assert _limits(limit, [(SATURATED, 0.0005)] * 4) == [7, 8, 9, 10]


def test_a_busy_loop_that_is_not_saturated_never_shrinks_whatever_its_lag() -> None:
    """Requests waiting on the database leave the loop idle: however long they (and a stray
    long callback) take, the limit stays at its ceiling."""
    limit = LoopLimit(16, floor=2)
    assert set(_limits(limit, [(0.6, 0.050), (0.85, 0.020), (0.3, 0.200)] * 30)) == {16}


def test_the_limit_grows_back_once_the_saturation_ends() -> None:
    limit = LoopLimit(16, floor=2)
    _limits(limit, [(SATURATED, QUEUEING)] * 60)
    assert limit.limit == 2
    near = _limits(limit, [(0.85, 0.001)] * 40)  # time to spare, if little
    assert near == sorted(near)
    assert near[-1] == 16
    _limits(limit, [(SATURATED, QUEUEING)] * 60)
    idle = _limits(limit, [(0.1, 0.0)] * 10)  # an idle loop: back faster
    assert idle == sorted(idle)
    assert idle.index(16) < near.index(16)


def test_the_limit_stays_within_its_floor_and_ceiling_whatever_it_reads() -> None:
    rng = random.Random(7)
    for ceiling, floor in ((16, 2), (4, 2), (1, 2), (64, 8)):
        limit = LoopLimit(ceiling, floor=floor)
        readings = [(rng.choice((0.0, 0.5, 0.89, 0.9, 1.0, 1.7, -0.2)),
                     rng.choice((0.0, 0.0005, 0.002, 0.003, 0.5, -1.0))) for _ in range(2000)]
        seen = _limits(limit, readings)
        assert min(seen) >= min(floor, ceiling)
        assert max(seen) <= ceiling
        assert limit.floor <= limit.limit <= limit.ceiling


class Reading:
    """What the code reads, moved by the test: a monotonic clock."""

    def __init__(self) -> None:
        self.value = 0.0

    def __call__(self) -> float:
        return self.value


class Sched:
    """What the kernel would report for the loop's thread, moved by the test: seconds it ran on a
    CPU, seconds it waited in the run queue for one."""

    def __init__(self) -> None:
        self.ran = self.waited = 0.0
        self.reads = 0

    def __call__(self) -> tuple[float, float]:
        self.reads += 1
        return self.ran, self.waited


def test_probes_are_gathered_per_interval_and_the_limit_moves_once_per_interval() -> None:
    sched = Sched()
    limit = LoopLimit(16, interval=0.1, sched_seconds=sched)
    assert not limit.probe(10.0, 0.5)  # the first reading only starts the first interval
    for now in (10.025, 10.05, 10.075):  # within the interval: nothing moved
        sched.ran += 0.025
        assert not limit.probe(now, 0.004)
    assert (limit.busy, limit.lag, limit.limit) == (0.0, 0.0, 16)
    sched.ran += 0.026  # the loop never idle
    assert limit.probe(10.101, 0.008)  # the mean lag: 5 ms, the smoothed 2.5 ms
    assert sched.reads == 5  # one small read per probe, none per request
    assert limit.busy == pytest.approx(1.0)  # all of it busy
    assert limit.lag == pytest.approx(0.5 * (3 * 0.004 + 0.008) / 4)  # not the first probe's
    assert limit.limit == 12
    changed = [limit.probe(10.101 + 0.101 * k, 0.008) for k in range(1, 40)]  # no run time
    assert limit.busy == 0.0  # an idle loop, whatever its lag
    assert limit.limit == 16 and changed.count(True) == 1


def _probed(limit: LoopLimit, sched: Sched, clock: Reading, intervals: int, *, ran: float,
            waited: float, lag: float) -> list[int]:
    """``intervals`` intervals of four 25 ms probe readings, in each of which the loop's thread ran
    ``ran`` and waited for a CPU ``waited`` (shares of the time), every reading ``lag`` late."""
    seen = []
    for _ in range(intervals):
        for _ in range(4):
            clock.value += 0.025
            sched.ran += ran * 0.025
            sched.waited += waited * 0.025
            limit.probe(clock.value, lag)
        seen.append(limit.limit)
    return seen


def test_time_spent_waiting_for_a_cpu_other_processes_hold_is_neither_busy_nor_lag() -> None:
    """On a shared host the loop's thread is ready but waits in the run queue (here 40 % of the
    time), and every probe is late by about that wait: neither is queueing inside the loop, so a
    saturated loop whose own callbacks do not wait holds its limit (the earlier reading, run
    plus run-queue time and the wall-time lag, cut it to its floor and served fewer requests)."""
    sched, clock = Sched(), Reading()
    limit = LoopLimit(16, sched_seconds=sched)
    limit.probe(clock.value, 0.0)
    # ran 60 %, waited 40 %: every moment it could run, it ran (saturated); each 25 ms probe
    # 3 ms late: 1.8 ms in the loop's own time, within the band
    seen = _probed(limit, sched, clock, 50, ran=0.6, waited=0.4, lag=0.003)
    assert limit.busy == pytest.approx(1.0)
    assert limit.cpu_wait == pytest.approx(0.4)
    assert limit.lag == pytest.approx(0.0018)
    assert set(seen) == {16}
    # the same loop 10 ms late: 6 ms of its own, it narrows
    seen = _probed(limit, sched, clock, 8, ran=0.6, waited=0.4, lag=0.010)
    assert seen == sorted(seen, reverse=True) and seen[-1] < 8
    assert limit.lag == pytest.approx(0.006, rel=0.05)
    # a loop preempted as often but with time to spare (it ran 30 % of the 60 % it could):
    # not saturated, back to the ceiling
    seen = _probed(limit, sched, clock, 30, ran=0.3, waited=0.4, lag=0.016)
    assert limit.busy == pytest.approx(0.5)
    assert seen[-1] == 16


def test_the_scheduler_clock_is_the_threads_run_and_run_queue_time_apart(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stat = tmp_path / "schedstat"
    stat.write_text("1250000000 750000000 4711\n")  # ns on a CPU, ns waiting for one, slices
    monkeypatch.setattr(concurrency_limit, "_SCHEDSTAT", str(stat))
    monkeypatch.setattr(concurrency_limit, "_HAS_SCHEDSTAT", True)
    assert thread_sched_seconds() == pytest.approx((1.25, 0.75))
    monkeypatch.setattr(concurrency_limit, "_HAS_SCHEDSTAT", False)  # a kernel without it
    monkeypatch.setattr(concurrency_limit.time, "thread_time", lambda: 3.5)
    assert thread_sched_seconds() == (3.5, 0.0)


def test_its_settings_are_checked() -> None:
    for bad in ({"ceiling": 0}, {"interval": 0.0}, {"busy_target": 0.0}, {"busy_target": 1.5},
                {"lag_target": -1.0}, {"shrink": 1.0}, {"smoothing": 0.0}):
        with pytest.raises(ValueError):
            LoopLimit(**{"ceiling": 8, **bad})
    assert LoopLimit(1, floor=2).floor == 1  # never above the ceiling


def test_the_settings_help_and_the_operations_guide_state_its_own_numbers() -> None:
    defaults = {name: p.default for name, p in inspect.signature(LoopLimit).parameters.items()}
    declared = next(s for s in DECLARED if s.name == "SATCHEL_ADAPTIVE_IN_FLIGHT")
    help_text = " ".join(declared.help.split())
    guide = " ".join((ROOT / "docs" / "operations.md").read_text(encoding="utf-8").split())
    for text in (help_text, guide):
        assert f"at least {defaults['busy_target']:.0%} of a {defaults['interval']:g} s " \
            "interval" in text
        assert f"lag above {defaults['lag_target'] * 1000:g} ms" in text
        assert "by at most a quarter" in text and defaults["shrink"] == 0.25
        assert f"between {defaults['floor']} and SATCHEL_MAX_IN_FLIGHT" in text


# ------------------------------------------------------------------------ in front of admission

async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


def _adaptive(limit: int, queue: int, clock: Reading, sched: Sched) -> Admission:
    adm = Admission(limit=limit, queue=queue, clock=clock, target=0.005, interval=0.1)
    adm.loop_limit = LoopLimit(limit, sched_seconds=sched)
    return adm


async def test_a_shrunk_limit_keeps_a_freed_slot_and_a_grown_one_admits_waiters_at_once() -> None:
    clock, sched = Reading(), Sched()
    adm = _adaptive(4, 8, clock, sched)
    assert adm.loop_limit is not None
    for _ in range(4):
        await adm.acquire()
    waiter = asyncio.create_task(adm.acquire())
    await _settle()
    adm.loop_limit.limit = 2  # as after saturated intervals
    adm.release()
    await _settle()
    assert (adm.running, waiter.done()) == (3, False)
    adm.release()
    adm.release()  # two running: under the limit again, the waiter gets the freed slot
    await _settle()
    assert (adm.running, waiter.done()) == (2, True)
    more = [asyncio.create_task(adm.acquire()) for _ in range(3)]
    await _settle()
    adm.loop_probe(clock.value, 0.0)  # the first probe: an interval starts
    for _ in range(8):  # the loop idles: the limit grows, and waiters are admitted at once,
        clock.value += 0.025  # without a slot being freed
        adm.loop_probe(clock.value, 0.0)
    await _settle()
    assert adm.limit == 4
    assert (adm.running, sum(t.done() for t in more)) == (4, 2)
    for t in more:
        t.cancel()
    await asyncio.gather(*more, return_exceptions=True)


async def test_a_burst_while_the_limit_is_low_waits_in_the_slots_it_took_away() -> None:
    """A shrunk limit moves its slots into the queue: a replica still holds ceiling + queue
    requests, so a burst the fixed limit would take whole is not shed at once."""
    clock, sched = Reading(), Sched()
    adm = _adaptive(8, 8, clock, sched)
    assert adm.loop_limit is not None
    adm.loop_limit.limit = 2
    burst = [asyncio.create_task(adm.acquire()) for _ in range(8 + 8)]
    await _settle()
    assert (adm.running, adm.waiting) == (2, 14)
    with pytest.raises(Overloaded):  # the total stays bounded: one more is refused
        await adm.acquire()
    while adm.running:  # the clock stands still: no overload, two at a time
        adm.release()
        await _settle()
    results = await asyncio.gather(*burst, return_exceptions=True)
    assert results == [None] * 16  # every one admitted, none shed


# --------------------------------------------------------------- a simulated event loop behind it

@dataclass(eq=False)
class _Request:
    phases: list[tuple[str, float]]  # ("cpu" | "io", seconds), in order
    arrived: float


class OneLoop:
    """A replica's event loop on a clock the test moves. A request's CPU phase is a callback:
    the loop runs them one at a time, in the order they became ready (as asyncio does); an I/O
    phase (a database round trip) takes no CPU. What the limit reads: the loop runs while it
    runs a callback; a probe due now waits for every callback ready ahead of it (its lag). On a
    shared host (``preempted``: the steps in which another process holds the loop's CPU) the
    loop runs nothing; its thread waits in the run queue if it has work (a callback, a probe
    due), and a probe falling due meanwhile runs late by that wait."""

    def __init__(self, adm: Admission, clock: Reading, sched: Sched, *, step: float = 0.001,
                 preempted: Callable[[int], bool] = lambda _step: False) -> None:
        self.adm, self.clock, self.sched, self.step = adm, clock, sched, step
        self.preempted = preempted
        self._probe_due: float | None = None
        self.ready: deque[_Request] = deque()  # callbacks to run, in order
        self.waiting_io: list[_Request] = []
        self.tickets: dict[_Request, _Ticket] = {}
        self.latencies: list[tuple[float, float]] = []  # (arrived, latency)
        self.shed = 0
        self.limits: list[int] = []  # at every probe
        self.tasks: list[asyncio.Task[None]] = []
        self._steps = 0

    def arrive(self, phases: list[tuple[str, float]]) -> None:
        self.tasks.append(asyncio.create_task(self._request(_Request(list(phases),
                                                                     self.clock.value))))

    async def _request(self, request: _Request) -> None:
        try:
            await self.adm.acquire()
        except Overloaded:
            self.shed += 1
            return
        self.tickets[request] = self.adm.ticket()
        self._next(request)

    def _next(self, request: _Request) -> None:
        """The request's next phase, or its end."""
        if not request.phases:
            self.latencies.append((request.arrived, self.clock.value - request.arrived))
            self.tickets.pop(request).end()
        elif request.phases[0][0] == "cpu":
            self.ready.append(request)
        else:
            self.waiting_io.append(request)

    async def tick(self) -> None:
        await _settle()
        budget = self.step
        if self.preempted(self._steps):
            if self.ready or self._probe_due is not None:
                self.sched.waited += self.step
            budget = 0.0
        elif self._probe_due is not None:  # a probe that fell due while another process ran
            self._probe(self.clock.value - self._probe_due)
        while self.ready and budget > 1e-12:
            head = self.ready[0]
            use = min(head.phases[0][1], budget)
            budget -= use
            head.phases[0] = ("cpu", head.phases[0][1] - use)
            if head.phases[0][1] <= 1e-12:
                self.ready.popleft()
                head.phases.pop(0)
                self._next(head)
        if not self.preempted(self._steps):
            self.sched.ran += self.step - budget
        self.clock.value += self.step
        for request in list(self.waiting_io):
            left = request.phases[0][1] - self.step
            if left > 1e-12:
                request.phases[0] = ("io", left)
                continue
            self.waiting_io.remove(request)
            request.phases.pop(0)
            self._next(request)
        self._steps += 1
        if self._steps % 25 == 0:
            if self.preempted(self._steps):
                self._probe_due = self.clock.value
            else:
                self._probe(0.0)
        await _settle()

    def _probe(self, late: float) -> None:
        """The loop-lag probe runs: late by any wait for the CPU, and behind the ready callbacks."""
        self._probe_due = None
        lag = late + sum(r.phases[0][1] for r in self.ready)
        self.adm.loop_probe(self.clock.value, lag)
        self.limits.append(self.adm.limit)

    async def close(self) -> None:
        for t in self.tasks:
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def percentile(self, q: float, since: float = 0.0) -> float:
        late = sorted(lat for arrived, lat in self.latencies if arrived >= since)
        return late[int(q * (len(late) - 1))]


def _behind_admission(adaptive: bool, preempted: Callable[[int], bool] = lambda _step: False,
                      ) -> OneLoop:
    """A loop behind an admission of 16 in flight and 16 queued, the limit fixed or adaptive."""
    clock, sched = Reading(), Sched()
    adm = Admission(limit=16, queue=16, clock=clock, target=0.005, interval=0.1,
                    adaptive=adaptive)
    if adaptive:
        adm.loop_limit = LoopLimit(16, sched_seconds=sched)
    return OneLoop(adm, clock, sched, preempted=preempted)


async def _db_bound_bursts(adaptive: bool) -> OneLoop:
    """Bursts of 32 requests (16 in flight + 16 queued: what the fixed limit holds) every 250 ms
    for 6 s, each 0.6 ms of CPU around a database wait of 20 ms, 60 ms in every fourth burst
    (a slow database), and a 10 ms callback now and then: the loop is never saturated."""
    loop = _behind_admission(adaptive)
    for i in range(6000):
        if i % 250 == 0:
            db = 0.060 if (i // 250) % 4 == 3 else 0.020
            for k in range(32):
                cpu = 0.010 if k == 0 and i % 1000 == 0 else 0.0003
                loop.arrive([("cpu", cpu), ("io", db), ("cpu", 0.0003)])
        await loop.tick()
    await loop.close()
    return loop


async def test_requests_waiting_on_the_database_do_not_shrink_the_limit() -> None:
    """The property a limit from wall time lacked: a slow database makes every request slower
    (latency ×3), and that is not queueing in the loop, so the burst the fixed limit served
    is served whole, and the limit never leaves its ceiling."""
    fixed = await _db_bound_bursts(adaptive=False)
    adaptive = await _db_bound_bursts(adaptive=True)
    assert fixed.shed == 0
    assert len(fixed.latencies) == 24 * 32  # every burst served
    assert adaptive.shed == 0
    assert len(adaptive.latencies) == len(fixed.latencies)
    assert set(adaptive.limits) == {16}
    assert adaptive.percentile(0.99) == pytest.approx(fixed.percentile(0.99))
    assert adaptive.adm.loop_limit is not None and adaptive.adm.loop_limit.busy < 0.9


async def _overloaded(adaptive: bool, preempted: Callable[[int], bool] = lambda _step: False,
                      ) -> OneLoop:
    """Twice the capacity for 6 s, then 2 s without load: each request three callbacks of
    1 ms of CPU in all, between them two database round trips of 1 ms (the loop serves
    1,000/s; 2,000/s offered)."""
    loop = _behind_admission(adaptive, preempted)
    for i in range(8000):
        if i < 6000:
            for _ in range(2):
                loop.arrive([("cpu", 0.0003), ("io", 0.001), ("cpu", 0.0003), ("io", 0.001),
                             ("cpu", 0.0004)])
        await loop.tick()
    await loop.close()
    return loop


async def test_a_saturated_loop_narrows_the_limit_cutting_the_latency_and_serving_as_many(
        ) -> None:
    fixed = await _overloaded(adaptive=False)
    adaptive = await _overloaded(adaptive=True)
    overload = adaptive.limits[20:240]  # 0.5-6 s
    assert 3 <= min(overload) and max(overload) <= 8  # the loop kept busy, callbacks not queued
    assert max(overload) - min(overload) <= 1  # settled, not swinging
    assert len(adaptive.latencies) >= 0.99 * len(fixed.latencies)  # the loop stays busy
    assert adaptive.percentile(0.5, since=1.0) < 0.5 * fixed.percentile(0.5, since=1.0)
    assert adaptive.percentile(0.99, since=1.0) < 0.6 * fixed.percentile(0.99, since=1.0)
    assert adaptive.limits[-1] == 16  # the load gone: back to the ceiling
    assert set(fixed.limits) == {16}


def _shared_host(step: int) -> bool:
    """Another process holds the loop's core 3 ms in every 7 (43 %: the slices of a host whose
    load is about twice its cores), out of step with the probe's 25 ms."""
    return step % 7 < 3


async def test_on_a_shared_host_the_limit_serves_as_many_as_the_fixed_one() -> None:
    """Preempted 40 % of the time, the loop's probes run late by the preemption: that lag is
    no queueing in the loop and does not narrow the limit to its floor (which starved the loop
    and served fewer); what the loop's own callbacks queue still does."""
    fixed = await _overloaded(adaptive=False, preempted=_shared_host)
    adaptive = await _overloaded(adaptive=True, preempted=_shared_host)
    overload = adaptive.limits[20:240]
    assert min(overload) >= 6  # not toward the floor (the whole lag read: 3-5)
    assert statistics.fmean(overload) < 12  # yet narrower than the fixed limit
    assert len(adaptive.latencies) >= 0.99 * len(fixed.latencies)
    assert adaptive.percentile(0.5, since=1.0) < fixed.percentile(0.5, since=1.0)
    assert adaptive.percentile(0.99, since=1.0) < fixed.percentile(0.99, since=1.0)
    assert adaptive.adm.loop_limit is not None
    assert adaptive.limits[-1] == 16


# ------------------------------------------------------------------------------- the setting

async def test_a_replica_adapts_its_limit_only_when_told_to_and_exports_it(
        make_sqlite_client: Any) -> None:
    adaptive = await make_sqlite_client(SATCHEL_ADAPTIVE_IN_FLIGHT="1")
    fixed = await make_sqlite_client()  # test apps set 0
    assert adaptive.app[ADMISSION].loop_limit is not None
    assert fixed.app[ADMISSION].loop_limit is None
    assert fixed.app[ADMISSION].limit == fixed.app[SETTINGS].max_in_flight
    text = await (await adaptive.get("/metrics")).text()
    limit = adaptive.app[ADMISSION].limit
    assert 2 <= limit <= adaptive.app[SETTINGS].max_in_flight
    assert "# TYPE satchel_admission_limit gauge" in text
    assert "satchel_event_loop_busy " in text
    text = await (await fixed.get("/metrics")).text()
    assert f"satchel_admission_limit {fixed.app[SETTINGS].max_in_flight:.1f}" in text
    assert "satchel_event_loop_busy" not in text  # nothing reads the loop for a fixed limit


def test_the_setting_is_0_or_1() -> None:
    assert Settings.from_env({"SATCHEL_ADAPTIVE_IN_FLIGHT": "1"}).adaptive_in_flight is True
    assert Settings.from_env({"SATCHEL_ADAPTIVE_IN_FLIGHT": "0"}).adaptive_in_flight is False
    for bad in ("2", "adaptive", "-1"):
        with pytest.raises(SettingsError):
            Settings.from_env({"SATCHEL_ADAPTIVE_IN_FLIGHT": bad})
