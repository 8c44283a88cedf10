"""Rolling upgrades (issue 14, docs/operations.md "Upgrades"), on both backends.

1. A replica of the release before the erasure mark (``learners.erasing_since``, revision 0011;
   its code at commit 5eded38) still runs while this release erases an account. It never reads
   the mark. Its tokens of the account end with the mark's commit (``token_epoch`` moves on, and
   it checks the epoch at every request); its share and inbox links are deleted in that commit
   (it answers 404). But its unlock (``AccountService.unlock`` there: the row found by the
   username's hash, the erasure key fetched, the passphrase unwrapped) opened the account for
   as long as its erasure key existed — until the next sweep when the erasure was cut short —
   and minted a token of the new epoch that replicas of both releases accepted: the learner's
   vault served again after its erasure began. Now the mark's commit seals the wraps shut
   (``wallet.crypto.sealed_shut``): that unlock, and its recovery by code, fail as a wrong
   passphrase does.
2. Each release records the oldest revision whose releases may run against its schema
   (``schema_floor``); a release started on a database at a revision it does not know runs only
   when that floor is one of its own revisions, migrating nothing, and refuses otherwise with one
   line (exit status 2), where Alembic stopped with a traceback.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select, text, update

from holder_api.appkeys import WIRING
from holder_api.compose.migrations import RUNS_BESIDE, SCHEMA_FLOOR
from holder_api.settings import Settings
from tests.support.apps import AppFactory, app_env
from tests.support.backends import Backend
from tests.support.cli import run_satchel, start
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login, sign_up
from wallet.accounts.models import deployment_record, learners
from wallet.crypto import WrappedKeys, unwrap_with_passphrase, unwrap_with_recovery
from wallet.db import create_engine
from wallet.errors import Unauthorized, Unavailable

FUTURE = "0099_from_a_later_release"


async def test_a_replica_before_the_erasure_mark_cannot_unlock_an_account_being_erased(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client()
    wiring = client.app[WIRING]
    signed_up = await sign_up(client, "eve")
    token = await login(client, "eve")
    keyring = type(wiring.stores.keyring)

    async def down(*args: Any) -> None:
        raise Unavailable("the keyring is down")

    monkeypatch.setattr(keyring, "destroy", down)  # the erasure is cut short at its key
    await assert_problem(await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                                           headers=auth(token)), 503)
    monkeypatch.undo()

    # what the earlier release's unlock (and recovery) does, step by step, on the same stores
    async with wiring.stores.engine.connect() as conn:
        row = (await conn.execute(select(learners.c.id, learners.c.wrapped_keys).where(
            learners.c.username_hash == wiring.stores.keys.username_hash("eve")))).one()
    erasure_key = await wiring.stores.keyring.get(row.id)  # still there: cut short before it
    wrapped = WrappedKeys.from_json(row.wrapped_keys)  # the same form: no 400 or 500 there
    with pytest.raises(Unauthorized):
        unwrap_with_passphrase(wrapped, PASSPHRASE, erasure_key)
    with pytest.raises(Unauthorized):
        unwrap_with_recovery(wrapped, signed_up["recovery_code"], erasure_key)

    # this release still finishes it, and the name is free
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE}, headers=auth(token))
    assert r.status == 204, await r.text()
    assert (await sign_up(client, "eve"))["learner_id"] != row.id


async def _alembic_at(settings: Settings, revision: str | None = None,
                      floor: str | None = None) -> tuple[str, str | None]:
    """Set (when given) and read the database's revision and recorded floor."""
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            if revision is not None:
                await conn.execute(text("UPDATE alembic_version SET version_num = :r"),
                                   {"r": revision})
            if floor is not None:
                await conn.execute(update(deployment_record).where(
                    deployment_record.c.name == SCHEMA_FLOOR).values(value=floor))
            at = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
            recorded = (await conn.execute(select(deployment_record.c.value).where(
                deployment_record.c.name == SCHEMA_FLOOR))).scalar_one_or_none()
    finally:
        await engine.dispose()
    return str(at), recorded


async def test_a_release_refuses_to_start_on_a_schema_newer_than_it_may_run_against(
        backend: Backend, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    env = app_env(backend)
    settings = Settings.from_env(env)
    assert await start(settings) == "started"
    head, floor = await _alembic_at(settings)
    assert floor == RUNS_BESIDE  # recorded with the migration

    # a later release migrated the database and says releases before it must not run on it
    await _alembic_at(settings, FUTURE, floor=FUTURE)
    refused = await start(settings)
    assert refused.startswith(f"the database schema is at revision {FUTURE}, newer than this "
                              f"release knows (its newest is {head})"), refused
    assert "docs/operations.md" in refused
    for command in ("migrate", "sweep", "reset-summary-markers"):
        assert await asyncio.to_thread(run_satchel, [command], env, monkeypatch) == 2
        said = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("satchel: configuration error:")]
        assert len(said) == 1 and FUTURE in said[0], said
    assert await _alembic_at(settings) == (FUTURE, FUTURE)  # nothing migrated or recorded

    # a later release whose schema this one may run against: it starts, migrating nothing
    await _alembic_at(settings, floor=RUNS_BESIDE)
    assert await start(settings) == "started"
    assert await _alembic_at(settings) == (FUTURE, RUNS_BESIDE)

    # no floor at all (a later release that says nothing): refused, to be safe
    engine = create_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(deployment_record.delete().where(
                deployment_record.c.name == SCHEMA_FLOOR))
    finally:
        await engine.dispose()
    assert "newer than this release knows" in await start(settings)


async def test_the_floor_only_moves_up(backend: Backend) -> None:
    settings = Settings.from_env(app_env(backend))
    assert await start(settings) == "started"
    head, _ = await _alembic_at(settings)
    await _alembic_at(settings, floor="0010_deployment_record")  # an earlier release's
    assert await start(settings) == "started"
    assert await _alembic_at(settings) == (head, RUNS_BESIDE)
    # a later release's floor, its schema since downgraded to this release's: kept
    await _alembic_at(settings, floor=FUTURE)
    assert await start(settings) == "started"
    assert await _alembic_at(settings) == (head, FUTURE)


async def test_a_running_replica_turns_unready_when_a_release_it_may_not_run_beside_migrates(
        make_client: AppFactory, backend: Backend) -> None:
    """A replica already serving when a newer release migrates: its readiness probe fails as
    soon as that release's floor is above it, so the balancer stops sending it requests."""
    client = await make_client()
    settings = Settings.from_env(app_env(backend))
    assert (await client.get("/readyz")).status == 200
    await _alembic_at(settings, FUTURE, floor=FUTURE)
    r = await client.get("/readyz")
    await assert_problem(r, 503)
    assert "schema" in (await r.json())["detail"]
    await _alembic_at(settings, floor=RUNS_BESIDE)  # a newer release that lets it run beside
    assert (await client.get("/readyz")).status == 200
