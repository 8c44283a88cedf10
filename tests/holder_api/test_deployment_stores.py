"""The vault and the keyring say which deployment they belong to (holder_api.compose.deployment,
audit 2026-12-07 A1), on both backends.

A replica given a wrong, empty accounts database (``SATCHEL_DATABASE_URL``) but the real vault and
keyring used to take it for a first start: it migrated it, recorded a new deployment, put new
canaries in the real stores, and after one sign-up there `satchel sweep --adopt-strays` adopted
every real learner as a stray, and a sweep one grace period later destroyed their erasure keys.
Now such a start is refused (exit status 2, one line), no operator command migrates or records
an accounts database that names no deployment, and adoption refuses stores holding a canary the
accounts database did not record."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import inspect, select

from holder_api.compose.deployment import CANARY_PREFIX
from holder_api.compose.stores import open_stores
from holder_api.settings import Settings
from tests.holder_api.operator_support import _said, _serve, forget_record
from tests.support.apps import AppFactory, app_env
from tests.support.backends import PG_BASE, Backend, create_pg_database, drop_pg_database
from tests.support.cli import run_satchel, start
from tests.support.http_api import login, sign_up
from wallet.accounts.models import VAULT_CANARY, deployment_record, signup_intents
from wallet.accounts.sweep import OrphanSweep, WrongAccountsDatabase
from wallet.clock import SYSTEM_CLOCK
from wallet.db import create_engine
from wallet.keyring import ListableKeyring


@asynccontextmanager
async def _empty_database(backend: Backend, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty accounts database that is not the deployment's (its SQLAlchemy URL)."""
    if backend.kind == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/wrong-{uuid.uuid4().hex[:8]}.db"
        return
    name = f"satchel_sql_wrong_{uuid.uuid4().hex[:12]}"
    await create_pg_database(name)
    try:
        yield PG_BASE.replace("postgres://", "postgresql+asyncpg://") + f"/{name}"
    finally:
        await drop_pg_database(name)


async def _tables(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _canaries(settings: Settings) -> tuple[list[str], list[str]]:
    """The deployment canaries in the vault, and in the keyring where it can be listed."""
    async with open_stores(settings, SYSTEM_CLOCK, None) as stores:
        vault = [n for n, _ in await (await stores.vault.own_records()).fetch_all(VAULT_CANARY)]
        ring = ([n for n in await stores.keyring.learner_ids() if n.startswith(CANARY_PREFIX)]
                if isinstance(stores.keyring, ListableKeyring) else [])
    return vault, ring


async def test_a_replica_on_an_empty_accounts_database_refuses_to_start(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    app = await make_client()
    await sign_up(app, "anna")
    await sign_up(app, "bert")
    real = Settings.from_env(app_env(backend))
    canaries = await _canaries(real)
    assert len(canaries[0]) == 1
    async with _empty_database(backend, tmp_path) as wrong_url:
        wrong = app_env(backend, SATCHEL_DATABASE_URL=wrong_url)
        refused = await start(Settings.from_env(wrong))
        assert "SATCHEL_DATABASE_URL" in refused and "SATCHEL_VAULT_URI" in refused, refused
        assert await _canaries(real) == canaries  # nothing put into the real stores
        # as `satchel serve` says it: one line, exit status 2
        code, err = await asyncio.to_thread(_serve, wrong)
        assert code == 2, err
        assert "serving on" not in err, err  # a refused start never said it served
        lines = _said(err)
        assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), err
        assert "SATCHEL_DATABASE_URL" in lines[0]
        assert await _canaries(real) == canaries
        # and the wrong database is left as it was: refused before it is migrated
        if backend.kind == "sqlite":
            assert not await asyncio.to_thread(Path(wrong_url.split(":///", 1)[1]).exists)
        else:
            assert await _tables(wrong_url) == []
    # the real deployment carries on
    again = await make_client()
    assert await login(again, "anna") and await login(again, "bert")


@pytest.mark.parametrize("command", ["record-deployment", "sweep", "reset-summary-markers"])
async def test_operator_commands_neither_migrate_nor_record_an_empty_accounts_database(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        command: str) -> None:
    """`satchel record-deployment` on an empty database used to migrate it and record it
    against the real vault and keyring: from then on a replica with the wrong URL started."""
    await sign_up(await make_client(), "anna")
    real = Settings.from_env(app_env(backend))
    canaries = await _canaries(real)
    async with _empty_database(backend, tmp_path) as wrong_url:
        env = app_env(backend, SATCHEL_DATABASE_URL=wrong_url)
        assert await asyncio.to_thread(run_satchel, [command], env, monkeypatch) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), lines
        assert "SATCHEL_DATABASE_URL" in lines[0]
        if backend.kind == "sqlite":
            wrong_file = Path(wrong_url.split(":///", 1)[1])
            assert not await asyncio.to_thread(wrong_file.exists)
        else:
            assert await _tables(wrong_url) == []
        # migrated by `satchel migrate` (the one command that migrates), still no deployment
        monkeypatch.setenv("SATCHEL_DATABASE_URL", wrong_url)
        assert await asyncio.to_thread(run_satchel, ["migrate"], env, monkeypatch) == 0
        capsys.readouterr()
        assert await asyncio.to_thread(run_satchel, [command], env, monkeypatch) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "SATCHEL_DATABASE_URL names no deployment" in lines[0], lines
        assert await _canaries(real) == canaries
    monkeypatch.setenv("SATCHEL_DATABASE_URL", backend.database_url)
    assert await login(await make_client(), "anna")


