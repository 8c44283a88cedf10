"""Fixtures of the API tests: an app per test on each backend (Argon2id lowered through the
documented setting), the OpenID4VP ``peer``, and a Satchel that trusts the test CA. The plain
helpers every API test uses (sign up, log in, the bearer header, the problem+json check) are in
tests/support/http_api.py, the apps' environment and clock in tests/support/apps.py.

The peers run on 127.0.0.1 over HTTPS, certified by the ``ca`` of tests/conftest.py: the
OpenID4VCI ``issuer`` (tests/conftest.py) and the OpenID4VP ``peer`` (issuer + verifier of
tests/holder_api/present_support.py). Satchel reaches them through its real GuardedFetcher.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from aiohttp.test_utils import TestClient

from tests.support.apps import AppFactory, app_clients
from tests.support.backends import Backend, sqlite_backend

if TYPE_CHECKING:
    from tests.holder_api.present_support import Peer
    from tests.wallet.oid4vci_support import FakeClock


@pytest.fixture
async def make_client(backend: Backend) -> AsyncIterator[AppFactory]:
    """``await make_client(**env_overrides)`` → a started TestClient; all closed at the end."""
    async for make in app_clients(backend):
        yield make


@pytest.fixture
async def make_sqlite_client(tmp_path: Path) -> AsyncIterator[AppFactory]:
    """The same on the embedded default only, for tests about the process, not the stores."""
    async for make in app_clients(sqlite_backend(tmp_path)):
        yield make


@pytest.fixture
async def client(make_client: AppFactory) -> TestClient[Any, Any]:
    return await make_client()


@pytest.fixture
async def peer(ca: trustme.CA, tmp_path: Path) -> AsyncIterator[Peer]:
    """The OpenID4VP issuer + verifier peer, on https://localhost (127.0.0.1)."""
    from tests.holder_api.present_support import Peer

    p = await Peer(ca, tmp_path).start()
    yield p
    await p.close()


@pytest.fixture
def clock() -> FakeClock:
    """The OpenID4VCI issuer's clock, starting at the wall clock's second, so the credentials it
    stamps with the real time are neither early nor late (the receiving apps run on it)."""
    from tests.wallet.oid4vci_support import FakeClock

    return FakeClock(int(time.time()))


@pytest.fixture
async def app(request: pytest.FixtureRequest, make_client: AppFactory,
              ca_file: Path) -> TestClient[Any, Any]:
    """Satchel trusting the test CA (outgoing TLS, and ``x5c`` by default) and allowed to reach
    the peers' host.

    A presenting module names that host in ``PEER_HOST`` (``localhost``, so that ``127.0.0.1``
    itself stays a blocked address) and its app runs on the default wall-time clock. Any other
    module receives from the OpenID4VCI ``issuer`` on ``127.0.0.1``, and its app runs on the
    issuer's clock, which tests move by up to a month: access tokens live for 90 days there.

    5 s fetch timeout: short enough for the stalled-issuer tests (their issuer waits 10 s), long
    enough that a loaded CI machine never times out a healthy local peer (1 s once did)."""
    env = {"SATCHEL_EXTRA_CA_FILE": str(ca_file), "SATCHEL_FETCH_TIMEOUT": "5"}
    host = getattr(request.module, "PEER_HOST", None)
    if host is not None:
        return await make_client(SATCHEL_FETCH_ALLOW_HOSTS=host,  # type: ignore[no-any-return]
                                 **env)
    # the issuer's clock (the ``issuer`` fixture runs on this same ``clock``); asking for the
    # async ``issuer`` itself from here would start a second event loop
    clock: FakeClock = request.getfixturevalue("clock")
    return await make_client(clock=clock,  # type: ignore[no-any-return]
                             SATCHEL_FETCH_ALLOW_HOSTS="127.0.0.1",
                             SATCHEL_TOKEN_TTL=str(90 * 86400), **env)
