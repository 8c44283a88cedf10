"""Overload sheds: a bounded admission queue, 503 + Retry-After at once beyond it, probes exempt;
a standing queue is shed after an interval (CoDel), a burst that drains is not; requests waiting
on the Argon2id gate hold no slot.

Deterministic: a handler that blocks on an event holds the slots, and the delay controller runs
on a clock the test moves (one test drives the app on the real clock, with wide margins).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from holder_api.admission import Admission, OverloadRule
from holder_api.app import create_app
from holder_api.appkeys import ADMISSION, WIRING
from holder_api.errors import Overloaded
from holder_api.problems import problem_body
from holder_api.settings import Settings, SettingsError
from tests.support.apps import app_env as env_for
from tests.support.backends import Backend
from tests.support.http_api import PASSPHRASE, auth, learner
from tests.support.network import loopback_resolver

Route = Callable[[web.Request], Awaitable[web.StreamResponse]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[..., Awaitable[TestClient[Any, Any]]]]:
    """A Satchel app with one extra test route, on the embedded stores."""
    clients: list[TestClient[Any, Any]] = []
    sqlite = Backend("sqlite", tmp_path, f"sqlite://{tmp_path}/vault.db",
                     f"sqlite+aiosqlite:///{tmp_path}/satchel.db")

    async def make(route: Route, **env: str) -> TestClient[Any, Any]:
        app = create_app(Settings.from_env(env_for(sqlite, **env)),
                         host_resolver=loopback_resolver)
        app.router.add_get("/v1/test-route", route)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


async def test_beyond_the_queue_a_request_is_shed_at_once(
        serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    release, both_running = asyncio.Event(), asyncio.Event()
    entered: list[int] = []

    async def blocking(_request: web.Request) -> web.Response:
        entered.append(1)
        if len(entered) == 2:
            both_running.set()
        await release.wait()
        return web.json_response({"ok": True})

    client = await serve(blocking, SATCHEL_MAX_IN_FLIGHT="2", SATCHEL_MAX_QUEUED="3")
    held = [asyncio.create_task(client.get("/v1/test-route")) for _ in range(5)]
    await both_running.wait()  # two running; then wait until the three others are queued
    metrics = ""
    while "satchel_requests_queued 3.0" not in metrics:
        metrics = await (await client.get("/metrics")).text()  # exempt: answers while full
    assert "satchel_requests_in_flight 2.0" in metrics

    with caplog.at_level(logging.INFO, logger="satchel.http"):
        shed = await client.get("/v1/test-route")  # the sixth: no slot, no place in the queue
    # counted, not logged as a failure: under overload a warning each would cost CPU (one
    # aggregate line says how many were shed)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "requests shed"]
    assert shed.status == 503
    assert shed.headers["Retry-After"] == "1"
    assert shed.content_type == "application/problem+json"
    assert (await shed.json())["code"] == "overloaded"
    assert len(entered) == 2  # the shed request never reached the handler
    assert (await client.get("/healthz")).status == 200
    assert (await client.get("/readyz")).status == 200

    release.set()
    answers = await asyncio.gather(*held)
    assert [r.status for r in answers] == [200] * 5  # every admitted request was served
    assert len(entered) == 5
    metrics = await (await client.get("/metrics")).text()
    assert "satchel_requests_shed_total 1.0" in metrics
    assert "satchel_requests_in_flight 0.0" in metrics


async def _one_slot_held(serve: Any, **env: str) -> tuple[
        TestClient[Any, Any], asyncio.Event, asyncio.Task[Any]]:
    """A replica of one slot and no queue, the slot held by a request until the event is set."""
    release, running = asyncio.Event(), asyncio.Event()

    async def blocking(_request: web.Request) -> web.Response:
        running.set()
        await release.wait()
        return web.json_response({})

    client = await serve(blocking, SATCHEL_MAX_IN_FLIGHT="1", SATCHEL_MAX_QUEUED="0", **env)
    held = asyncio.create_task(client.get("/v1/test-route"))
    await running.wait()
    return client, release, held


async def test_a_zero_queue_sheds_everything_past_the_limit(serve: Any) -> None:
    client, release, first = await _one_slot_held(serve)
    assert (await client.get("/openapi.json")).status == 503  # any API path is admitted alike
    release.set()
    assert (await first).status == 200
    assert (await client.get("/openapi.json")).status == 200


async def test_queue_is_fifo_and_a_cancelled_waiter_gives_up_its_place() -> None:
    adm = Admission(limit=1, queue=3)
    await adm.acquire()
    order: list[str] = []

    async def wait(name: str) -> None:
        await adm.acquire()
        order.append(name)

    a, b, c = (asyncio.create_task(wait(n)) for n in "abc")
    await asyncio.sleep(0)
    assert adm.waiting == 3
    b.cancel()
    await asyncio.sleep(0)
    assert adm.waiting == 2
    adm.release()
    await a
    adm.release()
    await c
    assert order == ["a", "c"]
    adm.release()
    assert adm.running == 0 and adm.waiting == 0


async def test_a_slot_handed_to_a_cancelled_waiter_is_passed_on() -> None:
    adm = Admission(limit=1, queue=2)
    await adm.acquire()
    first = asyncio.create_task(adm.acquire())
    second = asyncio.create_task(adm.acquire())
    await asyncio.sleep(0)
    adm.release()  # hands the slot to ``first`` ...
    first.cancel()  # ... which goes away before it runs
    await asyncio.gather(first, return_exceptions=True)
    await second  # the slot reached the next waiter instead of leaking
    assert adm.running == 1
    adm.release()
    assert adm.running == 0


async def test_a_database_pool_timeout_is_a_clean_503(serve: Any, backend: Backend) -> None:
    """Every pooled connection busy past the pool timeout: 503 + Retry-After, never a 500."""
    engine = create_async_engine(backend.database_url, pool_size=1, max_overflow=0,
                                 pool_timeout=0.05)

    async def starved(_request: web.Request) -> web.Response:
        async with engine.connect(), engine.connect():  # the second waits, then times out
            return web.json_response({})

    try:
        client = await serve(starved)
        resp = await client.get("/v1/test-route")
        assert resp.status == 503
        assert resp.headers["Retry-After"] == "1"
        body = await resp.json()
        assert (body["code"], body["status"]) == ("unavailable", 503)
    finally:
        await engine.dispose()


# --------------------------------------------------------------- the delay controller (CoDel)

class Ticking:
    """A monotonic clock the test moves (seconds)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


