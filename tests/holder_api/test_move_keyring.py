"""`satchel move-keyring` (issue 14), on both backends: a deployment whose keyring an earlier
release kept inside its accounts database is refused at start; the command moves the keyring
out — every key copied and checked, the new keyring recorded, the old keys deleted only when
asked — after which it starts, every learner still unlocks and an erased learner stays erased.
A crash at any point leaves what worked working, and the command run again finishes the move;
a target that is a data database, or another deployment's keyring, is refused."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aries_askar import Store
from sqlalchemy import select, text, update

from holder_api.appkeys import WIRING
from holder_api.compose import keyring_move
from holder_api.compose.deployment import CANARY_PREFIX, IDENTITY, check_deployment
from holder_api.compose.stores import open_vault
from holder_api.settings import Settings, SettingsError
from tests.holder_api.operator_support import forget_record
from tests.support.apps import AppFactory, app_env
from tests.support.backends import PG_BASE, Backend, drop_pg_database
from tests.support.cli import run_satchel, start
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login, sign_up
from wallet.accounts.models import deployment_record, learners
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import SYSTEM_CLOCK
from wallet.db import create_engine, lock_id
from wallet.errors import Unavailable
from wallet.keyring import AskarKeyring
from wallet.vault import load_or_create_store_key

NEW_KEY = Store.generate_raw_key()
OTHER_SESSION_KEY = "YW5vdGhlci1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy1vci1tb3Jl"


async def _exists(uri: str) -> bool:
    """Whether an Askar store's file or database is there."""
    if uri.startswith("sqlite://"):
        return await asyncio.to_thread(Path(uri.removeprefix("sqlite://")).exists)
    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        return await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1",
                                   uri.rsplit("/", 1)[1]) == 1
    finally:
        await conn.close()


@dataclass
class Earlier:
    """A deployment as an earlier release left it: its keyring inside the accounts database."""

    env: dict[str, str]  # the configuration it runs with (refused by this release)
    uri: str  # the keyring's URI (the accounts database)
    key: str
    live: list[str]  # usernames that unlock
    erased: str  # a username whose erasure was finished
    cut_short: str  # a learner id whose erasure was cut short (its key still there)
    canary: str  # the deployment record's keyring canary
    ids: dict[str, str]  # learner ids by username


def _accounts_as_askar(backend: Backend) -> str:
    if backend.kind == "sqlite":
        return "sqlite://" + backend.database_url.split(":///", 1)[1]
    return backend.database_url.replace("postgresql+asyncpg://", "postgres://")


async def _record(backend: Backend) -> dict[str, str]:
    engine = create_engine(backend.database_url)
    try:
        async with engine.connect() as conn:
            return {r.name: r.value for r in await conn.execute(
                select(deployment_record.c.name, deployment_record.c.value))}
    finally:
        await engine.dispose()


async def _erasing(backend: Backend) -> list[str]:
    engine = create_engine(backend.database_url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(learners.c.id).where(
                learners.c.erasing_since.is_not(None)))).scalars())
    finally:
        await engine.dispose()


async def _earlier(make_client: AppFactory, backend: Backend, inside: str = "accounts"
                   ) -> Earlier:
    """A deployment started, learners signed up (one erased, one whose erasure a keyring failure
    cut short), then its keyring rewritten the way an earlier release kept it: an Askar store in
    the accounts database holding the same keys (the rows written directly), the keyring it had
    removed."""
    client = await make_client()
    stores = client.app[WIRING].stores
    ids = {name: (await sign_up(client, name))["learner_id"] for name in ("ada", "bob", "eve",
                                                                          "cut")}
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                          headers=auth(await login(client, "eve")))
    assert r.status in (200, 204), await r.text()
    token = await login(client, "cut")
    with pytest.MonkeyPatch.context() as mp:
        async def down(*args: Any) -> None:
            raise Unavailable("the keyring is down")

        mp.setattr(type(stores.keyring), "destroy", down)
        await assert_problem(await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                                               headers=auth(token)), 503)
    canary = (await _record(backend))["keyring_canary"]
    keys = {i: await stores.keyring.get(i) for i in (ids["ada"], ids["bob"], ids["cut"], canary)}
    await client.close()
    uri = _accounts_as_askar(backend) if inside == "accounts" else backend.vault_uri
    env = app_env(backend, SATCHEL_KEYRING_URI=uri)
    folder = Path(env["SATCHEL_DATA_DIR"])
    if inside == "vault":  # the vault's own store, under its key
        key = env.get("SATCHEL_STORE_KEY") or load_or_create_store_key(folder)
        env["SATCHEL_KEYRING_KEY"] = key
    elif backend.kind == "sqlite":  # the key an embedded SQLite keyring store kept
        key = load_or_create_store_key(folder / "keyring-store")
    else:
        key = Store.generate_raw_key()
        env["SATCHEL_KEYRING_KEY"] = key
    if backend.kind == "sqlite":
        for f in (folder / "keyring").iterdir():
            f.unlink()
        (folder / "keyring").rmdir()
    else:
        assert backend.keyring_uri is not None
        await drop_pg_database(backend.keyring_uri.rsplit("/", 1)[1])
    old = await AskarKeyring.open(uri, key)
    assert await old.put_many(keys) == []
    await old.close()
    return Earlier(env, uri, key, ["ada", "bob"], "eve", ids["cut"], canary, ids)


