"""What every feature shares: the database, the vault, the keyring, the guarded fetcher, the
service keys, the rate limiter and the trust material, each opened or loaded once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from sqlalchemy.ext.asyncio import AsyncEngine

from holder_api.compose.deployment import check_deployment, check_separate_stores, is_recorded
from holder_api.compose.migrations import run_migrations
from holder_api.settings import Settings, SettingsError
from wallet.accounts.limits import RateLimiter
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import Clock
from wallet.db import create_engine
from wallet.errors import NotFound
from wallet.keyring import AskarKeyring, FileKeyring, Keyring
from wallet.net import GuardedFetcher, HostResolver
from wallet.trust import TrustList
from wallet.vault import VaultStore, load_or_create_store_key
from wallet.x509 import load_anchors

__all__ = ["Clock", "Stores", "open_keyring", "open_stores", "open_vault"]

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


async def open_keyring(settings: Settings, *, provision: bool = True) -> Keyring:
    """``provision=False``: a deployment that recorded its keyring (a keyring store missing at
    the URI is then a wrong SATCHEL_KEYRING_URI, never a new empty keyring to create)."""
    uri = settings.keyring_uri
    if uri.startswith(("sqlite://", "postgres://")):
        key = settings.keyring_key
        if key is None:
            if not uri.startswith("sqlite://"):
                raise SettingsError("SATCHEL_KEYRING_KEY is required for a PostgreSQL keyring")
            key = load_or_create_store_key(settings.data_dir / "keyring-store")
        try:
            return await AskarKeyring.open(uri, key, provision=provision)
        except NotFound:
            raise SettingsError("SATCHEL_KEYRING_URI names no keyring store, and this "
                                "deployment has one: every replica needs the same") from None
    return FileKeyring(Path(uri))


async def open_vault(settings: Settings, store_key: str, *, provision: bool = True) -> VaultStore:
    """``provision=False``: a deployment that recorded itself (a vault store missing at the URI
    is then a wrong SATCHEL_VAULT_URI, never a new empty vault to create)."""
    try:
        return await VaultStore.open(settings.vault_uri, store_key, provision=provision,
                                     summary_rows=settings.summary_rows)
    except NotFound:
        raise SettingsError("SATCHEL_VAULT_URI names no vault store, and this deployment has "
                            "one: every replica needs the same") from None


@asynccontextmanager
async def open_stores(settings: Settings, clock: Clock, host_resolver: HostResolver | None, *,
                      data_key_vouched: bool = False) -> AsyncIterator[Stores]:
    """The stores, migrated and open; each one opened is closed again, in reverse order.
    ``data_key_vouched``: ``satchel record-deployment`` (an operator vouches for the data key
    where the data cannot; it opens no store that is not there)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    async with AsyncExitStack() as opened:
        engine = create_engine(settings.database_url)
        opened.push_async_callback(engine.dispose)
        await run_migrations(engine)
        # before the vault or the keyring is opened (and created): never in the data's database
        await check_separate_stores(settings, engine)
        provision = not data_key_vouched and not await is_recorded(engine)
        store_key = settings.store_key or load_or_create_store_key(settings.data_dir)
        vault = await open_vault(settings, store_key, provision=provision)
        opened.push_async_callback(vault.close)
        keyring = await open_keyring(settings, provision=provision)
        opened.push_async_callback(keyring.close)
        keys = ServiceKeys.from_secret(settings.session_key, settings.data_key)
        # before anything is served or swept: a replica set up unlike the deployment stops here
        await check_deployment(engine, keyring, vault, keys,
                               issuer=settings.deployment_id or keys.deployment_id,
                               data_key_set=settings.data_key is not None, clock=clock,
                               data_key_vouched=data_key_vouched)
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
            x5c_anchors=load_anchors(settings.x5c_anchors_file))