class Arrivals:
    """Requests arriving at an :class:`Admission`: when each arrived, waited, and how it ended."""

    def __init__(self, adm: Admission, clock: Ticking) -> None:
        self.adm, self.clock = adm, clock
        self.admitted: list[tuple[float, float]] = []  # (arrived, waited)
        self.shed: list[tuple[float, float]] = []  # (arrived, waited before the 503)
        self.tasks: list[asyncio.Task[None]] = []

    def arrive(self, n: int = 1) -> None:
        for _ in range(n):
            self.tasks.append(asyncio.create_task(self._one(self.clock.now)))

    async def _one(self, arrived: float) -> None:
        try:
            await self.adm.acquire()
        except Overloaded as exc:
            assert exc.retry_after == 1
            self.shed.append((arrived, self.clock.now - arrived))
            return
        self.admitted.append((arrived, self.clock.now - arrived))


async def _drive(adm: Admission, clock: Ticking, reqs: Arrivals, *, steps: int, step: float,
                 per_step: Callable[[int], int]) -> None:
    """Each step: ``per_step(i)`` arrivals, then ``step`` seconds pass and one request ends."""
    for i in range(steps):
        reqs.arrive(per_step(i))
        await _settle()
        clock.now += step
        if adm.running:
            adm.release()
        await _settle()