@asynccontextmanager
async def _target(backend: Backend, tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """A new keyring's URI (nothing there yet) and a file holding its key."""
    os.makedirs(tmp_path, exist_ok=True)
    key_file = tmp_path / "new-keyring.key"
    key_file.write_text(NEW_KEY + "\n")
    if backend.kind == "sqlite":
        yield f"sqlite://{tmp_path}/keyring-of-its-own.db", key_file
        return
    name = f"satchel_keyring_moved_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_BASE}/{name}", key_file
    finally:
        await drop_pg_database(name)


def _new_env(backend: Backend, uri: str) -> dict[str, str]:
    return {"SATCHEL_KEYRING_URI": uri, "SATCHEL_KEYRING_KEY": NEW_KEY}


def _move(earlier: Earlier, target: str, key_file: Path, monkeypatch: pytest.MonkeyPatch,
          *more: str) -> int:
    return run_satchel(["move-keyring", "--to", target, "--to-key-file", str(key_file), *more],
                       earlier.env, monkeypatch)


async def _entries(uri: str, key: str) -> dict[str, bytes]:
    ring = await AskarKeyring.open(uri, key, provision=False)
    try:
        return await ring.entries()
    finally:
        await ring.close()


async def _old_works(earlier: Earlier) -> None:
    """The old configuration as it was: its keyring is the one the deployment record names,
    holding every learner's key (what a release before the refusal would start with)."""
    settings = Settings.from_env(earlier.env, keyring_apart=False)
    keys = ServiceKeys.from_secret(settings.session_key, settings.data_key)
    engine = create_engine(settings.database_url)
    ring = await AskarKeyring.open(earlier.uri, earlier.key, provision=False)
    vault = await open_vault(settings, provision=False)
    try:
        await check_deployment(engine, ring, vault, keys, issuer=keys.deployment_id,
                               data_key_set=settings.data_key is not None, clock=SYSTEM_CLOCK,
                               record=False)
    finally:
        await vault.close()
        await ring.close()
        await engine.dispose()


async def _unlocks(make_client: AppFactory, backend: Backend, uri: str, earlier: Earlier) -> Any:
    """The deployment started with the new keyring: every learner unlocks, the erased one does
    not; the erasure cut short is finished by the start."""
    client = await make_client(**_new_env(backend, uri))
    for name in earlier.live:
        assert await login(client, name)
    for name in (earlier.erased, "cut"):
        r = await client.post("/v1/sessions", json={"username": name, "passphrase": PASSPHRASE})
        assert r.status == 401, await r.text()
    assert await _erasing(backend) == []
    return client


def _last(err: str) -> str:
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("inside", ["accounts", "vault"])
async def test_a_keyring_in_a_data_database_is_moved_out(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], inside: str) -> None:
    earlier = await _earlier(make_client, backend, inside)
    named = {"accounts": "SATCHEL_DATABASE_URL", "vault": "SATCHEL_VAULT_URI"}[inside]
    # refused as this release finds it: by the spelling, and by the servers (files) asked
    with pytest.raises(SettingsError):
        Settings.from_env(earlier.env)
    refused = await start(Settings.from_env(earlier.env, keyring_apart=False))
    assert "SATCHEL_KEYRING_URI" in refused and named in refused, refused
    assert "`satchel move-keyring` moves them there" in refused, refused
    await _old_works(earlier)
    held = await _entries(earlier.uri, earlier.key)
    assert earlier.cut_short in held and len(held) == 4

    async with _target(backend, tmp_path) as (uri, key_file):
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 0
        err = capsys.readouterr().err
        assert "satchel: copying the erasure keys to the new keyring ..." in err
        assert "satchel: 2/2 key(s) copied" in err.splitlines(), err
        assert _last(err) == (
            "satchel: done: 2 key(s) in the new keyring checked (2 copied now, 1 of erasures "
            "under way left for `satchel sweep`); the new keyring is recorded now: start the "
            "replicas with its SATCHEL_KEYRING_URI and SATCHEL_KEYRING_KEY; 4 left in the old "
            "keyring (--delete-old deletes them)"), err
        assert not any(i in err for i in held)  # counts only
        moved = await _entries(uri, NEW_KEY)
        assert earlier.cut_short not in moved and earlier.canary not in moved
        assert {i: k for i, k in moved.items() if not i.startswith(CANARY_PREFIX)} == {
            i: k for i, k in held.items() if i not in (earlier.cut_short, earlier.canary)}
        record = await _record(backend)
        assert record["keyring_canary"] in moved and keyring_move.MOVE_CANARY not in record
        # the old keyring is no longer the deployment's: refused by the record too
        with pytest.raises(SettingsError, match="SATCHEL_KEYRING_URI does not name"):
            await _old_works(earlier)

        client = await _unlocks(make_client, backend, uri, earlier)
        await client.close()
        assert earlier.cut_short not in await _entries(uri, NEW_KEY)

        # run again: nothing to copy; with --delete-old the old keyring is emptied
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch,
                                       "--delete-old") == 0
        err = capsys.readouterr().err
        assert "satchel: deleting 4 key(s) from the old keyring ..." in err
        assert _last(err).endswith("the new keyring is recorded already: start the replicas "
                                   "with its SATCHEL_KEYRING_URI and SATCHEL_KEYRING_KEY; 4 "
                                   "deleted from the old keyring, 0 left there"), err
        assert await _entries(earlier.uri, earlier.key) == {}
        client = await _unlocks(make_client, backend, uri, earlier)
        await client.close()


