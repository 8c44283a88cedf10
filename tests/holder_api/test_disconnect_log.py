"""A client that closes its connection mid-body is a disconnect (INFO, a 499 in the metrics),
never an error in the log (the audit's A8): aiohttp logged ``Error handling request`` at ERROR
for each one, so anyone could fill a replica's error alerts. Served as ``satchel serve`` serves
(a runner without handler cancellation: aiohttp's TestServer cancels the handler instead)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from holder_api.appkeys import ADMISSION, METRICS
from tests.holder_api.connection_support import Conn, _replica, _until


async def test_a_client_gone_mid_body_logs_no_error(tmp_path: Path,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    async with _replica(tmp_path) as (app, port):
        gone = await Conn.open(port)
        gone.writer.write(b"POST /v1/sessions HTTP/1.1\r\nHost: t\r\nContent-Type: "
                          b"application/json\r\nContent-Length: 100\r\n\r\n{\"user")
        await gone.writer.drain()
        # its body is being read (before admission: holder_api.http.EarlyBodies)
        await _until(lambda: app[METRICS].get_sample_value("satchel_bodies_reading_early") == 1,
                     "the body being read")
        gone.close()
        await _until(lambda: any(r.getMessage() == "client disconnected"
                                 for r in caplog.records), "the disconnect seen")
        await _until(lambda: app[ADMISSION].running == 0, "its slot given back")
        for _ in range(20):  # aiohttp's own end of the request, after the middleware
            await asyncio.sleep(0.01)
        scrape = await Conn.open(port)
        _, _, text = await scrape.ask(b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n")
        assert b'route="/v1/sessions",status="499"' in text
        scrape.close()
    errors = [(r.name, r.getMessage()) for r in caplog.records if r.levelno >= logging.WARNING]
    assert errors == []
