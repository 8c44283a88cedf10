"""The schema revisions of every package, run as the one Alembic chain they form, and what this
release says about the schemas of other releases (docs/operations.md, "Upgrades").

A replica of a release runs against the schema its own revisions make. During a rolling upgrade
a replica of the earlier release also runs against the newer schema, and a replica restarted
from the earlier release's image meets it at start. Whether that is safe is for the newer
release to say, since only it knows what it changed: each release records, in the migration's
own transaction, the oldest revision whose releases may serve against its schema
(:data:`RUNS_BESIDE`, the ``schema_floor`` row of ``deployment_record``; it only ever moves
up). A release that finds the database at a revision it does not know starts only if that floor
is one of its own revisions, without migrating anything; otherwise it refuses to start
(:class:`~holder_api.settings.SettingsError`: exit status 2, one line) instead of serving
data whose meaning changed under it. Releases before this one do not read the floor: they stop
at Alembic's "Can't locate revision" (a traceback, exit status 1).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from sqlalchemy import delete, func, insert, inspect, select
from sqlalchemy.engine import URL, Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import consent
import sharing
from holder_api.settings import SettingsError
from wallet.accounts.models import deployment_record
from wallet.db import failing_as, known_revisions, migrate
from wallet.errors import Unavailable

__all__ = ["REVISION_FOLDERS", "RUNS_BESIDE", "SCHEMA_FLOOR", "ahead_check", "database_named",
           "has_schema", "require_schema", "run_migrations", "schema_check", "schema_heads"]

log = logging.getLogger("satchel")


class _ContextLines(logging.Filter):
    """Alembic's "Context impl …" and "Will assume … DDL" lines, held back: it says them for
    every migration context configured, and a start configures several (its probe for a schema,
    the migration's probe for unknown revisions, the upgrade; every readiness probe), none
    naming the database, and on SQLite "non-transactional" where ``wallet.db.migrate`` holds
    one transaction. :func:`run_migrations` says those facts once instead, the database named."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str)
                    and record.msg.startswith(("Context impl ", "Will assume ")))


_CONTEXT_LINES = _ContextLines()
logging.getLogger("alembic.runtime.migration").addFilter(_CONTEXT_LINES)  # once: a set


def database_named(url: URL) -> str:
    """A database as logs and messages name it: the SQLite file, or PostgreSQL's
    ``host:port/name`` — never the URL, which may carry a password."""
    if url.get_backend_name() == "sqlite":
        return str(url.database or ":memory:")
    return f"{url.host}:{url.port or 5432}/{url.database}"

#: each package keeps its revisions next to its tables (wallet's are found by wallet.db itself)
REVISION_FOLDERS = (Path(consent.__file__).parent / "migrations",
                    Path(sharing.__file__).parent / "migrations")

#: The oldest revision whose releases may serve against this release's schema (and beside its
#: replicas). A release whose revisions only add what earlier ones ignore keeps it; one that
#: changes what an earlier release would do with the data raises it to its own newest revision.
#: 0011 (the erasure mark, ``learners.erasing_since``): a release before it would unlock an
#: account being erased (docs/operations.md, "Upgrades").
RUNS_BESIDE = "0011_learner_erasure"
#: its row in ``deployment_record``
SCHEMA_FLOOR = "schema_floor"


def _floor(connection: Connection) -> str | None:
    if not inspect(connection).has_table(deployment_record.name):
        return None  # an unknown revision without the table: no release that records a floor
    return connection.execute(select(deployment_record.c.value).where(
        deployment_record.c.name == SCHEMA_FLOOR)).scalar_one_or_none()


class _Floor:
    """:class:`wallet.db.SchemaGuard`: the floor read when the schema is ahead, written after
    an upgrade."""

    def ahead(self, connection: Connection, unknown: Sequence[str],
              known: Sequence[str]) -> None:
        floor = _floor(connection)
        if floor is not None and floor in known:
            log.warning("the database schema is at a newer release's revision (%s); that "
                        "release lets this one run beside it from %s on: nothing migrated",
                        ", ".join(unknown), floor)
            return
        needs = f", and it needs a release from {floor} on" if floor else ""
        raise SettingsError(
            f"the database schema is at revision {', '.join(unknown)}, newer than this release "
            f"knows (its newest is {known[-1]}){needs}: start the newer release instead "
            "(docs/operations.md, \"Upgrades\")")

    def upgraded(self, connection: Connection, known: Sequence[str]) -> None:
        floor = _floor(connection)
        if floor is not None and (floor not in known
                                  or known.index(floor) >= known.index(RUNS_BESIDE)):
            return  # as high already, or a newer release's floor (the schema downgraded since)
        connection.execute(delete(deployment_record).where(
            deployment_record.c.name == SCHEMA_FLOOR))
        connection.execute(insert(deployment_record).values(
            name=SCHEMA_FLOOR, value=RUNS_BESIDE, recorded_at=func.current_timestamp()))


