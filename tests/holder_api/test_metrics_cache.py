"""``/metrics`` is rendered at most once per SATCHEL_METRICS_CACHE seconds, however many scrape.

Why (audit F9): a render costs ~20 ms of CPU (~14 times a refused API request), the endpoint is
exempt from admission and the connection bound, and a flood of unauthenticated scrapes raised
other requests' latency from ~8 to ~500 ms. Counts of renders, not timings.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import METRICS_TEXT
from holder_api.problems import problem_body
from holder_api.settings import DECLARED, Settings, SettingsError
from tests.holder_api.body_support import answer
from tests.support.apps import AppFactory, ShiftedClock
from tests.support.http_api import assert_problem
from wallet.errors import NotFound


def _renders(text: str) -> float:
    m = re.search(r"^satchel_metrics_renders_total (\S+)$", text, re.M)
    assert m is not None, "the render counter is exported"
    return float(m.group(1))


async def _scrape(client: TestClient[Any, Any]) -> str:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.content_type == "text/plain"
    return await resp.text()


async def test_a_flood_of_scrapes_costs_one_render_per_interval(make_client: AppFactory) -> None:
    clock = ShiftedClock()
    client = await make_client(clock, SATCHEL_METRICS_CACHE="60")
    bodies = {await _scrape(client) for _ in range(50)}
    assert len(bodies) == 1  # fifty scrapes, one text
    first = bodies.pop()
    assert _renders(first) == 1 and "/healthz" not in first
    assert (await client.get("/healthz")).status == 200
    clock.advance(30)
    assert await _scrape(client) == first  # within the interval: the same text
    clock.advance(30)
    text = await _scrape(client)  # the interval is over: rendered anew, with what changed
    assert _renders(text) == 2 and "/healthz" in text
    assert client.app[METRICS_TEXT].text().decode() == text  # kept for the next interval


async def test_without_the_cache_every_scrape_renders(make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_METRICS_CACHE="0")
    assert [_renders(await _scrape(client)) for _ in range(3)] == [1, 2, 3]


def test_the_setting() -> None:
    declared = next(s for s in DECLARED if s.name == "SATCHEL_METRICS_CACHE")
    assert declared.default == "1"
    assert Settings.from_env({}).metrics_cache == 1
    assert Settings.from_env({"SATCHEL_METRICS_CACHE": "0"}).metrics_cache == 0
    for bad in ("-1", "61", "often"):
        with pytest.raises(SettingsError):
            Settings.from_env({"SATCHEL_METRICS_CACHE": bad})


def test_the_shipped_proxy_does_not_publish_metrics() -> None:
    """docker/nginx.conf answers /metrics itself, as a replica answers an unknown path: the
    scraper reaches the replicas directly, the public never does."""
    nginx = (Path(__file__).parents[2] / "docker" / "nginx.conf").read_text(encoding="utf-8")
    m = re.search(r"location = /metrics \{(.*?)\n    \}", nginx, re.S)
    assert m is not None, "the proxy has a location of its own for /metrics"
    assert "proxy_pass" not in m.group(1)
    status, body = re.findall(r"return (\d+) '([^']+)';", m.group(1))[0]
    assert int(status) == 404
    assert json.loads(body) == problem_body(NotFound("no such resource"))


async def test_with_a_token_a_scrape_without_it_is_refused_before_any_render(
        make_client: AppFactory) -> None:
    token = "scraper-secret-0123456789"
    client = await make_client(SATCHEL_METRICS_TOKEN=token)
    for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"},
                    {"Authorization": f"Basic {token}"}, {"Authorization": token}):
        await assert_problem(await client.get("/metrics", headers=headers), 401, "unauthorized")
    assert client.app[METRICS_TEXT].text().count(b"\nsatchel_metrics_renders_total 1.0\n") == 1
    resp = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200
    assert _renders(await resp.text()) == 2  # the four refused scrapes rendered nothing
    assert (await client.get("/healthz")).status == 200  # the probes ask no token


def test_the_token_setting() -> None:
    assert Settings.from_env({}).metrics_token is None
    assert Settings.from_env({"SATCHEL_METRICS_TOKEN": "x" * 16}).metrics_token == "x" * 16
    for bad in ("short", "with spaces in it ok", "é" * 16):
        with pytest.raises(SettingsError):
            Settings.from_env({"SATCHEL_METRICS_TOKEN": bad})


async def test_a_token_of_bytes_that_are_not_text_is_refused_not_a_500(
        make_client: AppFactory) -> None:
    """Audit F2: aiohttp decodes a header's bytes with surrogateescape, and ``str.encode()`` of
    the lone surrogates raised: an unauthenticated, unshed 500 and an error line per scrape."""
    client = await make_client(SATCHEL_METRICS_TOKEN="abcdefghijklmnop1234")
    assert client.port is not None
    for sent in (b"Bearer \xff\xfeabcdefghijklmnopqrst", b"Bearer abcdefghijklmnop1234\xc3"):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(b"GET /metrics HTTP/1.1\r\nHost: t\r\nAuthorization: " + sent
                     + b"\r\nConnection: close\r\n\r\n")
        status, problem, _ = await answer(reader)
        writer.close()
        assert (status, problem["code"]) == (401, "unauthorized")
