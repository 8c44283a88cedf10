"""The browser suite: real Chromium (Debian's ``chromium`` + ``chromium-driver``) driven by
Selenium against Satchel on a real loopback port, with the suite's own issuer and verifier peers.

Without Chromium these tests are skipped with a loud reason; ``SATCHEL_REQUIRE_BROWSER=1`` (set by
``.ci/run``) turns that skip into a failure, as for PostgreSQL. Satchel and the peers run on an
event loop of their own in a background thread, because Selenium's calls block.

The ``stack`` runs on SQLite unless a test asks for both backends
(``@pytest.mark.parametrize("stack", BACKENDS, indirect=True)``). The helpers that find things
the way an outside test does (by accessible names and ``data-testid`` values) are in
tests/support/browser.py; the stack, with :meth:`Stack.api` to check the effect of a walk through
the JSON API, in tests/support/browser_stack.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.backends import require_postgres
from tests.support.browser import AXE_SEEN, SCREENSHOTS
from tests.support.browser_stack import CHROMEDRIVER, CHROMIUM, Stack, require_browser


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """``pytest -q`` shows only "N skipped": say it in capitals at the end of the run."""
    skipped = terminalreporter.stats.get("skipped", [])
    if any("DID NOT RUN" in str(getattr(r, "longrepr", "")) for r in skipped):
        terminalreporter.write_sep("!", "BROWSER TESTS DID NOT RUN: Chromium is not installed "
                                        "(apt-get install chromium chromium-driver)",
                                   red=True, bold=True)


@pytest.fixture
def stack(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stack]:
    """Satchel + the peers; on SQLite, or on ``request.param`` (``indirect`` parametrization)."""
    require_browser()
    kind = getattr(request, "param", "sqlite")
    if kind == "postgres":
        require_postgres()
    s = Stack(tmp_path, kind)
    try:
        yield s.start()
    finally:
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
    if SCREENSHOTS:  # a phone overlays its scrollbar: the page keeps all of its 360 px
        opts.add_argument("--hide-scrollbars")
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


@pytest.fixture(autouse=True)
def _fresh_axe_record() -> None:
    AXE_SEEN.clear()
