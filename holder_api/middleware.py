"""The one error middleware (domain errors → RFC 9457) and request metrics/logging."""

from __future__ import annotations

import contextlib
import logging
import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from prometheus_client import CollectorRegistry, Counter, Histogram
from sqlalchemy.exc import TimeoutError as PoolTimeout

from holder_api.errors import MethodNotAllowed
from holder_api.problems import problem_response
from wallet.after_answer import collect
from wallet.errors import (
    BadInput,
    NotFound,
    PayloadTooLarge,
    SatchelError,
    Unavailable,
    UnsupportedFormat,
)

__all__ = ["CLIENT_CLOSED", "RequestMetrics", "client_gone", "error_middleware",
           "metrics_middleware"]

log = logging.getLogger("satchel.http")
_MAX_LABEL_SETS = 1024


def _from_http_exception(exc: web.HTTPException) -> SatchelError:
    if exc.status == 404:
        return NotFound("no such resource")
    if exc.status == 405:
        return MethodNotAllowed("method not allowed on this resource")
    if exc.status == 413:
        return PayloadTooLarge("request body too large")
    if exc.status == 415:
        return UnsupportedFormat("unsupported media type")
    err = BadInput(exc.reason or "bad request")
    err.status = exc.status if 400 <= exc.status < 500 else 400
    return err


def _refuse_nul(request: web.Request) -> None:
    """A NUL character (``%00``) in the path or the query is bad input at the edge: no id or
    filter holds one, and PostgreSQL refuses such text as an encoding error (which
    :func:`wallet.db.failing_as` would report as an outage). The path's is a 404 (no resource
    has that name), the query's a 400. ``raw_path`` is the target as sent: ``%00`` is the only
    spelling (a raw NUL byte never gets past the HTTP parser)."""
    raw = request.raw_path
    if "%00" in raw:
        path, _, query = raw.partition("?")
        if "%00" in path:
            raise NotFound("no such resource")
        if "%00" in query:
            raise BadInput("a query parameter holds a NUL character")


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        _refuse_nul(request)
        return await handler(request)
    except SatchelError as err:
        if err.status >= 500:
            log.warning("request failed", extra={"code": err.code, "status": err.status,
                                                 "route": _route(request)})
        return problem_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and 2xx raised by aiohttp itself
        extra = {}
        if isinstance(exc, web.HTTPMethodNotAllowed):
            extra["Allow"] = ", ".join(sorted(exc.allowed_methods))
        return problem_response(_from_http_exception(exc), headers=extra)
    except PoolTimeout:
        # every pooled connection stayed busy for the pool's whole timeout: the replica is
        # saturated, which is a clean 503 with Retry-After (a client may retry), not a fault
        log.warning("database pool exhausted", extra={"route": _route(request)})
        return problem_response(Unavailable("the database is busy: try again shortly"))
    except Exception as exc:  # boundary: the last line of defence must catch everything (a 500)
        if isinstance(exc, ConnectionError) and client_gone(request):
            # the client closed its connection (mid-body, say): nobody to answer, and no fault
            # of ours. Answered (to nobody) rather than raised, which aiohttp would log as an
            # error (audit A8); the metrics count a 499
            log.info("client disconnected", extra={"route": _route(request)})
            return web.Response(status=CLIENT_CLOSED)
        log.exception("unhandled error", extra={"route": _route(request)})
        return problem_response(SatchelError("an unexpected error occurred"))


#: The status the metrics and the access log give a request whose client went away before its
#: answer (nginx's "client closed request"): not a 5xx, as nothing failed on our side.
CLIENT_CLOSED = 499


def client_gone(request: web.BaseRequest) -> bool:
    """Whether the request's connection is closed or closing (the client went away); a
    ``ConnectionError`` from anything else — a database, an outgoing fetch — is not this."""
    transport = request.transport
    return transport is None or transport.is_closing()


@web.middleware
async def after_answer_middleware(request: web.Request,
                                  handler: Handler) -> web.StreamResponse:
    """Work a service deferred (:mod:`wallet.after_answer`) starts once the response is written.

    Only a request that deferred something sends its response from here (``prepare`` and
    ``write_eof`` are idempotent: aiohttp's own send then does nothing more)."""
    with collect() as jobs:
        try:
            response = await handler(request)
        except BaseException:
            for job in jobs:  # nothing was answered yet: start them now rather than never
                job()
            raise
    if jobs:
        try:
            # a client gone away: aiohttp's own send meets the same error and handles it
            with contextlib.suppress(ConnectionError):
                if not response.prepared:
                    await response.prepare(request)
                    await response.write_eof()
        finally:
            for job in jobs:
                job()
    return response


def _route(request: web.Request) -> str:
    info = request.match_info.route.resource
    return info.canonical if info is not None else "unmatched"


class RequestMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("satchel_http_requests", "HTTP requests",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("satchel_http_request_duration_seconds", "HTTP request latency",
                                 ["method", "route"], registry=registry,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5))
        # ``labels()`` costs more than the update itself; the label sets are few (route
        # templates, not paths), so each one's children are looked up once.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        pair = self._children.get(key)
        if pair is None:
            if len(self._children) >= _MAX_LABEL_SETS:  # bounded even if a label set explodes
                self._children.clear()
            pair = self._children[key] = (self.requests.labels(method, route, str(status)),
                                           self.latency.labels(method, route))
        pair[0].inc()
        pair[1].observe(seconds)


def metrics_middleware(metrics: RequestMetrics, *, access_log: str = "errors") -> Middleware:
    """Metrics for every request; an access line per ``access_log``.

    ``errors`` (default): only 4xx/5xx answers and requests slower than a second get a line —
    data minimisation (GDPR Art. 5(1)(c): a line per learner request is a record of their
    activity) and ~35 µs saved per request; counts and latencies are in ``/metrics`` anyway.
    ``all``: a line per request. ``off``: none.
    """
    log_all, log_errors = access_log == "all", access_log in ("all", "errors")

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        status = 500
        try:
            response = await handler(request)
            status = response.status
            return response
        except web.HTTPException as exc:
            status = exc.status
            raise
        except ConnectionError:
            if client_gone(request):
                status = CLIENT_CLOSED
            raise
        finally:
            route = _route(request)
            elapsed = time.perf_counter() - start
            metrics.observe(request.method, route, status, elapsed)
            if (route != "/metrics" and log_errors
                    and (log_all or status >= 400 or elapsed >= 1.0)
                    and log.isEnabledFor(logging.INFO)):
                log.info("request", extra={"method": request.method, "route": route,
                                           "status": status, "ms": round(elapsed * 1000, 2)})

    return middleware
