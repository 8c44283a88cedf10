"""A request aiohttp cannot parse is the client's fault, not the replica's: it must not write an
``error`` line (which pages operators) per attempt, nor the client's address. Audit F10: a bad
chunk size, a bad header byte, an over-long line or a second Host each wrote ``Error handling
request from <address>`` at ERROR, so a stranger set the error-log rate. They are counted and
written as one WARNING line per interval, naming the kinds of error, never an address."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.logs import UNPARSED_LOG_EVERY, UnparsedRequests

BAD = [b"POST /v1/sessions HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
       b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-A\x01: b\r\n\r\n",
       b"GET /healthz HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n",
       b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n"]


@pytest.fixture
def unparsed() -> Iterator[UnparsedRequests]:
    logger = logging.getLogger("aiohttp.server")
    before = logger.filters[:]
    kept = UnparsedRequests(clock=lambda: 0.0)
    logger.filters[:] = [kept]  # this one alone (configure_logging elsewhere installs its own)
    yield kept
    logger.filters[:] = before


async def _send(client: TestClient[Any, Any], raw: bytes) -> bytes:
    assert client.port is not None
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(raw)
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    return answer


async def test_unparsed_requests_write_one_warning_and_no_address(
        client: TestClient[Any, Any], unparsed: UnparsedRequests,
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="aiohttp.server"):
        for raw in BAD * 3:
            assert (await _send(client, raw)).split(b"\r\n")[0].endswith(b" 400 Bad Request")
    mine = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert [r.levelno for r in mine] == [logging.WARNING], [r.getMessage() for r in mine]
    [line] = mine
    assert line.getMessage() == "requests not parsed"
    assert getattr(line, "unparsed", None) == 1  # the rest wait for the next line
    assert "127.0.0.1" not in caplog.text and line.exc_info is None
    assert unparsed.pending == len(BAD) * 3 - 1


def test_the_next_line_counts_what_the_interval_held() -> None:
    now = [0.0]
    kept = UnparsedRequests(clock=lambda: now[0])
    from aiohttp.http_exceptions import BadHttpMessage

    def record() -> logging.LogRecord:
        try:
            raise BadHttpMessage("bad")
        except BadHttpMessage as exc:
            return logging.LogRecord("aiohttp.server", logging.ERROR, "", 0,
                                     "Error handling request from %s", ("10.0.0.1",),
                                     (type(exc), exc, exc.__traceback__))
    assert kept.filter(record()) is True
    assert [kept.filter(record()) for _ in range(4)] == [False] * 4
    now[0] = UNPARSED_LOG_EVERY
    shown = record()
    assert kept.filter(shown) is True
    assert getattr(shown, "unparsed") == 5 and shown.levelno == logging.WARNING
    assert getattr(shown, "errors") == {"BadHttpMessage": 5}
    # a handler's own exception is not the client's fault: it stays an error, as it came
    other = logging.LogRecord("aiohttp.server", logging.ERROR, "", 0, "Unhandled exception",
                              (), (RuntimeError, RuntimeError("x"), None))
    assert kept.filter(other) is True and other.levelno == logging.ERROR