async def test_an_operator_command_on_an_older_schema_asks_for_satchel_migrate(
        make_client: AppFactory, backend: Backend, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    await make_client()
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            head = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                    ).scalar_one()
            await conn.exec_driver_sql(
                "UPDATE alembic_version SET version_num = '0010_deployment_record'")
        env = app_env(backend)
        assert await asyncio.to_thread(run_satchel, ["sweep"], env, monkeypatch) == 2
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and "satchel migrate" in lines[0], lines
        async with engine.connect() as conn:  # nothing migrated
            assert (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                    ).scalar_one() == "0010_deployment_record"
            await conn.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")
            await conn.commit()
    finally:
        await engine.dispose()
    assert await asyncio.to_thread(run_satchel, ["sweep"], app_env(backend), monkeypatch) == 0


async def _rows(backend: Backend) -> dict[str, str]:
    engine = create_engine(backend.database_url)
    try:
        async with engine.connect() as conn:
            return dict((await conn.execute(
                select(deployment_record.c.name, deployment_record.c.value))).all())
    finally:
        await engine.dispose()


async def test_the_canaries_carry_the_deployment_stamp(backend: Backend) -> None:
    settings = Settings.from_env(app_env(backend))
    assert await start(settings) == "started"
    rows = await _rows(backend)
    stamp = rows["stamp"]
    assert rows["keyring_canary"] == rows["vault_canary"] == CANARY_PREFIX + stamp
    async with open_stores(settings, SYSTEM_CLOCK, None) as stores:
        own = await stores.vault.own_records()
        assert await own.fetch(VAULT_CANARY, CANARY_PREFIX + stamp) == stamp.encode()
        assert await stores.keyring.get(CANARY_PREFIX + stamp)


async def test_a_first_start_that_died_after_its_stamp_is_taken_up_again(
        backend: Backend) -> None:
    """The stamp is committed before the canaries are made: a start that dies after making
    them, before recording them, leaves canaries of its own stamp, and the next start records
    those (it does not refuse them as another deployment's)."""
    settings = Settings.from_env(app_env(backend))
    assert await start(settings) == "started"
    before = await _rows(backend)
    await forget_record(backend, "data_key", "session_key", "issuer", "keyring_canary",
                  "vault_canary")
    assert await start(settings) == "started"
    assert await _rows(backend) == before  # the same canaries, recorded again


async def test_a_deployment_recorded_before_stamps_is_stamped_once(
        make_client: AppFactory, backend: Backend) -> None:
    """Canaries that carry no stamp (recorded by the release before): the deployment starts,
    and its stamp is recorded once everything else compared."""
    await sign_up(await make_client(), "anna")
    await forget_record(backend, "stamp")
    rows = await _rows(backend)
    settings = Settings.from_env(app_env(backend))
    assert await start(settings) == "started"
    stamped = await _rows(backend)
    assert stamped.keys() - rows.keys() == {"stamp"}
    assert {n: stamped[n] for n in rows} == rows  # the canaries recorded are kept
    assert await start(settings) == "started"
    assert await _rows(backend) == stamped
    assert await login(await make_client(), "anna")


