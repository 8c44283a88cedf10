"""A request head has SATCHEL_HEAD_TIMEOUT from its first byte to its end; a connection that has
not sent a whole head by then is closed, and until its head is whole it is not served by aiohttp
(it holds no place in the connection bound).

Why (audit F10): aiohttp sets no deadline on a request head, and the gate handed a connection to
aiohttp at its first byte. A head trickled a byte every ten seconds then held a served connection
until the keep-alive close (~80 s); the bound's worth of them, renewed, kept every other client of
a replica at the gate's 503. Counts and closes, not timings: raw sockets, and what the server did.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from pathlib import Path

import pytest

from holder_api.appkeys import CONNECTIONS
from holder_api.settings import DECLARED, Settings, SettingsError
from tests.holder_api.connection_support import _GET, Conn, _replica

_SLOW = b"GET /openapi.json HTTP/1.1\r\nHost: t\r\nX-Slow: "


def _late_total(text: str) -> float:
    m = re.search(r"^satchel_connections_head_timeouts_total (\S+)$", text, re.M)
    assert m is not None, "the counter is exported"
    return float(m.group(1))


async def _trickle(conn: Conn, data: bytes) -> None:
    for i in range(len(data)):
        conn.writer.write(data[i:i + 1])
        await conn.writer.drain()
        await asyncio.sleep(0)  # each byte its own segment, as a trickling client sends them


@pytest.mark.parametrize("bound", ["1", "0"])
async def test_a_head_not_whole_within_the_deadline_closes_its_connection(
        tmp_path: Path, bound: str) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS=bound,
                        SATCHEL_HEAD_TIMEOUT="0.2") as (app, port):
        slow = await Conn.open(port)
        await _trickle(slow, _SLOW)
        # the server closes it unanswered (before: aiohttp held it until its keep-alive close)
        assert await asyncio.wait_for(slow.reader.read(), 30) == b""
        slow.close()
        metrics = await Conn.open(port)
        status, _, body = await metrics.ask(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status == 200 and _late_total(body.decode()) == 1
        metrics.close()


async def test_a_trickling_head_holds_no_place_in_the_bound(tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="1",
                        SATCHEL_HEAD_TIMEOUT="600") as (app, port):
        slow = await Conn.open(port)
        await _trickle(slow, _SLOW)
        assert app[CONNECTIONS].open == 0  # at the gate, not served (before: handed over)
        other = await Conn.open(port)
        assert (await other.ask())[0] == 200  # the one place is the whole head's
        other.close()
        await _trickle(slow, b"1\r\n\r\n")  # its head ends: decided like any other
        assert (await slow.answer())[0] == 200
        slow.close()


async def test_a_head_split_in_pieces_within_the_deadline_is_served(tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_HEAD_TIMEOUT="600") as (app, port):
        conn = await Conn.open(port)
        await _trickle(conn, _GET)
        assert (await conn.answer())[0] == 200
        assert (await conn.ask())[0] == 200  # kept alive: its next request served as before
        conn.close()


def test_the_setting() -> None:
    declared = next(s for s in DECLARED if s.name == "SATCHEL_HEAD_TIMEOUT")
    assert declared.default == "10"
    assert Settings.from_env({}).head_timeout == 10
    for bad in ("0", "601", "soon"):
        with pytest.raises(SettingsError):
            Settings.from_env({"SATCHEL_HEAD_TIMEOUT": bad})


async def test_a_served_connections_next_head_has_the_deadline_too(tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_HEAD_TIMEOUT="0.2") as (app, port):
        conn = await Conn.open(port)
        assert (await conn.ask())[0] == 200  # served: aiohttp holds it now
        assert app[CONNECTIONS].open == 1
        await _trickle(conn, _SLOW)  # its next head, trickled
        assert await asyncio.wait_for(conn.reader.read(), 30) == b""  # before: held ~75 s
        conn.close()
        metrics = await Conn.open(port)
        status, _, body = await metrics.ask(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        assert status == 200 and _late_total(body.decode()) == 1
        metrics.close()


async def test_a_kept_connection_idle_between_requests_is_not_cut_by_the_deadline(
        tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_HEAD_TIMEOUT="0.05") as (app, port):
        conn = await Conn.open(port)
        assert (await conn.ask())[0] == 200
        await asyncio.sleep(0.3)  # idle, no byte sent: keep-alive rules, not the head deadline
        assert (await conn.ask())[0] == 200
        conn.close()


async def test_at_the_open_files_ceiling_the_oldest_unfinished_head_makes_room(
        tmp_path: Path) -> None:
    """Where the open-files limit caps connections (served and at the gate), heads that never
    end once filled it and every new client was closed unread, a reset (audit F10); now the
    oldest connection without a whole head is closed instead, and the new client is served."""
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="2",
                        SATCHEL_HEAD_TIMEOUT="600") as (app, port):
        bound = app[CONNECTIONS]
        bound.ceiling = 4  # as open_files sets it under a small limit
        slow = [await Conn.open(port) for _ in range(4)]
        for conn in slow:
            await _trickle(conn, _SLOW)
        assert bound.at_gate == 4 and bound.open == 0
        client = await Conn.open(port)
        assert (await client.ask())[0] == 200  # before: closed as it arrived
        assert await asyncio.wait_for(slow[0].reader.read(), 30) == b""  # the oldest
        assert (await client.ask(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"))[2].count(
            b"\nsatchel_connections_evicted_total 1.0\n") == 1
        for conn in (*slow, client):
            conn.close()


#: request heads whose lines end in a bare LF (RFC 9112 §2.2: a recipient MAY accept one; both
#: of aiohttp's request parsers refuse it, llhttp strictly and the pure-Python one as a bad line
#: ending), whole or not yet: the gate once waited for a CRLF CRLF that never came, and held
#: each connection to the head deadline (or 75 s without one) before closing it unanswered
_BARE_LF = [b"GET /openapi.json HTTP/1.1\nHost: t\n\n",
            b"GET /openapi.json HTTP/1.1\r\nHost: t\n\r\n",
            b"GET /openapi.json HTTP/1.1\r\nHost: t\r\n\n",
            b"GET /openapi.json HTTP/1.1\n"]


@pytest.mark.parametrize("bound", ["1", "0"])
@pytest.mark.parametrize("head", _BARE_LF, ids=["all-lf", "lf-in-field", "lf-last", "unended"])
async def test_a_head_with_bare_lf_is_answered_400_at_once(
        tmp_path: Path, bound: str, head: bytes, caplog: pytest.LogCaptureFixture) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS=bound,
                        SATCHEL_HEAD_TIMEOUT="600") as (app, port):
        conn = await Conn.open(port)
        conn.writer.write(head)
        # within the test's 30 s, not the head deadline's 600 s
        status, headers, body = await conn.answer()
        assert (status, json.loads(body)["code"]) == (400, "invalid_request")
        assert headers["content-type"] == "application/problem+json; charset=utf-8"
        assert headers["connection"] == "close"
        assert await asyncio.wait_for(conn.reader.read(), 30) == b""  # and closed
        conn.close()
        assert app[CONNECTIONS].open == 0
        metrics = await Conn.open(port)
        _, _, text = await metrics.ask(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        assert _late_total(text.decode()) == 0
        metrics.close()
    # no "Error handling request" (aiohttp's ERROR for each head its parser refuses)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("served", [True, False], ids=["next-head", "whole-first-head"])
async def test_a_whole_head_with_bare_lf_is_aiohttps_400_at_once(tmp_path: Path,
                                                                 served: bool) -> None:
    """A head the gate sees whole (its CRLF CRLF there), and a served connection's next head,
    are aiohttp's to parse: llhttp refuses a bare LF at once (text/plain, its own answer)."""
    async with _replica(tmp_path, SATCHEL_HEAD_TIMEOUT="600") as (app, port):
        conn = await Conn.open(port)
        if served:
            assert (await conn.ask())[0] == 200
        conn.writer.write(_BARE_LF[0] if served
                          else b"GET /openapi.json HTTP/1.1\nHost: t\r\n\r\n")
        assert (await conn.answer())[0] == 400
        assert await asyncio.wait_for(conn.reader.read(), 30) == b""
        conn.close()
