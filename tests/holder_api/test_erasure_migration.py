"""Alembic revision 0008_learner_erasure (both backends): a database at 0007 with an account and
its share link upgrades (the account is not being erased: ``erasing_since`` empty), and
downgrades without losing the account's children (on SQLite a batch downgrade copies and drops
``learners``, and with foreign keys on that would delete every share and inbox link)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic import command
from sqlalchemy import Connection, inspect, text

from holder_api.compose.migrations import REVISION_FOLDERS
from tests.conftest import Backend
from wallet.db import _alembic_config, create_engine


def _columns(conn: Connection) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns("learners")}


async def test_erasure_mark_upgrades_with_accounts_in_place_and_downgrades(
        backend: Backend) -> None:
    engine = create_engine(backend.database_url)
    now = datetime.now(UTC)

    def to(revision: str, down: bool = False) -> object:
        def run(conn: Connection) -> None:
            config = _alembic_config(conn, REVISION_FOLDERS)
            (command.downgrade if down else command.upgrade)(config, revision)
        return run

    try:
        async with engine.begin() as conn:
            await conn.run_sync(to("0007_share_link_records"))
            assert "erasing_since" not in await conn.run_sync(_columns)
            await conn.execute(text(
                "INSERT INTO learners (id, username_hash, created_at, wrapped_keys, inbox_public,"
                " token_epoch) VALUES ('L1', :h, :now, '{}', :pub, 3)"),
                {"h": "h" * 64, "now": now, "pub": b"\0" * 32})
            await conn.execute(text(
                "INSERT INTO share_links (id, learner_id, lookup_hash, created_at, expires_at,"
                " max_views, views, revoked, sealed) VALUES ('S1', 'L1', :t, :now, :later, 3, 0,"
                " false, :sealed)"),
                {"t": "s" * 64, "now": now, "later": now + timedelta(hours=1),
                 "sealed": b"sealed"})
        async with engine.begin() as conn:
            await conn.run_sync(to("heads"))
            assert (await conn.execute(text(
                "SELECT id, token_epoch, erasing_since FROM learners"))).all() == [("L1", 3, None)]
        async with engine.begin() as conn:
            await conn.run_sync(to("0007_share_link_records", down=True))
            assert "erasing_since" not in await conn.run_sync(_columns)
            assert (await conn.execute(text("SELECT id FROM share_links"))).all() == [("S1",)]
            assert (await conn.execute(text("SELECT id FROM learners"))).all() == [("L1",)]
            await conn.run_sync(to("heads"))
    finally:
        await engine.dispose()
