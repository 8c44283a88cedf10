"""One deployment, one identity (holder_api.compose.deployment), on both backends: a replica
started with another data or session key, another token issuer or another keyring than the
deployment it joins refuses to start — exit status 2, one line naming the setting, nothing
written — instead of starting, answering ready and failing (or signing up again) its learners."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aries_askar import Store
from sqlalchemy import delete, func, select

from holder_api.compose.deployment import CANARY_PREFIX, IDENTITY
from holder_api.compose.migrations import run_migrations
from holder_api.compose.stores import open_keyring, open_stores
from holder_api.settings import Settings, SettingsError
from tests.holder_api.operator_support import _said, _serve
from tests.support.apps import DATA_KEY, SESSION_KEY, AppFactory
from tests.support.apps import app_env as env_for
from tests.support.backends import PG_BASE, Backend, drop_pg_database, fresh_backend, sqlite_backend
from tests.support.cli import start
from tests.support.http_api import auth, login, sign_up
from wallet.accounts.models import deployment_record, learners
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import SYSTEM_CLOCK
from wallet.db import create_engine
from wallet.keyring import AskarKeyring, FileKeyring
from wallet.vault import VaultStore, load_store_key

OTHER_KEY = "YW5vdGhlci1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy1vci1tb3Jl"


async def _state(backend: Backend) -> tuple[int, list[tuple[str, str]]]:
    """How many accounts, and what the record holds of the deployment's identity (its
    ``schema_floor`` is tests/holder_api/test_rolling_upgrade.py's)."""
    engine = create_engine(backend.database_url)
    try:
        async with engine.connect() as conn:
            count = (await conn.execute(select(func.count()).select_from(learners))).scalar_one()
            record = [(r.name, r.value) for r in await conn.execute(
                select(deployment_record.c.name, deployment_record.c.value)
                .where(deployment_record.c.name.in_(IDENTITY))
                .order_by(deployment_record.c.name))]
    finally:
        await engine.dispose()
    return count, record


@asynccontextmanager
async def _other_keyring(backend: Backend, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """A keyring that exists, holds a key, and is not the deployment's."""
    if backend.keyring_uri is None:
        ring = FileKeyring(tmp_path / "another-keyring")
        await ring.create(str(uuid.uuid4()))
        yield {"SATCHEL_KEYRING_URI": str(ring.folder)}
        return
    name = f"satchel_keyring_other_{uuid.uuid4().hex[:12]}"
    key = Store.generate_raw_key()
    try:
        ring = await AskarKeyring.open(f"{PG_BASE}/{name}", key)
        await ring.create(str(uuid.uuid4()))
        await ring.close()
        yield {"SATCHEL_KEYRING_URI": f"{PG_BASE}/{name}", "SATCHEL_KEYRING_KEY": key}
    finally:
        await drop_pg_database(name)


async def _pg_database_exists(name: str) -> bool:
    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        return await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) == 1
    finally:
        await conn.close()


