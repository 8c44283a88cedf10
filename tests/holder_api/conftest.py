"""Fixtures of the API tests: an app per test on each backend (Argon2id lowered through the
documented setting), the OpenID4VP ``peer``, and a Satchel that trusts the test CA; plus the plain
helpers every API test uses (sign up, log in, the bearer header, the problem+json check).

The peers run on 127.0.0.1 over HTTPS, certified by the ``ca`` of tests/conftest.py: the
OpenID4VCI ``issuer`` (tests/conftest.py) and the OpenID4VP ``peer`` (issuer + verifier of
tests/holder_api/present_support.py). Satchel reaches them through its real GuardedFetcher.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import trustme
from aiohttp.test_utils import TestClient, TestServer
from aries_askar import Store

from holder_api.app import create_app
from holder_api.appkeys import WIRING
from holder_api.settings import Settings
from tests.conftest import Backend, loopback_resolver, sqlite_backend
from wallet.accounts.limits import UnlockGate
from wallet.accounts.service import AccountService
from wallet.accounts.tokens import TokenService
from wallet.clock import Clock
from wallet.crypto import KdfCost
from wallet.keyring import Keyring

if TYPE_CHECKING:
    from tests.holder_api.present_support import Peer
    from tests.wallet.oid4vci_support import FakeClock

SESSION_KEY = "c2F0Y2hlbC10ZXN0LXNlc3Npb24ta2V5LTMyLWJ5dGVzIQ"
DATA_KEY = "c2F0Y2hlbC10ZXN0LWRhdGEta2V5LW9mLTMyLWJ5dGVzLXRvbw"
PASSPHRASE = "correct horse battery staple"


def app_env(backend: Backend, **overrides: str) -> dict[str, str]:
    env = {
        "SATCHEL_DATA_DIR": str(backend.data_dir / "data"),
        "SATCHEL_VAULT_URI": backend.vault_uri,
        "SATCHEL_DATABASE_URL": backend.database_url,
        "SATCHEL_SESSION_KEY": SESSION_KEY,
        "SATCHEL_ALLOW_WEAK_KDF": "1",
        "SATCHEL_KDF_MEMLIMIT_MIB": "1",
        "SATCHEL_KDF_OPSLIMIT": "1",
        "SATCHEL_UNLOCK_LIMIT": "1000/60",
        "SATCHEL_PUBLIC_URL": "http://satchel.test",
        # a fresh deployment's setting (PostgreSQL's default, write, is for upgrading replicas;
        # tests/holder_api/test_composition.py covers it)
        "SATCHEL_SUMMARY_ROWS": "read",
        # the admission's queue-delay control never sheds in test apps: on a busy CI machine
        # any burst of requests queues for longer than its 5 ms target, and a test about
        # something else would get a 503; tests/holder_api/test_admission.py sets its own
        "SATCHEL_QUEUE_INTERVAL": "600",
        # nor does the adaptive limit narrow them: a CI machine's loop, busy with the test
        # client and the app at once, would read as saturated; the limit has its own tests
        # (tests/holder_api/test_concurrency_limit.py), which turn it on where they need it
        "SATCHEL_ADAPTIVE_IN_FLIGHT": "0",
        # tests read a counter right after the requests it counts: every scrape renders
        # (tests/holder_api/test_metrics_cache.py sets its own)
        "SATCHEL_METRICS_CACHE": "0",
    }
    if backend.kind == "postgres":
        env["SATCHEL_STORE_KEY"] = _STORE_KEY
        # what every replica on a shared vault needs (holder_api.settings): the data key and
        # the shared keyring
        env["SATCHEL_DATA_KEY"] = DATA_KEY
    if backend.keyring_uri is not None:
        env["SATCHEL_KEYRING_URI"] = backend.keyring_uri
        env["SATCHEL_KEYRING_KEY"] = _KEYRING_KEY
    env.update(overrides)
    return env


_STORE_KEY = Store.generate_raw_key()
_KEYRING_KEY = Store.generate_raw_key()

AppFactory = Callable[..., Any]


class ShiftedClock:
    """The wall clock, moved by an offset a test sets: the clock every test app runs on, so a
    test moves the app's time through the clock it injected (:func:`app_clock`)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = timedelta() if start is None else start - datetime.now(UTC)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, by: timedelta | float) -> None:
        self._offset += by if isinstance(by, timedelta) else timedelta(seconds=by)

    def set(self, at: datetime) -> None:
        """Read ``at`` now (and move on from there with the wall clock)."""
        self._offset = at - datetime.now(UTC)