async def test_adoption_refuses_stores_holding_a_canary_it_did_not_record(
        make_client: AppFactory, backend: Backend) -> None:
    """Stores another accounts database was already started against (by a release before this
    check: its canary is in the vault): every learner of the one is a stray of the other, so
    `--adopt-strays` refuses; with only its own canary it adopts."""
    app = await make_client()
    anna = (await sign_up(app, "anna"))["learner_id"]
    settings = Settings.from_env(app_env(backend))
    async with open_stores(settings, SYSTEM_CLOCK, None) as stores:
        stray = str(uuid.uuid4())
        await stores.keyring.create(stray)
        await stores.vault.create_profile(stray)
        own = await stores.vault.own_records()
        other = CANARY_PREFIX + uuid.uuid4().hex
        await own.insert(VAULT_CANARY, other, b"", {})

        def sweep() -> OrphanSweep:
            return OrphanSweep(engine=stores.engine, vault=stores.vault,
                               keyring=stores.keyring, adopt_strays=True)

        with pytest.raises(WrongAccountsDatabase, match="SATCHEL_DATABASE_URL"):
            await sweep().run()
        async with stores.engine.connect() as conn:
            assert (await conn.execute(select(signup_intents.c.learner_id))).all() == []
        await own.remove(VAULT_CANARY, other)
        assert (await sweep().run()).adopted == 1
        assert await stores.vault.has_profile(anna)


async def test_a_first_start_refuses_a_keyring_that_holds_another_deployments_keys(
        make_client: AppFactory, backend: Backend, tmp_path: Path) -> None:
    """A wrong, empty accounts database and a new vault beside the real keyring: refused on
    the keyring (the folder keyring, whose file names are hashes, by its files; a PostgreSQL
    keyring by its entries)."""
    app = await make_client()
    anna = (await sign_up(app, "anna"))["learner_id"]
    fresh_vault = (f"sqlite://{tmp_path}/fresh-vault.db" if backend.kind == "sqlite"
                   else f"{PG_BASE}/satchel_vault_fresh_{uuid.uuid4().hex[:12]}")
    try:
        async with _empty_database(backend, tmp_path) as wrong_url:
            refused = await start(Settings.from_env(app_env(
                backend, SATCHEL_DATABASE_URL=wrong_url, SATCHEL_VAULT_URI=fresh_vault)))
        assert "SATCHEL_KEYRING_URI" in refused and "SATCHEL_DATABASE_URL" in refused, refused
    finally:
        if backend.kind == "postgres":
            await drop_pg_database(fresh_vault.rsplit("/", 1)[1])
    async with open_stores(Settings.from_env(app_env(backend)), SYSTEM_CLOCK, None) as stores:
        assert await stores.keyring.get(anna)  # nothing taken from it
    assert await login(await make_client(), "anna")


async def _stray(settings: Settings, *, stamped: bool = False, learner: bool = False
                 ) -> tuple[str, str | None]:
    """A second canary as a release before stamps left it (a first start that died, or two
    that raced, before the record): in the vault (empty value) and in a keyring that can be
    listed; ``stamped``: one of a deployment since stamps instead (its stamp as the value);
    ``learner``: and a learner's vault and key this accounts database does not name."""
    async with open_stores(settings, SYSTEM_CLOCK, None) as stores:
        stamp = uuid.uuid4().hex
        canary = CANARY_PREFIX + stamp
        await (await stores.vault.own_records()).insert(
            VAULT_CANARY, canary, stamp.encode() if stamped else b"", {})
        ring = None
        if isinstance(stores.keyring, ListableKeyring):
            await stores.keyring.create(canary)
            ring = canary
        if learner:
            stray = str(uuid.uuid4())
            await stores.keyring.create(stray)
            await stores.vault.create_profile(stray)
    return canary, ring


async def _owner(url: str, canary: str, *, accounts: int = 0) -> None:
    """``url`` made the accounts database that recorded ``canary`` (with ``accounts`` rows)."""
    from holder_api.compose.migrations import run_migrations
    from wallet.accounts.models import learners

    engine = create_engine(url)
    try:
        await run_migrations(engine)
        async with engine.begin() as conn:
            await conn.execute(deployment_record.insert(), [
                {"name": n, "value": canary, "recorded_at": SYSTEM_CLOCK()}
                for n in ("vault_canary", "keyring_canary")])
            for _ in range(accounts):
                await conn.execute(learners.insert().values(
                    id=str(uuid.uuid4()), username_hash=uuid.uuid4().hex,
                    created_at=SYSTEM_CLOCK(), wrapped_keys="{}", inbox_public=b""))
    finally:
        await engine.dispose()


