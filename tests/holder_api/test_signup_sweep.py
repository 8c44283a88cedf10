"""The orphan sweep: what a crashed sign-up leaves is removed; running and finished sign-ups stay.

A crash is simulated by doing what sign-up does up to the crash point (intent, erasure key, vault
profile) and then simply stopping, as a killed process would: no compensation runs. "Old" is made by
moving the intent's ``started_at`` back, never by sleeping. Runs on SQLite and PostgreSQL, with the
folder keyring (the default) and with a separate Askar keyring.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from holder_api.app import open_keyring
from holder_api.cli import main
from holder_api.compose.migrations import run_migrations
from holder_api.settings import Settings, SettingsError
from tests.support.apps import AppFactory
from tests.support.apps import app_env as env_for
from tests.support.backends import Backend, drop_pg_database
from tests.support.cli import start
from tests.support.http_api import login, sign_up
from wallet.accounts.models import signup_intents
from wallet.accounts.sweep import (
    OrphanSweep,
    WrongAccountsDatabase,
    begin_signup,
    finish_signup,
)
from wallet.db import create_engine
from wallet.errors import NotFound
from wallet.keyring import Keyring
from wallet.vault import VaultStore

GRACE = 3600


@dataclass
class Stores:
    engine: AsyncEngine
    vault: VaultStore
    keyring: Keyring
    settings: Settings

    def sweep(self, *, adopt_strays: bool = False) -> OrphanSweep:
        return OrphanSweep(engine=self.engine, vault=self.vault, keyring=self.keyring,
                           grace_seconds=GRACE, adopt_strays=adopt_strays)

    async def crash(self, *, stage: str = "profile", intent: bool = True,
                    age: float = 2 * GRACE) -> str:
        """A sign-up that died after ``stage`` ("keyring" or "profile"), ``age`` seconds ago."""
        learner_id = str(uuid.uuid4())
        if intent:
            await begin_signup(self.engine, learner_id)
            await self.age(learner_id, age)
        await self.keyring.create(learner_id)
        if stage == "profile":
            await self.vault.create_profile(learner_id)
        return learner_id

    async def age(self, learner_id: str, seconds: float) -> None:
        async with self.engine.begin() as conn:
            await conn.execute(update(signup_intents)
                               .where(signup_intents.c.learner_id == learner_id)
                               .values(started_at=datetime.now(UTC) - timedelta(seconds=seconds)))

    async def intents(self) -> set[str]:
        async with self.engine.connect() as conn:
            return set((await conn.execute(select(signup_intents.c.learner_id))).scalars())

    async def has_key(self, learner_id: str) -> bool:
        try:
            await self.keyring.get(learner_id)
        except NotFound:
            return False
        return True

    async def present(self, learner_id: str) -> tuple[bool, bool]:
        """(erasure key exists, vault profile exists)."""
        return await self.has_key(learner_id), await self.vault.has_profile(learner_id)


@asynccontextmanager
async def _opened(settings: Settings) -> AsyncIterator[Stores]:
    """The stores as a Satchel with ``settings`` opens them (migrated), closed on the way out."""
    engine = create_engine(settings.database_url)
    await run_migrations(engine)
    store_key = settings.store_key or VaultStore.load_or_create_store_key(settings.data_dir)
    vault = await VaultStore.open(settings.vault_uri, store_key)
    s = Stores(engine, vault, await open_keyring(settings), settings)
    try:
        yield s
    finally:
        await s.keyring.close()
        await s.vault.close()
        await s.engine.dispose()


@pytest.fixture(params=["folder", "askar"])
async def keyring_env(request: pytest.FixtureRequest,
                      backend: Backend) -> AsyncIterator[dict[str, str]]:
    """SQLite: the default folder keyring, or an Askar keyring in a file of its own.

    A shared vault (PostgreSQL) refuses a folder keyring (holder_api.settings): there both
    cases use its shared Askar keyring, one as the backend gives it and one in a second
    PostgreSQL store, so neither is skipped and both keyrings' sweeps are exercised."""
    if backend.keyring_uri is not None:
        if request.param == "folder":
            yield {}
            return
        second = backend.keyring_uri + "_second"
        yield {"SATCHEL_KEYRING_URI": second,
               "SATCHEL_KEYRING_KEY": VaultStore.generate_store_key()}
        await drop_pg_database(second.rsplit("/", 1)[1])
        return
    if request.param == "folder":
        yield {}
        return
    yield {"SATCHEL_KEYRING_URI": f"sqlite://{backend.data_dir}/keyring.db",
           "SATCHEL_KEYRING_KEY": VaultStore.generate_store_key()}


