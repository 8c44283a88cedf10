"""SIGTERM under load: /readyz turns unready first, every request taken is answered, then exit 0.

The load balancer is played by the test: it stops sending new requests once /readyz answers 503
(as a balancer's probe would take the replica out). Slow requests (unlocks, Argon2id at the
production cost, one at a time) are still in flight when the listener closes: they must finish.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from holder_api.middleware import RequestMetrics, error_middleware, metrics_middleware
from tests.holder_api.served import Served
from tests.support.backends import Backend, sqlite_backend
from tests.support.http_api import PASSPHRASE


async def _json(http: aiohttp.ClientSession, method: str, url: str, **kw: Any) -> Any:
    async with http.request(method, url, **kw) as r:
        assert r.status < 300, (r.status, await r.text())
        return await r.json()


async def test_sigterm_under_load_fails_no_admitted_request(backend: Backend) -> None:
    # the queue never counts as standing (SATCHEL_QUEUE_INTERVAL): this is about shutdown, and
    # sixteen unlocks of one account serialise on its rate-limit row while holding their slots
    served = Served(backend, SATCHEL_SHUTDOWN_DRAIN="0.6", SATCHEL_KDF_MEMLIMIT_MIB="64",
                    SATCHEL_KDF_OPSLIMIT="3", SATCHEL_MAX_CONCURRENT_UNLOCKS="1",
                    SATCHEL_QUEUE_INTERVAL="600")
    async with served, aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(force_close=True)) as http:
        base = served.url
        login = {"username": "term", "passphrase": PASSPHRASE}
        await _json(http, "POST", base + "/v1/learners", json=login)
        token = (await _json(http, "POST", base + "/v1/sessions", json=login))["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        unready_at: float | None = None
        refused_at: float | None = None
        outcomes: list[tuple[str, float, int | str]] = []

        async def probe() -> None:
            """The balancer's readiness probe, then a connection attempt to see the listener go."""
            nonlocal unready_at, refused_at
            while refused_at is None:
                try:
                    async with http.get(base + "/readyz") as r:
                        if r.status == 503 and unready_at is None:
                            unready_at = time.monotonic()
                except aiohttp.ClientConnectionError:
                    refused_at = time.monotonic()
                await asyncio.sleep(0.02)

        async def reader() -> None:
            while unready_at is None and refused_at is None:  # sends while it looks ready
                try:
                    async with http.get(base + "/v1/credentials", headers=headers) as r:
                        await r.read()
                        outcomes.append(("list", time.monotonic(), r.status))
                except aiohttp.ClientError as exc:
                    outcomes.append(("list", time.monotonic(), type(exc).__name__))

        async def unlock() -> None:
            try:
                async with http.post(base + "/v1/sessions", json=login) as r:
                    await r.read()
                    outcomes.append(("unlock", time.monotonic(), r.status))
            except aiohttp.ClientError as exc:
                outcomes.append(("unlock", time.monotonic(), type(exc).__name__))

        readers = [asyncio.create_task(reader()) for _ in range(4)]
        unlocks = [asyncio.create_task(unlock()) for _ in range(16)]
        prober = asyncio.create_task(probe())
        await asyncio.sleep(0.3)
        sent_term = time.monotonic()
        served.signal(signal.SIGTERM)
        await asyncio.gather(*readers, *unlocks, prober)
        code = await served.wait()

    failed = [o for o in outcomes if not (isinstance(o[2], int) and 200 <= o[2] < 300)]
    assert failed == [], failed
    assert code == 0, served.log.read_text()[-2000:]
    assert unready_at is not None and refused_at is not None
    assert sent_term < unready_at < refused_at
    # the replica kept serving while it drained ...
    assert any(kind == "list" and at > sent_term for kind, at, _ in outcomes)
    # ... and requests taken before the listener closed were answered after it had closed
    last_unlock = max(at for kind, at, _ in outcomes if kind == "unlock")
    assert last_unlock > refused_at, (last_unlock - refused_at)
    assert sum(kind == "unlock" for kind, _, _ in outcomes) == 16


