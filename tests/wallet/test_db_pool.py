"""The PostgreSQL pool counts the checkouts that had to wait (``satchel_db_pool_waits``)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.backends import PG_BASE, create_pg_database, drop_pg_database, require_postgres
from wallet.db import MeasuredPool


async def test_a_checkout_that_finds_the_pool_busy_is_counted() -> None:
    require_postgres()
    name = "satchel_pool_test_" + str(id(object()))[-8:]
    await create_pg_database(name)
    engine = create_async_engine(PG_BASE.replace("postgres://", "postgresql+asyncpg://")
                                 + f"/{name}", poolclass=MeasuredPool, pool_size=1,
                                 max_overflow=0)
    try:
        pool = engine.pool
        assert isinstance(pool, MeasuredPool)
        async with engine.connect() as first:
            await first.execute(text("SELECT 1"))
            assert pool.waits == 0  # a free connection: no wait

            async def second() -> None:
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))

            waiting = asyncio.create_task(second())
            for _ in range(1000):  # let it reach the checkout (counted as it starts to wait)
                if pool.waits:
                    break
                await asyncio.sleep(0)
            assert pool.waits == 1
            assert not waiting.done()  # it waits for ``first``
        await waiting
        assert pool.waits == 1
        assert pool.wait_seconds > 0
    finally:
        await engine.dispose()
        await drop_pg_database(name)
