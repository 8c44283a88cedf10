"""The per-request revocation check fails as ``Unavailable`` (503), never as a driver error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import delete, insert

from tests.pg_wire import counting_proxy
from tests.support.backends import fresh_backend
from wallet.accounts import session_state
from wallet.accounts.models import learners, metadata, revoked_sessions
from wallet.accounts.session_state import PG_POOL_SIZE, session_state_for
from wallet.db import create_engine
from wallet.errors import Unavailable


async def test_an_unreachable_postgresql_is_unavailable() -> None:
    engine = create_engine("postgresql+asyncpg://postgres@127.0.0.1:1/nowhere")  # refused
    state = session_state_for(engine)
    try:
        for _ in range(2):  # the pool failed to open: the next check tries again, same answer
            with pytest.raises(Unavailable):
                await state("a-learner", "a-session")
    finally:
        state.close()
        await engine.dispose()


async def test_a_check_on_postgresql_is_one_statement_and_one_round_trip(tmp_path: Path) -> None:
    """The check runs on every authenticated request (bench/scale.py): one prepared statement,
    and nothing else — in particular not asyncpg's default reset of a pooled connection
    (advisory unlock, CLOSE ALL, UNLISTEN, RESET ALL: four more statements and a round trip
    per request), which this pool's connections never need. Its answers stay current: a
    revocation or an erasure shows at the next check."""
    async with fresh_backend("postgres", tmp_path) as backend:
        async with counting_proxy() as (port, wire):
            url = backend.database_url.replace(":5432/", f":{port}/")
            engine = create_engine(url)
            state = session_state_for(engine)
            try:
                async with engine.begin() as conn:
                    await conn.run_sync(metadata.create_all)
                    await conn.execute(insert(learners).values(
                        id="a-learner", username_hash="h", created_at=datetime.now(UTC),
                        wrapped_keys="{}", inbox_public=b"k"))
                assert await state("a-learner", "a-session") == (0, False)  # the pool opens
                wire.clear()
                db = backend.pg_databases[1]
                for _ in range(5):
                    assert await state("a-learner", "a-session") == (0, False)
                assert (wire.statements[db], wire.round_trips[db]) == (5, 5)
                assert list(wire.texts[db]) == [
                    "SELECT token_epoch, EXISTS (SELECT 1 FROM revoked_sessions WHERE "
                    "session_id = $1) FROM learners WHERE id = $2"]
                async with engine.begin() as conn:  # logout, then erasure: seen at once
                    await conn.execute(insert(revoked_sessions).values(
                        session_id="a-session", learner_id="a-learner",
                        expires_at=datetime.now(UTC)))
                assert await state("a-learner", "a-session") == (0, True)
                async with engine.begin() as conn:
                    await conn.execute(delete(learners))
                assert await state("a-learner", "a-session") is None
            finally:
                state.close()
                await engine.dispose()


async def test_a_check_on_postgresql_starts_no_task_and_keeps_its_connections(
        tmp_path: Path) -> None:
    """A check is the prepared statement on a connection of its own and nothing around it:
    no task per check (asyncpg's pool shields every release in one; bench/list_cost.py counted
    its acquire and release at 190,000 instructions a check, more than the query). Checks
    cancelled mid-flight (a client gone) close their connection and free its place: the checks
    after them still answer, more of them at once than there are connections."""
    async with fresh_backend("postgres", tmp_path) as backend:
        engine = create_engine(backend.database_url)
        state = session_state_for(engine)
        loop = asyncio.get_running_loop()
        started: list[object] = []
        default = loop.get_task_factory()

        def counting(lp: asyncio.AbstractEventLoop, coro: Any, **kw: Any) -> Any:
            started.append(coro)
            return (default(lp, coro, **kw) if default is not None
                    else asyncio.Task(coro, loop=lp, **kw))

        try:
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
                await conn.execute(insert(learners).values(
                    id="a-learner", username_hash="h", created_at=datetime.now(UTC),
                    wrapped_keys="{}", inbox_public=b"k"))
            assert await state("a-learner", "a-session") == (0, False)  # a connection opens
            loop.set_task_factory(counting)
            try:
                for _ in range(5):
                    assert await state("a-learner", "a-session") == (0, False)
            finally:
                loop.set_task_factory(default)
            assert started == []

            cut = [asyncio.create_task(state("a-learner", "a-session"))
                   for _ in range(2 * PG_POOL_SIZE)]
            await asyncio.sleep(0)  # each has taken a place and sent its query, or waits
            for task in cut:
                task.cancel()
            await asyncio.gather(*cut, return_exceptions=True)
            answers = await asyncio.wait_for(asyncio.gather(
                *(state("a-learner", "a-session") for _ in range(2 * PG_POOL_SIZE))), 30)
            assert answers == [(0, False)] * (2 * PG_POOL_SIZE)
        finally:
            state.close()
            await engine.dispose()


async def _with_a_learner(url: str) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(insert(learners).values(
                id="a-learner", username_hash="h", created_at=datetime.now(UTC),
                wrapped_keys="{}", inbox_public=b"k"))
    finally:
        await engine.dispose()


def _raw_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _locked(dsn: str) -> asyncpg.Connection:
    """A connection holding the lock a migration takes on ``learners``, in an open transaction."""
    locker = await asyncpg.connect(dsn)
    await locker.execute("BEGIN; LOCK TABLE learners IN ACCESS EXCLUSIVE MODE")
    return locker


async def test_a_check_blocked_by_a_lock_gives_up_and_frees_its_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A migration's lock on learners blocks the prepare of a new connection: the check's one
    deadline covers it, so it answers Unavailable instead of holding its place for ever."""
    monkeypatch.setattr(session_state, "_PG_TIMEOUT", 0.5)
    async with fresh_backend("postgres", tmp_path) as backend:
        await _with_a_learner(backend.database_url)
        engine = create_engine(backend.database_url)
        state = session_state_for(engine)
        locker = await _locked(_raw_dsn(backend.database_url))
        try:
            for _ in range(PG_POOL_SIZE + 1):  # each gives its place back
                with pytest.raises(Unavailable):
                    await asyncio.wait_for(state("a-learner", "a-session"), 20)
            await locker.execute("ROLLBACK")
            assert await asyncio.wait_for(state("a-learner", "a-session"), 20) == (0, False)
        finally:
            await locker.close()
            state.close()
            await engine.dispose()