async def _listener_closed(port: int) -> None:
    """Until a connection to ``port`` is refused (up to a minute)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            _, w = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            return
        w.close()
        await asyncio.sleep(0.05)
    raise AssertionError("the listener never closed")


async def _upload_started(served: Served, username: str
                          ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, bytes]:
    """A sign-up sent up to the first bytes of its body, once the server handles it (it has the
    headers): the connection, and the rest of the body."""
    body = json.dumps({"username": username, "passphrase": PASSPHRASE}).encode()
    head = (b"POST /v1/learners HTTP/1.1\r\nHost: satchel.test\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    reader, writer = await asyncio.open_connection("127.0.0.1", served.port)
    writer.write(head + body[:10])
    await writer.drain()
    # its body is being read, before admission (holder_api.http.EarlyBodies)
    await _wait_for_metric(served, "satchel_bodies_reading_early 1.0")
    return reader, writer, body[10:]


async def test_sigterm_lets_a_request_still_uploading_its_body_finish(tmp_path: Path) -> None:
    """A request whose headers arrived before the listener closed gets the rest of its body
    read after that, and its answer (then the connection closes and the process exits 0)."""
    served = Served(sqlite_backend(tmp_path), SATCHEL_SHUTDOWN_DRAIN="0.5")
    async with served:
        reader, writer, rest = await _upload_started(served, "slow-upload")
        served.signal(signal.SIGTERM)
        await _listener_closed(served.port)  # the drain is over: the listener closed
        writer.write(rest)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 60)  # until the server closes
        writer.close()
        code = await served.wait()
    head = answer.split(b"\r\n\r\n", 1)[0].lower()
    assert head.startswith(b"http/1.1 201"), answer[:200]
    assert b"connection: close" in head
    assert code == 0
    log = served.log.read_text()
    assert "unhandled error" not in log and "ConnectionResetError" not in log, log[-2000:]


async def test_a_client_gone_mid_body_is_a_disconnect_not_a_server_error(tmp_path: Path) -> None:
    served = Served(sqlite_backend(tmp_path), SATCHEL_LOG_LEVEL="INFO")
    async with served:
        _, writer, _ = await _upload_started(served, "gone-away")
        writer.close()
        await writer.wait_closed()
        counted = await _wait_for_metric(served, 'route="/v1/learners",status="499"')
        assert 'status="5' not in counted
    log = served.log.read_text()
    assert "client disconnected" in log
    assert "unhandled error" not in log, log[-2000:]


async def _wait_for_metric(served: Served, needle: str) -> str:
    """``/metrics`` once it holds ``needle`` (asked up to a minute); the lines about requests."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            async with http.get(served.url + "/metrics") as r:
                text = await r.text()
            if needle in text:
                return "\n".join(line for line in text.splitlines()
                                 if line.startswith("satchel_http_requests_total"))
            await asyncio.sleep(0.05)
    raise AssertionError(f"/metrics never showed {needle}: {text[-3000:]}")


async def test_a_connection_error_of_ours_with_the_client_still_there_is_a_500() -> None:
    """Only the request's own connection closing is a client disconnect: a ConnectionError
    from anything else (a database, an outgoing fetch) stays a server error."""
    registry = CollectorRegistry()

    async def failing(_request: web.Request) -> web.Response:
        raise ConnectionResetError("the database went away")

    app = web.Application(middlewares=[metrics_middleware(RequestMetrics(registry)),
                                       error_middleware])
    app.router.add_get("/fails", failing)
    async with TestClient(TestServer(app)) as client:
        r = await client.get("/fails")
        assert r.status == 500
    assert registry.get_sample_value(
        "satchel_http_requests_total", {"method": "GET", "route": "/fails", "status": "500"}) == 1
