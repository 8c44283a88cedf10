"""What a client sends PostgreSQL, counted on the wire (for tests and bench/sql_count.py).

:func:`counting_proxy` listens on a local port and forwards every connection to the server,
reading the client's side of the protocol (PostgreSQL 15 documentation, 55.7 "Message Formats"):
a ``Sync`` or a simple ``Query`` is one round trip (the client waits for ``ReadyForQuery``), an
``Execute`` or a simple ``Query`` one statement run, a ``Parse`` one statement prepared; on the
server's side, each ``CommandComplete`` tells how many rows its statement returned or changed.
Counts are kept per database (the ``database`` of each connection's startup message). Whatever driver
talks through it — Askar's sqlx, asyncpg, SQLAlchemy — is seen the same way, below every wrapper.

The proxy answers ``SSLRequest`` with ``N``: the connection stays unencrypted, so it is readable.
"""

from __future__ import annotations

import asyncio
import re
import struct
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

__all__ = ["Wire", "counting_proxy"]

_SSL_REQUEST = 80877103
_LEN = struct.Struct("!I")


@dataclass
class Wire:
    """Counts per database name since the last :meth:`clear` (while :attr:`on`)."""

    on: bool = True
    round_trips: Counter[str] = field(default_factory=Counter)
    statements: Counter[str] = field(default_factory=Counter)
    parsed: Counter[str] = field(default_factory=Counter)
    connections: Counter[str] = field(default_factory=Counter)
    #: rows the server reports each statement returned or changed (its ``CommandComplete`` tag:
    #: ``SELECT 200``, ``UPDATE 1``)
    rows: Counter[str] = field(default_factory=Counter)
    #: per database: the ``options`` of each connection's startup message ("" without)
    options: dict[str, list[str]] = field(default_factory=dict)
    #: per database: each statement's text (whitespace folded, cut at 140 characters), runs
    texts: dict[str, Counter[str]] = field(default_factory=dict)

    def clear(self) -> None:
        for counter in (self.round_trips, self.statements, self.parsed, self.connections,
                        self.rows):
            counter.clear()
        self.texts.clear()
        self.options.clear()

    def _ran(self, db: str, sql: str) -> None:
        self.statements[db] += 1
        self.texts.setdefault(db, Counter())[re.sub(r"\s+", " ", sql).strip()[:140]] += 1


class _Proxy:
    def __init__(self, upstream: tuple[str, int], wire: Wire) -> None:
        self.upstream, self.wire = upstream, wire

    async def connection(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter) -> None:
        try:
            sr, sw = await asyncio.open_connection(*self.upstream)
        except OSError:
            cw.close()
            return
        try:
            db = await self._startup(cr, cw, sw)
            await asyncio.gather(self._client(cr, sw, db), self._server(sr, cw, db))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            sw.close()
            cw.close()

    async def _startup(self, cr: asyncio.StreamReader, cw: asyncio.StreamWriter,
                       sw: asyncio.StreamWriter) -> str:
        while True:
            (n,) = _LEN.unpack(await cr.readexactly(4))
            body = await cr.readexactly(n - 4)
            if _LEN.unpack_from(body)[0] == _SSL_REQUEST:
                cw.write(b"N")  # no TLS: the messages stay readable
                await cw.drain()
                continue
            sw.write(_LEN.pack(n) + body)
            parts = body[4:].split(b"\0")
            params = dict(zip(parts[::2], parts[1::2], strict=False))
            db = params.get(b"database", b"").decode()
            if self.wire.on:
                self.wire.connections[db] += 1
                self.wire.options.setdefault(db, []).append(
                    params.get(b"options", b"").decode(errors="replace"))
            return db

    async def _server(self, sr: asyncio.StreamReader, cw: asyncio.StreamWriter, db: str) -> None:
        """The server's messages, passed on; each ``CommandComplete`` counted in :attr:`Wire.rows`."""
        w = self.wire
        while True:
            try:
                head = await sr.readexactly(5)
            except asyncio.IncompleteReadError as exc:
                cw.write(exc.partial)
                await cw.drain()
                return
            (n,) = _LEN.unpack_from(head, 1)
            body = await sr.readexactly(n - 4)
            cw.write(head + body)
            if head[:1] == b"C" and w.on:
                tag = body.rstrip(b"\0").split()
                if len(tag) > 1 and tag[-1].isdigit():
                    w.rows[db] += int(tag[-1])
            await cw.drain()

    async def _client(self, cr: asyncio.StreamReader, sw: asyncio.StreamWriter, db: str) -> None:
        w = self.wire
        statements: dict[bytes, str] = {}  # prepared statement name → text
        portals: dict[bytes, str] = {}  # portal name → text
        while True:
            head = await cr.readexactly(5)
            (n,) = _LEN.unpack_from(head, 1)
            body = await cr.readexactly(n - 4)
            sw.write(head + body)
            kind = head[:1]
            if kind == b"P":
                name, rest = body.split(b"\0", 1)
                statements[name] = rest.split(b"\0", 1)[0].decode(errors="replace")
                if w.on:
                    w.parsed[db] += 1
            elif kind == b"B":
                portal, statement, _ = body.split(b"\0", 2)
                portals[portal] = statements.get(statement, "?")
            elif kind == b"E" and w.on:
                w._ran(db, portals.get(body.split(b"\0", 1)[0], "?"))
            elif kind == b"Q" and w.on:
                w.round_trips[db] += 1
                w._ran(db, body.rstrip(b"\0").decode(errors="replace"))
            elif kind == b"S" and w.on:
                w.round_trips[db] += 1
            elif kind == b"X":
                await sw.drain()
                return
            await sw.drain()


@asynccontextmanager
async def counting_proxy(host: str = "127.0.0.1", port: int = 5432) -> AsyncIterator[
        tuple[int, Wire]]:
    """``(port, counts)``: connect to ``127.0.0.1:port`` instead of ``host:port``."""
    wire = Wire()
    server = await asyncio.start_server(_Proxy((host, port), wire).connection, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], wire
    finally:
        server.close()
