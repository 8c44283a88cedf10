"""Everything that can refuse a start, asked before the start writes anything.

`satchel serve` reads its settings without making ``session.key``, asks :func:`check_start`,
and only then makes the key, the data folder, the schema, the stores and the deployment record
(holder_api.cli, holder_api.lifecycle). A refused start leaves the data folder and the
databases as they were: no ``session.key`` for a setting read after it, no migrated schema,
store key or vault for a trust list that cannot be read.

What it asks, reading only: the files the stores load (the trust list, the ``x5c`` anchors,
the TLS CA file); for a database without the schema, what a first start asks before migrating
(the keyring is no data database; the vault and keyring named hold no other deployment's data);
for one with it, whether this release may run against it (a newer release's schema) and, once
it is at this release's newest, whether this replica is set up like the deployment recorded
there (the comparison :func:`~holder_api.compose.deployment.check_deployment` makes, recording
nothing). What the start does next asks again, as before: between the two, another process may
have changed the stores.
"""

from __future__ import annotations

from contextlib import AsyncExitStack

from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from holder_api.compose.deployment import check_deployment, check_separate_stores, is_recorded
from holder_api.compose.migrations import REVISION_FOLDERS, ahead_check, schema_heads
from holder_api.compose.stores import (
    first_start,
    no_vault,
    open_keyring,
    refuse_claimed,
    waiting_for_first_start,
)
from holder_api.settings import Settings, SettingsError
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import SYSTEM_CLOCK
from wallet.db import failing_as, is_sqlite, known_revisions
from wallet.errors import NotFound
from wallet.net import GuardedFetcher
from wallet.trust import TrustList
from wallet.vault import VaultStore, load_store_key
from wallet.x509 import load_anchors

__all__ = ["check_start"]


async def check_start(settings: Settings) -> None:
    """Raise what the start would raise for these settings and stores (``SettingsError``: exit
    status 2; any other ``SatchelError``, an ``OSError`` or a database error: 1), writing
    nothing anywhere. ``settings`` as read without provisioning (``session.key`` not made)."""
    fetcher = GuardedFetcher(extra_ca_file=settings.extra_ca_file)
    await fetcher.start()  # the TLS context: SATCHEL_EXTRA_CA_FILE read
    await fetcher.close()
    load_anchors(settings.x5c_anchors_file)  # by default the same file: said as the CA's first
    TrustList.load_optional(settings.trust_list)
    # its own engine, nothing pooled: wallet.db.create_engine would make a SQLite file's folder
    engine = create_async_engine(settings.database_url, poolclass=NullPool, connect_args=(
        {} if is_sqlite(settings.database_url)
        else {"server_settings": {"application_name": "satchel serve"}}))  # a replica's
    try:
        # as the start asks them: under the first-start lock, so that a replica starting
        # beside one that is creating the deployment's stores sees them all or none
        async with first_start(engine, on_wait=waiting_for_first_start):
            await _check_stores(settings, engine)
    finally:
        await engine.dispose()


async def _check_stores(settings: Settings, engine: AsyncEngine) -> None:
    heads = await schema_heads(engine)  # a SQLite file that does not exist is not made
    if not heads:  # as a first start asks before it migrates (holder_api.compose.stores)
        await check_separate_stores(settings, engine)
        await refuse_claimed(settings)
        return
    known = known_revisions(REVISION_FOLDERS)
    unknown = [r for r in heads if r not in known]
    if unknown:
        def ahead(connection: Connection) -> None:
            current = MigrationContext.configure(connection).get_current_heads()
            ahead_check(connection, [r for r in current if r not in known], known)

        with failing_as("database unreachable"):
            async with engine.connect() as conn:
                await conn.run_sync(ahead)
        return
    await check_separate_stores(settings, engine)
    if heads != known[-1:] or not await is_recorded(engine):
        return  # an older schema: migrated first, then compared (as before)
    async with AsyncExitStack() as opened:
        store_key = settings.store_key or load_store_key(settings.data_dir)
        if store_key is None:  # the start would make a new key for a vault it cannot open
            raise SettingsError(f"no vault store key (store.key) in the data folder "
                                f"{settings.data_dir}, and this deployment has a vault: is it "
                                "the folder `satchel serve` uses?")
        try:
            vault = await VaultStore.open(settings.vault_uri, store_key, provision=False,
                                          summary_rows=settings.summary_rows)
        except NotFound:
            raise no_vault() from None
        opened.push_async_callback(vault.close)
        keyring = await open_keyring(settings, provision=False)
        opened.push_async_callback(keyring.close)
        keys = ServiceKeys.from_secret(settings.session_key, settings.data_key)
        await check_deployment(engine, keyring, vault, keys,
                               issuer=settings.deployment_id or keys.deployment_id,
                               data_key_set=settings.data_key is not None, clock=SYSTEM_CLOCK,
                               record=False, first=True)
