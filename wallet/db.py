"""The relational store (SQLAlchemy 2, async): accounts, sessions, rate limits and the ledger.

SQLite via aiosqlite is the embedded default; PostgreSQL via asyncpg at scale. Schema changes go
through Alembic only: ``wallet/migrations`` holds the environment and wallet's own revisions, and
the caller names the folders of the other packages' revisions (one chain); replicas starting
together serialise their migrations on a PostgreSQL advisory lock, and
:func:`serialised` gives any feature a read-then-write transaction that is exclusive per key.
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry

from wallet.errors import BadInput, Contended, Unavailable

#: How long a ``serialised`` transaction waits for its key on PostgreSQL.
LOCK_WAIT_SECONDS = 5.0
_LOCK_NOT_AVAILABLE = "55P03"  # lock_not_available: lock_timeout ran out
_NOT_IN_REPERTOIRE = "22021"  # character_not_in_repertoire: text with a NUL


class SchemaAhead(Exception):
    """The database's schema is at revisions this code does not know (a newer release's)."""

    def __init__(self, revisions: Sequence[str]) -> None:
        super().__init__(", ".join(revisions))
        self.revisions = tuple(revisions)


__all__ = ["LOCK_WAIT_SECONDS", "Contended", "MeasuredPool", "SchemaAhead", "SchemaGuard",
           "create_engine", "failing_as", "is_sqlite", "known_revisions", "lock_id",
           "migrate", "ping", "reading", "scrub", "scrub_sqlite_file", "serialised", "writing"]

_MIGRATION_LOCK = 0x5A7C4E1  # advisory lock id: "satchel migrations"


class MeasuredPool(AsyncAdaptedQueuePool):
    """The PostgreSQL pool, counting the checkouts that found every connection busy.

    A wait means the replica runs more requests at once than it has connections (admission
    control should keep that rare); ``waits`` / ``wait_seconds`` feed ``/metrics``.
    """

    waits = 0
    wait_seconds = 0.0

    def _do_get(self) -> ConnectionPoolEntry:
        if self.checkedout() < self.size() + max(self._max_overflow, 0):
            return super()._do_get()
        self.waits += 1  # all in use: this checkout waits for a return (or times out)
        start = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            self.wait_seconds += time.perf_counter() - start


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def create_engine(url: str, *, application_name: str | None = None) -> AsyncEngine:
    """An async engine with the pragmas Satchel relies on (WAL, foreign keys, secure_delete).
    ``application_name``: what its PostgreSQL sessions are called in ``pg_stat_activity`` (so
    that `satchel move-keyring` can tell its own sessions from a replica's)."""
    if is_sqlite(url):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA secure_delete=ON")  # erased rows are overwritten, not left in pages
            # FULL: a ledger entry must survive power loss once the disclosure it guards was sent
            cur.execute("PRAGMA synchronous=FULL")
            cur.close()

        return engine
    connect_args = ({"server_settings": {"application_name": application_name}}
                    if application_name else {})
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True,
                               poolclass=MeasuredPool, connect_args=connect_args)


def _alembic_config(connection: Connection | None, folders: Sequence[Path]) -> Any:
    from alembic.config import Config

    cfg = Config()
    here = Path(__file__).parent / "migrations"
    cfg.set_main_option("script_location", str(here))
    cfg.set_main_option("version_locations",
                        " ".join(str(p) for p in (here / "versions", *folders)))
    cfg.set_main_option("path_separator", "space")
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


class SchemaGuard(Protocol):
    """What :func:`migrate` asks about revisions beyond this code's own (a newer release's)."""

    def ahead(self, connection: Connection, unknown: Sequence[str],
              known: Sequence[str]) -> None:
        """The database is at ``unknown`` revisions, which this code does not have (``known``:
        its own, oldest first): raise to refuse it, return to run against it as it is (nothing
        is migrated)."""

    def upgraded(self, connection: Connection, known: Sequence[str]) -> None:
        """Called in the migration's transaction once the schema is at this code's newest."""


