"""An upgrade that stops part-way leaves the database as it found it, on both backends: the
revisions of one ``migrate`` call commit together or not at all. SQLite's driver commits each
DDL statement on its own unless the transaction is opened explicitly, so an embedded deployment
killed while its revisions ran was left half-migrated and never started again."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncEngine

from holder_api.compose.migrations import REVISION_FOLDERS
from tests.support.backends import Backend
from wallet.db import create_engine, known_revisions, migrate

_FAILING = '''
from alembic import op
import sqlalchemy as sa

revision = "zz_fails_part_way"
down_revision = {heads!r}
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
    raise RuntimeError("the process dies here")


def downgrade() -> None:
    op.drop_table("half_done")
'''


def _failing_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "failing_revision"
    folder.mkdir()
    head = known_revisions(REVISION_FOLDERS)[-1]
    (folder / "zz_fails_part_way.py").write_text(_FAILING.format(heads=head))
    return folder


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as conn:
        return await conn.run_sync(lambda c: set(inspect(c).get_table_names()))


async def test_an_upgrade_failing_part_way_leaves_nothing_behind(backend: Backend,
                                                                 tmp_path: Path) -> None:
    engine = create_engine(backend.database_url)
    try:
        with pytest.raises(RuntimeError, match="dies here"):
            await migrate(engine, folders=(*REVISION_FOLDERS, _failing_folder(tmp_path)))
        assert await _tables(engine) == set()  # not one revision of the call stayed
        await migrate(engine, folders=REVISION_FOLDERS)  # and the next start migrates it whole
        assert {"learners", "ledger_entries", "alembic_version"} <= await _tables(engine)
    finally:
        await engine.dispose()


async def test_a_failing_upgrade_of_a_migrated_database_keeps_its_revision(
        backend: Backend, tmp_path: Path) -> None:
    engine = create_engine(backend.database_url)
    try:
        await migrate(engine, folders=REVISION_FOLDERS)
        before = await _tables(engine)
        with pytest.raises(RuntimeError, match="dies here"):
            await migrate(engine, folders=(*REVISION_FOLDERS, _failing_folder(tmp_path)))
        assert await _tables(engine) == before  # no half_done table
        await migrate(engine, folders=REVISION_FOLDERS)  # still at this release's head: a no-op
    finally:
        await engine.dispose()
