"""A replica serves at most SATCHEL_MAX_CONNECTIONS connections; a request on a connection beyond
them is answered 503 overloaded at once, unparsed, and the connection waits for room instead of
becoming one more that aiohttp holds.

Why: a replica that fell behind (less CPU than its excess takes to refuse) left every request
unanswered a while, and each new request its client sent opened one more connection: 20,000 in
20 s at four times the capacity, their objects making every full collection longer (up to 1.6 s)
and every refusal dearer, until the replica served almost nothing. Counts, not timings: the tests
look at what aiohttp holds and what each connection is answered.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest
from aiohttp import web

from holder_api.appkeys import ADMISSION, CONNECTIONS, METRICS
from holder_api.connections import ConnectionBound
from holder_api.errors import Overloaded
from holder_api.problems import problem_body
from holder_api.settings import DECLARED, Settings, SettingsError
from tests.holder_api.connection_support import _GET, Conn, _replica, _until
from tests.holder_api.served import Served
from tests.support.backends import sqlite_backend

_STUCK = (b"POST /v1/learners HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
          b"Content-Length: 100\r\n\r\n{")  # admitted, then waits for a body that never comes


def _working(app: web.Application) -> int:
    """Requests the replica works on: admitted, or reading their body before admission
    (holder_api.http.EarlyBodies: a sign-up waiting for its body is one of those)."""
    reading = app[METRICS].get_sample_value("satchel_bodies_reading_early") or 0
    return app[ADMISSION].running + int(reading)


async def _busy(port: int) -> Conn:
    """A connection whose request the replica is working on (a sign-up waiting for its body)."""
    conn = await Conn.open(port)
    conn.writer.write(_STUCK)
    await conn.writer.drain()
    return conn


def _refused_total(text: str) -> float:
    m = re.search(r"^satchel_connections_refused_total (\S+)$", text, re.M)
    assert m is not None
    return float(m.group(1))


async def test_beyond_the_bound_a_connection_is_answered_503_and_served_once_there_is_room(
        tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="2") as (app, port):
        bound = app[CONNECTIONS]
        first, second = await _busy(port), await _busy(port)
        await _until(lambda: _working(app) == 2, "both requests in the works")
        assert bound.open == 2
        beyond = await Conn.open(port)
        status, headers, body = await beyond.ask()
        assert status == 503
        assert headers["retry-after"] == "1"
        assert headers["content-type"].startswith("application/problem+json")
        assert json.loads(body)["code"] == "overloaded"
        assert "connection" not in headers  # kept: its client need not open another
        # two requests in one write (pipelined): two answers, and still no aiohttp connection
        beyond.writer.write(_GET + _GET)
        assert [(await beyond.answer())[0] for _ in range(2)] == [503, 503]
        assert bound.open == 2
        first.close()
        await _until(lambda: bound.open == 1, "the closed connection let go")
        # room again: the same connection's next request is served, by aiohttp from now on
        assert (await beyond.ask())[0] == 200
        assert bound.open == 2
        assert (await beyond.ask())[0] == 200
        beyond.writer.write(_STUCK)  # busy now too
        await _until(lambda: _working(app) == 2, "its request in the works")
        more = await Conn.open(port)  # the bound full of busy connections again: refused
        assert (await more.ask())[0] == 503
        metrics = await Conn.open(port)  # an operator endpoint: served past the bound
        status, _, text = await metrics.ask(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status == 200
        assert _refused_total(text.decode()) == 4
        assert await asyncio.wait_for(metrics.reader.read(), 30) == b""  # past it: this one only
        await _until(lambda: bound.open == 2, "the scrape's connection let go")
        for conn in (second, beyond, more, metrics):
            conn.close()


async def test_the_refusal_is_the_503_admission_answers(tmp_path: Path) -> None:
    """The same problem document and headers as a request shed by admission."""
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="1", SATCHEL_MAX_QUEUED="0") as (
            app, port):
        admission = app[ADMISSION]
        served = await Conn.open(port)
        admission.running = admission.limit  # every slot taken: admission sheds
        shed = await served.ask()
        admission.running = 0
        served.writer.write(_STUCK)  # and now the one connection is busy
        await _until(lambda: _working(app) == 1, "the request in the works")
        beyond = await Conn.open(port)
        refused = await beyond.ask()
        assert shed[0] == refused[0] == 503
        assert json.loads(refused[2]) == json.loads(shed[2]) == problem_body(
            Overloaded("the service is at capacity: try again shortly"))
        for name in ("content-type", "retry-after", "cache-control", "x-content-type-options"):
            assert refused[1][name] == shed[1][name], name
        served.close()
        beyond.close()


async def test_a_request_with_a_body_beyond_the_bound_is_answered_and_closed(
        tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="1") as (app, port):
        held = await _busy(port)
        await _until(lambda: _working(app) == 1, "the request in the works")
        beyond = await Conn.open(port)
        status, headers, _ = await beyond.ask(
            b"POST /v1/learners HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
            b"Content-Length: 2\r\n\r\n{}")
        assert (status, headers["connection"]) == (503, "close")
        assert await asyncio.wait_for(beyond.reader.read(), 30) == b""  # closed by the replica
        assert app[CONNECTIONS].open == 1
        held.close()


async def test_unanswered_requests_do_not_make_the_replica_hold_more_connections(
        tmp_path: Path) -> None:
    """The collapse: requests a replica does not answer yet (here sign-ups whose bodies never
    come) hold their connections, and every further request arrives on a new one. Past the
    bound each is answered at once, and aiohttp holds no more connections than the bound."""
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="4") as (app, port):
        stuck = [await _busy(port) for _ in range(4)]
        await _until(lambda: _working(app) == 4, "the four requests in the works")
        more = [await Conn.open(port) for _ in range(60)]
        answers = await asyncio.gather(*(conn.ask() for conn in more))
        assert [status for status, _, _ in answers] == [503] * 60
        assert app[CONNECTIONS].open == 4
        assert _working(app) == 4  # none of them reached the app either
        for conn in stuck + more:
            conn.close()


async def test_a_probe_beyond_the_bound_gets_its_answer_and_not_the_connection(
        tmp_path: Path) -> None:
    """An operator endpoint is served past the bound, that request only (the audit's A3): a
    connection that began with ``/healthz`` was handed to aiohttp whole, and every later request
    on it was served past the bound (23 connections served with a bound of 2)."""
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="1") as (app, port):
        held = await _busy(port)
        await _until(lambda: _working(app) == 1, "the request in the works")
        probes = [await Conn.open(port) for _ in range(3)]
        for probe in probes:
            # the probe split in two writes, and a request pipelined behind it
            probe.writer.write(b"GET /healthz HTTP/1.1\r\nHo")
            await probe.writer.drain()
            await asyncio.sleep(0)
            status, _, _ = await probe.ask(b"st: t\r\n\r\n" + _GET)
            assert status == 200
            assert await asyncio.wait_for(probe.reader.read(), 30) == b""  # then closed
        await _until(lambda: app[CONNECTIONS].open == 1, "the probes' connections let go")
        assert _working(app) == 1  # the pipelined request was never served
        # a connection served once (room then) keeps being served; one beyond does not
        for probe in probes:
            probe.close()
        held.close()


async def test_no_bound_serves_every_connection(tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="0") as (app, port):
        conns = [await Conn.open(port) for _ in range(5)]
        assert [(await conn.ask())[0] for conn in conns] == [200] * 5
        assert app[CONNECTIONS].open == 5
        for conn in conns:
            conn.close()
    bound = ConnectionBound(0)
    server = web.Server(lambda request: web.Response())
    assert bound.factory(server) is server


async def test_satchel_serve_bounds_its_connections(tmp_path: Path) -> None:
    async with Served(sqlite_backend(tmp_path), SATCHEL_MAX_CONNECTIONS="1") as served:
        first = await _busy(served.port)
        await asyncio.sleep(0.5)  # not a timing this test measures: the request gets in first
        beyond = await Conn.open(served.port)
        assert (await beyond.ask())[0] == 503
        status, _, _ = await beyond.ask(b"GET /readyz HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status == 200  # a probe past the bound
        first.close()
        beyond.close()


def test_the_setting() -> None:
    declared = next(s for s in DECLARED if s.name == "SATCHEL_MAX_CONNECTIONS")
    assert declared.default == "1024"
    assert Settings.from_env({}).max_connections == 1024
    assert Settings.from_env({"SATCHEL_MAX_CONNECTIONS": "0"}).max_connections == 0
    for bad in ("-1", "many"):
        with pytest.raises(SettingsError):
            Settings.from_env({"SATCHEL_MAX_CONNECTIONS": bad})
