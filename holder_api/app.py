"""The aiohttp application factory: wires settings → stores → services → routes.

Lifetimes use ``cleanup_ctx`` (a resource is closed only if it was opened); state uses typed
``web.AppKey``s (:mod:`holder_api.appkeys`); one error middleware renders every failure as
RFC 9457 problem+json.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy.ext.asyncio import AsyncEngine

from consent.api import LearnerLedger
from consent.ledger import Ledger
from consent.recorder import LedgerActivityLog
from consent.rights import RightsService
from consent.service import ConsentService
from holder_api.admission import Admission, admission_middleware
from holder_api.appkeys import (
    INBOX_SWEEP,
    METRICS,
    OPENAPI,
    READINESS,
    SERVICES,
    SETTINGS,
    Services,
)
from holder_api.middleware import RequestMetrics, error_middleware, metrics_middleware
from holder_api.openapi import Op, build_document
from holder_api.routes import consent as consent_routes
from holder_api.routes import credentials, learners, receive, system
from holder_api.routes import present as present_routes
from holder_api.settings import Settings, SettingsError
from sharing.present import PresentationService
from sharing.share_links import ShareLinkService
from sharing.share_tables import share_link_views
from sharing.share_tables import share_links as share_links_table
from wallet.accounts.limits import RateLimiter, UnlockGate
from wallet.accounts.service import AccountService
from wallet.accounts.sweep import OrphanSweep
from wallet.accounts.tokens import ServiceKeys, TokenService
from wallet.credentials import CredentialService
from wallet.crypto import KdfCost, VaultKey
from wallet.db import create_engine, migrate, ping
from wallet.errors import SatchelError
from wallet.intake import CredentialIntake
from wallet.keyring import AskarKeyring, FileKeyring, Keyring
from wallet.net import GuardedFetcher, HostResolver
from wallet.personal_data import PersonalDataRegistry, Withdrawn
from wallet.receive import InboxService, InboxStore, OfferFlow, ReceiveService
from wallet.receive.sweep import ExpirySweep
from wallet.receive.tables import inbox_items, inbox_links
from wallet.trust import TrustList
from wallet.vault import VaultStore, load_or_create_store_key
from wallet.x509 import load_anchors

__all__ = ["all_operations", "create_app", "open_keyring"]

log = logging.getLogger("satchel")


def _version() -> str:
    try:
        return version("satchel")
    except PackageNotFoundError:
        return "0.0.0"


def all_operations() -> list[Op]:
    return [*system.OPS, *learners.OPS, *credentials.OPS, *receive.OPS, *present_routes.OPS,
            *consent_routes.OPS]


async def open_keyring(settings: Settings) -> Keyring:
    uri = settings.keyring_uri
    if uri.startswith(("sqlite://", "postgres://")):
        key = settings.keyring_key
        if key is None:
            if not uri.startswith("sqlite://"):
                raise SettingsError("SATCHEL_KEYRING_KEY is required for a PostgreSQL keyring")
            key = load_or_create_store_key(settings.data_dir / "keyring-store")
        return await AskarKeyring.open(uri, key)
    return FileKeyring(Path(uri))


def _derive_link_key(keys: ServiceKeys) -> bytes:
    """The key of the inbox link token hashes (a subkey: the pepper itself is never reused)."""
    return hashlib.blake2b(b"inbox-link-token", key=keys.username_pepper[:64]).digest()


async def _sweep_at_start(sweep: OrphanSweep) -> None:
    """Remove what crashed sign-ups left; a failing sweep must not keep the service down."""
    try:
        report = await sweep.run()
    except SatchelError as exc:
        log.warning("orphan sweep at start-up failed: %s", exc.code)
        return
    except Exception as exc:  # noqa: BLE001 - a driver's own error (e.g. a refused connection)
        log.warning("orphan sweep at start-up failed: %s", type(exc).__name__)
        return
    log.info("orphan sweep at start-up: %d removed, %d found without a sign-up record, "
             "%d sign-ups in progress", report.removed, report.adopted, report.waiting)


#: The time credentials are judged at (validity windows, status list freshness).
Clock = Callable[[], datetime]


def _wall_clock() -> datetime:
    return datetime.now(UTC)


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


def _stores(settings: Settings, clock: Clock,
            host_resolver: HostResolver | None) -> Callable[[web.Application], AsyncIterator[None]]:
    async def ctx(app: web.Application) -> AsyncIterator[None]:
        settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_engine(settings.database_url)
        _pool_metrics(engine, app[METRICS])
        await migrate(engine)
        store_key = settings.store_key or load_or_create_store_key(settings.data_dir)
        vault = await VaultStore.open(settings.vault_uri, store_key)
        keyring = await open_keyring(settings)
        fetcher = GuardedFetcher(allow_hosts=settings.fetch_allow_hosts,
                                 extra_ca_file=settings.extra_ca_file,
                                 timeout=settings.fetch_timeout, resolver=host_resolver)
        await fetcher.start()
        # x5c anchors can be a list of their own (SATCHEL_X5C_ANCHORS_FILE, or none), so that a CA
        # trusted for TLS does not thereby let its server certificates sign credentials
        x5c_anchors = load_anchors(settings.x5c_anchors_file)
        intake = CredentialIntake(fetcher=fetcher, trust=TrustList.load_optional(settings.trust_list),
                                  x5c_anchors=x5c_anchors,
                                  accept_legacy_typ=settings.accept_legacy_sd_jwt_vc,
                                  clock=clock)
        keys = ServiceKeys.from_secret(settings.session_key, settings.data_key)
        gate = UnlockGate(settings.max_concurrent_unlocks)
        Gauge("satchel_unlocks_waiting", "Unlocks waiting for an Argon2id slot",
              registry=app[METRICS]).set_function(lambda: gate.waiting)
        accounts = AccountService(
            engine=engine, vault=vault, keyring=keyring,
            tokens=TokenService(keys, ttl=settings.token_ttl, issuer=settings.public_url),
            keys=keys, gate=gate, limiter=RateLimiter(engine, pepper=keys.username_pepper),
            kdf=KdfCost(opslimit=settings.kdf_opslimit,
                        memlimit=settings.kdf_memlimit_mib * 1024 * 1024),
            unlock_limit=settings.unlock_limit)
        consent = ConsentService(Ledger(engine, keys.ledger_signing, issuer=settings.public_url))
        activity = LedgerActivityLog(consent, keys.learner_ref)
        # presenting (issue 6): OpenID4VP requests and share links
        presentations = PresentationService(
            vault=vault, fetcher=fetcher, activity=activity,
            trust=TrustList.load_optional(settings.trust_list),
            x509_anchors=x5c_anchors)
        share_links = ShareLinkService(
            engine=engine, vault=vault, activity=activity, public_url=settings.public_url,
            pepper=keys.username_pepper, limiter=RateLimiter(engine, pepper=keys.username_pepper))
        credential_service = CredentialService(vault, intake, activity, clock=clock)
        # -- receiving: OpenID4VCI offers and inbox links (wallet.receive)
        inbox_store = InboxStore(engine)
        receive_service = ReceiveService(
            offers=OfferFlow(vault=vault, intake=intake, activity=activity, fetcher=fetcher,
                             trust=intake.trust_list, public_url=settings.public_url,
                             ttl=settings.inbox_ttl),
            inbox=InboxService(store=inbox_store, vault=vault,
                               inbox_public_key=accounts.inbox_public_key, activity=activity,
                               limiter=RateLimiter(engine, pepper=keys.username_pepper),
                               link_key=_derive_link_key(keys), public_url=settings.public_url,
                               link_limit=settings.inbox_link_limit,
                               client_limit=settings.inbox_client_limit,
                               ttl=timedelta(seconds=settings.inbox_ttl)),
            credentials=credential_service, activity=activity)
        # -- consent API and GDPR rights (issue 4) --
        personal_data = PersonalDataRegistry()
        ledger_view = LearnerLedger(consent, keys.learner_ref)
        rights = RightsService(
            accounts=accounts, vault=vault, consent=consent, ledger=ledger_view,
            registry=personal_data, gate=gate,
            limiter=RateLimiter(engine, pepper=keys.username_pepper), engine=engine,
            vault_uri=settings.vault_uri, service_url=settings.public_url, intake=intake)
        # -- end consent API and GDPR rights --
        # features that hold personal data join erasure and consent withdrawal
        for table in (inbox_links, inbox_items, share_links_table, share_link_views):
            personal_data.add_table(table)
        # under the learner's inbox lock: a push in flight either lands before (and is deleted)
        # or finds its link gone; the table rows above are then already empty
        personal_data.add_eraser("inbox", inbox_store.erase_learner)

        async def withdraw_inbox_link(learner_id: str, dek: VaultKey, link_id: str) -> Withdrawn:
            await receive_service.revoke_link(learner_id, dek, link_id)
            return Withdrawn(purpose="receive credentials through an inbox link")

        async def withdraw_share_link(learner_id: str, dek: VaultKey, link_id: str) -> Withdrawn:
            await share_links.revoke(learner_id, dek, link_id)
            return Withdrawn(purpose="show a credential through a share link")

        personal_data.add_withdrawal("inbox_link", withdraw_inbox_link)
        personal_data.add_withdrawal("share_link", withdraw_share_link)
        ledger_view.before_read.append(share_links.drain_views)
        app[SERVICES] = Services(
            accounts=accounts, credentials=credential_service, gate=gate,
            vault=vault, fetcher=fetcher, intake=intake, consent=consent, activity=activity,
            keys=keys, settings=settings, receive=receive_service,
            presentations=presentations, share_links=share_links,
            personal_data=personal_data, ledger=ledger_view, rights=rights)
        app[READINESS].update({"database": lambda: ping(engine), "vault": vault.ping})
        # orphans of crashed sign-ups: at start-up, then once per grace period (other replicas'
        # sign-ups in progress are safe: see wallet.accounts.sweep)
        sweep = OrphanSweep(engine=engine, vault=vault, keyring=keyring,
                            grace_seconds=settings.signup_sweep_grace)
        await _sweep_at_start(sweep)
        sweeping = asyncio.create_task(sweep.run_every(settings.signup_sweep_grace))
        try:
            yield
        finally:
            sweeping.cancel()
            # whatever ended the task, the stores below must still be closed
            with contextlib.suppress(BaseException):
                await sweeping
            gate.close()
            await fetcher.close()
            accounts.close()
            await keyring.close()
            await vault.close()
            await engine.dispose()

    return ctx


async def _inbox_sweep(app: web.Application) -> AsyncIterator[None]:
    """Purge expired inbox items in the background (every hour, or twice per TTL if shorter)."""
    ttl = app[SETTINGS].inbox_ttl
    sweep = ExpirySweep(app[SERVICES].receive.inbox.sweep, interval=min(3600.0, ttl / 2))
    app[INBOX_SWEEP] = sweep
    task = asyncio.create_task(sweep.run(), name="inbox-expiry-sweep")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def create_app(settings: Settings, *, clock: Clock = _wall_clock,
               host_resolver: HostResolver | None = None) -> web.Application:
    """The application. ``clock`` and ``host_resolver`` exist for tests: a pinned time to judge
    credentials at, and a resolver for the guarded fetcher (the OS resolver by default) so a test
    app never reaches the internet."""
    registry = CollectorRegistry()
    admission = Admission(settings.max_in_flight, settings.max_queued, registry)
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        # admission inside the error middleware (its 503 is rendered and counted like any)
        middlewares=[metrics_middleware(RequestMetrics(registry), access_log=settings.access_log),
                     error_middleware, admission_middleware(admission)],
    )
    app[SETTINGS] = settings
    app[METRICS] = registry
    app[READINESS] = {}
    ops = all_operations()
    for op in ops:
        app.router.add_route(op.method, op.path, op.handler)
    app[OPENAPI] = build_document(ops, version=_version(), server_url=settings.public_url)
    app.cleanup_ctx.append(_stores(settings, clock, host_resolver))
    app.cleanup_ctx.append(_inbox_sweep)  # after the stores: stopped before they close
    return app