async def test_a_standing_queue_is_shed_after_an_interval_and_admitted_waits_stay_short() -> None:
    """Twice the capacity (two arrivals per service time): the bounded queue fills and stands.
    Main's admission kept it full, so every admitted request waited behind all of it; now, after
    an interval above the target, the oldest waiters are shed and the admitted wait ≤ 2×target."""
    clock = Ticking()
    adm = Admission(limit=1, queue=8, target=0.005, interval=0.1, clock=clock)
    reqs = Arrivals(adm, clock)
    await _drive(adm, clock, reqs, steps=60, step=0.01, per_step=lambda _i: 2)  # 600 ms
    assert adm.overloaded
    waited_shed = [w for _, w in reqs.shed if w > 0]
    assert waited_shed, "no waiter was shed from the standing queue"
    assert all(w > 2 * adm.target for w in waited_shed)
    late = [w for arrived, w in reqs.admitted if arrived >= 0.25]  # two intervals in
    assert late and max(late) <= 2 * adm.target + 1e-9, late
    early = [w for arrived, w in reqs.admitted if arrived < 0.1]
    assert max(early) > 0.05  # within the first interval the queue was not shed yet
    assert 0 <= adm.waiting <= adm.queue
    for t in reqs.tasks:
        t.cancel()
    await asyncio.gather(*reqs.tasks, return_exceptions=True)
    assert adm.waiting == 0


@pytest.mark.parametrize("rule", ["sojourn", "shed"])
async def test_a_sustained_excess_stays_overloaded_though_shedding_keeps_the_head_young(
        rule: OverloadRule) -> None:
    """Twice the capacity in bursts (six requests every 6 ms, a slot freed every 2 ms). While
    overloaded, shedding the waiters past 2 × target leaves a head younger than the target now
    and then; main took such an interval for a queue that had drained, served the next one
    first-in first-out with the queue standing 16 deep (waits of 30 ms), and so on, every other
    interval. An interval that had to shed a stale waiter stood (on both rules that read it)."""
    clock = Ticking()
    adm = Admission(limit=1, queue=16, target=0.005, interval=0.1, clock=clock, rule=rule)
    reqs, states = await _two_seconds(adm, clock, lambda ms: 6 if ms % 6 == 0 else 0,
                                      observe_from=300)
    assert all(states), f"overloaded in {sum(states)} of {len(states)} ms"
    late = [w for arrived, w in reqs.admitted if arrived >= 0.3]
    assert late and max(late) <= 2 * adm.target + 1e-9, max(late)


async def _two_seconds(adm: Admission, clock: Ticking, arrive: Callable[[int], int], *,
                       observe_from: int, held_until: int = 0) -> tuple[Arrivals, list[bool]]:
    """Two seconds a millisecond at a time: ``arrive(ms)`` requests arrive, then a slot frees
    every 2 ms while one runs (500 requests a second; none before ``held_until`` ms: a pause).
    Returns the requests and whether the replica was overloaded at each ms from
    ``observe_from``; the waiters left are cancelled."""
    reqs = Arrivals(adm, clock)
    states = []
    for ms in range(2000):
        clock.now = ms / 1000
        reqs.arrive(arrive(ms))
        await _settle()
        if ms >= held_until and ms % 2 == 0 and adm.running:
            adm.release()
        await _settle()
        if ms >= observe_from:
            states.append(adm.overloaded)
    for t in reqs.tasks:
        t.cancel()
    await asyncio.gather(*reqs.tasks, return_exceptions=True)
    return reqs, states


