"""SATCHEL_LOG_LEVEL=DEBUG turns on Satchel's own debug lines, never the third-party lines that
carry SQL parameters (aiosqlite writes every call with its arguments at DEBUG: at sign-up, the
learner's wrapped keys)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from holder_api.logs import PARAMETER_LOGGERS, QUIET_LOGGERS, configure_logging
from wallet.db import create_engine


@pytest.fixture
def logging_restored() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    levels = {name: logging.getLogger(name).level
              for name in (*PARAMETER_LOGGERS, *QUIET_LOGGERS)}
    server = logging.getLogger("aiohttp.server")
    filters = server.filters[:]
    yield
    server.filters[:] = filters
    root.handlers[:] = handlers
    root.setLevel(level)
    for name, was in levels.items():
        logging.getLogger(name).setLevel(was)


@pytest.mark.usefixtures("logging_restored")
async def test_debug_logging_writes_no_sql_parameters(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("DEBUG")
    canary = f"canary-{uuid.uuid4().hex}"
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/x.db")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (v TEXT)"))
            await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": canary})
            assert (await conn.execute(text("SELECT v FROM t"))).scalar_one() == canary
    finally:
        await engine.dispose()
    logging.getLogger("satchel.test").debug("our own debug line")
    written = capsys.readouterr().err
    assert "our own debug line" in written  # DEBUG is on for Satchel's loggers
    assert canary not in written


@pytest.mark.usefixtures("logging_restored")
@pytest.mark.parametrize("level", ["DEBUG", "INFO", "WARNING"])
def test_parameter_loggers_never_go_below_their_floor(level: str) -> None:
    configure_logging(level)
    for name, floor in PARAMETER_LOGGERS.items():
        logger = logging.getLogger(name)
        assert not logger.isEnabledFor(floor - 1), name
        assert logger.getEffectiveLevel() >= logging.getLogger().level


@pytest.mark.usefixtures("logging_restored")
def test_the_pool_says_nothing_at_info(capsys: pytest.CaptureFixture[str]) -> None:
    """The connection pool's INFO lines ("Pool disposed … Current Overflow: -10") filled every
    stop and refused start of the walk-through; its warnings still show, and DEBUG shows all."""
    configure_logging("INFO")
    pool = logging.getLogger("wallet.db.MeasuredPool")
    pool.info("Pool disposed")
    pool.warning("Pool overflow")
    logged = capsys.readouterr().err
    assert "Pool disposed" not in logged and "Pool overflow" in logged
    configure_logging("DEBUG")
    pool.info("Pool recreating")
    assert "Pool recreating" in capsys.readouterr().err