async def _deployed(make_client: AppFactory, backend: Backend
                    ) -> tuple[Settings, tuple[list[str], list[str]]]:
    """A deployment with one learner (anna): its settings and its own canaries."""
    await sign_up(await make_client(), "anna")
    settings = Settings.from_env(app_env(backend))
    return settings, await _canaries(settings)


def _remove(backend: Backend, monkeypatch: pytest.MonkeyPatch, *more: str) -> int:
    return run_satchel(["sweep", "--remove-stray-canaries", *more], app_env(backend), monkeypatch)


async def test_a_stray_canary_of_a_release_before_stamps_is_removed_when_provably_stray(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """`satchel sweep --remove-stray-canaries` removes a second canary left by a release before
    stamps when nothing in the stores can be the learners of the deployment it names (every
    vault and key is this database's); another deployment's canary made since stamps is never
    removed. Nothing is removed by a refusal (exit status 2)."""
    settings, ours = await _deployed(make_client, backend)
    stamped, _ = await _stray(settings, stamped=True)
    assert await asyncio.to_thread(_remove, backend, monkeypatch) == 2
    said = capsys.readouterr().err.strip().splitlines()
    assert said[-1].startswith("satchel: configuration error: the vault holds 1 canary of "
                               "another deployment"), said
    assert len((await _canaries(settings))[0]) == 2
    async with open_stores(settings, SYSTEM_CLOCK, None) as stores:
        await (await stores.vault.own_records()).remove(VAULT_CANARY, stamped)
        if isinstance(stores.keyring, ListableKeyring):
            await stores.keyring.destroy(stamped)
    canary, ring = await _stray(settings)
    assert await asyncio.to_thread(_remove, backend, monkeypatch) == 0
    said = capsys.readouterr().err.strip().splitlines()
    removed = 1 + (ring is not None)
    assert f"satchel: removed {removed} stray canary(ies)" in said, said
    assert await _canaries(settings) == ours
    assert await login(await make_client(), "anna")
    # nothing stray left: nothing to do
    assert await asyncio.to_thread(_remove, backend, monkeypatch) == 0
    assert "removed 0 stray canary(ies)" in capsys.readouterr().err


async def test_a_stray_canary_beside_unknown_learners_needs_its_accounts_database(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A stray canary beside a learner this database does not name may be the canary of the
    deployment that learner belongs to: refused, unless the operator names that deployment's
    accounts database (--canary-owner) and it holds no account; then `--adopt-strays`, which the
    canary blocked, takes the stray in."""
    settings, ours = await _deployed(make_client, backend)
    canary, _ = await _stray(settings, learner=True)
    assert await asyncio.to_thread(_remove, backend, monkeypatch) == 2
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert "--canary-owner" in said and "1 learner vault(s)" in said, said
    async with _empty_database(backend, tmp_path) as other:
        await _owner(other, canary, accounts=1)  # a deployment with learners: never
        assert await asyncio.to_thread(_remove, backend, monkeypatch, "--canary-owner",
                                       other) == 2
        said = capsys.readouterr().err.strip().splitlines()[-1]
        assert "holds 1 account" in said, said
    async with _empty_database(backend, tmp_path) as other:
        await _owner(other, CANARY_PREFIX + uuid.uuid4().hex)  # records another canary
        assert await asyncio.to_thread(_remove, backend, monkeypatch, "--canary-owner",
                                       other) == 2
        assert "does not record" in capsys.readouterr().err.strip().splitlines()[-1]
    assert len((await _canaries(settings))[0]) == 2  # nothing removed by any refusal
    async with _empty_database(backend, tmp_path) as other:
        await _owner(other, canary)
        assert await asyncio.to_thread(_remove, backend, monkeypatch, "--canary-owner", other,
                                       "--adopt-strays") == 0
    said = capsys.readouterr().err
    assert "left by older versions found" in said, said
    assert await _canaries(settings) == ours


async def test_a_start_logs_whether_it_recorded_the_deployment_or_compared(
        make_client: AppFactory, backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    """Afterwards, the log tells a first start (a new deployment recorded: on a wrong, empty
    database that is the sign) from a start compared with the record."""
    caplog.set_level(logging.INFO, logger="satchel")
    await make_client()
    first = [r.recorded_now for r in caplog.records if hasattr(r, "recorded_now")]
    caplog.clear()
    assert await start(Settings.from_env(app_env(backend))) == "started"
    again = [r.recorded_now for r in caplog.records if hasattr(r, "recorded_now")]
    assert (first, again) == ([True], [False])