@pytest.mark.parametrize("rule", ["sojourn", "head"])
@pytest.mark.parametrize(("period", "arrivals"), [
    (20, {0: 3, 2: 1, 4: 1, 6: 1, 8: 1, 10: 1}),  # 8 per 20 ms: first in, first out, ≤ 4 ms
    (25, {0: 4, 2: 1, 4: 1, 6: 1, 8: 1, 10: 1, 12: 1}),  # 10 per 25 ms: ≤ 6 ms
])
async def test_under_capacity_the_overload_a_pause_caused_ends_and_nothing_more_is_shed(
        rule: OverloadRule, period: int, arrivals: dict[int, int]) -> None:
    """80 % of the capacity, in small bursts, after a pause that overloaded the replica. Newest
    first, each burst's first request waits past 2 × target while the later ones are served,
    and is shed: on 7ca0ca1's rule (an interval that shed stood) that kept the replica
    overloaded for good, shedding one request in eight or ten (67 and 112 in the last 1.4 s)
    where first in, first out sheds none and serves each within 6 ms. The requests that left
    the queue, the shed one too, waited 1.4-3 ms in it per request admitted, under the target:
    the sojourn rule ends the overload."""
    clock = Ticking()
    adm = Admission(limit=1, queue=16, target=0.005, interval=0.1, clock=clock, rule=rule)
    # the slot held for the first 150 ms (a collector's pause, a slow query): the queue stands
    reqs, states = await _two_seconds(adm, clock, lambda ms: arrivals.get(ms % period, 0),
                                      observe_from=600, held_until=150)
    assert [arrived for arrived, _ in reqs.shed if arrived < 0.15], "the pause shed nothing"
    assert [arrived for arrived, _ in reqs.shed if arrived >= 0.6] == []
    assert not any(states), f"overloaded in {sum(states)} of {len(states)} ms"
    late = [w for arrived, w in reqs.admitted if arrived >= 0.6]
    assert len(late) == 1400 // period * sum(arrivals.values())
    assert max(late) <= 0.006 + 1e-9


async def test_the_shed_rule_is_7ca0ca1s_and_sustains_an_overload_a_pause_caused() -> None:
    """``SATCHEL_ADMISSION_RULE=shed``: 7ca0ca1's rule, kept to compare the three on one server
    (docs/performance.md, "The admission rules' A/B"). An interval that shed a stale waiter
    stood, whatever its queue's time: at 80 % of the capacity in small bursts after a pause,
    each burst's first request is shed newest-first and the overload never ends (what
    ``test_under_capacity_the_overload_a_pause_caused_ends_and_nothing_more_is_shed`` holds the
    other two rules against)."""
    clock = Ticking()
    adm = Admission(limit=1, queue=16, target=0.005, interval=0.1, clock=clock, rule="shed")
    arrivals = {0: 3, 2: 1, 4: 1, 6: 1, 8: 1, 10: 1}
    reqs, states = await _two_seconds(adm, clock, lambda ms: arrivals.get(ms % 20, 0),
                                      observe_from=600, held_until=150)
    assert all(states), f"overloaded in {sum(states)} of {len(states)} ms"
    assert len([arrived for arrived, _ in reqs.shed if arrived >= 0.6]) >= 1400 // 20 // 2


async def test_the_head_rule_is_the_rule_before_7ca0ca1() -> None:
    """``SATCHEL_ADMISSION_RULE=head``: the head delays alone decide, so under the sustained
    excess of ``test_a_sustained_excess_stays_overloaded_though_shedding_keeps_the_head_young``
    the overload ends now and then (shedding kept the head young) and the queue stands first in,
    first out meanwhile: the rule before 7ca0ca1, kept to compare the rules on one server."""
    clock = Ticking()
    adm = Admission(limit=1, queue=16, target=0.005, interval=0.1, clock=clock, rule="head")
    reqs, states = await _two_seconds(adm, clock, lambda ms: 6 if ms % 6 == 0 else 0,
                                      observe_from=300)
    assert 0 < sum(states) < len(states)
    late = [w for arrived, w in reqs.admitted if arrived >= 0.3]
    assert max(late) > 2 * adm.target
    with pytest.raises(ValueError, match="sojourn, head, shed"):
        Admission(limit=1, queue=1, rule=cast(OverloadRule, "fifo"))


