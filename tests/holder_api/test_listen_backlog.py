"""A burst of connections to a replica that is not running (short of CPU, stopped) is held by
the kernel until the replica accepts it — none is dropped to a client's SYN retry seconds later.

aiohttp's default backlog (128) dropped the handshakes past it; that was the seconds-long tail of
the scale bench's overload runs with two replicas on two cores (``TcpExtListenOverflows``).
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.holder_api.served import Served
from tests.support.backends import sqlite_backend

BURST = 300  # past aiohttp's default backlog of 128, within LISTEN_BACKLOG


async def _healthz(port: int) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        return await reader.read()
    finally:
        writer.close()


async def test_a_burst_of_connections_waits_for_a_stopped_replica(tmp_path: Path) -> None:
    async with Served(sqlite_backend(tmp_path)) as served:
        served.signal(signal.SIGSTOP)  # accepts nothing, as a replica given no CPU
        try:
            opening = [asyncio.create_task(asyncio.open_connection("127.0.0.1", served.port))
                       for _ in range(BURST)]
            # stopped, the server frees no place in its accept queue: past the backlog a
            # handshake never completes (however often the client retries), so this waits out
            # the timeout only when it fails
            done, pending = await asyncio.wait(opening, timeout=10)
            failed = [repr(t.exception()) for t in done if t.exception() is not None]
            opened = [t.result() for t in done if t.exception() is None]
            assert len(opened) == BURST, (f"{len(pending)} handshakes unanswered, "
                                          f"{len(failed)} failed: {failed[:3]}")
        finally:
            served.signal(signal.SIGCONT)
        for task in pending:
            task.cancel()
        for reader, writer in opened:
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        answers = await asyncio.wait_for(
            asyncio.gather(*(reader.read() for reader, _ in opened)), 30)
        for _, writer in opened:
            writer.close()
        assert all(a.startswith(b"HTTP/1.1 200") for a in answers)
        assert (await _healthz(served.port)).startswith(b"HTTP/1.1 200")
