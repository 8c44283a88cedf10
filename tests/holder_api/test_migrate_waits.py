"""`satchel migrate` beside a start or migration under way waits for it, saying so, and then
migrates; a database that refuses gets one line naming the cause and exit status 1.

Before, `satchel migrate` waited 120 s for the first-start lock and then died with a traceback
(``wallet.db.Contended``, as OSError and SQLAlchemyError did): only ``SettingsError`` was caught.
PostgreSQL only for the lock: the embedded default is one process and takes none."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path

import asyncpg

from holder_api.compose.migrations import REVISION_FOLDERS
from tests.support.apps import SESSION_KEY
from tests.support.backends import PG_BASE, create_pg_database, drop_pg_database, require_postgres
from wallet.db import known_revisions, lock_id

ROOT = Path(__file__).resolve().parents[2]
_MIGRATE = "import sys; from holder_api.cli import main; sys.exit(main(['migrate']))"


def _env(tmp_path: Path, url: str) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), "SATCHEL_DATABASE_URL": url,
            "SATCHEL_DATA_DIR": str(tmp_path / "data"), "SATCHEL_SESSION_KEY": SESSION_KEY,
            "SATCHEL_PUBLIC_URL": "http://satchel.test"}


async def test_migrate_waits_for_the_first_start_lock_then_migrates(tmp_path: Path) -> None:
    require_postgres()
    name = f"satchel_mig_{uuid.uuid4().hex[:12]}"
    await create_pg_database(name)
    holder = await asyncpg.connect(f"{PG_BASE}/{name}")
    try:
        held = holder.transaction()
        await held.start()
        await holder.execute("SELECT pg_advisory_xact_lock($1)", lock_id("satchel-first-start"))
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _MIGRATE, cwd=ROOT, stderr=asyncio.subprocess.PIPE,
            env=_env(tmp_path, PG_BASE.replace("postgres://", "postgresql+asyncpg://")
                     + f"/{name}"))
        assert child.stderr is not None
        said = [(await asyncio.wait_for(child.stderr.readline(), 60)).decode()
                for _ in range(2)]
        assert said[1].startswith("satchel: waiting for another start or migration"), said
        await asyncio.sleep(0.5)
        assert child.returncode is None  # still waiting
        await held.rollback()  # the other one finished
        rest = (await asyncio.wait_for(child.stderr.read(), 120)).decode()
        assert await child.wait() == 0, rest
        head = known_revisions(REVISION_FOLDERS)[-1]
        # named as the start's log names it: server and database, never the URL
        server = PG_BASE.rsplit("@", 1)[-1]
        assert rest.strip().splitlines() == [
            f"satchel: schema is up to date ({server}/{name}: it had none; now at {head})"], rest
        version = await holder.fetchval("SELECT version_num FROM alembic_version")
        assert version
    finally:
        await holder.close()
        await drop_pg_database(name)


async def test_migrate_on_a_database_that_refuses_says_one_line(tmp_path: Path) -> None:
    """A database that refuses connections (nothing listens there): one line naming the kind
    of failure, never the URL (it may hold a password), exit status 1, no traceback."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _MIGRATE, cwd=ROOT, stderr=asyncio.subprocess.PIPE,
        env=_env(tmp_path, "postgresql+asyncpg://postgres:s3cret@127.0.0.1:9/nothing"))
    _, err = await asyncio.wait_for(child.communicate(), 120)
    said = err.decode().strip().splitlines()
    assert await child.wait() == 1, said
    assert said[0] == "satchel: migrating the database schema ...", said
    assert len(said) == 2 and said[1].startswith("satchel: stopped: the database refused ("), said
    assert "s3cret" not in said[1]