async def test_a_burst_that_drains_is_never_shed_and_is_served_in_order() -> None:
    """Ten requests at once every 200 ms onto two slots: each burst waits up to 40 ms, more than
    the target, but the queue empties between bursts, so nothing is shed and order is FIFO."""
    clock = Ticking()
    adm = Admission(limit=2, queue=8, target=0.005, interval=0.1, clock=clock)
    reqs = Arrivals(adm, clock)
    order: list[int] = []

    async def numbered(n: int) -> None:
        await adm.acquire()
        order.append(n)

    for burst in range(5):
        tasks = [asyncio.create_task(numbered(10 * burst + k)) for k in range(10)]
        await _settle()
        for _ in range(20):  # 200 ms: one request ends every 10 ms while any runs
            clock.now += 0.01
            if adm.running:
                adm.release()
            await _settle()
        await asyncio.gather(*tasks)
    assert order == list(range(50))
    assert not adm.overloaded
    assert reqs.shed == []
    assert adm.running == 0 and adm.waiting == 0


async def test_overloaded_serves_the_newest_waiter_first_and_recovers_when_the_queue_empties(
) -> None:
    clock = Ticking()
    adm = Admission(limit=1, queue=16, target=0.005, interval=0.1, clock=clock)
    reqs = Arrivals(adm, clock)
    await _drive(adm, clock, reqs, steps=30, step=0.01, per_step=lambda _i: 2)
    assert adm.overloaded
    before = len(reqs.admitted)
    reqs.arrive()
    await _settle()
    clock.now += 0.001
    reqs.arrive()  # the newest
    await _settle()
    adm.release()
    await _settle()
    assert reqs.admitted[before:] == [(clock.now, 0.0)]  # the newest got the slot
    # load falls away: requests end and nobody new comes; the queue empties
    await _drive(adm, clock, reqs, steps=30, step=0.01, per_step=lambda _i: 0)
    reqs.arrive()
    await _settle()
    assert not adm.overloaded  # an interval in which the queue was empty ends it
    while adm.running:
        adm.release()
    await asyncio.gather(*reqs.tasks)
    assert adm.running == 0 and adm.waiting == 0


async def test_cancelled_and_shed_waiters_leak_no_slot_in_either_order() -> None:
    clock = Ticking()
    adm = Admission(limit=2, queue=6, target=0.005, interval=0.1, clock=clock)
    reqs = Arrivals(adm, clock)
    await _drive(adm, clock, reqs, steps=40, step=0.01, per_step=lambda i: 3 if i % 2 else 2)
    assert adm.overloaded  # LIFO now
    reqs.arrive(3)
    await _settle()
    waiting = [t for t in reqs.tasks if not t.done()]
    assert len(waiting) == 3
    waiting[0].cancel()  # a waiter goes away while queued
    adm.release()  # a slot handed to the newest ...
    waiting[-1].cancel()  # ... who goes away before it runs
    await _settle()
    while adm.running:
        clock.now += 0.001
        adm.release()
        await _settle()
    await asyncio.gather(*reqs.tasks, return_exceptions=True)
    assert adm.running == 0 and adm.waiting == 0


