"""Overload sheds: a bounded admission queue, 503 + Retry-After at once beyond it, probes exempt.

Deterministic: a handler that blocks on an event holds the slots; nothing here depends on time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from holder_api.admission import Admission
from holder_api.app import create_app
from holder_api.settings import Settings
from tests.conftest import Backend, loopback_resolver
from tests.holder_api.conftest import app_env as env_for

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


async def test_beyond_the_queue_a_request_is_shed_at_once(serve: Any) -> None:
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

    shed = await client.get("/v1/test-route")  # the sixth: no slot, no place in the queue
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


async def test_a_zero_queue_sheds_everything_past_the_limit(serve: Any) -> None:
    release, running = asyncio.Event(), asyncio.Event()

    async def blocking(_request: web.Request) -> web.Response:
        running.set()
        await release.wait()
        return web.json_response({})

    client = await serve(blocking, SATCHEL_MAX_IN_FLIGHT="1", SATCHEL_MAX_QUEUED="0")
    first = asyncio.create_task(client.get("/v1/test-route"))
    await running.wait()
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
