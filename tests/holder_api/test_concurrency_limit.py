"""The adaptive concurrency limit: lower when requests queue for the CPU, back up when they do
not, never past its floor and ceiling, its baseline probed at the floor now and then.

Deterministic: service times come from a clock the test moves; the last test runs an admission
in front of a simulated event loop (requests in flight share one CPU) on that clock.
"""

from __future__ import annotations

import asyncio
import inspect
from pathlib import Path
from typing import Any

import pytest

from holder_api.admission import Admission, _Ticket
from holder_api.appkeys import ADMISSION, SETTINGS
from holder_api.concurrency_limit import GradientLimit
from holder_api.errors import Overloaded
from holder_api.settings import DECLARED, Settings

ROOT = Path(__file__).resolve().parents[2]


def _window(limit: GradientLimit, now: float, rtt: float, in_flight: int, n: int = 8) -> float:
    """``n`` requests of ``rtt`` seconds end over one window; the time after it."""
    now += limit.window
    for _ in range(n):
        limit.sample(now, now - rtt, in_flight)
    return now


def test_the_limit_shrinks_while_requests_queue_and_stops_at_the_floor() -> None:
    limit = GradientLimit(16, 0.0, floor=2, probe_every=1000)  # probes: tested below
    now = _window(limit, 0.0, 0.004, 16)  # the first window: the baseline
    assert (limit.limit, limit.baseline) == (16, pytest.approx(0.004))
    seen = []
    for _ in range(40):
        now = _window(limit, now, 0.040, limit.limit)  # ten times slower: queueing for the CPU
        seen.append(limit.limit)
    assert seen == sorted(seen, reverse=True)  # never up while it is slow
    assert seen[0] < 16
    assert seen[-1] == 2


def test_the_limit_grows_back_while_more_in_flight_does_not_slow_requests() -> None:
    limit = GradientLimit(16, 0.0, floor=2, probe_every=1000)
    now = _window(limit, 0.0, 0.004, 16)
    for _ in range(40):
        now = _window(limit, now, 0.040, limit.limit)
    assert limit.limit == 2
    for _ in range(40):
        now = _window(limit, now, 0.005, limit.limit)  # within the tolerance of the baseline
    assert limit.limit == 16


def test_a_window_that_used_less_than_half_the_limit_does_not_raise_it() -> None:
    limit = GradientLimit(16, 0.0, floor=2, probe_every=1000)
    now = _window(limit, 0.0, 0.004, 16)
    for _ in range(10):
        now = _window(limit, now, 0.040, limit.limit)
    shrunk = limit.limit
    for _ in range(10):
        now = _window(limit, now, 0.004, 1)  # quiet: one at a time, fast
    assert limit.limit == shrunk
    now = _window(limit, now, 0.004, shrunk)  # busy again, and fast
    assert limit.limit > shrunk


def test_every_probe_window_runs_at_the_floor_and_resets_the_baseline() -> None:
    limit = GradientLimit(16, 0.0, floor=2, probe_every=5)
    now = _window(limit, 0.0, 0.010, 16)
    for _ in range(3):
        now = _window(limit, now, 0.010, 16)
        assert limit.limit == 16
    now = _window(limit, now, 0.010, 16)  # the fifth window: a probe begins
    assert limit.limit == 2
    probe_began = now
    now += limit.window
    for _ in range(20):  # admitted before the probe, above the floor: ignored
        limit.sample(now, probe_began - 0.001, 16)
    assert limit.limit == 2
    for _ in range(8):
        limit.sample(now, now - 0.003, 2)
    assert limit.baseline == pytest.approx(0.003)  # lower than before: a new baseline
    assert limit.limit == 16  # and the estimate is back


def test_a_higher_probe_baseline_replaces_a_stale_low_one() -> None:
    limit = GradientLimit(16, 0.0, floor=2, probe_every=3)
    now = _window(limit, 0.0, 0.002, 16)  # a fast start (e.g. caches warm, database idle)
    for _ in range(2):
        now = _window(limit, now, 0.008, limit.limit)
    assert limit.limit == 2  # probing
    for _ in range(8):
        limit.sample(now + limit.window, now + limit.window - 0.006, 2)
    assert limit.baseline == pytest.approx(0.006)  # what the floor takes now, not then


