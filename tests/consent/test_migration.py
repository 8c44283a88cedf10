"""The Alembic revision creates exactly the schema of ``consent.models`` (both backends),
``downgrade`` removes it, and the ledger works on the migrated schema."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, inspect
from sqlalchemy.ext.asyncio import create_async_engine

from consent.events import ConsentEvent, EventKind
from consent.ledger import Ledger
from consent.models import create_all, metadata
from tests.support.ledger import NaclSealer

REVISION = Path(__file__).parents[2] / "consent" / "migrations" / "0002_consent_ledger.py"


def load_revision() -> ModuleType:
    spec = importlib.util.spec_from_file_location("consent_rev_0002", REVISION)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def schema(conn: Connection) -> dict[str, Any]:
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for table in ("ledger_entries", "ledger_heads"):
        if not insp.has_table(table):
            continue
        out[table] = {
            "columns": {c["name"]: (str(c["type"]).split("(")[0], c["nullable"])
                        for c in insp.get_columns(table)},
            "pk": insp.get_pk_constraint(table)["constrained_columns"],
            "unique": sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]))
                              for i in insp.get_indexes(table) if not i.get("unique")),
        }
    return out


def run(module: ModuleType, step: str):  # type: ignore[no-untyped-def]
    def go(conn: Connection) -> None:
        with Operations.context(MigrationContext.configure(conn)):
            getattr(module, step)()
    return go


async def test_revision_matches_models(backend, signing_key) -> None:
    module = load_revision()
    assert module.revision == "0002_consent_ledger"
    assert module.down_revision == "0001_accounts"
    engine = create_async_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run(module, "upgrade"))
            by_migration = await conn.run_sync(schema)
            await conn.run_sync(run(module, "downgrade"))
            assert await conn.run_sync(schema) == {}
        await create_all(engine)
        async with engine.begin() as conn:
            by_models = await conn.run_sync(schema)
            await conn.run_sync(metadata.drop_all)
        assert set(by_migration) == {"ledger_entries", "ledger_heads"}
        assert by_migration == by_models
        # the ledger runs on the migrated schema
        async with engine.begin() as conn:
            await conn.run_sync(run(module, "upgrade"))
        ledger, sealer = Ledger(engine, signing_key), NaclSealer()
        await ledger.append("m", sealer, ConsentEvent(kind=EventKind.CONSENT_GIVEN))
        assert (await ledger.verify("m")).valid
    finally:
        await engine.dispose()