@asynccontextmanager
async def _other_vault(backend: Backend, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """A vault that exists, opens with the deployment's store key, holds a learner's profile,
    and is not the deployment's."""
    settings = Settings.from_env(env_for(backend))
    key = settings.store_key or load_store_key(settings.data_dir)
    assert key is not None
    uri = (f"sqlite://{tmp_path}/another-vault.db" if backend.kind == "sqlite"
           else f"{PG_BASE}/satchel_vault_other_{uuid.uuid4().hex[:12]}")
    try:
        vault = await VaultStore.open(uri, key)
        await vault.create_profile(str(uuid.uuid4()))
        await vault.close()
        yield {"SATCHEL_VAULT_URI": uri}
    finally:
        if backend.kind == "postgres":
            await drop_pg_database(uri.rsplit("/", 1)[1])


@pytest.mark.parametrize("unlike", ["data key", "session key", "issuer", "keyring",
                                    "missing keyring", "vault", "missing vault"])
async def test_a_replica_unlike_its_deployment_refuses_to_start(
        make_client: AppFactory, backend: Backend, tmp_path: Path, unlike: str) -> None:
    a = await make_client()
    await sign_up(a, "eve")
    await login(a, "eve")
    before = await _state(backend)
    assert before[0] == 1 and [n for n, _ in before[1]] == [
        "data_key", "issuer", "keyring_canary", "session_key", "stamp", "vault_canary"]
    # a replica started with the same settings is one of the deployment: it compares and serves
    assert (await login(await make_client(), "eve"))
    names = {"data key": "SATCHEL_DATA_KEY", "session key": "SATCHEL_SESSION_KEY",
             "issuer": "SATCHEL_DEPLOYMENT_ID", "keyring": "SATCHEL_KEYRING_URI",
             "missing keyring": "SATCHEL_KEYRING_URI", "vault": "SATCHEL_VAULT_URI",
             "missing vault": "SATCHEL_VAULT_URI"}
    missing = f"satchel_keyring_none_{uuid.uuid4().hex[:12]}"
    no_vault = (f"{PG_BASE}/satchel_vault_none_{uuid.uuid4().hex[:12]}"
                if backend.kind == "postgres" else f"sqlite://{tmp_path}/no-vault.db")
    async with contextlib.AsyncExitStack() as stack:
        if unlike == "data key":
            env = env_for(backend, SATCHEL_DATA_KEY=OTHER_KEY)
        elif unlike == "session key":
            env = env_for(backend, SATCHEL_SESSION_KEY=OTHER_KEY)
        elif unlike == "issuer":
            env = env_for(backend, SATCHEL_DEPLOYMENT_ID="urn:example:another")
        elif unlike == "keyring":
            env = env_for(backend, **await stack.enter_async_context(
                _other_keyring(backend, tmp_path)))
        elif unlike == "missing keyring":  # nothing at the URI: it is not created (a new,
            env = env_for(backend, SATCHEL_KEYRING_URI=(  # empty keyring)
                str(tmp_path / "no-keyring") if backend.keyring_uri is None
                else f"{PG_BASE}/{missing}"))
        elif unlike == "vault":  # the same store key, another vault: learners split between two
            env = env_for(backend, **await stack.enter_async_context(
                _other_vault(backend, tmp_path)))
        else:  # nothing at the URI: it is not created (a new, empty vault)
            env = env_for(backend, SATCHEL_VAULT_URI=no_vault)
        code, err = await asyncio.to_thread(_serve, env)
    assert code == 2, err
    lines = _said(err)
    assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), err
    assert names[unlike] in lines[0], lines
    assert await _state(backend) == before  # nothing written
    if unlike == "missing keyring" and backend.keyring_uri is not None:
        assert not await _pg_database_exists(missing)
    if unlike == "missing vault":
        assert not (await _pg_database_exists(no_vault.rsplit("/", 1)[1])
                    if backend.kind == "postgres" else (tmp_path / "no-vault.db").exists())


@pytest.mark.parametrize("unlike", ["data key", "keyring"])
async def test_an_upgraded_deployment_is_checked_against_its_data_before_it_is_recorded(
        make_client: AppFactory, backend: Backend, tmp_path: Path, unlike: str) -> None:
    """A deployment of a version before the record has data but no record: the first start of
    this version checks the data against its settings before it records them."""
    a = await make_client()
    await sign_up(a, "eve")
    # something in eve's consent ledger: its head is signed with a key the data key derives
    r = await a.post("/v1/inbox-links", json={"label": "school"},
                     headers=auth(await login(a, "eve")))
    assert r.status == 201, await r.text()
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:  # as a version before revision 0010 left it
            await conn.execute(delete(deployment_record))
    finally:
        await engine.dispose()
    async with contextlib.AsyncExitStack() as stack:
        if unlike == "data key":
            env = env_for(backend, SATCHEL_DATA_KEY=OTHER_KEY)
            name = "SATCHEL_DATA_KEY"
        else:
            env = env_for(backend, **await stack.enter_async_context(
                _other_keyring(backend, tmp_path)))
            name = "SATCHEL_KEYRING_URI"
        code, err = await asyncio.to_thread(_serve, env)
    assert code == 2, err
    lines = _said(err)
    assert len(lines) == 1 and name in lines[0], err
    assert await _state(backend) == (1, [])
    if unlike == "data key":  # nor does an operator's word outweigh what the data says
        with pytest.raises(SettingsError, match="SATCHEL_DATA_KEY"):
            async with open_stores(Settings.from_env(env), SYSTEM_CLOCK, None,
                                   data_key_vouched=True):
                pass
        assert await _state(backend) == (1, [])
    # the settings its data was made with record it, and its learners carry on
    client = await make_client()
    assert await login(client, "eve")
    assert len((await _state(backend))[1]) == len(IDENTITY)


