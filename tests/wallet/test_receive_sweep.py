"""The expiry sweep loop: a pass at start, one per wake-up, and it outlives failing passes."""

from __future__ import annotations

import asyncio
import contextlib

from wallet.errors import Unavailable
from wallet.receive.sweep import ExpirySweep


async def test_the_loop_survives_failures_and_wakes_early() -> None:
    outcomes: list[int | BaseException] = [Unavailable("down"), RuntimeError("bug"), 3, 0]

    async def sweep() -> int:
        out = outcomes.pop(0)
        if isinstance(out, BaseException):
            raise out
        return out

    loop = ExpirySweep(sweep, interval=3600)  # only wake-ups make it run again in this test
    task = asyncio.create_task(loop.run())
    try:
        await asyncio.wait_for(loop.wait_for_pass(1), 5)  # the pass at start (it failed)
        for n in (2, 3, 4):
            loop.wake()
            await asyncio.wait_for(loop.wait_for_pass(n), 5)
        assert (loop.passes, loop.deleted, outcomes) == (4, 3, [])
        assert not task.done()
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
