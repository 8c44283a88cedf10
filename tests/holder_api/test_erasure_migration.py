"""Alembic revision 0011_learner_erasure (both backends): a database at 0010 with an account and
its share link upgrades (the account is not being erased: ``erasing_since`` empty), and
downgrades without losing the account's children (on SQLite a batch downgrade copies and drops
``learners``, and with foreign keys on that would delete every share and inbox link)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from tests.holder_api.migration_support import account_with_share_link, columns, to
from tests.support.backends import Backend
from wallet.db import create_engine


async def test_erasure_mark_upgrades_with_accounts_in_place_and_downgrades(
        backend: Backend) -> None:
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to("0010_deployment_record"))
            assert "erasing_since" not in await conn.run_sync(columns, "learners")
            await account_with_share_link(conn, datetime.now(UTC), token_epoch=3)
        async with engine.begin() as conn:
            await conn.run_sync(to("heads"))
            assert (await conn.execute(text(
                "SELECT id, token_epoch, erasing_since FROM learners"))).all() == [("L1", 3, None)]
        async with engine.begin() as conn:
            await conn.run_sync(to("0010_deployment_record", down=True))
            assert "erasing_since" not in await conn.run_sync(columns, "learners")
            assert (await conn.execute(text("SELECT id FROM share_links"))).all() == [("S1",)]
            assert (await conn.execute(text("SELECT id FROM learners"))).all() == [("L1",)]
            await conn.run_sync(to("heads"))
    finally:
        await engine.dispose()