async def test_the_delay_settings_reach_the_admission_and_are_checked(tmp_path: Path) -> None:
    sqlite = Backend("sqlite", tmp_path, f"sqlite://{tmp_path}/vault.db",
                     f"sqlite+aiosqlite:///{tmp_path}/satchel.db")
    s = Settings.from_env(env_for(sqlite, SATCHEL_QUEUE_TARGET="0.002",
                                  SATCHEL_QUEUE_INTERVAL="0.05"))
    assert (s.queue_target, s.queue_interval) == (0.002, 0.05)
    # the production defaults (the test apps' env turns the delay control off: tests/support/apps.py)
    defaults = Settings.from_env({k: v for k, v in env_for(sqlite).items()
                                  if k != "SATCHEL_QUEUE_INTERVAL"})
    assert (defaults.queue_target, defaults.queue_interval) == (0.005, 0.1)
    with pytest.raises(SettingsError):
        Settings.from_env(env_for(sqlite, SATCHEL_QUEUE_TARGET="0.2",
                                  SATCHEL_QUEUE_INTERVAL="0.1"))
    # the overload rule: sojourn by default, head and shed (the rules before) to compare; into
    # the app
    assert defaults.admission_rule == "sojourn"
    assert create_app(defaults)[ADMISSION].rule == "sojourn"
    head = Settings.from_env(env_for(sqlite, SATCHEL_ADMISSION_RULE=" Head "))
    assert head.admission_rule == "head"
    assert create_app(head)[ADMISSION].rule == "head"
    shed = Settings.from_env(env_for(sqlite, SATCHEL_ADMISSION_RULE="shed"))
    assert create_app(shed)[ADMISSION].rule == "shed"
    with pytest.raises(SettingsError, match="SATCHEL_ADMISSION_RULE"):
        Settings.from_env(env_for(sqlite, SATCHEL_ADMISSION_RULE="fifo"))


async def test_a_request_that_waited_in_a_standing_queue_gets_a_503_problem(serve: Any) -> None:
    """Through the app, on the real clock: one slot held, a request every few ms. The first
    waiter stands in the queue far past the target; it is answered 503 problem+json with
    Retry-After, and its handler never runs."""
    release, holding = asyncio.Event(), asyncio.Event()
    entered: list[str] = []

    async def blocking(request: web.Request) -> web.Response:
        entered.append(request.query.get("n", ""))
        holding.set()
        await release.wait()
        return web.json_response({})

    client = await serve(blocking, SATCHEL_MAX_IN_FLIGHT="1", SATCHEL_MAX_QUEUED="64",
                         SATCHEL_QUEUE_TARGET="0.005", SATCHEL_QUEUE_INTERVAL="0.05")
    holder = asyncio.create_task(client.get("/v1/test-route?n=holder"))
    await holding.wait()
    first = asyncio.create_task(client.get("/v1/test-route?n=first"))
    others = []
    for i in range(400):  # at most ~2 s; the first is shed after about one interval
        if first.done():
            break
        others.append(asyncio.create_task(client.get(f"/v1/test-route?n={i}")))
        await asyncio.sleep(0.005)
    resp = await asyncio.wait_for(first, 10)  # main's admission never sheds it: it waits
    assert resp.status == 503
    assert resp.headers["Retry-After"] == "1"
    assert resp.content_type == "application/problem+json"
    assert (await resp.json())["code"] == "overloaded"
    assert "first" not in entered
    metrics = await (await client.get("/metrics")).text()
    assert "satchel_admission_overloaded 1.0" in metrics
    assert "satchel_requests_shed_waited_total" in metrics
    release.set()
    answers = await asyncio.gather(holder, *others)
    assert answers[0].status == 200
    assert {r.status for r in answers} <= {200, 503}
    metrics = await (await client.get("/metrics")).text()
    assert "satchel_requests_in_flight 0.0" in metrics
    assert "satchel_requests_queued 0.0" in metrics


# ------------------------------------------------------------- unlocks wait outside admission