async def test_a_check_survives_a_schema_change_under_its_prepared_statement(
        tmp_path: Path) -> None:
    async with fresh_backend("postgres", tmp_path) as backend:
        await _with_a_learner(backend.database_url)
        engine = create_engine(backend.database_url)
        state = session_state_for(engine)
        try:
            assert await state("a-learner", "a-session") == (0, False)  # prepared
            admin = await asyncpg.connect(_raw_dsn(backend.database_url))
            try:  # a returned column changes type: the cached plan is invalid
                await admin.execute("ALTER TABLE learners ALTER COLUMN token_epoch TYPE bigint")
            finally:
                await admin.close()
            assert await state("a-learner", "a-session") == (0, False)
        finally:
            state.close()
            await engine.dispose()


class _Connects:
    """asyncpg.connect, counted: the connections to a test's database, not those the test
    support's background thread opens to the maintenance database to drop earlier tests'
    databases (tests/support/backends.py), which made the count flaky."""

    def __init__(self) -> None:
        self.opened: list[asyncpg.Connection] = []
        self._real = asyncpg.connect

    async def __call__(self, *args: Any, **kwargs: Any) -> asyncpg.Connection:
        conn = await self._real(*args, **kwargs)
        dsn = str(args[0] if args else kwargs.get("dsn", ""))
        if not dsn.rstrip("/").endswith("/postgres"):
            self.opened.append(conn)
        return conn


