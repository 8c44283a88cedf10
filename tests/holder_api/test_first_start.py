"""Replicas started at the same instant on a fresh PostgreSQL database all start (issue 14):
the schema, the vault store, the keyring store and the deployment record are created once,
whichever replica gets there first (``holder_api.compose.stores.first_start``), and Askar's
"already there" is no failure (``wallet.askar_facts.provision``).

Before, one or two of four replicas started together failed in every round: two Askar
provisionings both found no store and both created its tables
(``duplicate key value violates unique constraint "pg_namespace_nspname_index"``). Only
PostgreSQL: the embedded default is one process."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from aries_askar import Store
from sqlalchemy import func, select

from tests.support.apps import DATA_KEY, SESSION_KEY
from tests.support.backends import PG_BASE, create_pg_database, drop_pg_database, require_postgres
from wallet.accounts.models import deployment_record
from wallet.db import create_engine

ROOT = Path(__file__).resolve().parents[2]
#: processes started together, and how many fresh deployments each round of them starts on
REPLICAS = 4
ROUNDS = 4


def _deployment(tmp_path: Path, tag: str) -> tuple[dict[str, str], tuple[str, ...]]:
    """A fresh deployment's environment: an empty accounts database (made here), and a vault
    and a keyring database that the first start creates; and the three databases' names."""
    sql, vault, keyring = (f"satchel_{what}_{tag}" for what in ("sql", "vault", "keyring"))
    return {
        "SATCHEL_DATA_DIR": str(tmp_path / tag),
        "SATCHEL_DATABASE_URL": PG_BASE.replace("postgres://", "postgresql+asyncpg://")
        + f"/{sql}",
        "SATCHEL_VAULT_URI": f"{PG_BASE}/{vault}",
        "SATCHEL_KEYRING_URI": f"{PG_BASE}/{keyring}",
        "SATCHEL_STORE_KEY": Store.generate_raw_key(),
        "SATCHEL_KEYRING_KEY": Store.generate_raw_key(),
        "SATCHEL_SESSION_KEY": SESSION_KEY,
        "SATCHEL_DATA_KEY": DATA_KEY,
        "SATCHEL_PUBLIC_URL": "http://satchel.test",
    }, (sql, vault, keyring)


async def _recorded(env: dict[str, str]) -> int:
    engine = create_engine(env["SATCHEL_DATABASE_URL"])
    try:
        async with engine.connect() as conn:
            return int((await conn.execute(
                select(func.count()).select_from(deployment_record)
                .where(deployment_record.c.name == "keyring_canary"))).scalar_one())
    finally:
        await engine.dispose()


def _start_together(envs: list[dict[str, str]]) -> list[list[str]]:
    """:data:`REPLICAS` processes start a replica on each deployment in turn, all at once: what
    each said, per round."""
    children = [subprocess.Popen(
        [sys.executable, "-m", "tests.holder_api.first_start_child"], cwd=ROOT, text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) for _ in range(REPLICAS)]
    try:
        for child in children:
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        rounds = []
        for env in envs:
            line = json.dumps(env) + "\n"
            for child in children:  # every replica's start-up begins within a few µs
                assert child.stdin is not None
                child.stdin.write(line)
                child.stdin.flush()
            rounds.append([child.stdout.readline().strip() for child in children
                           if child.stdout is not None])
        return rounds
    finally:
        for child in children:
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout=60)


async def test_replicas_started_together_on_a_fresh_database_all_start(tmp_path: Path) -> None:
    require_postgres()
    deployments = [_deployment(tmp_path, uuid.uuid4().hex[:12]) for _ in range(ROUNDS)]
    try:
        for _, (sql, _vault, _keyring) in deployments:
            await create_pg_database(sql)
        rounds = await asyncio.to_thread(_start_together, [env for env, _ in deployments])
        assert rounds == [["started"] * REPLICAS] * ROUNDS, rounds
        for env, _ in deployments:  # one record each: one replica made it, the others compared
            assert await _recorded(env) == 1
    finally:
        for _, names in deployments:
            for name in names:
                await drop_pg_database(name)
