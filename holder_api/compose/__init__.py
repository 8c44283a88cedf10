"""The composition root: settings → stores → one builder per feature → the services handlers call.

Each builder (accounts, consent, vault, receive, sharing) builds its feature's services once from
the shared :class:`~holder_api.compose.stores.Stores`; the order below is the order of their
dependencies. :func:`wire` owns every lifetime: what it opened it closes, in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Gauge

from consent.rights import RightsService
from holder_api.compose.accounts import Accounts, build_accounts
from holder_api.compose.consent import Consent, build_consent, build_rights
from holder_api.compose.receive import Receive, build_receive
from holder_api.compose.sharing import Sharing, build_sharing
from holder_api.compose.stores import Stores, open_stores
from holder_api.compose.vault import Vault, build_vault
from holder_api.settings import Settings
from wallet.accounts.sweep import OrphanSweep
from wallet.clock import Clock
from wallet.errors import SatchelError
from wallet.large_bodies import BodyGate
from wallet.net import HostResolver

__all__ = ["Wiring", "wire"]

log = logging.getLogger("satchel")


@dataclass(frozen=True, slots=True)
class Wiring:
    """Every feature as built. Handlers reach their services through ``holder_api.appkeys.Services``;
    this whole is for lifetimes, readiness checks and tests."""

    stores: Stores
    accounts: Accounts
    consent: Consent
    vault: Vault
    receive: Receive
    sharing: Sharing
    rights: RightsService


@asynccontextmanager
async def wire(settings: Settings, *, clock: Clock, host_resolver: HostResolver | None,
               metrics: CollectorRegistry, serving: bool = True) -> AsyncIterator[Wiring]:
    """Every feature, built on the stores. ``serving=False`` (`satchel sweep`): the stores as an
    operator command opens them (:func:`~holder_api.compose.stores.open_stores`, creating
    nothing) and no sweep of its own in the background."""
    async with AsyncExitStack() as running:
        stores = await running.enter_async_context(
            open_stores(settings, clock, host_resolver, provision=serving))
        accounts = build_accounts(stores, metrics)
        running.callback(accounts.close)
        consent = build_consent(stores, metrics)  # first: every feature records to the ledger
        # staged ledger entries still moving in the background: waited for before stores close
        running.push_async_callback(consent.outbox.drain, settings.shutdown_timeout)
        vault = build_vault(stores, consent.outbox)
        receive = build_receive(stores, accounts, vault, consent)
        sharing = build_sharing(stores, consent, vault)
        rights = build_rights(stores, consent, accounts, vault)  # last: it reaches every feature
        _large_body_metrics(metrics, {"import": rights.imports, "upload": vault.uploads})
        if serving:
            await running.enter_async_context(
                _background(accounts.sweep, settings.signup_sweep_grace, receive, rights))
        yield Wiring(stores=stores, accounts=accounts, consent=consent, vault=vault,
                     receive=receive, sharing=sharing, rights=rights)


def _large_body_metrics(metrics: CollectorRegistry, gates: dict[str, BodyGate]) -> None:
    """The slots of each kind of large body in use, and the bodies refused for want of one
    (docs/operations.md, "Large bodies")."""
    running = Gauge("satchel_large_bodies_running",
                    "Large bodies (imports, uploads) admitted and being read or handled, by kind",
                    ["kind"], registry=metrics)
    busy = Gauge("satchel_large_bodies_busy_total",
                 "Large bodies refused for want of a slot (503 imports_busy, uploads_busy; a "
                 "counter)", ["kind"], registry=metrics)
    for kind, gate in gates.items():
        in_use, refused = _read(gate)
        running.labels(kind).set_function(in_use)
        busy.labels(kind).set_function(refused)


def _read(gate: BodyGate) -> tuple[Callable[[], float], Callable[[], float]]:
    return (lambda: gate.running), (lambda: gate.refused)


@asynccontextmanager
async def _background(orphans: OrphanSweep, every: float, receive: Receive,
                      rights: RightsService) -> AsyncIterator[None]:
    """The sweeps: orphans of crashed sign-ups and erasures cut short at start-up, then once per
    grace period; expired inbox items on their own interval. Stopped before the stores they use
    close."""
    await _sweep_at_start(orphans)
    await _finish_erasures(rights, " at start-up")
    tasks = [asyncio.create_task(orphans.run_every(every), name="orphan-sweep"),
             asyncio.create_task(_finish_erasures_every(rights, every), name="erasure-sweep"),
             asyncio.create_task(receive.sweep.run(), name="inbox-expiry-sweep")]
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            # whatever ended the task, the stores must still be closed
            with contextlib.suppress(BaseException):
                await task


async def _sweep_at_start(sweep: OrphanSweep) -> None:
    """Remove what crashed sign-ups left; a failing sweep must not keep the service down."""
    try:
        report = await sweep.run()
    except SatchelError as exc:
        log.warning("orphan sweep at start-up failed: %s", exc.code)
        return
    except Exception as exc:  # boundary: a failing start-up sweep must not keep the service
        # down (a driver's own error, e.g. a refused connection); its type only: a driver's
        # message may hold the database URL
        log.warning("orphan sweep at start-up failed: %s", type(exc).__name__)
        return
    log.info("orphan sweep at start-up: %d removed, %d found without a sign-up record, "
             "%d sign-ups in progress", report.removed, report.adopted, report.waiting)


async def _finish_erasures(rights: RightsService, when: str) -> None:
    """Finish the erasures a crash or a store failure cut short (docs/consent.md, "Erasure");
    a failure is logged and tried again next time, never keeps the service down."""
    try:
        finished, failed = await rights.finish_erasures()
    except SatchelError as exc:
        log.warning("erasure sweep%s failed: %s", when, exc.code)
        return
    except Exception as exc:  # boundary, as for the orphan sweep: its type only
        log.warning("erasure sweep%s failed: %s", when, type(exc).__name__)
        return
    if finished or failed:
        log.info("erasure sweep%s: %d erasures finished, %d left for the next sweep", when,
                 finished, failed)


async def _finish_erasures_every(rights: RightsService, every: float) -> None:
    while True:
        await asyncio.sleep(every)
        await _finish_erasures(rights, "")