def ahead_check(connection: Connection, unknown: Sequence[str], known: Sequence[str]) -> None:
    """A database at ``unknown`` revisions (a newer release's): :class:`SettingsError` unless
    that release lets this one run beside it, as a start finds it before migrating."""
    _Floor().ahead(connection, unknown, known)


def schema_check(engine: AsyncEngine) -> Callable[[], Awaitable[None]]:
    """The ``schema`` readiness check of a running replica: :class:`Unavailable` once a newer
    release that does not let this one run beside it has migrated the database (its floor is
    not one of this release's revisions), so that during a rolling upgrade the balancer stops
    sending this replica requests as soon as the newer release's schema is in place. One short
    read per probe."""
    known = known_revisions(REVISION_FOLDERS)

    def beside(connection: Connection) -> bool:
        current = MigrationContext.configure(connection).get_current_heads()
        return all(r in known for r in current) or _floor(connection) in known

    async def check() -> None:
        with failing_as("database unreachable"):
            async with engine.connect() as conn:
                fine = await conn.run_sync(beside)
        if not fine:
            raise Unavailable("a newer release that this one may not run beside has migrated "
                              "the database")

    return check


async def run_migrations(engine: AsyncEngine) -> None:
    """Bring the whole schema to the newest revision (idempotent, safe with concurrent
    replicas); a schema a newer release migrated is left as it is, and this release runs
    against it only if that release allows it (:class:`SettingsError` otherwise)."""
    before = await schema_heads(engine)
    await migrate(engine, folders=REVISION_FOLDERS, guard=_Floor())
    # both backends: every revision of one call in one transaction (wallet.db.migrate)
    log.info("database schema up to date", extra={
        "database": database_named(engine.url), "dialect": engine.dialect.name,
        "ddl": "one transaction", "revision_from": before,
        "revision_to": await schema_heads(engine)})


async def schema_heads(engine: AsyncEngine) -> list[str]:
    """The revisions the database's schema is at (none: no schema; a SQLite file that does not
    exist has none, and is not made by asking)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and not await asyncio.to_thread(
            Path(database).is_file):
        return []

    def heads(connection: Connection) -> list[str]:
        return sorted(MigrationContext.configure(connection).get_current_heads())

    with failing_as("database unreachable"):
        async with engine.connect() as conn:
            return await conn.run_sync(heads)


async def has_schema(engine: AsyncEngine) -> bool:
    """Whether the database holds any revision of Satchel's schema."""
    return bool(await schema_heads(engine))


async def require_schema(engine: AsyncEngine) -> None:
    """For the operator commands, which migrate nothing and create nothing (`satchel migrate`
    is the one that migrates): :class:`SettingsError` unless the database holds this release's
    newest schema, or a newer release's that lets this one run beside it (as at a start). A
    SQLite file that does not exist is not made; an empty database is not migrated (a wrong
    ``SATCHEL_DATABASE_URL`` would otherwise become a deployment's database)."""
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and not await asyncio.to_thread(
            Path(database).is_file):
        raise _no_schema()
    known = known_revisions(REVISION_FOLDERS)

    def check(connection: Connection) -> None:
        current = MigrationContext.configure(connection).get_current_heads()
        unknown = [r for r in current if r not in known]
        if unknown:
            _Floor().ahead(connection, unknown, known)
        elif not current:
            raise _no_schema()
        elif list(current) != known[-1:]:
            raise SettingsError(
                f"the database schema is at revision {', '.join(current)}, older than this "
                f"release's ({known[-1]}): run `satchel migrate` first (an operator command "
                "migrates nothing)")

    with failing_as("database unreachable"):
        async with engine.connect() as conn:
            await conn.run_sync(check)


def _no_schema() -> SettingsError:
    return SettingsError("SATCHEL_DATABASE_URL names a database without Satchel's schema: is it "
                         "the deployment's accounts database? Nothing was changed (an operator "
                         "command migrates nothing)")
