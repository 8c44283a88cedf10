"""The browser suite: real Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by
Selenium against Satchel on a real loopback port, with the suite's own issuer and verifier peers.

Without Chromium these tests are skipped with a loud reason; ``SATCHEL_REQUIRE_BROWSER=1`` (set by
``.ci/run``) turns that skip into a failure, as for PostgreSQL. Satchel and the peers run on an
event loop of their own in a background thread, because Selenium's calls block.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trustme
from aiohttp import web

from holder_api.app import create_app
from holder_api.settings import Settings
from tests.conftest import Backend, loopback_resolver
from tests.holder_api.conftest import app_env
from tests.holder_api.present_support import Peer
from tests.wallet.oid4vci_support import FakeClock, Issuer

T = TypeVar("T")
CHROMIUM = os.environ.get("SATCHEL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SATCHEL_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = os.environ.get("SATCHEL_SCREENSHOTS")  # a folder: save the main pages there


def require_browser() -> None:
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not (Path(p).is_file()
                                                           or shutil.which(p))]
    if not missing:
        return
    msg = (f"Chromium is not installed ({', '.join(missing)} missing): the browser tests of the "
           "web wallet DID NOT RUN (apt-get install chromium chromium-driver)")
    if os.environ.get("SATCHEL_REQUIRE_BROWSER") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """``pytest -q`` shows only "N skipped": say it in capitals at the end of the run."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any("DID NOT RUN" in str(getattr(r, "longrepr", "")) for r in skipped):
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN: Chromium is not installed "
                                        "(apt-get install chromium chromium-driver)",
                                   red=True, bold=True)


class Stack:
    """Satchel + the OpenID4VCI issuer + the OpenID4VP verifier, on a loop in a thread."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.runner: web.AppRunner | None = None

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        ca = trustme.CA()
        ca_file = self.tmp / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        self.issuer = await Issuer(ca, FakeClock()).start()
        self.peer = await Peer(ca, self.tmp).start()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        backend = Backend("sqlite", self.tmp, f"sqlite://{self.tmp}/vault.db",
                          f"sqlite+aiosqlite:///{self.tmp}/satchel.db")
        settings = Settings.from_env(app_env(
            backend, SATCHEL_PUBLIC_URL=self.base, SATCHEL_FETCH_ALLOW_HOSTS="localhost,127.0.0.1",
            SATCHEL_EXTRA_CA_FILE=str(ca_file), SATCHEL_X5C_ANCHORS_FILE=str(ca_file),
            SATCHEL_FETCH_TIMEOUT="5"))
        self.app = create_app(settings, host_resolver=loopback_resolver)
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.SockSite(self.runner, sock).start()

    async def _stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        await self.peer.close()
        await self.issuer.close()

    def start(self) -> Stack:
        self.run(self._start())
        return self

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    require_browser()
    s = Stack(tmp_path).start()
    yield s
    s.stop()


@pytest.fixture
def driver(tmp_path: Path) -> Iterator[Any]:
    require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,900",
                "--lang=en-US", "--force-device-scale-factor=1",
                # the suite's issuer serves https under a throw-away test CA (loopback only)
                "--ignore-certificate-errors"):
        opts.add_argument(arg)
    opts.add_experimental_option("prefs", {"intl.accept_languages": "en-US,en",
                                           })
    d = webdriver.Chrome(options=opts, service=Service(CHROMEDRIVER))
    d.set_page_load_timeout(120)
    d.set_script_timeout(180)  # axe-core on a long page, on a loaded machine
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    d.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow",
                                                      "downloadPath": str(downloads)})
    d.downloads = downloads
    try:
        yield d
    finally:
        d.quit()
