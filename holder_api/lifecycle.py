"""Serving one process: start, then on SIGTERM stop without failing a request it took.

Why not ``web.run_app``: on SIGTERM it closes the listening socket at once, so a load balancer
that has not yet noticed sends new connections into a refused port. Here SIGTERM first turns
``/readyz`` unready (a ``shutdown`` readiness check) and keeps serving for
``SATCHEL_SHUTDOWN_DRAIN`` seconds, long enough for the balancer's next probe to take the replica
out; only then does the listener close, every request already received finishes — reading the
rest of its body and sending its answer — (up to ``SATCHEL_SHUTDOWN_TIMEOUT`` seconds;
holder_api.in_flight says why aiohttp's own shutdown is not enough for that), and the stores
close. SIGINT (Ctrl-C at a terminal) skips the
drain: nothing balances an interactive run.

A start-up failure (a store that cannot be reached, a key that does not open it) ends the process
with one line naming it and exit status 1, before anything is served; a replica set up unlike the
deployment it joins (holder_api.compose.deployment) with one line naming the setting and exit
status 2, as a configuration error does.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from holder_api.appkeys import CONNECTIONS, IN_FLIGHT, READINESS
from holder_api.connections import BoundedSite, open_files
from holder_api.in_flight import InFlight
from holder_api.pauses import freeze_startup_heap
from holder_api.settings import Settings, SettingsError
from wallet.errors import SatchelError, Unavailable

__all__ = ["check", "quiet_accept_errors", "serve"]

log = logging.getLogger("satchel")

#: Connections the kernel completes and holds until the event loop accepts them (capped by
#: net.core.somaxconn). aiohttp's default, 128, overflows when a replica short of CPU accepts
#: late under a burst: the kernel then drops the client's handshake and the client retries
#: after 1 s, 3 s, 7 s … — seconds of latency no admission control sees, as the request has
#: not reached the process yet. Held here instead, a connection waits only until the loop's
#: next turn accepts them all, and its request is then admitted or shed at once.
LISTEN_BACKLOG = 2048

#: Seconds an idle keep-alive connection is kept (aiohttp's ``run_app`` default; its protocol's
#: own default, which a runner gets, is an hour): idle connections count against
#: SATCHEL_MAX_CONNECTIONS (holder_api.connections).
KEEPALIVE_TIMEOUT = 75.0


class _Draining:
    """The ``shutdown`` readiness check: passes until a stop signal arrives."""

    def __init__(self) -> None:
        self.stopping = False

    async def __call__(self) -> None:
        if self.stopping:
            raise Unavailable("shutting down")


#: What aiohttp's own shutdown still waits, after :func:`_finish_in_flight`, for a handler that
#: outlived ``SATCHEL_SHUTDOWN_TIMEOUT`` before cancelling it.
_STRAGGLER_GRACE = 1.0


async def _finish_in_flight(runner: web.AppRunner, in_flight: InFlight, seconds: float) -> None:
    """Close the listener and the idle connections; let every request already received (its
    headers) finish, reading the rest of its body and sending its answer, for up to ``seconds``;
    each such connection closes after its answer (holder_api.in_flight)."""
    in_flight.stopping = True
    for site in list(runner.sites):
        await site.stop()
    for _ in range(3):  # a request whose headers just arrived reaches the middleware
        await asyncio.sleep(0)
    server = runner.server
    if server is not None:
        for connection in server.connections:
            if not in_flight.busy(connection):
                connection.close()  # idle (keep-alive): no new request starts on it
    if not await in_flight.quiet(seconds):
        log.warning("requests still running at the shutdown timeout",
                    extra={"requests": len(in_flight)})


_ACCEPT_ERROR = "socket.accept() out of system resource"
#: Seconds between two log lines of :data:`_ACCEPT_ERROR` (the retries between are counted).
_ACCEPT_ERROR_EVERY = 10.0


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Log asyncio's "out of system resource" on ``accept`` (EMFILE) once in ``_ACCEPT_ERROR_EVERY``
    seconds, with how many were held back; every other error as asyncio would. CPython's accept
    loop reports it once per listen-backlog slot on every retry: 706,553 lines (172 MB) in
    seconds once, the log itself then stalling the replica (audit A4)."""
    held_back = 0
    last = -_ACCEPT_ERROR_EVERY

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        nonlocal held_back, last
        if context.get("message") != _ACCEPT_ERROR:
            loop.default_exception_handler(context)
            return
        now = time.monotonic()
        if now - last < _ACCEPT_ERROR_EVERY:
            held_back += 1
            return
        exc = context.get("exception")
        log.error("cannot accept connections: out of open files or memory",
                  extra={"error": type(exc).__name__ if exc is not None else None,
                         "errno": getattr(exc, "errno", None), "held_back": held_back})
        held_back, last = 0, now

    loop.set_exception_handler(handler)