def known_revisions(folders: Sequence[Path] = ()) -> list[str]:
    """This code's revisions (wallet's and ``folders``'), oldest first."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(None, folders))
    return [r.revision for r in script.walk_revisions()][::-1]


async def migrate(engine: AsyncEngine, *, folders: Sequence[Path] = (),
                  guard: SchemaGuard | None = None) -> None:
    """Bring the schema to the newest revision (idempotent, safe with concurrent replicas).

    ``folders`` hold the revisions of the packages built on wallet; theirs and wallet's form one
    chain, so every folder the chain passes through must be named. A database at a revision
    this code does not know (a newer release migrated it) is not touched: ``guard.ahead``
    decides whether this code may run against it (without a guard: :class:`SchemaAhead`), where
    Alembic would stop with a traceback ("Can't locate revision").
    """
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    known = known_revisions(folders)

    def upgrade(connection: Connection) -> None:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        cfg = _alembic_config(connection, folders)
        current = MigrationContext.configure(connection).get_current_heads()
        unknown = [r for r in current if r not in known]
        if unknown:
            if guard is None:
                raise SchemaAhead(unknown)
            guard.ahead(connection, unknown, known)
            return
        command.upgrade(cfg, "heads")
        if guard is not None:
            guard.upgraded(connection, known)

    if engine.dialect.name != "sqlite":
        async with engine.begin() as conn:  # PostgreSQL's DDL is transactional as it is
            await conn.run_sync(upgrade)
        return
    # pysqlite opens no transaction before DDL, so each statement would commit on its own and a
    # process killed between revisions would leave tables with no revision recorded, a database
    # no later start can migrate. One explicit transaction holds the whole call (SQLite's DDL is
    # transactional); BEGIN IMMEDIATE also keeps a second process's start out until it is done.
    async with _sqlite_immediate(engine) as conn:
        await conn.run_sync(upgrade)


def lock_id(key: str) -> int:
    """A signed 64-bit advisory lock id for ``key`` (a collision only serialises two keys)."""
    digest = hashlib.blake2b(key.encode("utf-8"), digest_size=8, person=b"satchel-lock").digest()
    return int.from_bytes(digest, "big", signed=True)


@asynccontextmanager
async def serialised(engine: AsyncEngine, key: str, *,
                     wait: float | None = None) -> AsyncIterator[AsyncConnection]:
    """One transaction that no other ``serialised`` transaction on the same ``key`` overlaps.

    For count-then-insert caps and anything that must not interleave with them (an erasure):
    READ COMMITTED on PostgreSQL and SQLite's deferred ``BEGIN`` both let two transactions read
    the same count before either writes. So on PostgreSQL the transaction first takes a
    transaction-scoped advisory lock on a hash of ``key`` (other keys run in parallel; the lock
    goes with the commit or rollback), and on SQLite it starts with ``BEGIN IMMEDIATE``, which
    takes the database's one write lock before the first read (waiting up to the busy timeout).
    Commits on a clean exit, rolls back on any exception. A PostgreSQL caller that waited
    ``wait`` seconds (default :data:`LOCK_WAIT_SECONDS`; ``math.inf``: no limit) for the lock
    gets :class:`Contended` (retry shortly).
    """
    if engine.dialect.name != "sqlite":
        wait = LOCK_WAIT_SECONDS if wait is None else wait
        async with engine.begin() as conn:
            # a waiter holds a pooled connection: bound the wait, so a flood on one key cannot
            # take the whole pool (lock_timeout covers advisory locks; it lasts the transaction)
            timeout = "0" if wait == float("inf") else f"{max(1, int(wait * 1000))}ms"  # 0: none
            await conn.execute(select(func.set_config("lock_timeout", timeout, True)))
            try:
                await conn.execute(select(func.pg_advisory_xact_lock(lock_id(key))))
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) == _LOCK_NOT_AVAILABLE:
                    raise Contended("busy: try again shortly", retry_after=1) from exc
                raise
            yield conn
        return
    async with _sqlite_immediate(engine) as conn:
        yield conn


@asynccontextmanager
async def _sqlite_immediate(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One SQLite transaction begun with ``BEGIN IMMEDIATE`` (the write lock taken before the
    first read); committed on a clean exit, rolled back on any exception."""
    async with engine.connect() as conn:
        # pysqlite would open its own deferred transaction, and only before the first write:
        # hand transaction control to us for this checkout (reset when it goes back to the pool)
        raw = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await raw.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield raw
        except BaseException:
            try:
                await raw.exec_driver_sql("ROLLBACK")
            except SQLAlchemyError:
                pass  # the connection is reset (and rolled back) on its way back to the pool
            raise
        await raw.exec_driver_sql("COMMIT")


