"""Shared fixtures: the vector folder, and the two database backends every storage test runs on.

PostgreSQL is expected on 127.0.0.1:5432 (trust auth, user ``postgres``; override with
``SATCHEL_TEST_PG``). When it is not reachable the PostgreSQL half is *skipped with a loud reason*;
``.ci/run`` sets ``SATCHEL_REQUIRE_POSTGRES=1`` which turns that skip into a failure.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlparse

import pytest

VECTORS = Path(__file__).parent / "vectors"
PG_BASE = os.environ.get("SATCHEL_TEST_PG", "postgres://postgres@127.0.0.1:5432")


def _pg_reachable() -> bool:
    u = urlparse(PG_BASE)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=1):
            return True
    except OSError:
        return False


PG_UP = _pg_reachable()


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not there."""
    if PG_UP:
        return
    msg = f"PostgreSQL at {PG_BASE} is not reachable: the PostgreSQL half of this test DID NOT RUN"
    if os.environ.get("SATCHEL_REQUIRE_POSTGRES") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


@pytest.fixture(scope="session")
def vectors() -> Path:
    return VECTORS


async def _create_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def _drop_pg_database(name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


class Backend:
    """Where one test's stores live: ``vault_uri`` (Askar) and ``database_url`` (SQLAlchemy)."""

    def __init__(self, kind: str, data_dir: Path, vault_uri: str, database_url: str,
                 pg_databases: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.vault_uri = vault_uri
        self.database_url = database_url
        self.pg_databases = pg_databases

    def __repr__(self) -> str:
        return f"Backend({self.kind})"


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Both storage backends; each test gets fresh, empty databases."""
    if request.param == "sqlite":
        yield Backend("sqlite", tmp_path, f"sqlite://{tmp_path}/vault.db",
                      f"sqlite+aiosqlite:///{tmp_path}/satchel.db")
        return
    require_postgres()
    tag = uuid.uuid4().hex[:12]
    vault_db, sql_db = f"satchel_vault_{tag}", f"satchel_sql_{tag}"
    await _create_pg_database(sql_db)
    try:
        yield Backend(
            "postgres", tmp_path, f"{PG_BASE}/{vault_db}",
            PG_BASE.replace("postgres://", "postgresql+asyncpg://") + f"/{sql_db}",
            (vault_db, sql_db),
        )
    finally:
        for name in (vault_db, sql_db):
            await _drop_pg_database(name)