def app_clock(client: TestClient[Any, Any]) -> ShiftedClock:
    """The clock ``client``'s app was made with (the default :class:`ShiftedClock`)."""
    clock = client.app[WIRING].stores.clock
    assert isinstance(clock, ShiftedClock), "this app was made with a clock of its own"
    return clock


@pytest.fixture
async def make_client(backend: Backend) -> AsyncIterator[AppFactory]:
    """``await make_client(**env_overrides)`` → a started TestClient; all closed at the end."""
    async for make in _clients(backend):
        yield make


@pytest.fixture
async def make_sqlite_client(tmp_path: Path) -> AsyncIterator[AppFactory]:
    """The same on the embedded default only, for tests about the process, not the stores."""
    async for make in _clients(sqlite_backend(tmp_path)):
        yield make


async def _clients(backend: Backend) -> AsyncIterator[AppFactory]:
    clients: list[TestClient[Any, Any]] = []

    async def make(clock: Clock | None = None, **overrides: str) -> TestClient[Any, Any]:
        """A started client on ``clock`` (by default a :class:`ShiftedClock` at the wall time)."""
        settings = Settings.from_env(app_env(backend, **overrides))
        app = create_app(settings, host_resolver=loopback_resolver,
                         clock=ShiftedClock() if clock is None else clock)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


@pytest.fixture
async def client(make_client: AppFactory) -> TestClient[Any, Any]:
    return await make_client()


@pytest.fixture
async def peer(ca: trustme.CA, tmp_path: Path) -> AsyncIterator[Peer]:
    """The OpenID4VP issuer + verifier peer, on https://localhost (127.0.0.1)."""
    from tests.holder_api.present_support import Peer  # it imports this module's helpers

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


async def sign_up(client: TestClient[Any, Any], username: str,
                  passphrase: str = PASSPHRASE) -> dict[str, Any]:
    r = await client.post("/v1/learners", json={"username": username, "passphrase": passphrase})
    assert r.status == 201, await r.text()
    return dict(await r.json())


def run_satchel(args: list[str], env: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> int:
    """The ``satchel`` command with ``args``, in this process, with ``env`` added to the
    environment (``monkeypatch`` takes it back): its exit status (its output: ``capsys``)."""
    from holder_api.cli import main

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return main(args)


async def start(settings: Settings) -> str:
    """Open the stores as `satchel serve` does at start-up: ``started``, or why it refused (the
    :class:`~holder_api.settings.SettingsError`'s line)."""
    from holder_api.compose.stores import open_stores
    from holder_api.settings import SettingsError
    from wallet.clock import SYSTEM_CLOCK

    try:
        async with open_stores(settings, SYSTEM_CLOCK, None):
            return "started"
    except SettingsError as exc:
        return exc.detail


async def login(client: TestClient[Any, Any], username: str,
                passphrase: str = PASSPHRASE) -> str:
    r = await client.post("/v1/sessions", json={"username": username, "passphrase": passphrase})
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["token_type"] == "Bearer"
    return str(body["access_token"])


def auth(token: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: asks a recovery by code for its result (RFC 7240): the replacement code and a session
PREFER_RESULT: Mapping[str, str] = {"Prefer": "return=representation"}


async def assert_problem(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


async def learner(client: TestClient[Any, Any], name: str = "ada") -> str:
    await sign_up(client, name)
    return await login(client, name)


def accounts_on_gate(client: TestClient[Any, Any], gate: UnlockGate, *,
                     keyring: Keyring | None = None) -> AccountService:
    """An account service on ``client``'s stores and settings (its limits) but its own Argon2id
    ``gate``: another replica's, e.g. one kept full by a flood (and ``keyring`` for the
    client's, e.g. one that fails)."""
    stores = client.app[WIRING].stores
    settings = stores.settings
    return AccountService(
        engine=stores.engine, vault=stores.vault, keyring=keyring or stores.keyring,
        tokens=TokenService(stores.keys, ttl=900, issuer="satchel-test", clock=stores.clock),
        keys=stores.keys, gate=gate, limiter=stores.limiter,
        kdf=KdfCost(opslimit=settings.kdf_opslimit,
                    memlimit=settings.kdf_memlimit_mib * 1024 * 1024),
        unlock_limit=settings.unlock_limit, account_limit=settings.unlock_account_limit,
        signup_limit=settings.signup_limit, clock=stores.clock)