async def test_an_idle_connection_is_retired_and_a_dropped_one_replaced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A connection idle longer than PG_IDLE_SECONDS is reopened (a proxy or firewall may have
    dropped it); one found closed by the query is replaced once."""
    clock = [1000.0]
    monkeypatch.setattr(session_state, "_now", lambda: clock[0])
    async with fresh_backend("postgres", tmp_path) as backend:
        await _with_a_learner(backend.database_url)
        connects = _Connects()  # the check's own connections, from here on
        monkeypatch.setattr(asyncpg, "connect", connects)
        engine = create_engine(backend.database_url)
        state = session_state_for(engine)
        try:
            assert await state("a-learner", "a-session") == (0, False)
            clock[0] += 10
            assert await state("a-learner", "a-session") == (0, False)
            assert len(connects.opened) == 1  # kept while in use
            clock[0] += 301
            assert await state("a-learner", "a-session") == (0, False)
            assert len(connects.opened) == 2
            assert connects.opened[0].is_closed()

            real_fetchrow = asyncpg.prepared_stmt.PreparedStatement.fetchrow
            calls = [0]

            async def dropped_once(self: Any, *args: Any, **kwargs: Any) -> Any:
                calls[0] += 1
                if calls[0] == 1:
                    raise asyncpg.ConnectionDoesNotExistError("connection was closed")
                return await real_fetchrow(self, *args, **kwargs)

            monkeypatch.setattr(asyncpg.prepared_stmt.PreparedStatement, "fetchrow",
                                dropped_once)
            assert await state("a-learner", "a-session") == (0, False)
            assert len(connects.opened) == 3
            assert connects.opened[1].is_closed()
        finally:
            state.close()
            await engine.dispose()


async def test_a_check_waiting_for_a_place_stops_when_closed(tmp_path: Path) -> None:
    async with fresh_backend("postgres", tmp_path) as backend:
        await _with_a_learner(backend.database_url)
        dsn = _raw_dsn(backend.database_url)
        engine = create_engine(backend.database_url)
        state = session_state_for(engine)
        locker = await _locked(dsn)
        try:
            stuck = [asyncio.create_task(state("a-learner", "a-session"))
                     for _ in range(PG_POOL_SIZE)]
            # every place taken, blocked on the lock (seen from outside the locking transaction,
            # whose view of pg_stat_activity is a snapshot)
            watcher = await asyncpg.connect(dsn)
            try:
                for _ in range(600):  # polled, at most ~30 s
                    blocked = await watcher.fetchval(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND wait_event_type = 'Lock'")
                    if blocked >= PG_POOL_SIZE:
                        break
                    await asyncio.sleep(0.05)
                assert blocked == PG_POOL_SIZE
            finally:
                await watcher.close()
            waiting = asyncio.create_task(state("a-learner", "a-session"))
            await asyncio.sleep(0)
            state.close()
            await locker.execute("ROLLBACK")
            await asyncio.wait_for(asyncio.gather(*stuck, return_exceptions=True), 20)
            with pytest.raises(Unavailable):
                await asyncio.wait_for(waiting, 20)
        finally:
            await locker.close()
            state.close()
            await engine.dispose()


async def test_a_failing_terminate_does_not_lose_the_place(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(session_state, "_PG_TIMEOUT", 2.0)
    async with fresh_backend("postgres", tmp_path) as backend:
        await _with_a_learner(backend.database_url)
        engine = create_engine(backend.database_url)
        state = session_state_for(engine)
        real_terminate = asyncpg.Connection.terminate

        def failing_terminate(self: asyncpg.Connection) -> None:
            real_terminate(self)
            raise RuntimeError("terminate failed")

        async def failing_fetchrow(self: Any, *args: Any, **kwargs: Any) -> Any:
            raise asyncpg.QueryCanceledError("canceled")

        try:
            with monkeypatch.context() as broken:
                broken.setattr(asyncpg.Connection, "terminate", failing_terminate)
                broken.setattr(asyncpg.prepared_stmt.PreparedStatement, "fetchrow",
                               failing_fetchrow)
                for _ in range(PG_POOL_SIZE):
                    with pytest.raises(RuntimeError):
                        await state("a-learner", "a-session")
            assert await asyncio.wait_for(state("a-learner", "a-session"), 20) == (0, False)
        finally:
            state.close()
            await engine.dispose()
