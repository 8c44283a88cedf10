"""Admission control: overload sheds at once instead of queueing without bound.

A replica runs at most ``limit`` requests at a time; up to ``queue`` more wait for a slot in
arrival order; a request beyond that is answered 503 ``overloaded`` with ``Retry-After`` before
any work is done for it. Without the bound, every request past capacity would wait in the
event loop, so each one's latency — the admitted learners' as much as anyone's — would grow with
the excess load until clients time out and retry into the same backlog. With it, an admitted
request waits behind at most ``limit + queue`` others, however large the excess.

The operator endpoints (``/healthz``, ``/readyz``, ``/metrics``) are exempt: an orchestrator must
see a busy replica as alive and a scraper must still see the shedding. Everything else, static
files of the web wallet included, is admitted like any request (they are cheap, and under
overload a page the learner cannot use anyway may as well be shed).
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Gauge

from holder_api.errors import Overloaded

__all__ = ["EXEMPT_PATHS", "Admission", "admission_middleware"]

#: Paths that bypass admission (probes and metrics must answer under any load).
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class Admission:
    """``limit`` requests running, ``queue`` waiting (FIFO), the rest refused."""

    def __init__(self, limit: int, queue: int, registry: CollectorRegistry | None = None) -> None:
        if limit < 1 or queue < 0:
            raise ValueError("admission needs limit >= 1 and queue >= 0")
        self.limit, self.queue = limit, queue
        self.running = 0
        self._waiting: deque[asyncio.Future[None]] = deque()
        self._shed = Counter("satchel_requests_shed", "Requests answered 503 overloaded because "
                             "the admission queue was full", registry=registry)
        Gauge("satchel_requests_in_flight", "Requests admitted and running",
              registry=registry).set_function(lambda: self.running)
        Gauge("satchel_requests_queued", "Requests waiting for admission",
              registry=registry).set_function(lambda: self.waiting)

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def acquire(self) -> None:
        """Take a slot, wait for one, or raise :class:`Overloaded` at once."""
        if self.running < self.limit and not self._waiting:
            self.running += 1
            return
        if len(self._waiting) >= self.queue:
            self._shed.inc()
            raise Overloaded("the service is at capacity: try again shortly", retry_after=1)
        slot = asyncio.get_running_loop().create_future()
        self._waiting.append(slot)
        try:
            await slot  # release() hands its slot over: ``running`` already counts us
        except asyncio.CancelledError:
            if slot.done() and not slot.cancelled():
                self.release()  # the slot was handed over as the client went: pass it on
            else:
                self._waiting.remove(slot)
            raise

    def release(self) -> None:
        while self._waiting:
            slot = self._waiting.popleft()
            if not slot.done():
                slot.set_result(None)
                return
        self.running -= 1


def admission_middleware(admission: Admission) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in EXEMPT_PATHS:
            return await handler(request)
        await admission.acquire()
        try:
            return await handler(request)
        finally:
            admission.release()

    return middleware