class Killed(BaseException):
    """The process ended here (nothing after it runs; BaseException: no handler takes it)."""


@pytest.mark.parametrize("point", ["copying", "pending canary", "recording", "deleting"])
async def test_a_move_cut_short_anywhere_leaves_what_worked_and_finishes_when_run_again(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], point: str) -> None:
    earlier = await _earlier(make_client, backend)
    before = await _record(backend)
    calls = {"n": 0}

    def kill_after(n: int, real: Any) -> Any:
        async def cut(*args: Any, **kwargs: Any) -> Any:
            calls["n"] += 1
            if calls["n"] > n:
                raise Killed
            return await real(*args, **kwargs)
        return cut

    async with _target(backend, tmp_path) as (uri, key_file):
        with pytest.MonkeyPatch.context() as mp:
            if point == "copying":  # the first key written, the second not
                monkeypatch.setattr(keyring_move, "_BATCH", 1)
                mp.setattr(AskarKeyring, "put_many", kill_after(1, AskarKeyring.put_many))
            elif point == "pending canary":  # its id recorded, the canary not made
                mp.setattr(AskarKeyring, "create", kill_after(0, AskarKeyring.create))
            elif point == "recording":  # every copy made and checked, nothing recorded
                real = keyring_move._reconcile

                async def checked_then_killed(*args: Any) -> Any:
                    await real(*args)
                    raise Killed

                mp.setattr(keyring_move, "_reconcile", checked_then_killed)
            else:  # recorded, some keys of the old keyring deleted
                monkeypatch.setattr(keyring_move, "_BATCH", 1)
                mp.setattr(AskarKeyring, "destroy_many", kill_after(1,
                                                                    AskarKeyring.destroy_many))
            with pytest.raises(Killed):
                await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch,
                                        "--delete-old")
        capsys.readouterr()
        if point != "deleting":
            # nothing that works changed: the record names the old keyring, which holds every
            # key, and the new one is refused at a start
            assert {k: v for k, v in (await _record(backend)).items()
                    if k != keyring_move.MOVE_CANARY} == before
            await _old_works(earlier)
            assert len(await _entries(earlier.uri, earlier.key)) == 4
            settings = Settings.from_env(app_env(backend, **_new_env(backend, uri)))
            assert "does not name this deployment's keyring" in await start(settings)
        else:
            client = await _unlocks(make_client, backend, uri, earlier)
            await client.close()
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch,
                                       "--delete-old") == 0
        assert _last(capsys.readouterr().err).endswith(", 0 left there")
        assert await _entries(earlier.uri, earlier.key) == {}
        client = await _unlocks(make_client, backend, uri, earlier)
        await client.close()


