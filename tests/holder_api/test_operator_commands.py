"""The operator commands open a deployment's stores as a replica does (issue 14), on both
backends: through the same checks (``holder_api.compose.stores.open_stores``, one function), so
that `satchel sweep` or `satchel reset-summary-markers` run with settings unlike the deployment's
stop with exit status 2 and one line naming the setting, changing nothing; and `satchel sweep`
finishes the erasures a crash or a store failure cut short, as a started replica does, with its
progress and one summary line (counts only, never a learner id)."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.support.apps import AppFactory, app_env
from tests.support.backends import PG_BASE, Backend
from tests.support.cli import run_satchel
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login, sign_up
from wallet.errors import NotFound, Unavailable

OTHER_KEY = "YW5vdGhlci1rZXktb2YtdGhpcnR5LXR3by1ieXRlcy1vci1tb3Jl"


async def _cut_short(client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch,
                     name: str) -> tuple[str, Any]:
    """A learner whose erasure stopped at its erasure key (the keyring down): their id, and
    the keyring class whose ``destroy`` is still failing (``monkeypatch.undo`` brings it back)."""
    learner_id = (await sign_up(client, name))["learner_id"]
    token = await login(client, name)
    keyring = type(client.app[WIRING].stores.keyring)

    async def down(*args: Any) -> None:
        raise Unavailable("the keyring is down")

    monkeypatch.setattr(keyring, "destroy", down)
    await assert_problem(await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                                           headers=auth(token)), 503)
    return learner_id, keyring


async def test_sweep_finishes_erasures_cut_short(
        make_client: AppFactory, backend: Backend, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    client = await make_client()
    wiring = client.app[WIRING]
    learner_id, _ = await _cut_short(client, monkeypatch, "erase-me")
    assert await wiring.accounts.service.erasures_cut_short() == [learner_id]
    env = app_env(backend)

    # the keyring still down: the sweep says so, and the erasure stays marked
    assert await asyncio.to_thread(run_satchel, ["sweep"], env, monkeypatch) == 1
    err = capsys.readouterr().err
    assert "finishing 1 erasure(s) cut short ..." in err
    assert ("done: 0 crashed sign-up(s) removed, 0 kept; 0 erasure(s) cut short finished, "
            "1 left (a store failed: run it again)") in err.splitlines()[-1], err
    assert await wiring.accounts.service.erasures_cut_short() == [learner_id]

    monkeypatch.undo()  # the keyring is back
    assert await asyncio.to_thread(run_satchel, ["sweep"], env, monkeypatch) == 0
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "satchel: finishing 1 erasure(s) cut short ..." in lines
    assert "satchel: 1/1 erasure(s) cut short done" in lines
    assert lines[-1] == ("satchel: done: 0 crashed sign-up(s) removed, 0 kept; 1 erasure(s) cut "
                         "short finished, 0 left"), err
    assert learner_id not in err  # counts only
    assert await wiring.accounts.service.erasures_cut_short() == []
    with pytest.raises(NotFound):
        await wiring.stores.keyring.get(learner_id)
    assert not await wiring.stores.vault.has_profile(learner_id)
    assert (await sign_up(client, "erase-me"))["learner_id"] != learner_id  # the name is free


@pytest.mark.parametrize("command", ["sweep", "reset-summary-markers"])
@pytest.mark.parametrize("unlike", ["SATCHEL_DATA_KEY", "SATCHEL_SESSION_KEY"])
async def test_operator_commands_refuse_settings_unlike_the_deployment(
        make_client: AppFactory, backend: Backend, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], command: str, unlike: str) -> None:
    """Before, `satchel sweep` with another data key, session key or keyring than the
    deployment's went ahead (with `--adopt-strays` and another deployment's keyring, every key
    of it was a stray to destroy); now it stops as a replica set up so would."""
    client = await make_client()
    wiring = client.app[WIRING]
    learner_id, _ = await _cut_short(client, monkeypatch, "erase-me")
    monkeypatch.undo()
    env = app_env(backend, **{unlike: OTHER_KEY})

    assert await asyncio.to_thread(run_satchel, [command], env, monkeypatch) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("satchel: configuration error:"), lines
    assert unlike in lines[0]
    # nothing was done: the erasure cut short is still there, for a replica (or a sweep) set up
    # like the deployment
    assert await wiring.accounts.service.erasures_cut_short() == [learner_id]
    monkeypatch.delenv(unlike)
    assert await asyncio.to_thread(run_satchel, ["sweep"], app_env(backend), monkeypatch) == 0
    assert await wiring.accounts.service.erasures_cut_short() == []


@pytest.mark.parametrize("command", ["sweep", "reset-summary-markers"])
async def test_operator_commands_make_no_keyring_where_the_deployment_has_none(
        make_client: AppFactory, backend: Backend, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str], tmp_path: Path, command: str) -> None:
    """A SATCHEL_KEYRING_URI naming nothing: refused, and nothing made there (no folder, no
    database): with `--adopt-strays`, a new empty keyring would make every learner's key look
    lost."""
    await sign_up(await make_client(), "eve")
    missing = f"satchel_keyring_none_{uuid.uuid4().hex[:12]}"
    where = (str(tmp_path / "no-keyring") if backend.keyring_uri is None
             else f"{PG_BASE}/{missing}")
    env = app_env(backend, SATCHEL_KEYRING_URI=where)
    assert await asyncio.to_thread(run_satchel, [command], env, monkeypatch) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "SATCHEL_KEYRING_URI" in lines[0], lines
    if backend.keyring_uri is None:
        assert not (tmp_path / "no-keyring").exists()
    else:
        conn = await asyncpg.connect(PG_BASE + "/postgres")
        try:
            assert await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1",
                                       missing) is None
        finally:
            await conn.close()
