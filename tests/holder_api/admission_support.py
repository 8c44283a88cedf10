"""Helpers of test_import_admission.py that other test modules use too (test modules share fixtures and
support modules, never each other: tests/test_architecture.py)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp

#: seconds a refusal must come within: it is answered before the body, never after it
ANSWERED_WITHIN = 30


class Held:
    """A request body sent in part, the rest only when :meth:`finish` is called (or never)."""

    def __init__(self, head: bytes = b'{"passphrase": "x", "bundle": ') -> None:
        self.sent = asyncio.Event()
        self._rest = asyncio.Event()
        self._head = head

    async def body(self) -> AsyncIterator[bytes]:
        yield self._head
        self.sent.set()
        await self._rest.wait()
        yield b"{}}"

    def finish(self) -> None:
        self._rest.set()


async def send(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
               held: Held) -> tuple[int, dict[str, Any], str | None]:
    """POST ``held``'s body: the status, the problem and Retry-After."""
    async with session.post(url, data=held.body(), headers=headers) as r:
        problem: dict[str, Any] = await r.json(content_type=None)
        return r.status, problem, r.headers.get("Retry-After")


async def spend_the_budget(url: str, headers: dict[str, str], n: int, judged: tuple[int, str],
                           held: Callable[[], Held] = Held) -> None:
    """``n`` bodies sent whole, each read and judged ``judged`` (status, code); then one more,
    refused 429 with Retry-After while its body has not been sent whole."""
    async with aiohttp.ClientSession() as session:
        for _ in range(n):
            whole = held()
            whole.finish()
            status, problem, _ = await send(session, url, headers, whole)
            assert (status, problem["code"]) == judged
        status, problem, retry = await asyncio.wait_for(
            send(session, url, headers, held()), ANSWERED_WITHIN)
        assert (status, problem["code"]) == (429, "rate_limited")
        assert retry is not None and int(retry) >= 1
