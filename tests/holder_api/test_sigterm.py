"""SIGTERM under load: /readyz turns unready first, every request taken is answered, then exit 0.

The load balancer is played by the test: it stops sending new requests once /readyz answers 503
(as a balancer's probe would take the replica out). Slow requests (unlocks, Argon2id at the
production cost, one at a time) are still in flight when the listener closes: they must finish.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any

import aiohttp

from tests.conftest import Backend
from tests.holder_api.conftest import PASSPHRASE
from tests.holder_api.served import Served


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