def test_a_probe_window_whose_requests_measure_nothing_still_ends_the_probe() -> None:
    limit = GradientLimit(16, 0.0, floor=2, probe_every=1)
    now = _window(limit, 0.0, 0.010, 16)  # the baseline, and the probe begins
    assert limit.limit == 2
    now = _window(limit, now, 0.0, 2)  # a clock too coarse for them: every sample 0
    assert limit.limit == 16  # not stuck at the floor until a window measures something
    assert limit.baseline == pytest.approx(0.010)  # the old one: nothing better was measured


def test_the_settings_help_and_the_operations_guide_state_its_own_numbers() -> None:
    defaults = {name: p.default for name, p in inspect.signature(GradientLimit).parameters.items()}
    tolerance, probe_every, floor = defaults["tolerance"], defaults["probe_every"], defaults["floor"]
    declared = next(s for s in DECLARED if s.name == "SATCHEL_ADAPTIVE_IN_FLIGHT")
    help_text = " ".join(declared.help.split())
    assert f"more than {tolerance:g} times their baseline" in help_text
    assert f"per {defaults['window']:g} s window" in help_text
    assert f"every {probe_every} windows it runs one window at {floor}" in help_text
    guide = " ".join((ROOT / "docs" / "operations.md").read_text(encoding="utf-8").split())
    assert f"more than {tolerance:g} × the baseline" in guide
    assert f"every {probe_every} windows the replica runs one window at the floor ({floor} " \
        "in flight)" in guide


def test_its_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        GradientLimit(0, 0.0)
    with pytest.raises(ValueError):
        GradientLimit(8, 0.0, tolerance=0.5)
    assert GradientLimit(1, 0.0, floor=2).floor == 1  # never above the ceiling


class Ticking:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_shrunk_limit_keeps_a_freed_slot_from_the_queue_and_a_grown_one_admits_more(
        ) -> None:
    clock = Ticking()
    adm = Admission(limit=4, queue=8, clock=clock, target=0.005, interval=0.1)
    assert adm.gradient is not None
    for _ in range(4):
        await adm.acquire()
    waiter = asyncio.create_task(adm.acquire())
    await _settle()
    adm.gradient.limit = 2  # as after slow windows
    adm.release()
    await _settle()
    assert (adm.running, waiter.done()) == (3, False)
    adm.release()
    adm.release()  # two running: under the limit again, the waiter gets the freed slot
    await _settle()
    assert (adm.running, waiter.done()) == (2, True)
    more = [asyncio.create_task(adm.acquire()) for _ in range(3)]
    await _settle()
    adm.gradient.limit = 4
    adm.release()  # one slot freed, and two more under the grown limit
    await _settle()
    assert (adm.running, sum(t.done() for t in more)) == (4, 3)


async def test_a_burst_during_a_probe_window_waits_in_the_slots_the_probe_took_away() -> None:
    """A shrunk limit moves its slots into the queue: a replica still holds ceiling + queue
    requests, so a burst the fixed limit would take whole is not shed at the floor."""
    clock = Ticking()
    adm = Admission(limit=8, queue=8, clock=clock)
    adm.gradient = GradientLimit(8, clock.now, probe_every=1, min_samples=1)
    await adm.acquire()
    ticket = adm.ticket()
    clock.now += 0.2
    ticket.end()  # one window, then the probe: the limit drops to the floor
    assert (adm.running, adm.limit) == (0, 2)
    burst = [asyncio.create_task(adm.acquire()) for _ in range(8 + 8)]
    await _settle()
    assert (adm.running, adm.waiting) == (2, 14)
    with pytest.raises(Overloaded):  # the total stays bounded: one more is refused
        await adm.acquire()
    while adm.running:  # the clock stands still: the probe lasts, two at a time
        adm.release()
        await _settle()
    results = await asyncio.gather(*burst, return_exceptions=True)
    assert results == [None] * 16  # every one admitted, none shed