@pytest.mark.parametrize("target", ["the accounts database", "the vault", "another deployment's",
                                    "the old key", "settings unlike the deployment's"])
async def test_a_wrong_target_is_refused(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], target: str) -> None:
    earlier = await _earlier(make_client, backend)
    before = await _record(backend)
    async with _target(backend, tmp_path) as (uri, key_file):
        if target == "the accounts database":  # another spelling of it
            uri = (earlier.uri.replace("127.0.0.1", "localhost") if backend.kind == "postgres"
                   else earlier.uri.replace("/satchel.db", "/./satchel.db"))
        elif target == "the vault":
            uri = backend.vault_uri
        elif target == "another deployment's":
            ring = await AskarKeyring.open(uri, NEW_KEY)
            await ring.create(str(uuid.uuid4()))
            await ring.close()
        elif target == "the old key":
            key_file.write_text(earlier.key)
        else:
            earlier.env["SATCHEL_SESSION_KEY"] = OTHER_SESSION_KEY
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 2
        err = capsys.readouterr().err
        assert _last(err).startswith("satchel: configuration error:"), err
        assert {"the accounts database": "SATCHEL_DATABASE_URL", "the vault": "SATCHEL_VAULT_URI",
                "another deployment's": "another deployment's keyring",
                "the old key": "a key of its own",
                "settings unlike the deployment's": "SATCHEL_SESSION_KEY"}[target] in _last(err), err
        if target == "settings unlike the deployment's":  # no store made for it either
            assert not await _exists(uri)
        assert await _record(backend) == before
        assert len(await _entries(earlier.uri, earlier.key)) == 4


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: one process
async def test_no_move_while_replicas_are_at_work(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """PostgreSQL: a session holding an advisory lock on the accounts database (a replica at
    work, or one starting: the first-start lock) stops the move before anything is written;
    once the new keyring is recorded, only a start under way stops the deletion."""
    earlier = await _earlier(make_client, backend)
    before = await _record(backend)
    conn = await asyncpg.connect(_pg_dsn(backend))
    try:
        async with _target(backend, tmp_path) as (uri, key_file):
            for lock in ("satchel-first-start", "a rate limit"):
                async with conn.transaction():
                    if lock == "satchel-first-start":
                        await conn.execute("SELECT pg_advisory_xact_lock($1)", lock_id(lock))
                    else:
                        await conn.execute("SELECT pg_advisory_xact_lock(42)")
                    assert await asyncio.to_thread(_move, earlier, uri, key_file,
                                                   monkeypatch) == 1
                err = capsys.readouterr().err
                assert "stop every replica" in _last(err) and _last(err).startswith(
                    "satchel: stopped:"), err
            assert await _record(backend) == before
            assert len(await _entries(earlier.uri, earlier.key)) == 4
            await conn.close()
            # once moved, replicas of the new keyring may serve while the old keys are deleted
            assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 0
            conn = await asyncpg.connect(_pg_dsn(backend))
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(42)")
                assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch,
                                               "--delete-old") == 0
            assert await _entries(earlier.uri, earlier.key) == {}
    finally:
        await conn.close()