async def test_a_burst_of_unlocks_waiting_on_the_gate_does_not_shed_lists(serve: Any) -> None:
    """Two slots, two places in the queue, one Argon2id derivation at a time (held by the test).
    Six unlocks arrive one after the other and wait on the gate: on main they held both slots
    and the queue, so the fifth was shed and a learner's list behind them too. Now a request
    waiting on the gate gives its slot back: every unlock waits, the list is served, and the
    unlocks finish once the gate opens."""
    async def unused(_request: web.Request) -> web.Response:
        return web.json_response({})

    client = await serve(unused, SATCHEL_MAX_IN_FLIGHT="2", SATCHEL_MAX_QUEUED="2",
                         SATCHEL_MAX_CONCURRENT_UNLOCKS="1",
                         SATCHEL_QUEUE_TARGET="0.005", SATCHEL_QUEUE_INTERVAL="0.1")
    token = await learner(client, "ada")
    gate = client.app[WIRING].accounts.gate
    opened = threading.Event()
    held = asyncio.create_task(gate.run(opened.wait, 30))  # the gate's one derivation, held
    unlocks: list[asyncio.Task[Any]] = []
    metrics = ""
    for i in range(6):  # one after the other, each once the one before waits on the gate
        unlocks.append(asyncio.create_task(client.post(
            "/v1/sessions", json={"username": "ada", "passphrase": PASSPHRASE})))
        for _ in range(400):  # up to ~2 s (on main the third never reaches the gate)
            metrics = await (await client.get("/metrics")).text()
            if f"satchel_unlocks_waiting {i + 2}.0" in metrics or unlocks[-1].done():
                break
            await asyncio.sleep(0.005)
    assert not [u for u in unlocks if u.done()], [u.result().status for u in unlocks if u.done()]
    assert "satchel_unlocks_waiting 7.0" in metrics  # the held one and the six
    assert "satchel_requests_aside 6.0" in metrics
    assert "satchel_requests_in_flight 0.0" in metrics

    listed = await client.get("/v1/credentials?limit=20", headers=auth(token))
    assert listed.status == 200, await listed.text()

    opened.set()
    await held
    answers = await asyncio.gather(*unlocks)
    assert [r.status for r in answers] == [201] * 6
    metrics = await (await client.get("/metrics")).text()
    assert "satchel_requests_shed_total 0.0" in metrics
    assert "satchel_requests_aside 0.0" in metrics
    assert "satchel_requests_in_flight 0.0" in metrics


async def test_a_ticket_steps_aside_once_and_never_after_its_request_ended() -> None:
    adm = Admission(limit=1, queue=1)
    await adm.acquire()
    ticket = adm.ticket()
    waiter = asyncio.create_task(adm.acquire())
    await _settle()
    async with ticket.stepping_aside():
        await _settle()
        assert waiter.done() and adm.running == 1  # the slot went to the waiter
        async with ticket.stepping_aside():  # nested (a task of the same request): no-op
            assert adm.running == 1 and adm.aside == 1
    assert adm.running == 2 and adm.aside == 0  # back, past the limit, without queueing
    adm.release()  # the waiter's request ends

    async def cancelled_aside() -> None:
        async with ticket.stepping_aside():
            await asyncio.sleep(3600)

    task = asyncio.create_task(cancelled_aside())
    await _settle()
    assert adm.running == 0 and adm.aside == 1
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert adm.running == 1 and adm.aside == 0
    ticket.end()
    assert adm.running == 0
    async with ticket.stepping_aside():  # after the request ended: nothing to give back
        assert adm.running == 0
    assert adm.running == 0


# ---------------------------------------------------------------- what a refusal is, and costs

async def test_a_shed_request_gets_exactly_the_overloaded_problem_and_every_header(
        serve: Any) -> None:
    """The refusal is built once, not rendered per request; it is still the whole answer: the
    problem document, Retry-After, and the headers every response carries (holder_api.headers),
    a secret-URL page's too."""
    client, release, held = await _one_slot_held(serve)
    for path in ("/v1/test-route", "/v1/credentials?limit=20", "/s/some-share-token"):
        shed = await client.get(path)
        assert shed.status == 503, path
        assert shed.headers["Content-Type"] == "application/problem+json; charset=utf-8"
        assert shed.headers["Retry-After"] == "1"
        assert shed.headers["Cache-Control"] == "no-store"
        assert shed.headers["X-Content-Type-Options"] == "nosniff"
        body = await shed.read()
        assert shed.headers["Content-Length"] == str(len(body))
        assert json.loads(body) == problem_body(
            Overloaded("the service is at capacity: try again shortly", retry_after=1))
        assert set(json.loads(body)) == {"type", "title", "status", "detail", "code"}
    assert shed.headers["Referrer-Policy"] == "no-referrer"  # the /s/ page's, shed or not
    assert "default-src 'none'" in shed.headers["Content-Security-Policy"]
    release.set()
    assert (await held).status == 200