@contextmanager
def failing_as(unavailable: str, *,
               passing: tuple[type[SQLAlchemyError], ...] = ()) -> Iterator[None]:
    """A database failure inside the block becomes :class:`Unavailable` (503) saying
    ``unavailable``; the driver's own message (it may name the URL or a value) stays in
    ``__cause__``, out of the problem document. ``passing`` errors (an ``IntegrityError`` the
    caller turns into a conflict) go through unchanged, as does everything that is not a
    database failure (a ``Conflict`` or ``RateLimited`` raised inside the transaction). Text
    PostgreSQL refuses to hold (a NUL character) is :class:`BadInput`: the edge refuses NUL in
    ids and queries first (the HTTP layer), this keeps any text that got past it from reading as
    an outage."""
    try:
        yield
    except passing:
        raise
    except SQLAlchemyError as exc:
        if getattr(getattr(exc, "orig", None), "sqlstate", None) == _NOT_IN_REPERTOIRE:
            # text PostgreSQL cannot store (a NUL): the client's input, not an outage
            raise BadInput("text with a NUL character cannot be stored") from exc
        raise Unavailable(unavailable) from exc


@asynccontextmanager
async def reading(engine: AsyncEngine, unavailable: str) -> AsyncIterator[AsyncConnection]:
    """A connection for reads; a database failure is :func:`failing_as` ``unavailable``."""
    with failing_as(unavailable):
        async with engine.connect() as conn:
            yield conn


@asynccontextmanager
async def writing(engine: AsyncEngine, unavailable: str, *,
                  passing: tuple[type[SQLAlchemyError], ...] = ()
                  ) -> AsyncIterator[AsyncConnection]:
    """One transaction (committed on a clean exit, else rolled back); a database failure, the
    commit's included, is :func:`failing_as` ``unavailable``."""
    with failing_as(unavailable, passing=passing):
        async with engine.begin() as conn:
            yield conn


async def ping(engine: AsyncEngine) -> None:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as exc:
        raise Unavailable("database unreachable") from exc


async def scrub(engine: AsyncEngine, *, vacuum: bool = True) -> None:
    """After an erasure on SQLite: move the WAL into the database and truncate it, then VACUUM.

    ``secure_delete`` already overwrote the deleted rows in the pages it touched; the checkpoint
    makes sure no copy of the old pages lingers in ``-wal``, VACUUM rebuilds the file without free
    pages. Best effort (a busy reader only delays the truncation); a no-op on PostgreSQL, where
    dead tuples go with autovacuum (its WAL and backups are covered by crypto-shredding).
    """
    if engine.dialect.name != "sqlite":
        return
    try:
        async with engine.connect() as conn:
            auto = await conn.execution_options(isolation_level="AUTOCOMMIT")
            await auto.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            if vacuum:
                await auto.execute(text("VACUUM"))
                await auto.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
    except (SQLAlchemyError, OSError):
        return


#: How long the vault's checkpoint and VACUUM may take before the child is stopped.
_SCRUB_SECONDS = 60.0
#: Run in a child process: see :func:`scrub_sqlite_file`.
_SCRUB_CHILD = """
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], timeout=5, isolation_level=None)
try:
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    if sys.argv[2] == "1":
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
finally:
    conn.close()
"""


async def scrub_sqlite_file(uri: str, *, vacuum: bool = True) -> None:
    """:func:`scrub` for a SQLite file another library owns (Askar's ``sqlite://<path>``).

    In a child process, never in this one: Askar links its own copy of SQLite, and two copies
    of SQLite in one process corrupt a database they share — closing one copy's file
    descriptor drops the POSIX locks the other copy holds on the same file
    (https://www.sqlite.org/howtocorrupt.html, section 2.2.1). Erasures under concurrent
    writes left the vault "malformed" that way. Best effort, like :func:`scrub`.
    """
    if not uri.startswith("sqlite://"):
        return
    path = uri.removeprefix("sqlite://").split("?", 1)[0]
    if not path or path == ":memory:" or not await asyncio.to_thread(Path(path).exists):
        return
    try:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-c", _SCRUB_CHILD, path, "1" if vacuum else "0",
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL)
    except OSError:
        return
    try:
        await asyncio.wait_for(child.wait(), _SCRUB_SECONDS)
    except TimeoutError:
        child.kill()
        await child.wait()