@pytest.fixture
async def stores(backend: Backend, keyring_env: dict[str, str]) -> AsyncIterator[Stores]:
    async with _opened(Settings.from_env(env_for(backend, **keyring_env))) as s:
        yield s


async def test_crashed_signups_removed_running_and_finished_kept(
        make_client: AppFactory, keyring_env: dict[str, str], stores: Stores) -> None:
    app = await make_client(**keyring_env)
    ada = (await sign_up(app, "ada"))["learner_id"]  # a finished account
    crashed = await stores.crash()  # key + profile, no account row, intent 2 h old
    early = await stores.crash(stage="keyring")  # died before the profile
    fresh = await stores.crash(age=60)  # another replica's sign-up, still running
    assert await stores.present(crashed) == (True, True)

    report = await stores.sweep().run()

    assert (report.removed, report.adopted, report.waiting) == (2, 0, 1)
    assert await stores.present(crashed) == (False, False)
    assert await stores.present(early) == (False, False)
    assert await stores.present(fresh) == (True, True)
    assert await stores.present(ada) == (True, True)
    assert await stores.intents() == {fresh}
    await login(app, "ada")  # the finished account still opens
    # a second sweep finds nothing more to do
    again = await stores.sweep().run()
    assert (again.removed, again.adopted, again.waiting) == (0, 0, 1)


async def test_strays_without_an_intent_are_removed_a_grace_period_later(
        make_client: AppFactory, keyring_env: dict[str, str], stores: Stores) -> None:
    """Left by a crash from before intents existed: adopted first, removed once it is old."""
    app = await make_client(**keyring_env)
    ada = (await sign_up(app, "ada"))["learner_id"]
    stray = await stores.crash(intent=False)
    automatic = await stores.sweep().run()  # start-up and periodic sweeps never adopt
    assert (automatic.removed, automatic.adopted) == (0, 0)
    assert await stores.intents() == set()
    first = await stores.sweep(adopt_strays=True).run()  # `satchel sweep --adopt-strays`
    assert (first.removed, first.adopted) == (0, 1)
    assert await stores.present(stray) == (True, True)  # not yet: it might be a sign-up
    assert await stores.intents() == {stray}
    await stores.age(stray, 2 * GRACE)
    second = await stores.sweep().run()
    assert (second.removed, second.adopted, second.waiting) == (1, 0, 0)
    assert await stores.present(stray) == (False, False)
    assert await stores.present(ada) == (True, True)


async def test_askar_keyring_keys_without_profile_are_found(make_client: AppFactory,
                                                           backend: Backend) -> None:
    """A key-only stray (crash during key derivation, before intents) in an Askar keyring."""
    keyring = {} if backend.keyring_uri is not None else {  # a shared vault's is Askar's
        "SATCHEL_KEYRING_URI": f"sqlite://{backend.data_dir}/keyring.db",
        "SATCHEL_KEYRING_KEY": VaultStore.generate_store_key()}
    await sign_up(await make_client(**keyring), "ada")  # the accounts database is the live one
    async with _opened(Settings.from_env(env_for(backend, **keyring))) as s:
        stray = await s.crash(stage="keyring", intent=False)
        assert (await s.sweep(adopt_strays=True).run()).adopted == 1
        await s.age(stray, 2 * GRACE)
        assert (await s.sweep().run()).removed == 1
        assert not await s.has_key(stray)


