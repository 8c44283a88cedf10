"""Helpers of the tests of Alembic revisions: move a database to a revision (up or down) on a
connection, list a table's columns, and put an account with a share link in place as a release
of that revision would have written them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from alembic import command
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncConnection

from holder_api.compose.migrations import REVISION_FOLDERS
from wallet.db import _alembic_config


def to(revision: str, down: bool = False) -> Callable[[Connection], None]:
    """For ``conn.run_sync``: upgrade (or downgrade) to ``revision``."""
    def run(conn: Connection) -> None:
        config = _alembic_config(conn, REVISION_FOLDERS)
        (command.downgrade if down else command.upgrade)(config, revision)
    return run


def columns(conn: Connection, table: str) -> set[str]:
    return {c["name"] for c in inspect(conn).get_columns(table)}


async def account_with_share_link(conn: AsyncConnection, now: datetime, *,
                                  token_epoch: int = 0) -> None:
    """Account ``L1`` and its share link ``S1``, in the columns every revision since 0004 has."""
    await conn.execute(text(
        "INSERT INTO learners (id, username_hash, created_at, wrapped_keys, inbox_public,"
        " token_epoch) VALUES ('L1', :h, :now, '{}', :pub, :epoch)"),
        {"h": "h" * 64, "now": now, "pub": b"\0" * 32, "epoch": token_epoch})
    await conn.execute(text(
        "INSERT INTO share_links (id, learner_id, lookup_hash, created_at, expires_at,"
        " max_views, views, revoked, sealed) VALUES ('S1', 'L1', :t, :now, :later, 3, 0,"
        " false, :sealed)"),
        {"t": "s" * 64, "now": now, "later": now + timedelta(hours=1), "sealed": b"sealed"})