async def test_a_request_that_stepped_aside_is_not_a_service_time() -> None:
    clock = Ticking()
    adm = Admission(limit=4, queue=8, clock=clock)
    assert adm.gradient is not None
    adm.gradient.min_samples, adm.gradient.window = 1, 0.0
    await adm.acquire()
    ticket = adm.ticket()
    async with ticket.stepping_aside():
        clock.now += 5.0  # an Argon2id derivation's wait
    ticket.end()
    assert (adm.running, adm.gradient.baseline) == (0, None)
    await adm.acquire()
    ticket = adm.ticket()
    clock.now += 0.004
    ticket.end()
    assert (adm.running, adm.gradient.baseline) == (0, pytest.approx(0.004))


async def _one_cpu(adaptive: bool) -> tuple[int, float, float, int]:
    """Twice the capacity offered for 10 s (simulated) to an admission with a ceiling of 16 in
    front of one CPU shared by the requests in flight (4 ms of it each): how many were served,
    the p50 and p99 of their latency (wait + service) in the last 5 s (after the first probe),
    and the limit at the end."""
    clock, work, step = Ticking(), 0.004, 0.001
    adm = Admission(limit=16, queue=16, clock=clock, target=0.005, interval=0.1,
                    adaptive=adaptive)
    running: dict[_Ticket, tuple[float, float]] = {}  # ticket -> (work left, arrived)
    latencies: list[tuple[float, float]] = []  # (arrived, latency)

    async def request(arrived: float) -> None:
        try:
            await adm.acquire()
        except Overloaded:
            return
        running[adm.ticket()] = (work, arrived)

    tasks = []
    for i in range(10_000):
        if i % 2 == 0:  # 500/s: twice the 250/s one CPU serves
            tasks.append(asyncio.create_task(request(clock.now)))
        await _settle()
        clock.now += step
        share = step / max(len(running), 1)
        for ticket, (left, arrived) in list(running.items()):
            if left - share > 1e-12:
                running[ticket] = (left - share, arrived)
                continue
            del running[ticket]
            latencies.append((arrived, clock.now - arrived))
            ticket.end()
        await _settle()
    for t in tasks:
        t.cancel()
    late = sorted(lat for arrived, lat in latencies if arrived >= 5.0)
    return len(latencies), late[len(late) // 2], late[int(0.99 * len(late))], adm.limit


async def test_on_one_cpu_the_adaptive_limit_cuts_the_tail_and_serves_as_many() -> None:
    fixed_served, fixed_p50, fixed_p99, fixed_limit = await _one_cpu(adaptive=False)
    served, p50, p99, limit = await _one_cpu(adaptive=True)
    assert fixed_limit == 16
    assert 2 <= limit <= 6  # near tolerance × floor: these requests only compute
    assert served >= 0.98 * fixed_served  # the CPU stays busy: no throughput is lost
    assert p50 < 0.5 * fixed_p50  # 18 ms against 75 (16 in flight × 4 ms, plus the wait)
    assert p99 < 0.7 * fixed_p99  # 79 ms against 128: what waits in the bounded queue remains


async def test_a_replica_adapts_its_limit_only_when_told_to(make_sqlite_client: Any) -> None:
    """SATCHEL_ADAPTIVE_IN_FLIGHT: off by default (experimental: it takes any slowness of a
    request, a database wait or an upload too, for queueing on the CPU), on when set to 1."""
    adaptive = await make_sqlite_client(SATCHEL_ADAPTIVE_IN_FLIGHT="1")
    fixed = await make_sqlite_client()  # test apps set 0: the default, spelled out
    assert adaptive.app[ADMISSION].gradient is not None
    assert fixed.app[ADMISSION].gradient is None
    assert fixed.app[ADMISSION].limit == adaptive.app[SETTINGS].max_in_flight
    assert Settings.from_env({}).adaptive_in_flight is False  # the production default
