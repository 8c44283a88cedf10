"""Alembic revision 0003_inbox: the whole chain migrates (both backends), the inbox tables behave
as :mod:`wallet.receive.inbox_store` expects, erasing a learner row cascades, downgrade works."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, delete, inspect

from holder_api.compose.migrations import run_migrations
from tests.support.backends import Backend
from wallet.accounts.models import learners
from wallet.db import create_engine
from wallet.receive.inbox_store import InboxStore

REVISION = Path(__file__).parents[2] / "wallet" / "migrations" / "versions" / "0003_inbox.py"


async def test_inbox_revision(backend: Backend) -> None:
    spec = importlib.util.spec_from_file_location("wallet_rev_0003", REVISION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (module.revision, module.down_revision) == ("0003_inbox", "0002_consent_ledger")
    engine = create_engine(backend.database_url)
    try:
        await run_migrations(engine)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert {"inbox_links", "inbox_items", "learners", "ledger_entries"} <= tables
        now = datetime.now(UTC)
        async with engine.begin() as conn:
            await conn.execute(learners.insert().values(
                id="L1", username_hash="h" * 64, created_at=now, wrapped_keys="{}",
                inbox_public=b"\0" * 32, token_epoch=0))
        store = InboxStore(engine, max_items=2)
        async with engine.begin() as conn:  # as the service does: in its ledger entry's commit
            await store.add_link_in(conn, "K1", "L1", "t" * 64, now, b"sealed")
        assert (await store.link_by_hash("t" * 64)) is not None
        await store.add_item("I1", "L1", "K1", now, b"sealed")
        assert [r.id for r in await store.items("L1")] == ["I1"]
        assert await store.item("L2", "I1") is None  # scoped by learner
        async with engine.begin() as conn:  # erasing the learner takes links and items along
            await conn.execute(delete(learners).where(learners.c.id == "L1"))
        assert await store.link_by_hash("t" * 64) is None and await store.items("L1") == []

        def down(conn: Connection) -> None:
            with Operations.context(MigrationContext.configure(conn)):
                module.downgrade()

        async with engine.begin() as conn:
            await conn.run_sync(down)
            tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        assert not {"inbox_links", "inbox_items"} & tables
    finally:
        await engine.dispose()
