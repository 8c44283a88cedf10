"""What a start says about the database schema: each fact once, the database named, never a
password. Alembic said "Context impl …" and "Will assume … DDL" once for every migration
context configured: the start's probe for a schema, the migration's own probe for unknown
revisions and the upgrade itself (so twice on a first start, three times on a restart), and
twice more at every ``/readyz``; none of them named the database, and on SQLite "non-transactional"
was not true (``wallet.db.migrate`` holds one transaction)."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy.engine import make_url

from holder_api.compose.migrations import REVISION_FOLDERS, has_schema, run_migrations, schema_check
from holder_api.logs import JsonFormatter
from tests.support.backends import Backend
from wallet.db import create_engine, known_revisions

_PASSWORD = "pw-never-in-a-log-7f3a"


async def test_a_start_says_each_schema_fact_once_naming_the_database(
        backend: Backend, caplog: pytest.LogCaptureFixture) -> None:
    url = make_url(backend.database_url)
    if backend.kind == "postgres":  # trust authentication: any password is accepted
        url = url.set(password=_PASSWORD)
    engine = create_engine(url.render_as_string(hide_password=False))
    caplog.set_level(logging.INFO)
    newest = known_revisions(REVISION_FOLDERS)[-1]
    try:
        for _ in range(2):  # a first start, then a restart: as open_stores asks
            await has_schema(engine)
            await run_migrations(engine)
        await schema_check(engine)()  # a readiness probe
    finally:
        await engine.dispose()
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if m.startswith(("Context impl", "Will assume"))], messages
    said = [r for r in caplog.records if r.name == "satchel"
            and r.getMessage() == "database schema up to date"]
    assert len(said) == 2, messages
    first, again = said
    database = str(url.database)
    assert getattr(first, "database", None) == (
        database if backend.kind == "sqlite" else f"{url.host}:{url.port}/{database}")
    assert (getattr(first, "dialect", None), getattr(first, "ddl", None)) == (
        "sqlite" if backend.kind == "sqlite" else "postgresql", "one transaction")
    assert (getattr(first, "revision_from", "?"), getattr(first, "revision_to", None)) == (
        [], [newest])
    assert (getattr(again, "revision_from", "?"), getattr(again, "revision_to", None)) == (
        [newest], [newest])
    formatter = JsonFormatter()
    for record in caplog.records:
        assert _PASSWORD not in formatter.format(record)
