"""The background purge of expired inbox items: one pass at start, then every ``interval``.

Why a loop of its own: listing and accepting already hide and delete expired items, so correctness
never waits for a pass; the sweep only keeps sealed rows of learners who stopped logging in from
lying around (and from counting against the table's size). A failed pass is logged by its error
code (an unexpected one by its type) and retried at the next one; it never stops the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from wallet.errors import SatchelError

__all__ = ["ExpirySweep"]

log = logging.getLogger(__name__)


class ExpirySweep:
    def __init__(self, sweep: Callable[[], Awaitable[int]], *, interval: float) -> None:
        self._sweep, self.interval = sweep, interval
        self._wake = asyncio.Event()
        self._done = asyncio.Condition()
        self.passes = 0  # completed passes, failed ones included
        self.deleted = 0

    def wake(self) -> None:
        """Run the next pass now instead of at the end of the interval."""
        self._wake.set()

    async def wait_for_pass(self, n: int) -> None:
        """Until ``n`` passes have completed (for operators' tooling and tests)."""
        async with self._done:
            await self._done.wait_for(lambda: self.passes >= n)

    async def run_once(self) -> None:
        try:
            deleted = await self._sweep()
        except SatchelError as exc:
            log.warning("inbox expiry sweep failed: %s", exc.code)
        except Exception as exc:  # a background loop must outlive a bug: log, try again later
            log.error("inbox expiry sweep crashed: %s", type(exc).__name__)
        else:
            self.deleted += deleted
            if deleted:
                log.info("inbox expiry sweep deleted %d expired items", deleted)
        async with self._done:
            self.passes += 1
            self._done.notify_all()

    async def run(self) -> None:
        """Until cancelled."""
        while True:
            await self.run_once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
