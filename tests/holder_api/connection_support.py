"""Helpers of test_connections.py that other test modules use too (test modules share fixtures and
support modules, never each other: tests/test_architecture.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from holder_api.app import create_app
from holder_api.appkeys import CONNECTIONS
from holder_api.connections import BoundedSite
from holder_api.settings import Settings
from tests.support.apps import app_env
from tests.support.backends import sqlite_backend
from tests.support.network import loopback_resolver

_GET = b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n\r\n"  # admitted, no store, no auth


@asynccontextmanager
async def _replica(tmp_path: Path, **env: str) -> AsyncIterator[tuple[web.Application, int]]:
    """The app served as ``satchel serve`` serves it (its bounded site), in this process."""
    app = create_app(Settings.from_env(app_env(sqlite_backend(tmp_path), **env)),
                     host_resolver=loopback_resolver)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = BoundedSite(runner, "127.0.0.1", 0, backlog=128, bound=app[CONNECTIONS])
    await site.start()
    try:
        yield app, site.port
    finally:
        await runner.cleanup()


class Conn:
    """One raw HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int, source: str | None = None) -> Conn:
        """``source``: the loopback address it comes from (127.0.0.2, …: another client)."""
        return cls(*await asyncio.open_connection(
            "127.0.0.1", port, local_addr=None if source is None else (source, 0)))

    async def answer(self) -> tuple[int, dict[str, str], bytes]:
        head = (await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 30)).decode()
        lines = head.split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split()[1]), headers, body

    async def ask(self, request: bytes = _GET) -> tuple[int, dict[str, str], bytes]:
        self.writer.write(request)
        return await self.answer()

    def close(self) -> None:
        self.writer.close()


async def _until(condition: Callable[[], bool], what: str) -> None:
    """Wait (a condition, not a time) for the server's side to see a close."""
    for _ in range(3000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")