async def test_a_swept_signup_cannot_finish(stores: Stores) -> None:
    """A sign-up slower than the grace period loses its intent and must not create the account."""
    slow = await stores.crash()
    assert (await stores.sweep().run()).removed == 1
    async with stores.engine.begin() as conn:
        assert not await finish_signup(conn, slow)
    live = str(uuid.uuid4())
    await begin_signup(stores.engine, live)
    async with stores.engine.begin() as conn:
        assert await finish_signup(conn, live)
    assert await stores.intents() == set()


async def test_signup_leaves_no_intent_and_a_failed_one_no_orphan(
        make_client: AppFactory, stores: Stores) -> None:
    app = await make_client()
    await sign_up(app, "ada")
    r = await app.post("/v1/learners", json={"username": "ada",
                                             "passphrase": "another long passphrase 7"})
    assert r.status == 409
    assert await stores.intents() == set()
    assert len(await stores.vault.learner_profiles()) == 1


async def test_two_sweeps_at_once_remove_each_orphan_once(stores: Stores) -> None:
    """Two replicas starting together: both sweeps succeed, everything orphaned is gone."""
    orphans = [await stores.crash() for _ in range(3)]
    a, b = await asyncio.gather(stores.sweep().run(), stores.sweep().run())
    assert a.removed + b.removed >= 3
    for learner_id in orphans:
        assert await stores.present(learner_id) == (False, False)
    assert await stores.intents() == set()


async def test_a_sweep_with_a_stale_listing_adopts_nothing_removed_meanwhile(
        stores: Stores) -> None:
    """Replica B lists profiles, then replica A removes an orphan, then B reads the database."""
    orphan = await stores.crash()
    other = stores.sweep()

    class StaleListing(VaultStore):
        calls = 0

        async def learner_profiles(self) -> list[str]:
            listed = await super().learner_profiles()
            StaleListing.calls += 1
            if StaleListing.calls == 1:
                assert (await other.run()).removed == 1  # A finishes between B's list and read
            return listed

    stale = OrphanSweep(engine=stores.engine, vault=StaleListing(stores.vault.askar),
                        keyring=stores.keyring, grace_seconds=GRACE, adopt_strays=True)
    report = await stale.run()
    assert (report.removed, report.adopted) == (0, 0)
    assert await stores.intents() == set()
    assert await stores.present(orphan) == (False, False)


async def test_start_up_sweeps(make_client: AppFactory, backend: Backend) -> None:
    settings = Settings.from_env(env_for(backend))
    async with _opened(settings) as s:
        crashed = await s.crash()
        fresh = await s.crash(age=10)
        await make_client()
        assert await s.present(crashed) == (False, False)
        assert await s.present(fresh) == (True, True)


async def test_cli_sweep(backend: Backend, monkeypatch: pytest.MonkeyPatch,
                         capsys: pytest.CaptureFixture[str]) -> None:
    env = env_for(backend)
    # a deployment (an operator command refuses an accounts database that names none)
    assert await start(Settings.from_env(env)) == "started"
    async with _opened(Settings.from_env(env)) as s:
        crashed = await s.crash()
        fresh = await s.crash(age=10)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        assert await asyncio.to_thread(main, ["sweep"]) == 0
        err = capsys.readouterr().err
        assert "sweeping sign-ups that did not finish within 3600 s" in err
        assert "removed 1 orphaned erasure key(s) and vault profile(s)" in err
        assert "1 sign-up(s) younger than the grace period kept" in err
        assert crashed not in err and fresh not in err  # counts only, never ids
        assert await s.present(crashed) == (False, False)
        assert await s.present(fresh) == (True, True)


