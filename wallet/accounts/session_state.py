"""The per-request revocation check: is this session still alive for this learner?

It runs on every authenticated request, so its cost matters (bench/bench_api.py). On PostgreSQL
it is one asyncpg round trip. On the embedded SQLite default, aiosqlite's thread hop costs more
than the query itself (~0.5 ms vs ~20 µs), so a read-only stdlib connection answers in the event
loop: WAL mode lets it read while writers write, and the query touches two primary-key indexes.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncEngine

from wallet.accounts.models import STORE_UNAVAILABLE, learners, revoked_sessions
from wallet.db import reading
from wallet.errors import Unavailable

__all__ = ["SessionState", "session_state_for"]

_SQL = ("SELECT token_epoch, EXISTS (SELECT 1 FROM revoked_sessions WHERE session_id = ?) "
        "FROM learners WHERE id = ?")


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


def session_state_for(engine: AsyncEngine) -> SessionState:
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return _SqliteState(str(url.database))
    return _AsyncState(engine)
