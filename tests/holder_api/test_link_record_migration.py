"""Alembic revisions 0006_inbox_link_records and 0007_share_link_records (both backends): a
database at 0005 with links in it upgrades, the links keep their rows (``sealed_record`` empty:
their records stay in the vault, where the services still read them), and both downgrade."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Connection, inspect, text

from tests.holder_api.migration_support import account_with_share_link, columns, to
from tests.support.backends import Backend
from wallet.db import create_engine


async def test_link_records_revisions_upgrade_with_links_in_place_and_downgrade(
        backend: Backend) -> None:
    engine = create_engine(backend.database_url)
    now = datetime.now(UTC)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(to("0005_signup_intents"))
            assert "sealed_record" not in await conn.run_sync(columns, "inbox_links")
            await account_with_share_link(conn, now)
            await conn.execute(text(
                "INSERT INTO inbox_links (id, learner_id, token_hash, created_at)"
                " VALUES ('K1', 'L1', :t, :now)"), {"t": "t" * 64, "now": now})
        async with engine.begin() as conn:
            await conn.run_sync(to("heads"))
            for table in ("inbox_links", "share_links"):
                assert "sealed_record" in await conn.run_sync(columns, table)
                assert (await conn.execute(text(
                    f"SELECT sealed_record FROM {table}"))).all() == [(None,)]  # noqa: S608
        async with engine.begin() as conn:
            await conn.run_sync(to("0005_signup_intents", down=True))
            for table in ("inbox_links", "share_links"):
                assert "sealed_record" not in await conn.run_sync(columns, table)
            assert (await conn.execute(text("SELECT id FROM inbox_links"))).all() == [("K1",)]
            await conn.run_sync(to("heads"))
    finally:
        await engine.dispose()


async def test_inbox_link_leftovers_revision_upgrades_and_downgrades(backend: Backend) -> None:
    """Revision 0008_inbox_link_leftovers: the table of revoked links whose vault copy of the
    label a list is still to remove; a downgrade drops it (those copies then stay unread in the
    vault until the account's erasure, as a failed removal used to leave them)."""
    engine = create_engine(backend.database_url)

    def tables(conn: Connection) -> set[str]:
        return set(inspect(conn).get_table_names())

    try:
        async with engine.begin() as conn:
            await conn.run_sync(to("heads"))
            assert {"inbox_link_leftovers", "inbox_links"} <= await conn.run_sync(tables)
            assert await conn.run_sync(columns, "inbox_link_leftovers") == {"id", "learner_id"}
        async with engine.begin() as conn:
            await conn.run_sync(to("0007_share_link_records", down=True))
            assert "inbox_link_leftovers" not in await conn.run_sync(tables)
            await conn.run_sync(to("heads"))
            assert "inbox_link_leftovers" in await conn.run_sync(tables)
    finally:
        await engine.dispose()