async def test_replicas_starting_together_on_a_fresh_database_record_it_once(
        tmp_path: Path) -> None:
    """Replicas share a PostgreSQL database (the embedded default is one process)."""
    async with fresh_backend("postgres", tmp_path) as backend:
        await _record_once(backend, tmp_path)


async def _provisioned(settings: Settings) -> None:
    """The schema, the vault store and the keyring store made, nothing recorded: the race under
    test is the record's (creating the stores is tests/holder_api/test_first_start.py's)."""
    engine = create_engine(settings.database_url)
    try:
        await run_migrations(engine)
    finally:
        await engine.dispose()
    assert settings.store_key is not None
    await (await VaultStore.open(settings.vault_uri, settings.store_key)).close()
    await (await open_keyring(settings)).close()


async def _record_once(backend: Backend, tmp_path: Path) -> None:
    settings = Settings.from_env(env_for(backend))
    other = Settings.from_env(env_for(backend, SATCHEL_DATA_KEY=OTHER_KEY,
                                      SATCHEL_DATA_DIR=str(tmp_path / "other")))
    await _provisioned(settings)

    same = await asyncio.gather(start(settings), start(settings), start(settings))
    assert same == ["started"] * 3
    count, record = await _state(backend)
    canaries = [v for n, v in record if n == "keyring_canary"]
    assert count == 0 and len(record) == len(IDENTITY) and canaries[0].startswith(CANARY_PREFIX)
    outcomes: list[Any] = await asyncio.gather(start(settings), start(other))
    assert outcomes[0] == "started" and "SATCHEL_DATA_KEY" in outcomes[1]
    assert (await _state(backend))[1] == record


async def test_unlike_replicas_racing_on_a_fresh_database_one_records(tmp_path: Path) -> None:
    """Two replicas with different data keys start at once on a fresh database: one records
    the deployment, the other compares with that record and refuses."""
    async with fresh_backend("postgres", tmp_path) as backend:
        await _one_records(backend, tmp_path)


async def _one_records(backend: Backend, tmp_path: Path) -> None:
    first = Settings.from_env(env_for(backend))
    second = Settings.from_env(env_for(backend, SATCHEL_DATA_KEY=OTHER_KEY,
                                       SATCHEL_DATA_DIR=str(tmp_path / "other")))
    await _provisioned(first)

    outcomes = sorted(await asyncio.gather(start(first), start(second)))
    assert outcomes[1] == "started" and "SATCHEL_DATA_KEY" in outcomes[0], outcomes
    assert len((await _state(backend))[1]) == len(IDENTITY)


async def test_the_session_key_rotates_once_its_record_is_deleted(backend: Backend) -> None:
    """docs/operations.md: rotating the session key is stopping every replica, deleting the
    ``session_key`` row and starting them with the new key; the rest is still compared."""
    settings = Settings.from_env(env_for(backend, SATCHEL_DATA_KEY=DATA_KEY))
    rotated = Settings.from_env(env_for(backend, SATCHEL_DATA_KEY=DATA_KEY,
                                        SATCHEL_SESSION_KEY=OTHER_KEY))

    assert await start(settings) == "started"
    _, before = await _state(backend)
    assert "SATCHEL_SESSION_KEY" in await start(rotated)
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(deployment_record)
                               .where(deployment_record.c.name == "session_key"))
    finally:
        await engine.dispose()
    assert await start(rotated) == "started"
    _, after = await _state(backend)
    assert [r for r in after if r[0] != "session_key"] == [
        r for r in before if r[0] != "session_key"]
    assert dict(after)["session_key"] != dict(before)["session_key"]
    assert "SATCHEL_SESSION_KEY" in await start(settings)  # the old key is refused now


def test_a_deployment_that_ran_without_a_data_key_keeps_its_data_with_its_session_key() -> None:
    """docs/operations.md: upgrading a PostgreSQL deployment that ran without SATCHEL_DATA_KEY
    is setting it to the session key's value, after which the session key may rotate."""
    before = ServiceKeys.from_secret(SESSION_KEY)
    after = ServiceKeys.from_secret(OTHER_KEY, SESSION_KEY)
    assert after.data_check == before.data_check
    assert after.username_hash("eve") == before.username_hash("eve")
    assert after.session_check != before.session_check


async def _forget(backend: Backend, *names: str) -> None:
    """Delete rows of the record (the deployment's identity without ``names``: as a version
    before revision 0010 left the database)."""
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(deployment_record).where(
                deployment_record.c.name.in_(names or IDENTITY)))
    finally:
        await engine.dispose()