async def test_sheds_are_counted_and_logged_in_one_line_not_one_access_line_each(
        serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    """At twice the capacity half the requests are shed: an access line each (the default access
    log writes one for every 4xx/5xx) and the request metrics' per-route series would cost the
    CPU the admitted requests need. A shed is counted in satchel_requests_shed_total and
    reported in an aggregate line (the first at once)."""
    client, release, held = await _one_slot_held(serve, SATCHEL_ACCESS_LOG="errors")
    with caplog.at_level(logging.INFO):
        for _ in range(5):
            assert (await client.get("/v1/test-route")).status == 503
    access = [r for r in caplog.records if r.getMessage() == "request"]
    assert access == []
    lines = [r for r in caplog.records if r.getMessage() == "requests shed"]
    assert [(r.levelno, r.__dict__["shed"], r.__dict__["shed_waited"]) for r in lines] == [
        (logging.WARNING, 1, 0)]  # the rest wait for the next line (at most one per interval)
    metrics = await (await client.get("/metrics")).text()
    assert "satchel_requests_shed_total 5.0" in metrics
    assert 'status="503"' not in metrics
    release.set()
    assert (await held).status == 200


async def test_the_shed_line_aggregates_an_interval_and_is_written_without_a_further_shed(
        caplog: pytest.LogCaptureFixture) -> None:
    """At most one line per interval, each with the sheds since the one before (waited ones
    apart); what is left at an interval's end is written by the loop probe (every 25 ms),
    whether or not another request is shed."""
    clock = Ticking()
    adm = Admission(limit=1, queue=2, target=0.005, interval=0.1, clock=clock,
                    shed_log_every=10.0)
    await adm.acquire()

    def lines() -> list[tuple[int, int]]:
        return [(r.__dict__["shed"], r.__dict__["shed_waited"]) for r in caplog.records
                if r.getMessage() == "requests shed"]

    with caplog.at_level(logging.INFO):
        reqs = Arrivals(adm, clock)
        reqs.arrive(2)  # queued
        await _settle()
        reqs.arrive(3)  # refused at once: the first is logged, the other two wait
        await _settle()
        assert lines() == [(1, 0)]
        clock.now += 9.0
        adm.loop_probe(clock.now, 0.0)
        assert lines() == [(1, 0)]
        adm.overloaded = True  # the queue stands: its oldest waiter, past 2 × target, is shed
        reqs.arrive()  # ... as this one arrives (and is queued in its place)
        await _settle()
        assert len(reqs.shed) == 4 and lines() == [(1, 0)]
        clock.now += 1.0  # the interval is over: the probe writes what is left
        adm.loop_probe(clock.now, 0.0)
        assert lines() == [(1, 0), (3, 1)]
        clock.now += 20.0
        adm.loop_probe(clock.now, 0.0)  # nothing shed since: no line
        assert lines() == [(1, 0), (3, 1)]
        adm.overloaded = False
        reqs.arrive()  # refused after a quiet interval: logged at once
        await _settle()
        assert len(reqs.shed) == 5 and lines() == [(1, 0), (3, 1), (1, 0)]
    while adm.running:
        adm.release()
        await _settle()
    await asyncio.gather(*reqs.tasks)
    assert adm.running == 0 and adm.waiting == 0
