"""Requests whose body is sent by hand, on a connection of their own: declared, then trickled,
stalled or left unfinished (the body deadline's and admission's tests)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from aiohttp.test_utils import TestClient

#: far longer than the deadlines the tests set: an answer not in by then never comes
WITHIN = 20


async def stalled(client: TestClient[Any, Any], path: str, length: int | None, first: bytes,
                  headers: dict[str, str] | None = None, *,
                  content_type: str = "application/json", method: str = "POST"
                  ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A POST (or ``method``) whose body declares ``length`` bytes (None: none, the headers say
    how it is sent) and sends only ``first``."""
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    lines = [f"{method} {path} HTTP/1.1", "Host: t", f"Content-Type: {content_type}",
             *([] if length is None else [f"Content-Length: {length}"]),
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + first)
    await writer.drain()
    return reader, writer


async def answer_of(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes, bytes]:
    """The status, headers and body of the answer, then whatever the server sends before it
    closes (b"" once it has)."""
    head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), WITHIN)).decode()
    lines = head.split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
               if k}
    body = await reader.readexactly(int(headers["content-length"]))
    try:
        rest = await asyncio.wait_for(reader.read(), WITHIN)
    except ConnectionResetError:  # closed, and reset for bytes a trickler sent meanwhile
        rest = b""
    return int(lines[0].split()[1]), headers, body, rest


async def answer(reader: asyncio.StreamReader) -> tuple[int, dict[str, Any], bytes]:
    """The status and problem document, then whatever the server sends before it closes."""
    status, headers, body, rest = await answer_of(reader)
    assert headers["content-type"].startswith("application/problem+json")
    return status, json.loads(body), rest


async def trickle(writer: asyncio.StreamWriter, answered: asyncio.Future[Any],
                  byte: bytes = b" ", every: float = 0.05) -> int:
    """Send ``byte`` every ``every`` seconds until ``answered`` is done or the server has closed
    the connection (an answer and a close may come between two bytes): how many were sent."""
    sent = 0
    while not answered.done():
        try:
            writer.write(byte)
            await writer.drain()
        except ConnectionError:
            break
        sent += 1
        await asyncio.sleep(every)
    return sent


async def until(condition: Callable[[], bool], what: str) -> None:
    """Wait (for a condition, not a time: at most :data:`WITHIN` seconds) until it holds."""
    for _ in range(WITHIN * 100):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never: {what}")
