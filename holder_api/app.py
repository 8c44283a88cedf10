"""The aiohttp application factory: the routes, the middlewares, and the lifetime of the wiring.

What is built from the settings, and in which order, is :mod:`holder_api.compose`; this module
only hands the handlers their services. Lifetimes use ``cleanup_ctx`` (a resource is closed only
if it was opened); state uses typed ``web.AppKey``s (:mod:`holder_api.appkeys`); one error
middleware renders every failure as RFC 9457 problem+json.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from importlib.metadata import PackageNotFoundError, version

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from holder_api.admission import Admission, admission_middleware
from holder_api.appkeys import (
    ADMISSION,
    CLOCK,
    CONNECTIONS,
    IN_FLIGHT,
    INBOX_SWEEP,
    METRICS,
    METRICS_TEXT,
    OPENAPI,
    READINESS,
    SERVICES,
    SETTINGS,
    WIRING,
    Services,
)
from holder_api.auth import guarded
from holder_api.compose import wire
from holder_api.compose.migrations import schema_check
from holder_api.compose.stores import open_keyring
from holder_api.connections import ConnectionBound
from holder_api.headers import install as install_security_headers
from holder_api.http import EarlyBodies
from holder_api.in_flight import InFlight
from holder_api.metrics_text import RenderedMetrics
from holder_api.middleware import (
    RequestMetrics,
    after_answer_middleware,
    error_middleware,
    metrics_middleware,
)
from holder_api.openapi import Op, build_document
from holder_api.pauses import GcPauses, LoopLag
from holder_api.routes import consent as consent_routes
from holder_api.routes import credentials, learners, receive, system
from holder_api.routes import present as present_routes
from holder_api.settings import Settings
from holder_api.web import setup_web
from holder_api.web.config import WEB_CONFIG, WebConfig
from holder_api.web.pages import ADMITTED_UPLOADS
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.db import ping
from wallet.learner_cache import sweep_periodically
from wallet.net import HostResolver

__all__ = ["all_operations", "create_app", "open_keyring"]


def _version() -> str:
    try:
        return version("satchel")
    except PackageNotFoundError:
        return "0.0.0"


def all_operations() -> list[Op]:
    return [*system.OPS, *learners.OPS, *credentials.OPS, *receive.OPS, *present_routes.OPS,
            *consent_routes.OPS]


def _pool_metrics(engine: AsyncEngine, registry: CollectorRegistry) -> None:
    """Checkouts that found the PostgreSQL pool exhausted (none on SQLite's)."""
    pool = engine.pool

    def read(name: str) -> Callable[[], float]:
        return lambda: float(getattr(pool, name, 0))

    Gauge("satchel_db_pool_waits", "Checkouts that waited for a pooled connection (counter)",
          registry=registry).set_function(read("waits"))
    Gauge("satchel_db_pool_wait_seconds", "Time those checkouts waited in all (counter)",
          registry=registry).set_function(read("wait_seconds"))
    Gauge("satchel_db_pool_in_use", "Pooled connections checked out",
          registry=registry).set_function(lambda: float(getattr(pool, "checkedout", int)()))


def _wired(settings: Settings, clock: Clock,
           host_resolver: HostResolver | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        async with wire(settings, clock=clock, host_resolver=host_resolver,
                        metrics=app[METRICS]) as wiring:
            app[WIRING] = wiring
            app[SERVICES] = Services(
                accounts=wiring.accounts.service, credentials=wiring.vault.credentials,
                receive=wiring.receive.service, presentations=wiring.sharing.presentations,
                share_links=wiring.sharing.share_links, printouts=wiring.sharing.printouts,
                ledger=wiring.consent.ledger,
                rights=wiring.rights, uploads=wiring.vault.uploads)
            app[INBOX_SWEEP] = wiring.receive.sweep
            stores = wiring.stores
            _pool_metrics(stores.engine, app[METRICS])
            app[READINESS].update({"database": lambda: ping(stores.engine),
                                   "vault": stores.vault.ping,
                                   "schema": schema_check(stores.engine)})
            yield

    return ctx


async def _sweeping_list_caches(_app: web.Application) -> AsyncIterator[None]:
    """Expired entries of the per-learner caches and of the token memo are freed on an idle
    replica too (wallet.learner_cache: they hold plaintext and vault keys of unlocked learners)."""
    task = asyncio.create_task(sweep_periodically())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def _gated(ops: list[Op]) -> Callable[[web.Request], bool]:
    """Whether a request's body is one a large-bodies gate admits before a byte of it is read
    (wallet.large_bodies): an operation's ``gated_media``, a web form that carries a file."""
    media = {(op.method, op.path): op.gated_media for op in ops if op.gated_media}

    def gated(request: web.Request) -> bool:
        if request.path in ADMITTED_UPLOADS:
            return True
        resource = request.match_info.route.resource
        kinds = media.get((request.method, resource.canonical)) if resource is not None else None
        return kinds is not None and ("*" in kinds or request.content_type in kinds)

    return gated


def create_app(settings: Settings, *, clock: Clock = SYSTEM_CLOCK,
               host_resolver: HostResolver | None = None) -> web.Application:
    """The application. ``clock`` and ``host_resolver`` exist for tests: the one clock every
    service reads (a ``wallet.clock.ManualClock`` a test moves), and a resolver for the guarded
    fetcher (the OS resolver by default) so a test app never reaches the internet."""
    registry = CollectorRegistry()
    admission = Admission(settings.max_in_flight, settings.max_queued, registry,
                          target=settings.queue_target, interval=settings.queue_interval,
                          adaptive=settings.adaptive_in_flight, rule=settings.admission_rule)
    in_flight = InFlight()
    ops = all_operations()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # outermost, the requests a stop lets finish (a request waiting for a slot among
        # them); then admission, whose refusal is prebuilt and costs no metric series, access
        # line or exception (docs/operations.md, "Overload": under overload it is half the
        # requests); work deferred until the answer is out starts innermost, right after it
        # is written
        middlewares=[in_flight.middleware,
                     admission_middleware(admission, EarlyBodies(
                         settings.early_body_bytes, registry, gated=_gated(ops),
                         share=settings.early_body_client_bytes,
                         trust_forwarded=settings.trust_forwarded)),
                     metrics_middleware(RequestMetrics(registry), access_log=settings.access_log),
                     error_middleware, after_answer_middleware],
    )
    install_security_headers(app)
    app[SETTINGS] = settings
    app[WEB_CONFIG] = WebConfig.of(settings)  # the web wallet's cookie flags and keys, once
    app[CLOCK] = clock
    app[METRICS] = registry
    app[METRICS_TEXT] = RenderedMetrics(registry, settings.metrics_cache, clock)
    app[ADMISSION] = admission
    app[CONNECTIONS] = ConnectionBound(
        settings.max_connections, registry, head_timeout=settings.head_timeout,
        # behind the trusted proxy every connection is the proxy's: it caps its clients
        per_client=0 if settings.trust_forwarded else settings.max_connections_per_client)
    app[IN_FLIGHT] = in_flight
    app[READINESS] = {}
    for op in ops:
        app.router.add_route(op.method, op.path, guarded(op))  # auth as each op declares
    app[OPENAPI] = build_document(ops, version=_version(), server_url=settings.public_url)
    setup_web(app)  # the learner web wallet at /
    app.cleanup_ctx.append(_wired(settings, clock, host_resolver))
    app.cleanup_ctx.append(_sweeping_list_caches)
    app.cleanup_ctx.append(GcPauses(registry).installed)
    app.cleanup_ctx.append(LoopLag(registry, listener=admission.loop_probe).running)
    return app
