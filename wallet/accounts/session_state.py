"""The per-request revocation check: is this session still alive for this learner?

It runs on every authenticated request, so its cost matters (bench/bench_api.py,
bench/scale.py, bench/list_cost.py). On PostgreSQL it is one prepared statement on a few asyncpg
connections of its own: through SQLAlchemy the same query cost ~1.3 ms of CPU (a pre-pinged
checkout, a transaction begun and rolled back, statement caching, result processing) against
~0.3 ms, a third of what a list of 20 credentials costs. The connections are not an asyncpg
``Pool``: taking and giving back a pooled connection cost more than the query itself (callgrind,
one check after another: 317,000 instructions a check through ``Pool.fetchrow``, 124,000 with
the connection's own prepared statement — the pool shields each release in a task of its own,
re-arms an idle timer, wraps the connection in a proxy and resets it), and nothing a pool offers
is needed here: the connections only ever run that one read outside a transaction, so there is
no session state to undo, and a connection that failed or was interrupted is closed, not
given back.
On the embedded SQLite default, aiosqlite's thread hop costs more than the query itself
(~0.5 ms vs ~20 µs), so a read-only stdlib connection answers in the event loop: WAL mode lets
it read while writers write, and the query touches two primary-key indexes.
Other URLs (a PostgreSQL URL with query options, which asyncpg would read differently) keep the
SQLAlchemy path.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from typing import Protocol

import asyncpg
from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from wallet.accounts.models import STORE_UNAVAILABLE, learners, revoked_sessions
from wallet.db import reading
from wallet.errors import Unavailable

__all__ = ["SessionState", "session_state_for"]

_SQL = ("SELECT token_epoch, EXISTS (SELECT 1 FROM revoked_sessions WHERE session_id = ?) "
        "FROM learners WHERE id = ?")
_PG_SQL = _SQL.replace("= ?)", "= $1)").replace("id = ?", "id = $2")
#: Connections of the PostgreSQL check's own pool (opened as needed): one round trip each, so a
#: few serve a replica's 16 requests in flight.
PG_POOL_SIZE = 4
_PG_TIMEOUT = 10.0  # seconds a check may take, waiting for a connection included
#: Seconds a connection may sit unused before it is reopened rather than trusted (what asyncpg's
#: pool did): a proxy, firewall or server timeout may have dropped it without a word.
PG_IDLE_SECONDS = 300.0
_now = time.monotonic


def _dropped(exc: Exception, conn: asyncpg.Connection) -> bool:
    """Whether a query failed because its connection was gone (worth one retry on a new one)."""
    return isinstance(exc, asyncpg.ConnectionDoesNotExistError) or conn.is_closed()


class SessionState(Protocol):
    async def __call__(self, learner_id: str, session_id: str) -> tuple[int, bool] | None:
        """``(token_epoch, revoked)`` of the learner, or ``None`` when there is no such learner."""
        ...

    def close(self) -> None: ...


class _AsyncState:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def __call__(self, learner_id: str, session_id: str) -> tuple[int, bool] | None:
        async with reading(self._engine, STORE_UNAVAILABLE) as conn:
            row = (await conn.execute(
                select(learners.c.token_epoch,
                       exists().where(revoked_sessions.c.session_id == session_id)
                       .label("revoked"))
                .where(learners.c.id == learner_id))).first()
        return None if row is None else (int(row[0]), bool(row[1]))

    def close(self) -> None:
        return None


class _SqliteState:
    def __init__(self, path: str) -> None:
        self._conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                                     isolation_level=None)
        self._conn.execute("PRAGMA query_only=ON")

    async def __call__(self, learner_id: str, session_id: str) -> tuple[int, bool] | None:
        try:
            row = self._conn.execute(_SQL, (session_id, learner_id)).fetchone()
        except sqlite3.Error as exc:
            raise Unavailable(STORE_UNAVAILABLE) from exc
        return None if row is None else (int(row[0]), bool(row[1]))

    def close(self) -> None:
        self._conn.close()


class _Slot:
    """An open connection with the check prepared on it, and when it last answered."""

    __slots__ = ("conn", "stmt", "used")

    def __init__(self, conn: asyncpg.Connection, stmt: asyncpg.PreparedStatement) -> None:
        self.conn, self.stmt, self.used = conn, stmt, _now()


class _PgState:
    def __init__(self, dsn: str) -> None:
        self._dsn = dsn
        # each place: a slot, or None (a connection to be opened); last in, first out, so a
        # quiet replica keeps using the same connection
        self._slots: asyncio.LifoQueue[_Slot | None] = asyncio.LifoQueue()
        for _ in range(PG_POOL_SIZE):
            self._slots.put_nowait(None)
        self._closed = False

    async def _open(self) -> _Slot:
        conn = await asyncpg.connect(self._dsn)  # under the check's deadline
        try:
            return _Slot(conn, await conn.prepare(_PG_SQL))
        except BaseException:
            conn.terminate()
            raise

    async def __call__(self, learner_id: str, session_id: str) -> tuple[int, bool] | None:
        if self._closed:
            raise Unavailable("account store unavailable")
        try:
            # one deadline for all of it: a lock held on learners (a migration) blocks the
            # prepare or the query, and a check stuck there would hold its place for ever
            async with asyncio.timeout(_PG_TIMEOUT):
                row = await self._check(learner_id, session_id)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise Unavailable("account store unavailable") from exc
        return None if row is None else (int(row[0]), bool(row[1]))

    async def _check(self, learner_id: str, session_id: str) -> asyncpg.Record | None:
        slot = await self._slots.get()
        kept = None
        try:
            if self._closed:  # closed while this check waited for a place
                raise Unavailable("account store unavailable")
            reused = (slot is not None and not slot.conn.is_closed()
                      and _now() - slot.used <= PG_IDLE_SECONDS)
            if slot is None or not reused:
                if slot is not None:  # idle too long (a proxy or firewall may have dropped it)
                    slot.conn.terminate()
                slot = await self._open()
            try:
                row = await slot.stmt.fetchrow(session_id, learner_id)
            except (asyncpg.InvalidCachedStatementError, asyncpg.OutdatedSchemaCacheError):
                if not reused:
                    raise
                # the schema changed under the prepared statement (asyncpg's own fetchrow
                # would retry, a PreparedStatement does not): prepare it again, once
                slot.stmt = await slot.conn.prepare(_PG_SQL)
                row = await slot.stmt.fetchrow(session_id, learner_id)
            except (asyncpg.ConnectionDoesNotExistError, asyncpg.InterfaceError) as exc:
                if not reused or not _dropped(exc, slot.conn):
                    raise
                slot.conn.terminate()  # the server or the network closed it while idle
                slot = await self._open()
                row = await slot.stmt.fetchrow(session_id, learner_id)
            slot.used = _now()
            kept = slot
            return row
        finally:
            try:
                if kept is None and slot is not None:
                    slot.conn.terminate()  # failed or interrupted mid-query: state unknown
                if self._closed and kept is not None:
                    kept.conn.terminate()
                    kept = None
            finally:  # whatever terminate() did, the place goes back
                self._slots.put_nowait(kept)

    def close(self) -> None:
        self._closed = True  # a check in flight closes its connection when it ends
        while not self._slots.empty():
            slot = self._slots.get_nowait()
            if slot is not None:
                slot.conn.terminate()


def session_state_for(engine: AsyncEngine) -> SessionState:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return _SqliteState(str(url.database))
    if url.drivername == "postgresql+asyncpg" and not url.query:
        return _PgState(url.set(drivername="postgresql").render_as_string(hide_password=False))
    return _AsyncState(engine)