def _pg_dsn(backend: Backend) -> str:
    return backend.database_url.replace("postgresql+asyncpg", "postgres")


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: one process
async def test_no_move_while_an_idle_replica_is_connected(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """An idle replica holds no advisory lock but keeps its pooled connections to the accounts
    database: a session connected there (of any release, named or not) stops the move before
    anything is written, and the refusal names what is connected."""
    earlier = await _earlier(make_client, backend)
    before = await _record(backend)
    async with _target(backend, tmp_path) as (uri, key_file):
        for name in ("satchel serve", None):
            settings = {"application_name": name} if name else {}
            conn = await asyncpg.connect(_pg_dsn(backend), server_settings=settings)
            try:
                assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 1
            finally:
                await conn.close()
            err = capsys.readouterr().err
            assert _last(err).startswith("satchel: stopped: 1 other session(s)"), err
            assert (name or "(no application name)") in _last(err), err
            assert "stop every replica" in _last(err), err
        assert await _record(backend) == before
        assert not await _exists(uri)
        assert len(await _entries(earlier.uri, earlier.key)) == 4
        # nothing connected any more: it moves
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 0


@pytest.mark.parametrize("backend", ["postgres"], indirect=True)  # SQLite: one process
async def test_no_deletion_while_a_replica_of_the_old_keyring_is_connected(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A keyring of its own moved to another: once the new one is recorded, a session still
    connected to the old keyring's database is a replica of the old configuration, which
    `--delete-old` would leave without a key: refused, nothing deleted."""
    client = await make_client()
    await sign_up(client, "ada")
    await client.close()
    env = app_env(backend)
    old_uri, old_key = env["SATCHEL_KEYRING_URI"], env["SATCHEL_KEYRING_KEY"]
    earlier = Earlier(env, old_uri, old_key, ["ada"], "", "", "", {})
    async with _target(backend, tmp_path) as (uri, key_file):
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 0
        held = len(await _entries(old_uri, old_key))
        replica = await asyncpg.connect(old_uri.replace("postgres://", "postgresql://", 1))
        try:
            assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch,
                                           "--delete-old") == 1
        finally:
            await replica.close()
        err = capsys.readouterr().err
        assert "1 session(s) still connected to the old keyring's database" in _last(err), err
        assert len(await _entries(old_uri, old_key)) == held
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch,
                                       "--delete-old") == 0
        assert await _entries(old_uri, old_key) == {}


def test_satchel_help_names_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    from holder_api.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    assert "move-keyring" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["move-keyring", "--help"])
    out = capsys.readouterr().out
    assert "--delete-old" in out and "--to-key-file" in out and "stopped" in out



async def test_an_erasure_while_the_move_runs_stays_erased(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A replica of the old configuration still at work (which the move asks not to be, and
    cannot always tell): an erasure that begins after a key was copied, and one whose key is
    destroyed after, leave no copy in the new keyring; a sign-up finished meanwhile is copied."""
    earlier = await _earlier(make_client, backend)
    bob = earlier.ids["bob"]
    late = str(uuid.uuid4())
    real = keyring_move._copy

    async def meanwhile(*args: Any) -> Any:
        done = await real(*args)
        engine = create_engine(backend.database_url)
        try:
            async with engine.begin() as conn:  # an erasure's first step, then its key
                await conn.execute(update(learners).where(learners.c.id == bob)
                                   .values(erasing_since=SYSTEM_CLOCK()))
        finally:
            await engine.dispose()
        ring = await AskarKeyring.open(earlier.uri, earlier.key, provision=False)
        try:
            await ring.destroy(bob)
            await ring.put_many({late: secrets.token_bytes(32)})
        finally:
            await ring.close()
        return done

    monkeypatch.setattr(keyring_move, "_copy", meanwhile)
    async with _target(backend, tmp_path) as (uri, key_file):
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 0
        assert ("1 copy(ies) removed again (their key destroyed or its erasure begun "
                "meanwhile)") in _last(capsys.readouterr().err)
        moved = await _entries(uri, NEW_KEY)
        assert bob not in moved and late in moved
        earlier.live.remove("bob")
        earlier.erased = "bob"
        client = await _unlocks(make_client, backend, uri, earlier)
        await client.close()


async def test_a_deployment_from_before_the_record_is_moved_and_recorded(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A release before the deployment record kept no canary: the old keyring is checked
    against the learners' keys instead, and the move records the new keyring's canary."""
    earlier = await _earlier(make_client, backend)
    await forget_record(backend, *IDENTITY)
    ring = await AskarKeyring.open(earlier.uri, earlier.key, provision=False)
    await ring.destroy(earlier.canary)
    await ring.close()
    async with _target(backend, tmp_path) as (uri, key_file):
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 0
        capsys.readouterr()
        record = await _record(backend)
        assert record["keyring_canary"] in await _entries(uri, NEW_KEY)
        settings = Settings.from_env(app_env(backend, **_new_env(backend, uri)))
        said = await start(settings)
        if said != "started":  # no consent-ledger head vouches for the data key
            assert "record-deployment" in said, said
            assert await asyncio.to_thread(run_satchel, ["record-deployment"], app_env(
                backend, **_new_env(backend, uri)), monkeypatch) == 0
        client = await _unlocks(make_client, backend, uri, earlier)
        await client.close()


ROOT = Path(__file__).resolve().parents[2]


def _killed_while_copying(earlier: Earlier, uri: str, key_file: Path) -> list[str]:
    """`satchel move-keyring` run as an operator runs it, killed (SIGKILL) as soon as it says
    it has copied some keys: what it said."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "holder_api.cli", "move-keyring", "--to", uri,
         "--to-key-file", str(key_file)], cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **earlier.env},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    said = []
    for line in proc.stderr:
        said.append(line)
        if " key(s) copied" in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, said
    return said


async def test_a_move_killed_between_copy_and_record_leaves_the_old_configuration(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A real ``kill -9`` while the keys are copied (5,000 of them, so that it is still
    copying when its first progress line is read): the record still names the old keyring,
    which still holds every key, and a start with the new keyring is refused; run again, the
    move finishes."""
    earlier = await _earlier(make_client, backend)
    ring = await AskarKeyring.open(earlier.uri, earlier.key, provision=False)
    await ring.put_many({str(uuid.uuid4()): secrets.token_bytes(32) for _ in range(5000)})
    await ring.close()
    before = await _record(backend)
    async with _target(backend, tmp_path) as (uri, key_file):
        await asyncio.to_thread(_killed_while_copying, earlier, uri, key_file)
        assert await _record(backend) == before
        await _old_works(earlier)
        assert len(await _entries(earlier.uri, earlier.key)) == 5004
        assert 0 < len(await _entries(uri, NEW_KEY)) < 5002
        settings = Settings.from_env(app_env(backend, **_new_env(backend, uri)))
        assert "does not name this deployment's keyring" in await start(settings)

        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 0
        assert "5002 key(s) in the new keyring checked" in _last(capsys.readouterr().err)
        client = await _unlocks(make_client, backend, uri, earlier)
        await client.close()


async def test_a_move_cut_short_then_made_to_another_target_leaves_the_first_refused(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """A move cut short after its canary was made in one target, then run to another: the first
    holds a copy of the keys but never the recorded canary, so no start takes it for the
    deployment's keyring (erasures in the second would not reach it)."""
    earlier = await _earlier(make_client, backend)
    real = keyring_move._reconcile

    async def checked_then_killed(*args: Any) -> Any:
        await real(*args)
        raise Killed

    async with _target(backend, tmp_path / "a") as (first, key_file):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(keyring_move, "_reconcile", checked_then_killed)
            with pytest.raises(Killed):
                await asyncio.to_thread(_move, earlier, first, key_file, monkeypatch)
        async with _target(backend, tmp_path / "b") as (second, _):
            assert await asyncio.to_thread(_move, earlier, second, key_file, monkeypatch) == 0
            capsys.readouterr()
            settings = Settings.from_env(app_env(backend, **_new_env(backend, first)))
            assert "does not name this deployment's keyring" in await start(settings)
            client = await _unlocks(make_client, backend, second, earlier)
            await client.close()


async def test_a_schema_older_than_the_release_is_not_migrated_by_the_move(
        make_client: AppFactory, backend: Backend, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Audit F10: the move migrated the accounts database before it asked whether replicas were
    connected, so with replicas of an older release up it could change the schema under them and
    only then stop. Like every operator command but `satchel migrate`, it migrates nothing: an
    older schema stops it, untouched, before anything is opened or written."""
    earlier = await _earlier(make_client, backend)
    before = await _record(backend)
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE alembic_version SET version_num = "
                                    "'0010_deployment_record'"))
    finally:
        await engine.dispose()
    async with _target(backend, tmp_path) as (uri, key_file):
        assert await asyncio.to_thread(_move, earlier, uri, key_file, monkeypatch) == 2
        err = capsys.readouterr().err
        assert "run `satchel migrate` first" in _last(err), err
        assert not await _exists(uri)
    engine = create_engine(backend.database_url)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT version_num FROM alembic_version"))
                    ).scalar_one() == "0010_deployment_record"
    finally:
        await engine.dispose()
    assert await _record(backend) == before
    assert len(await _entries(earlier.uri, earlier.key)) == 4