async def test_an_upgrade_whose_data_cannot_vouch_for_the_data_key_waits_for_an_operator(
        make_client: AppFactory, backend: Backend) -> None:
    """A learner with no consent-ledger activity has nothing the data key signed or sealed
    (their username hash is keyed with it, but the username is not kept): an upgraded
    deployment of such learners used to record whatever data key its first start had, losing
    every account (401) and freeing its username for a second sign-up. Now no start records
    a data key nothing vouches for: `satchel record-deployment` does, when an operator runs it
    with the right key."""
    a = await make_client()
    await sign_up(a, "victim1")
    await _forget(backend)  # a database of a version before the record, migrated
    # the embedded default without SATCHEL_DATA_KEY keyed the data with its session.key;
    # a PostgreSQL deployment with its DATA_KEY: either way, another data key now
    code, err = await asyncio.to_thread(_serve, env_for(backend, SATCHEL_DATA_KEY=OTHER_KEY))
    assert code == 2, err
    lines = _said(err)
    assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), err
    assert "SATCHEL_DATA_KEY" in lines[0] and "satchel record-deployment" in lines[0], lines
    assert await _state(backend) == (1, [])
    # nor is the right key taken on a replica's word: nothing tells the two apart
    refused = await start(Settings.from_env(env_for(backend)))
    assert "record-deployment" in refused, refused
    assert await _state(backend) == (1, [])

    code, err = await asyncio.to_thread(_serve, env_for(backend), "record-deployment")
    assert code == 0, err
    assert _said(err)[-1].startswith("satchel: recorded this deployment"), err
    count, record = await _state(backend)
    assert count == 1 and len(record) == len(IDENTITY)
    # run again it records nothing, and says so
    code, err = await asyncio.to_thread(_serve, env_for(backend), "record-deployment")
    assert code == 0, err
    assert _said(err)[-1].startswith("satchel: this deployment was recorded already"), err
    assert await _state(backend) == (1, record)
    # recorded: victim1 carries on, the name stays taken, another data key is refused
    client = await make_client()
    assert await login(client, "victim1")
    r = await client.post("/v1/learners", json={"username": "victim1",
                                                "passphrase": "another passphrase, long enough"})
    assert r.status == 409, await r.text()
    assert "SATCHEL_DATA_KEY" in await start(Settings.from_env(
        env_for(backend, SATCHEL_DATA_KEY=OTHER_KEY)))
    assert await _state(backend) == (1, record)


async def test_a_deleted_data_key_row_is_not_recorded_again_unchecked(
        make_client: AppFactory, backend: Backend) -> None:
    """Only the session key's row is meant to be deleted (to rotate it); a data key row
    deleted anyway is checked against the data like an upgrade's, never just recorded (with
    SATCHEL_DEPLOYMENT_ID set, the issuer's row does not tell another data key either)."""
    issuer = {"SATCHEL_DEPLOYMENT_ID": "urn:example:satchel"}
    await sign_up(await make_client(**issuer), "eve")
    _, record = await _state(backend)
    await _forget(backend, "data_key")
    other = Settings.from_env(env_for(backend, SATCHEL_DATA_KEY=OTHER_KEY, **issuer))
    assert "record-deployment" in await start(other)
    assert "record-deployment" in await start(Settings.from_env(env_for(backend, **issuer)))
    assert await _state(backend) == (1, [r for r in record if r[0] != "data_key"])


async def test_a_deployment_recorded_without_its_vault_records_it_once_it_checks_out(
        make_client: AppFactory, backend: Backend, tmp_path: Path) -> None:
    """A deployment recorded by a version that did not record its vault: the first start of
    this version checks the vault against its learners' vaults before it records it."""
    await sign_up(await make_client(), "eve")
    _, record = await _state(backend)
    await _forget(backend, "vault_canary")
    async with _other_vault(backend, tmp_path) as elsewhere:
        refused = await start(Settings.from_env(env_for(backend, **elsewhere)))
    assert "SATCHEL_VAULT_URI" in refused, refused
    assert await _state(backend) == (1, [r for r in record if r[0] != "vault_canary"])
    assert await start(Settings.from_env(env_for(backend))) == "started"
    _, after = await _state(backend)
    # the vault canary this deployment's first start made there carries its stamp: recorded again
    assert after == record
    assert await login(await make_client(), "eve")


