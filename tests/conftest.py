"""Shared fixtures: the vector folder, the two database backends every storage test runs on, the
guard that keeps the suite off the internet, the test CA and the independent OpenID4VCI issuer.

PostgreSQL is expected on 127.0.0.1:5432 (trust auth, user ``postgres``; override with
``SATCHEL_TEST_PG``). When it is not reachable the PostgreSQL half is *skipped with a loud reason*;
``.ci/run`` sets ``SATCHEL_REQUIRE_POSTGRES=1`` which turns that skip into a failure.

The suite never touches the internet: every test runs under :func:`no_internet`, which refuses
(and fails the test for) any connection or name lookup that is not loopback. Peers in tests are
served on 127.0.0.1; the test apps resolve names with
:func:`tests.support.network.loopback_resolver`.

Plain helpers live in tests/support/ (the backends in tests/support/backends.py); a test module
imports them from there, never from a conftest.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from hypothesis import settings as hypothesis_settings

from tests.support.backends import DROPPER, TEMPLATES, Backend, fresh_backend
from tests.support.network import is_local
from tests.support.vectors import VECTORS

if TYPE_CHECKING:
    from tests.wallet.oid4vci_support import FakeClock, Issuer

# No test is timed: Hypothesis's per-example deadline (200 ms by default) is a timed assertion
# that fails on a busy machine (a 0.13 ms example once took 269 ms under CI's load).
hypothesis_settings.register_profile("satchel", deadline=None)
hypothesis_settings.load_profile("satchel")


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, and fail the test for, any connection or lookup that is not loopback/Unix."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return True
        return isinstance(address, tuple) and is_local(address[0])

    def connect(self: socket.socket, address: Any) -> None:
        if not allowed(self, address):
            attempts.append(f"connect {address!r}")
            raise OSError("the test suite must not reach the internet")
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        if not allowed(self, address):
            attempts.append(f"connect_ex {address!r}")
            raise OSError("the test suite must not reach the internet")
        return real_connect_ex(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_local(host):
            attempts.append(f"getaddrinfo {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "no name lookups in the test suite")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    if attempts:
        pytest.fail(f"the test tried to reach the network: {attempts[:5]}")


@pytest.fixture(scope="session")
def vectors() -> Path:
    return VECTORS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """One test CA per module: it certifies the peers' TLS (served on 127.0.0.1) and, where a test
    says so, anchors their ``x5c`` chains."""
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    """The test CA as a PEM file (``SATCHEL_EXTRA_CA_FILE``, ``extra_ca_file=``)."""
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def clock() -> FakeClock:
    """The issuer's clock: its ``sleep`` advances time at once and records every wait."""
    from tests.wallet.oid4vci_support import FakeClock  # imports this module's names

    return FakeClock()


@pytest.fixture
async def issuer(ca: trustme.CA, clock: FakeClock) -> AsyncIterator[Issuer]:
    """The independent OpenID4VCI issuer (the ``openid4vci`` package), on https://127.0.0.1."""
    from tests.wallet.oid4vci_support import Issuer

    server = await Issuer(ca, clock).start()
    yield server
    await server.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    TEMPLATES.finish()
    failures = DROPPER.finish()
    if failures:
        # not a test's failure (every test ran), but databases left on the server: say which
        session.config.get_terminal_writer().line(
            f"PostgreSQL test databases not dropped: {failures[:5]}", red=True)


def _only_the_app_uses(request: pytest.FixtureRequest) -> bool:
    """Whether nothing but the app factory (``make_client`` of tests/holder_api/conftest.py,
    itself behind ``client`` and ``app``) asks for ``backend``: then no one sees the accounts
    database before an app has started on it, and the app's start migrates it anyway."""
    info = request.node._fixtureinfo  # the fixture closure pytest resolved for this test
    if "backend" in info.argnames:
        return False
    return not any("backend" in d.argnames
                   and not (name == "make_client"
                            and d.func.__module__ == "tests.holder_api.conftest")
                   for name, defs in info.name2fixturedefs.items() if name != "backend"
                   for d in defs)


@pytest.fixture(params=["sqlite", "postgres"])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """Both storage backends; each test gets fresh databases: empty when the test (or a fixture
    of its own) asks for ``backend``; the accounts database already migrated (a clone, the
    schema the app's start would make) when only the app fixtures ask for it."""
    async with fresh_backend(request.param, tmp_path,
                             migrated=_only_the_app_uses(request)) as fresh:
        yield fresh


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[object]]:
    """Any socket connection attempt, loopback included, is recorded and fails; none may happen
    (for code that must work offline: bundled contexts, public share-link views)."""
    attempts: list[object] = []

    def refuse(self: socket.socket, address: object) -> None:
        attempts.append(address)
        raise OSError("network disabled in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    yield attempts
    assert attempts == []
