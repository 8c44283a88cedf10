"""The browser suite's stack: Satchel + the OpenID4VCI issuer + the OpenID4VP verifier on a real
loopback port, on an event loop of their own in a background thread (Selenium's calls block),
and what a walk does to it without the browser (an issuer's push, the JSON API).

The ``stack`` fixture (tests/web/conftest.py) starts one per test; tests/support/browser.py drives
the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import pytest
import trustme
from aiohttp import web

from holder_api.app import create_app
from holder_api.settings import Settings
from tests.holder_api.present_support import Peer
from tests.support.apps import ShiftedClock, app_env, stores_from_templates
from tests.support.backends import fresh_backend
from tests.support.network import loopback_resolver
from tests.support.vectors import VECTORS
from tests.wallet.oid4vci_support import FakeClock, Issuer

T = TypeVar("T")
CHROMIUM = os.environ.get("SATCHEL_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("SATCHEL_CHROMEDRIVER", "/usr/bin/chromedriver")
BACKENDS = ["sqlite", "postgres"]
ELM_SAMPLE = VECTORS / "microcredentials" / "elm" / "Sample-MC-Annex1-signed.jsonld"


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



class Stack:
    """Satchel + the OpenID4VCI issuer + the OpenID4VP verifier, on a loop in a thread."""

    def __init__(self, tmp: Path, kind: str = "sqlite") -> None:
        self.tmp = tmp
        self.kind = kind
        self.clock = ShiftedClock()  # Satchel's; :meth:`advance` moves it with the issuer's
        self._stores = contextlib.AsyncExitStack()
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
        # only the app sees the accounts database: migrated already (tests/conftest.py)
        backend = await self._stores.enter_async_context(
            fresh_backend(self.kind, self.tmp, migrated=True))
        settings = Settings.from_env(app_env(
            backend, SATCHEL_PUBLIC_URL=self.base, SATCHEL_FETCH_ALLOW_HOSTS="localhost,127.0.0.1",
            SATCHEL_EXTRA_CA_FILE=str(ca_file), SATCHEL_X5C_ANCHORS_FILE=str(ca_file),
            SATCHEL_FETCH_TIMEOUT="5"))
        await stores_from_templates(backend, settings)  # PostgreSQL: vault and keyring cloned
        self.app = create_app(settings, host_resolver=loopback_resolver, clock=self.clock)
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        await web.SockSite(self.runner, sock).start()

    async def _stop(self) -> None:
        """Whatever was started (a start can fail half-way, e.g. creating a database)."""
        if self.runner is not None:
            await self.runner.cleanup()
        for peer in (getattr(self, "peer", None), getattr(self, "issuer", None)):
            if peer is not None:
                await peer.close()
        await self._stores.aclose()  # PostgreSQL: the test's databases are dropped (soon)

    def start(self) -> Stack:
        self.run(self._start())
        return self

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    def advance(self, seconds: float) -> None:
        """Move Satchel's and the issuer's clocks forward together (a deferred issuance)."""
        self.clock.advance(seconds)
        self.issuer.clock.advance(seconds)

    def api(self, method: str, path: str, token: str | None = None, body: Any = None,
            form: dict[str, str] | None = None, accept: str = "application/json",
            ) -> tuple[int, Any]:
        """One plain HTTP call to Satchel (JSON API, a share or inbox link): (status, body),
        the body parsed when it is JSON."""
        data, headers = None, {"Accept": accept}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if body is not None:
            data, headers["Content-Type"] = json.dumps(body).encode(), "application/json"
        elif form is not None:
            data = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url = path if path.startswith("http") else self.base + path
        req = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers["Content-Type"]
        except urllib.error.HTTPError as err:
            status, raw, ctype = err.code, err.read(), err.headers["Content-Type"]
        is_json = (ctype or "").split(";")[0].endswith("json")
        return status, json.loads(raw) if is_json and raw else raw.decode("utf-8", "replace")

    def unlocks(self, username: str, passphrase: str) -> bool:
        """Whether ``POST /v1/sessions`` opens the wallet (and locks it again)."""
        status, body = self.api("POST", "/v1/sessions",
                                body={"username": username, "passphrase": passphrase})
        assert status in (201, 401), (status, body)
        if status == 201:
            self.api("DELETE", "/v1/sessions/current", body["access_token"])
        return status == 201


def offer_link(stack: Stack, **kw: Any) -> str:
    return "openid-credential-offer://?" + urlencode(
        {"credential_offer": json.dumps(stack.issuer.make_pre_authorized_offer(**kw))})


def push_offer(stack: Stack, url: str) -> int:
    """The issuer pushes a fresh offer to an inbox link, as its own server would (a form POST to
    the public link): the status Satchel answered."""
    offer = json.dumps(stack.issuer.make_pre_authorized_offer())
    return stack.api("POST", url, form={"credential_offer": offer})[0]


def held_credentials(stack: Stack, token: str) -> list[dict[str, Any]]:
    """The wallet's credentials, through the JSON API."""
    status, body = stack.api("GET", "/v1/credentials", token)
    assert status == 200, body
    return list(body["items"])
