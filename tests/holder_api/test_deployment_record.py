"""One deployment, one identity (holder_api.compose.deployment), on both backends: a replica
started with another data or session key, another token issuer or another keyring than the
deployment it joins refuses to start — exit status 2, one line naming the setting, nothing
written — instead of starting, answering ready and failing (or signing up again) its learners."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
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
from holder_api.compose.stores import open_keyring
from holder_api.settings import Settings
from tests.conftest import PG_BASE, Backend, _drop_pg_database, fresh_backend
from tests.holder_api.conftest import (
    DATA_KEY,
    SESSION_KEY,
    AppFactory,
    auth,
    login,
    sign_up,
    start,
)
from tests.holder_api.conftest import app_env as env_for
from wallet.accounts.models import deployment_record, learners
from wallet.accounts.tokens import ServiceKeys
from wallet.db import create_engine
from wallet.keyring import AskarKeyring, FileKeyring
from wallet.vault import VaultStore

ROOT = Path(__file__).resolve().parents[2]
OTHER_KEY = "YW5vdGhlci1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy1vci1tb3Jl"


def _serve(env: dict[str, str]) -> tuple[int | None, str]:
    """Run `satchel serve` as an operator would: its exit status and stderr, or ``None`` if it
    was still running (serving) after three minutes — then it is stopped. (A generous deadline:
    on a loaded machine the imports alone took a minute.)"""
    proc = subprocess.Popen(
        [sys.executable, "-m", "holder_api.cli", "serve", "--port", "0"], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "SATCHEL_LOG_LEVEL": "WARNING", **env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=180)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
        return None, err
    return proc.returncode, err


def _said(stderr: str) -> list[str]:
    """What the process said besides its first line (where it is about to serve)."""
    return [line for line in stderr.strip().splitlines()
            if not line.startswith("satchel: serving on ")]


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
        await _drop_pg_database(name)


async def _pg_database_exists(name: str) -> bool:
    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        return await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name) == 1
    finally:
        await conn.close()


@pytest.mark.parametrize("unlike", ["data key", "session key", "issuer", "keyring",
                                    "missing keyring"])
async def test_a_replica_unlike_its_deployment_refuses_to_start(
        make_client: AppFactory, backend: Backend, tmp_path: Path, unlike: str) -> None:
    a = await make_client()
    await sign_up(a, "eve")
    await login(a, "eve")
    before = await _state(backend)
    assert before[0] == 1 and [n for n, _ in before[1]] == [
        "data_key", "issuer", "keyring_canary", "session_key"]
    # a replica started with the same settings is one of the deployment: it compares and serves
    assert (await login(await make_client(), "eve"))
    names = {"data key": "SATCHEL_DATA_KEY", "session key": "SATCHEL_SESSION_KEY",
             "issuer": "SATCHEL_DEPLOYMENT_ID", "keyring": "SATCHEL_KEYRING_URI",
             "missing keyring": "SATCHEL_KEYRING_URI"}
    missing = f"satchel_keyring_none_{uuid.uuid4().hex[:12]}"
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
        else:  # nothing at the URI: it is not created (a new, empty keyring)
            env = env_for(backend, SATCHEL_KEYRING_URI=(
                str(tmp_path / "no-keyring") if backend.keyring_uri is None
                else f"{PG_BASE}/{missing}"))
        code, err = await asyncio.to_thread(_serve, env)
    assert code == 2, err
    lines = _said(err)
    assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), err
    assert names[unlike] in lines[0], lines
    assert await _state(backend) == before  # nothing written
    if unlike == "missing keyring" and backend.keyring_uri is not None:
        assert not await _pg_database_exists(missing)


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
    # the settings its data was made with record it, and its learners carry on
    client = await make_client()
    assert await login(client, "eve")
    assert len((await _state(backend))[1]) == 4


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
    assert count == 0 and len(record) == 4 and canaries[0].startswith(CANARY_PREFIX)
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
    assert len((await _state(backend))[1]) == 4


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
