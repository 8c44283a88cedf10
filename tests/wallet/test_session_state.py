"""The per-request revocation check fails as ``Unavailable`` (503), never as a driver error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert

from tests.conftest import fresh_backend
from tests.pg_wire import counting_proxy
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