def test_cli_sweep_without_a_vault(tmp_path: Any, monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    """Pointed at a folder without a vault (a wrong SATCHEL_DATA_DIR): an error, and no key
    made (tests/holder_api/test_summary_markers.py checks the folder stays untouched)."""
    monkeypatch.setenv("SATCHEL_DATA_DIR", str(tmp_path))
    assert main(["sweep"]) == 1
    assert "no vault store key (store.key) in the data folder" in capsys.readouterr().err
    assert not (tmp_path / "store.key").exists()


def test_grace_setting(tmp_path: Any) -> None:
    base = {"SATCHEL_DATA_DIR": str(tmp_path)}
    assert Settings.from_env(base).signup_sweep_grace == 3600
    assert Settings.from_env({**base, "SATCHEL_SIGNUP_SWEEP_GRACE": "600"}).signup_sweep_grace == 600
    with pytest.raises(SettingsError, match="SIGNUP_SWEEP_GRACE"):
        Settings.from_env({**base, "SATCHEL_SIGNUP_SWEEP_GRACE": "5"})


async def test_a_claimed_intent_whose_account_exists_is_never_destroyed(
        make_client: AppFactory, keyring_env: dict[str, str], stores: Stores) -> None:
    """Defence in depth: an account row that appears after the claim (a replica from before
    sign-up intents, in a rolling upgrade) keeps its erasure key and vault."""
    app = await make_client(**keyring_env)
    ada = (await sign_up(app, "ada"))["learner_id"]
    async with stores.engine.begin() as conn:  # as if a sweep had claimed it before the row
        await conn.execute(signup_intents.insert().values(
            learner_id=ada, started_at=datetime.now(UTC) - timedelta(seconds=2 * GRACE),
            claimed_at=datetime.now(UTC)))
    report = await stores.sweep().run()
    assert await stores.present(ada) == (True, True)
    assert report.removed == 1  # counted as handled: its intent is gone
    assert await stores.intents() == set()
    await login(app, "ada")


async def test_an_empty_accounts_database_adopts_nothing(
        make_client: AppFactory, keyring_env: dict[str, str], stores: Stores,
        tmp_path: Any) -> None:
    """Pointed at the wrong accounts database, every live learner looks like a stray: the
    automatic sweeps do not adopt at all, and adoption refuses an empty accounts database."""
    app = await make_client(**keyring_env)
    ada = (await sign_up(app, "ada"))["learner_id"]
    wrong = create_engine(f"sqlite+aiosqlite:///{tmp_path}/wrong.db")
    await run_migrations(wrong)
    try:
        def sweep(adopt: bool) -> OrphanSweep:
            return OrphanSweep(engine=wrong, vault=stores.vault, keyring=stores.keyring,
                               grace_seconds=GRACE, adopt_strays=adopt)

        assert (await sweep(False).run()).adopted == 0
        with pytest.raises(WrongAccountsDatabase, match="SATCHEL_DATABASE_URL"):
            await sweep(True).run()
        async with wrong.connect() as conn:
            assert (await conn.execute(select(signup_intents.c.learner_id))).all() == []
        assert await stores.present(ada) == (True, True)
        await login(app, "ada")
    finally:
        await wrong.dispose()


async def test_the_periodic_sweep_outlives_a_driver_error(stores: Stores) -> None:
    """A refused PostgreSQL connection surfaces from asyncpg as a bare OSError, not a
    SatchelError: the loop logs it and sweeps again next time instead of dying silently."""
    runs: list[int] = []
    again = asyncio.Event()

    class Flaky(OrphanSweep):
        async def run(self, progress: Any = None) -> Any:
            runs.append(len(runs))
            if len(runs) == 1:
                raise ConnectionRefusedError("refused")
            again.set()
            return await super().run(progress)

    flaky = Flaky(engine=stores.engine, vault=stores.vault, keyring=stores.keyring,
                  grace_seconds=GRACE)
    task = asyncio.create_task(flaky.run_every(0.01))
    try:
        await asyncio.wait_for(again.wait(), 10)
        assert not task.done() and len(runs) >= 2
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
