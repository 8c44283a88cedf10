"""Connections at the gate are bounded too (the audit's A4): under a soft open-files limit of
300 and 400 connections sending nothing, the replica ran out of descriptors and asyncio logged
``socket.accept() out of system resource`` 706,553 times in seconds. Now a connection that sends
nothing is closed within a few seconds, connections beyond what the open-files limit holds are
closed as they arrive, the soft limit is raised to the hard one at start, a bound it cannot hold
is refused, and that asyncio message is logged once in a while, not for every retry."""

from __future__ import annotations

import asyncio
import logging
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import holder_api.connections
from holder_api.appkeys import CONNECTIONS
from holder_api.connections import ConnectionBound, open_files
from holder_api.lifecycle import quiet_accept_errors
from holder_api.settings import SettingsError
from tests.holder_api.connection_support import Conn, _replica, _until
from tests.holder_api.served import ROOT, Served
from tests.support.backends import sqlite_backend


async def _closed(conn: Conn) -> bool:
    return await asyncio.wait_for(conn.reader.read(), 30) == b""


async def test_a_connection_that_sends_nothing_is_closed_at_the_gate(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(holder_api.connections, "_FIRST_BYTES", 0.2)
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="4") as (app, port):
        silent = await Conn.open(port)
        assert await _closed(silent)
        talking = await Conn.open(port)
        assert (await talking.ask())[0] == 200  # sent in time: served, and kept
        assert app[CONNECTIONS].open == 1
        talking.close()
        silent.close()


async def test_connections_beyond_the_descriptor_ceiling_are_closed_as_they_arrive(
        tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="2") as (app, port):
        bound = app[CONNECTIONS]
        bound.ceiling = 4  # connections served and at the gate, together
        waiting = [await Conn.open(port) for _ in range(4)]
        await _until(lambda: bound.at_gate == 4, "four connections at the gate")
        # each sends a whole head: two served (kept), two answered 503 and kept at the gate;
        # none is then evicted to make room (a connection that has not sent a whole head is:
        # tests/holder_api/test_slow_heads.py)
        assert [(await conn.ask())[0] for conn in waiting] == [200, 200, 503, 503]
        assert (bound.open, bound.at_gate) == (2, 2)
        more = [await Conn.open(port) for _ in range(5)]
        for conn in more:
            assert await _closed(conn)
        assert (bound.open, bound.at_gate) == (2, 2)
        for conn in waiting + more:
            conn.close()
        await _until(lambda: bound.at_gate == 0 and bound.open == 0, "all let go")


def test_the_soft_open_files_limit_is_raised_and_a_bound_it_cannot_hold_refused() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 512), hard))
        assert open_files(ConnectionBound(8)) == hard
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == hard
        bound = ConnectionBound(hard)
        with pytest.raises(SettingsError, match="SATCHEL_MAX_CONNECTIONS"):
            open_files(bound)
        bound = ConnectionBound(8)
        open_files(bound)
        assert 8 < bound.ceiling < hard
        assert open_files(ConnectionBound(0)) == hard  # no bound: nothing to hold
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


_SMALL_LIMIT = """
import logging, resource, sys
from holder_api.connections import ConnectionBound, open_files
from holder_api.settings import SettingsError
logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="%(message)s")
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[1])))
bound = ConnectionBound(1024)
try:
    open_files(bound, 256, fit=sys.argv[2] == "fit")
except SettingsError as exc:
    print("refused:", exc.detail)
else:
    print("bound:", bound.limit, bound.ceiling)
"""


def _with_limit(limit: int, how: str) -> str:
    """open_files in a child whose hard limit is ``limit`` (lowering it cannot be undone)."""
    return subprocess.run([sys.executable, "-c", _SMALL_LIMIT, str(limit), how], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True).stdout


def test_the_default_bound_fits_a_small_open_files_limit_with_a_warning() -> None:
    """A laptop's limit (macOS: 256 soft, a hard one no process may take) cannot hold the
    default 1024: the default bound is lowered to what it holds and says so, where a bound the
    operator set is refused; a limit too small to serve at all is refused either way."""
    fitted = _with_limit(600, "fit")
    # ceiling 216: 600 - the backlog 256 - the reserve 128; the bound 64 under it, room for the
    # gate to answer 503 when the bound is full (fitted to the ceiling, it closed new
    # connections unread: resets, audit F10)
    assert "bound: 152 216" in fitted, fitted
    assert "SATCHEL_MAX_CONNECTIONS" in fitted and "152" in fitted.splitlines()[0], fitted
    assert "refused: SATCHEL_MAX_CONNECTIONS=1024" in _with_limit(600, "set")
    assert "refused:" in _with_limit(400, "fit")  # 16 connections: no service


async def test_satchel_serve_refuses_a_bound_the_open_files_limit_cannot_hold(
        tmp_path: Path) -> None:
    served = Served(sqlite_backend(tmp_path), SATCHEL_MAX_CONNECTIONS="100000000")
    proc = await asyncio.to_thread(
        subprocess.run, [sys.executable, "-m", "holder_api.cli", "serve", "--port",
                         str(served.port)],
        env=served.env, cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.decode().strip().splitlines()
    # one line (cli.py says "starting" before the stores open, "serving on" once it listens)
    assert lines[-1].startswith("satchel: configuration error: SATCHEL_MAX_CONNECTIONS"), lines
    assert len([line for line in lines if "SATCHEL_MAX_CONNECTIONS" in line]) == 1


def test_the_accept_error_is_logged_once_in_a_while(caplog: pytest.LogCaptureFixture) -> None:
    loop = asyncio.new_event_loop()
    try:
        quiet_accept_errors(loop)
        caplog.set_level(logging.INFO)
        for _ in range(5000):
            loop.call_exception_handler({"message": "socket.accept() out of system resource",
                                         "exception": OSError(24, "Too many open files")})
        accept = [r for r in caplog.records if "accept" in r.getMessage()]
        assert 1 <= len(accept) <= 2
        caplog.clear()
        loop.call_exception_handler({"message": "something else"})  # left to asyncio
        assert [r.getMessage() for r in caplog.records] == ["something else"]
    finally:
        loop.close()