@pytest.mark.parametrize(("keyring", "database", "vault", "named"), [
    ("postgres://postgres@localhost/accounts",
     "postgresql+asyncpg://postgres@127.0.0.1:5432/accounts", None, "SATCHEL_DATABASE_URL"),
    ("postgres://postgres@[::1]:5432/vault?max_connections=3",
     "postgresql+asyncpg://postgres@127.0.0.1/accounts",
     "postgres://postgres@127.0.0.1/vault", "SATCHEL_VAULT_URI"),
    ("postgres://keyring@LOCALHOST:5432/keyring?sslmode=disable",
     "postgresql://satchel@127.0.0.1:5432/keyring", None, "SATCHEL_DATABASE_URL"),
])
def test_the_keyring_under_another_spelling_of_a_database_is_refused(
        tmp_path: Path, keyring: str, database: str, vault: str | None, named: str) -> None:
    backend = Backend("postgres", tmp_path, vault or "postgres://postgres@127.0.0.1/vault",
                      database, keyring_uri=keyring)
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env_for(backend))
    assert "SATCHEL_KEYRING_URI" in refused.value.detail and named in refused.value.detail
    # a database of its own on the same server is what the test suites use: accepted
    Settings.from_env(env_for(backend, SATCHEL_KEYRING_URI=keyring.replace(
        keyring.rsplit("/", 1)[1].split("?")[0], "keyring_of_its_own")))


def test_the_embedded_keyring_in_the_accounts_file_is_refused(tmp_path: Path) -> None:
    backend = Backend("sqlite", tmp_path, f"sqlite://{tmp_path}/vault.db",
                      f"sqlite+aiosqlite:///{tmp_path}/satchel.db",
                      keyring_uri=f"sqlite://{tmp_path}/./satchel.db")
    with pytest.raises(SettingsError) as refused:
        Settings.from_env(env_for(backend))
    assert "SATCHEL_DATABASE_URL" in refused.value.detail


async def test_a_keyring_in_the_accounts_database_refuses_to_start(
        backend: Backend, tmp_path: Path) -> None:
    """What no spelling of the URIs shows (another name of the host, a hard link to the file):
    the servers (the files) are asked which database each store is, and the keyring is not
    opened — never created — in the accounts database. One line, exit status 2."""
    assert await start(Settings.from_env(env_for(backend))) == "started"
    _, record = await _state(backend)
    if backend.kind == "sqlite":
        accounts = backend.database_url.split(":///", 1)[1]
        os.link(accounts, tmp_path / "keyring.db")
        env = env_for(backend, SATCHEL_KEYRING_URI=f"sqlite://{tmp_path}/keyring.db")
    else:
        env = env_for(backend, SATCHEL_KEYRING_URI=backend.database_url.replace(
            "postgresql+asyncpg://", "postgres://").replace("127.0.0.1", "localhost"))
    code, err = await asyncio.to_thread(_serve, env)
    assert code == 2, err
    lines = _said(err)
    assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), err
    assert "SATCHEL_KEYRING_URI" in lines[0] and "SATCHEL_DATABASE_URL" in lines[0], lines
    if backend.kind == "postgres":
        # past the settings' look at the spelling (as a name of the host they cannot tell is
        # its own would get), the start-up asks the servers: the vault's database too
        settings = Settings.from_env(env_for(backend))
        for uri, named in ((env["SATCHEL_KEYRING_URI"], "SATCHEL_DATABASE_URL"),
                           (backend.vault_uri + "?max_connections=2", "SATCHEL_VAULT_URI")):
            refused = await start(dataclasses.replace(settings, keyring_uri=uri))
            assert "SATCHEL_KEYRING_URI" in refused and named in refused, refused
        conn = await asyncpg.connect(backend.database_url.replace("postgresql+asyncpg", "postgres"))
        try:  # no Askar store was made in the accounts database
            assert await conn.fetchval("SELECT to_regclass('items')") is None
        finally:
            await conn.close()
    assert await _state(backend) == (0, record)


def test_record_deployment_pointed_at_a_wrong_folder_creates_nothing(tmp_path: Path) -> None:
    """The operator command that records a data key on an operator's word records nothing,
    and creates no key, store or database, where `satchel serve` has never run."""
    folder = tmp_path / "not-the-data-folder"
    folder.mkdir()
    code, err = _serve(env_for(sqlite_backend(tmp_path), SATCHEL_DATA_DIR=str(folder)),
                       "record-deployment")
    assert code == 1 and "Nothing was" in err, err
    assert list(folder.iterdir()) == []
