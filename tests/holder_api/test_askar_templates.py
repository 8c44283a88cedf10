"""The test apps' Askar stores cloned from a template (tests/support/backends.py, apps.py): an
app-only PostgreSQL test starts on a provisioned, empty vault and keyring that its app takes for
a first start; an app opened with another key or on another accounts database gets no clone
and provisions what it needs itself, as it did before the templates."""

from __future__ import annotations

from pathlib import Path

from aries_askar import Store

from holder_api.appkeys import WIRING
from holder_api.settings import Settings
from tests.support.apps import KEYRING_KEY, STORE_KEY, app_clients, app_env, stores_from_templates
from tests.support.backends import fresh_backend
from tests.support.http_api import learner
from wallet.errors import NotFound
from wallet.keyring import AskarKeyring
from wallet.vault import VaultStore


async def _exists(uri: str, key: str) -> bool:
    """Whether an Askar store opens at ``uri`` with ``key`` (nothing is created)."""
    try:
        store = await VaultStore.open(uri, key, provision=False)
    except NotFound:
        return False
    await store.close()
    return True


async def test_the_first_app_starts_on_clones_and_records_a_first_start(tmp_path: Path) -> None:
    async with fresh_backend("postgres", tmp_path, migrated=True) as backend:
        assert backend.keyring_uri is not None
        assert not await _exists(backend.vault_uri, STORE_KEY)
        await stores_from_templates(backend, Settings.from_env(app_env(backend)))
        vault = await VaultStore.open(backend.vault_uri, STORE_KEY, provision=False)
        try:
            assert await vault.learner_profiles() == []  # provisioned and empty
        finally:
            await vault.close()
        keyring = await AskarKeyring.open(backend.keyring_uri, KEYRING_KEY, provision=False)
        await keyring.close()
        async for make in app_clients(backend):
            client = await make()
            # the canaries go into the clones: the app took them for a fresh deployment's
            assert {"vault_canary", "keyring_canary"} <= set(client.app[WIRING].stores.recorded)
            await learner(client)  # and a learner's vault and key are made in them


async def test_an_app_with_another_key_or_database_gets_no_clone(tmp_path: Path) -> None:
    other_key = Store.generate_raw_key()
    async with fresh_backend("postgres", tmp_path / "a", migrated=True) as backend:
        await stores_from_templates(
            backend, Settings.from_env(app_env(backend, SATCHEL_STORE_KEY=other_key)))
        assert not await _exists(backend.vault_uri, STORE_KEY)  # no clone under another key
        assert backend.keyring_uri is not None
        assert await _exists(backend.keyring_uri, KEYRING_KEY)  # the keyring's key is the test's
        await stores_from_templates(backend, Settings.from_env(app_env(backend)))
        assert not await _exists(backend.vault_uri, STORE_KEY)  # decided once, at the first app
    async with fresh_backend("postgres", tmp_path / "b", migrated=True) as backend, \
            fresh_backend("postgres", tmp_path / "c") as elsewhere:
        await stores_from_templates(backend, Settings.from_env(app_env(
            backend, SATCHEL_DATABASE_URL=elsewhere.database_url)))
        assert not await _exists(backend.vault_uri, STORE_KEY)
        assert backend.keyring_uri is not None
        assert not await _exists(backend.keyring_uri, KEYRING_KEY)
    async with fresh_backend("postgres", tmp_path / "d") as backend:  # not migrated: its own
        await stores_from_templates(backend, Settings.from_env(app_env(backend)))
        assert not await _exists(backend.vault_uri, STORE_KEY)