async def _serve(app: web.Application, settings: Settings) -> None:
    quiet_accept_errors(asyncio.get_running_loop())
    draining = _Draining()
    app[READINESS]["shutdown"] = draining
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=_STRAGGLER_GRACE,
                           keepalive_timeout=KEEPALIVE_TIMEOUT)
    await runner.setup()  # the stores open here (cleanup_ctx): failures surface before serving
    # everything start-up built lives until exit: out of the collector's full scans
    log.info("start-up heap frozen", extra={"objects": freeze_startup_heap()})
    try:
        site = BoundedSite(runner, settings.host, settings.port, backlog=LISTEN_BACKLOG,
                           bound=app[CONNECTIONS])
        await site.start()
        loop = asyncio.get_running_loop()
        received: asyncio.Queue[signal.Signals] = asyncio.Queue()
        # before it says it serves: a signal sent on that line stops it as any other does
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, received.put_nowait, sig)
        print(f"satchel: serving on http://{settings.host}:{settings.port}", file=sys.stderr,
              flush=True)
        log.info("serving", extra={"host": settings.host, "port": settings.port})
        sig = await received.get()
        draining.stopping = True
        drain = settings.shutdown_drain if sig is signal.SIGTERM else 0.0
        log.info("stopping", extra={"signal": sig.name, "drain_seconds": drain})
        if drain > 0:
            try:  # a second signal cuts the drain short
                await asyncio.wait_for(received.get(), drain)
            except TimeoutError:
                pass
        await _finish_in_flight(runner, app[IN_FLIGHT], settings.shutdown_timeout)
    finally:
        # closes what is left (the listener too if a start-up step failed), then the stores
        await runner.cleanup()


async def _check_listen(host: str, port: int) -> None:
    """The address is free: bound as the site binds it, and let go (``OSError``: in use)."""
    server = await asyncio.get_running_loop().create_server(
        asyncio.Protocol, host, port, backlog=LISTEN_BACKLOG, reuse_address=True,
        start_serving=False)
    server.close()
    await server.wait_closed()


def check(settings: Settings) -> int:
    """Everything that can refuse a start, asked before it writes anything
    (holder_api.compose.preflight), the open-files limit and the address included; 0 when
    nothing refuses, else the exit status, the refusal said as :func:`serve` says it."""
    from prometheus_client import CollectorRegistry

    from holder_api.compose.preflight import check_start
    from holder_api.connections import ConnectionBound

    async def ask() -> None:
        await check_start(settings)
        await _check_listen(settings.host, settings.port)

    def run() -> None:
        # a bound of its own, for its refusal only: the app's is fitted by serve, which says
        # so (the warning of a fitted bound, held back here, is said once)
        def silent(record: logging.LogRecord) -> bool:
            return False

        log.addFilter(silent)
        try:
            open_files(ConnectionBound(settings.max_connections, CollectorRegistry()),
                       LISTEN_BACKLOG, fit=not settings.max_connections_set)
        finally:
            log.removeFilter(silent)
        asyncio.run(ask())

    return _refused(run)


def serve(app: web.Application, settings: Settings) -> int:
    """Serve until SIGTERM/SIGINT; the process exit status."""

    def run() -> None:
        open_files(app[CONNECTIONS], LISTEN_BACKLOG, fit=not settings.max_connections_set)
        asyncio.run(_serve(app, settings))

    return _refused(run)


def _refused(run: Callable[[], None]) -> int:
    """``run``'s exit status: 0, or a refused start's, said in one line."""
    try:
        run()
    except SettingsError as exc:  # set up unlike the deployment (holder_api.compose.deployment)
        print(f"satchel: configuration error: {exc.detail}", file=sys.stderr, flush=True)
        return 2
    except SatchelError as exc:
        print(f"satchel: cannot start: {exc.detail}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:  # a port in use, a store that refuses the connection
        print(f"satchel: cannot start: {type(exc).__name__}: {exc.strerror or 'I/O error'}",
              file=sys.stderr, flush=True)
        return 1
    except SQLAlchemyError as exc:  # the message may hold the database URL: its type only
        cause = type(exc.orig or exc).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
        print(f"satchel: cannot start: the database refused ({cause})", file=sys.stderr,
              flush=True)
        return 1
    return 0
