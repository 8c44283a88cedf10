"""A real ``satchel serve`` in a subprocess, for tests about the process itself (signals, kills).

Started through the command line exactly as an operator would; the environment is the test
suite's (``app_env``), so it runs on the test's backend.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.apps import app_env
from tests.support.backends import Backend

ROOT = Path(__file__).resolve().parents[2]
_WAIT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    """One server process on a fixed port (so a restart answers at the same address)."""

    def __init__(self, backend: Backend, **overrides: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), "SATCHEL_LOG_LEVEL": "WARNING",
                    **app_env(backend, **overrides)}
        self.log = backend.data_dir / "served.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def spawn(self) -> subprocess.Popen[bytes]:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "holder_api.cli", "serve", "--port", str(self.port)],
                env=self.env, cwd=ROOT, stdout=log, stderr=log)
        return self.proc

    async def start(self) -> None:
        """Spawn, then wait (up to a minute) until /readyz answers 200."""
        self.proc = await asyncio.to_thread(self.spawn)
        deadline = time.monotonic() + _WAIT
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise AssertionError(f"satchel serve exited: {self.log.read_text()[-2000:]}")
                try:
                    async with http.get(self.url + "/readyz") as r:
                        if r.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise AssertionError("satchel serve did not become ready")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    async def wait(self) -> int:
        """The exit status (waiting up to a minute)."""
        assert self.proc is not None
        proc = self.proc
        return await asyncio.to_thread(proc.wait, _WAIT)

    async def kill(self) -> None:
        """``kill -9``: no handler runs, nothing is flushed by the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            await self.wait()

    async def __aenter__(self) -> Served:
        await self.start()
        return self

    async def __aexit__(self, *_exc: Any) -> None:
        await self.kill()
