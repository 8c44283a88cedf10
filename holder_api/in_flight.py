"""The connections whose request is being handled, so that stopping finishes them whole.

aiohttp's own shutdown (``AppRunner.cleanup``: ``Server.pre_shutdown`` closes every connection,
then ``RequestHandler.shutdown`` waits for the handlers) marks each connection closed *before*
its request is done, and from then on ``RequestHandler.data_received`` drops whatever arrives on
it: a request whose body was still uploading when the listener closed never got the rest of its
body, never an answer, and its handler ended in a ``ConnectionResetError``. So
:mod:`holder_api.lifecycle` first closes the listener and the idle connections itself, lets the
connections listed here receive their bodies and send their answers (each one closed after its
answer), and only then hands what is left to aiohttp.

Requests still sending their body before admission (holder_api.http.EarlyBodies) are not
waited for: no work of theirs has started, and a client trickling one held the stop until the
body's deadline (audit F10). When the listener closes they are cut (:meth:`InFlight.cut_early`):
answered 408 ``request_timeout``, their connection closed, so the client sends the request
again to a replica that stays.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator

from aiohttp import web
from aiohttp.typedefs import Handler
from aiohttp.web_protocol import RequestHandler

__all__ = ["InFlight"]


class InFlight:
    """Requests being handled, by connection; :meth:`middleware` is the outermost middleware."""

    def __init__(self) -> None:
        self._busy: dict[RequestHandler, int] = {}
        self._quiet = asyncio.Event()
        self._quiet.set()
        self.stopping = False
        #: how to cut each body being read before admission now (:meth:`early_read`)
        self._early: set[Callable[[], None]] = set()
        self.early_cut = False  # the listener closed: early reads are cut as they begin

    def busy(self, connection: RequestHandler) -> bool:
        return connection in self._busy

    def __len__(self) -> int:
        return len(self._busy)

    @contextlib.contextmanager
    def early_read(self, cut: Callable[[], None]) -> Iterator[None]:
        """A body is read before its request is admitted meanwhile: ``cut`` ends that read (at
        once if the early reads are cut already)."""
        if self.early_cut:
            cut()
        self._early.add(cut)
        try:
            yield
        finally:
            self._early.discard(cut)

    def cut_early(self) -> int:
        """Cut every body being read before admission, and those that begin from now on; how
        many were cut."""
        self.early_cut = True
        cuts = list(self._early)
        for cut in cuts:
            cut()
        return len(cuts)

    async def quiet(self, seconds: float) -> bool:
        """Wait until no request is being handled (at most ``seconds``); whether none is."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._quiet.wait(), seconds)
        return not self._busy

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        connection = request.protocol
        self._busy[connection] = self._busy.get(connection, 0) + 1
        self._quiet.clear()
        try:
            response = await handler(request)
            if self.stopping:
                # the last answer on this connection; sent from here, so that it is written
                # before the process stops waiting for it (prepare and write_eof are
                # idempotent: aiohttp's own send then does nothing more)
                response.force_close()
                with contextlib.suppress(ConnectionError):  # a client gone: nothing to send
                    if not response.prepared:
                        await response.prepare(request)
                    await response.write_eof()
            return response
        finally:
            left = self._busy.pop(connection) - 1
            if left:
                self._busy[connection] = left
            elif not self._busy:
                self._quiet.set()
