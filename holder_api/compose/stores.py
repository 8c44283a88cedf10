"""What every feature shares: the database, the vault, the keyring, the guarded fetcher, the
service keys, the rate limiter and the trust material, each opened or loaded once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncEngine

from holder_api.compose.deployment import (
    check_deployment,
    check_separate_stores,
    check_unclaimed,
    is_recorded,
)
from holder_api.compose.migrations import has_schema, require_schema, run_migrations
from holder_api.settings import Settings, SettingsError
from wallet.accounts.limits import RateLimiter
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import Clock
from wallet.db import Contended, create_engine, serialised
from wallet.errors import NotFound
from wallet.keyring import AskarKeyring, FileKeyring, Keyring
from wallet.net import GuardedFetcher, HostResolver
from wallet.trust import TrustList
from wallet.vault import VaultStore, load_or_create_store_key, load_store_key
from wallet.x509 import load_anchors

__all__ = ["FIRST_START_LOCK", "FIRST_START_WAIT", "Clock", "NoDeployment", "Stores", "first_start",
           "no_vault", "open_keyring", "open_stores", "open_vault", "refuse_claimed",
           "waiting_for_first_start"]

@dataclass(frozen=True, slots=True)
class Stores:
    settings: Settings
    #: the one clock every service reads (a ManualClock in tests)
    clock: Clock
    engine: AsyncEngine
    vault: VaultStore
    keyring: Keyring
    fetcher: GuardedFetcher
    keys: ServiceKeys
    #: one counter store for every purpose; each service names its own scope and limits
    limiter: RateLimiter
    trust: TrustList
    #: anchors x5c chains in signed objects must lead to (credentials, request objects)
    x5c_anchors: list[x509.Certificate]
    #: the deployment record's rows this opening recorded (all of them at a first start; what
    #: `satchel record-deployment` or a start after an upgrade added; none: it compared)
    recorded: tuple[str, ...] = ()


async def open_keyring(settings: Settings, *, provision: bool = True) -> Keyring:
    """``provision=False``: a deployment that recorded its keyring (a keyring store missing at
    the URI is then a wrong SATCHEL_KEYRING_URI, never a new empty keyring to create)."""
    uri = settings.keyring_uri
    if uri.startswith(("sqlite://", "postgres://")):
        key = settings.keyring_key
        if key is None:
            if not uri.startswith("sqlite://"):
                raise SettingsError("SATCHEL_KEYRING_KEY is required for a PostgreSQL keyring")
            folder = settings.data_dir / "keyring-store"
            key = load_or_create_store_key(folder) if provision else load_store_key(folder)
            if key is None:
                raise SettingsError("SATCHEL_KEYRING_URI names no keyring store (no key in "
                                    "the data folder's keyring-store)")
        try:
            return await AskarKeyring.open(uri, key, provision=provision)
        except NotFound:
            raise SettingsError("SATCHEL_KEYRING_URI names no keyring store, and this "
                                "deployment has one (or the command creates none): every "
                                "replica and command needs the same") from None
    if not provision and not await asyncio.to_thread(Path(uri).is_dir):  # a wrong URI: not made
        raise SettingsError("SATCHEL_KEYRING_URI names no keyring folder, and this deployment "
                            "has one (or the command creates none): every replica and command "
                            "needs the same")
    return FileKeyring(Path(uri))


log = logging.getLogger("satchel")

#: How long a starting replica waits for the others ahead of it in :func:`first_start`: long
#: enough for a `satchel migrate` (or another replica's start) that migrates a large database
#: meanwhile, not for ever (a replica stuck behind a lock no one lets go of stops, and says why).
FIRST_START_WAIT = 3600.0
#: How long :func:`first_start` tries before it says it waits (``on_wait``).
_FIRST_START_QUIET = 2.0
#: The advisory lock :func:`first_start` holds (`satchel move-keyring` holds it for a whole move).
FIRST_START_LOCK = "satchel-first-start"


@asynccontextmanager
async def first_start(engine: AsyncEngine, *, wait: float | None = None,
                      on_wait: Callable[[], None] | None = None) -> AsyncIterator[None]:
    """Everything a start may create — the schema, the vault store, the keyring store, the
    deployment record — done by one replica at a time, so that replicas started together on a
    fresh database do not race to create the same store (Askar's own provisioning fails for the
    later of two that both found nothing there, `wallet.askar_facts.provision`).

    One :func:`~wallet.db.serialised` transaction on the accounts database holds the lock (on
    PostgreSQL a transaction-scoped advisory lock: a replica that dies holding it lets go with
    its connection) for the few database round trips that find everything there on an ordinary
    start, and for a whole migration (`satchel migrate` takes it too). Waiting longer than
    ``wait`` (default :data:`FIRST_START_WAIT`; ``math.inf``: no limit) raises
    :class:`~wallet.db.Contended` (a replica's start stops, exit status 1); ``on_wait`` is called
    once when the lock was not free within a couple of seconds (to say so). The embedded
    default is one process: no lock (SQLite's would also hold the write lock the migrations
    need)."""
    if engine.dialect.name == "sqlite":
        yield
        return
    wait = FIRST_START_WAIT if wait is None else wait
    if on_wait is not None and wait > _FIRST_START_QUIET:
        entered = False
        try:
            async with serialised(engine, FIRST_START_LOCK, wait=_FIRST_START_QUIET):
                entered = True
                yield
            return
        except Contended:
            if entered:  # the body's own, not the lock's
                raise
        on_wait()
        wait -= _FIRST_START_QUIET
    async with serialised(engine, FIRST_START_LOCK, wait=wait):
        yield


def waiting_for_first_start() -> None:
    """A start's ``on_wait`` for :func:`first_start`: logged once."""
    log.warning("waiting for another replica's start or a migration (the first-start lock), "
                "up to %d s", FIRST_START_WAIT)


class NoDeployment(Exception):
    """An operator command (``provision=False``) found no vault where `satchel serve` with the
    same settings would have made one: ``detail`` says where, naming the data folder, never a
    URI (it may carry a password). Nothing was changed."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


async def open_vault(settings: Settings, *, provision: bool) -> VaultStore:
    """The deployment's vault; ``provision=False`` (an operator command): :class:`NoDeployment`
    where there is none, nothing created."""
    if provision:
        store_key = settings.store_key or load_or_create_store_key(settings.data_dir)
        return await VaultStore.open(settings.vault_uri, store_key,
                                     summary_rows=settings.summary_rows)
    folder = f"the data folder {settings.data_dir}"
    check = ("check --data-dir / SATCHEL_DATA_DIR" if settings.embedded_vault
             else "check SATCHEL_VAULT_URI and SATCHEL_STORE_KEY")
    existing = settings.store_key or load_store_key(settings.data_dir)
    if existing is None:
        raise NoDeployment(f"no vault store key (store.key) in {folder}, and no "
                           "SATCHEL_STORE_KEY: is it the folder `satchel serve` uses? Nothing "
                           "was changed")
    try:
        return await VaultStore.open(settings.vault_uri, existing, provision=False,
                                     summary_rows=settings.summary_rows)
    except NotFound:
        where = folder if settings.embedded_vault else "SATCHEL_VAULT_URI"
        raise NoDeployment(f"no vault store at {where} ({check}). Nothing was changed") from None


def no_vault() -> SettingsError:
    """A recorded deployment's vault store missing at the URI: a wrong SATCHEL_VAULT_URI."""
    return SettingsError("SATCHEL_VAULT_URI names no vault store, and this deployment has one: "
                         "every replica needs the same")


async def _recorded_vault(settings: Settings) -> VaultStore:
    """The vault of a deployment that recorded itself: a vault store missing at the URI is a
    wrong SATCHEL_VAULT_URI, never a new empty vault to create."""
    store_key = settings.store_key or load_or_create_store_key(settings.data_dir)
    try:
        return await VaultStore.open(settings.vault_uri, store_key, provision=False,
                                     summary_rows=settings.summary_rows)
    except NotFound:
        raise no_vault() from None


async def refuse_claimed(settings: Settings) -> None:
    """:class:`SettingsError` when the vault or the keyring the settings name exist already
    and belong to a deployment (a canary, a learner's vault or key), for a start whose
    accounts database has no schema yet: nothing opened here is created."""
    opened: list[VaultStore | Keyring] = []
    try:
        vault = None
        store_key = settings.store_key or load_store_key(settings.data_dir)
        if store_key is not None:
            try:
                vault = await VaultStore.open(settings.vault_uri, store_key, provision=False,
                                              summary_rows=settings.summary_rows)
                opened.append(vault)
            except NotFound:
                vault = None
        keyring = None
        try:
            keyring = await open_keyring(settings, provision=False)
            opened.append(keyring)
        except SettingsError:  # none there yet
            keyring = None
        await check_unclaimed({}, set(), keyring, vault)
    finally:
        for store in reversed(opened):
            await store.close()


@asynccontextmanager
async def open_stores(settings: Settings, clock: Clock, host_resolver: HostResolver | None,
                      *, provision: bool = True,
                      data_key_vouched: bool = False) -> AsyncIterator[Stores]:
    """The stores, migrated, open and checked against the deployment record; each one opened
    is closed again, in reverse order.

    The one way into a deployment's stores, for `satchel serve` and for every operator command
    (``provision=False``: `satchel sweep`, `satchel reset-summary-markers`), so that a command
    run with another data key, session key, issuer or keyring than the deployment's stops as a
    replica would (:class:`SettingsError`), and one of a release that does not know the
    database's schema stops too (holder_api.compose.migrations). An operator command creates
    nothing: no data folder, no key, no store (:class:`NoDeployment` when there is no vault),
    and records nothing — except `satchel record-deployment` (``data_key_vouched``: an operator
    vouches for the data key where the data cannot), which records what is not yet."""
    async with AsyncExitStack() as opened:
        if provision:
            settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        else:  # first: a wrong folder gets no database either
            vault = await open_vault(settings, provision=False)
            opened.push_async_callback(vault.close)
        engine = create_engine(settings.database_url, application_name=(
            "satchel serve" if provision else "satchel (operator command)"))
        opened.push_async_callback(engine.dispose)
        async with first_start(engine, on_wait=waiting_for_first_start):
            if provision:
                if not await has_schema(engine):
                    # a database without the schema: a first start, or a wrong, empty
                    # SATCHEL_DATABASE_URL beside another deployment's stores — asked before
                    # anything is migrated into it
                    await check_separate_stores(settings, engine)
                    await refuse_claimed(settings)
                await run_migrations(engine)
            else:  # an operator command migrates nothing (`satchel migrate` does)
                await require_schema(engine)
            # before the vault or the keyring is created: never in the data's own database
            await check_separate_stores(settings, engine)
            recorded = await is_recorded(engine)
            if provision:
                vault = await (_recorded_vault(settings) if recorded
                               else open_vault(settings, provision=True))
                opened.push_async_callback(vault.close)
            keyring = await open_keyring(settings, provision=provision and not recorded)
            opened.push_async_callback(keyring.close)
            keys = ServiceKeys.from_secret(settings.session_key, settings.data_key)
            # before anything is served or swept: a replica set up unlike the deployment stops
            rows_recorded = await check_deployment(
                engine, keyring, vault, keys, issuer=settings.deployment_id or keys.deployment_id,
                data_key_set=settings.data_key is not None, clock=clock,
                record=provision or data_key_vouched, first=provision,
                data_key_vouched=data_key_vouched)
            first = {"keyring_canary", "vault_canary"} <= set(rows_recorded)
            if provision:  # which it was, afterwards, tells a wrong database from the right one
                log.info("deployment recorded: this was its first start" if first else
                         "deployment compared with its record: set up alike",
                         extra={"recorded_now": first, "rows_recorded": list(rows_recorded)})
        fetcher = GuardedFetcher(allow_hosts=settings.fetch_allow_hosts,
                                 extra_ca_file=settings.extra_ca_file,
                                 timeout=settings.fetch_timeout, resolver=host_resolver)
        await fetcher.start()
        opened.push_async_callback(fetcher.close)
        yield Stores(
            settings=settings, clock=clock, engine=engine, vault=vault, keyring=keyring,
            fetcher=fetcher, keys=keys,
            limiter=RateLimiter(engine, pepper=keys.username_pepper, clock=clock),
            trust=TrustList.load_optional(settings.trust_list),
            # x5c anchors can be a list of their own (SATCHEL_X5C_ANCHORS_FILE, or none), so that
            # a CA trusted for TLS does not thereby let its server certificates sign credentials
            x5c_anchors=load_anchors(settings.x5c_anchors_file), recorded=rows_recorded)
