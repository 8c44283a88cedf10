"""The test apps: the environment every test app starts with (Argon2id lowered through the
documented setting, the per-run store and keyring keys, the admission controls off), the clock it
runs on (:class:`ShiftedClock`), and the factory behind the ``make_client`` fixtures of
tests/holder_api/conftest.py (:func:`app_clients`)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient, TestServer
from aries_askar import Store

from holder_api.app import create_app
from holder_api.appkeys import WIRING
from holder_api.settings import Settings
from tests.support.backends import Backend, askar_store_from_template
from tests.support.network import loopback_resolver
from wallet.accounts.limits import UnlockGate
from wallet.accounts.service import AccountService
from wallet.accounts.tokens import TokenService
from wallet.clock import Clock
from wallet.crypto import KdfCost
from wallet.keyring import Keyring

SESSION_KEY = "c2F0Y2hlbC10ZXN0LXNlc3Npb24ta2V5LTMyLWJ5dGVzIQ"
DATA_KEY = "c2F0Y2hlbC10ZXN0LWRhdGEta2V5LW9mLTMyLWJ5dGVzLXRvbw"


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
        env["SATCHEL_STORE_KEY"] = STORE_KEY
        # what every replica on a shared vault needs (holder_api.settings): the data key and
        # the shared keyring
        env["SATCHEL_DATA_KEY"] = DATA_KEY
    if backend.keyring_uri is not None:
        env["SATCHEL_KEYRING_URI"] = backend.keyring_uri
        env["SATCHEL_KEYRING_KEY"] = KEYRING_KEY
    env.update(overrides)
    return env


STORE_KEY = Store.generate_raw_key()
KEYRING_KEY = Store.generate_raw_key()

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


async def stores_from_templates(backend: Backend, settings: Settings) -> None:
    """Before the first app starts on ``backend`` (one with :attr:`Backend.askar_templates`: only
    the app sees its databases, and the accounts database is a migrated clone): its vault and
    its keyring cloned, provisioned and empty, from this process's templates (PostgreSQL,
    tests/support/backends.py), each only when ``settings`` open it as the app would have
    provisioned it: the backend's own database, with this module's key. An app started with
    another key or another database gets no clone, and provisions what it needs itself."""
    if not backend.askar_templates:
        return
    backend.askar_templates = False  # decided once: from here on, the stores are what they are
    if settings.database_url != backend.database_url:
        return  # a start on another accounts database: it may look for stores before creating
    if settings.vault_uri == backend.vault_uri and settings.store_key == STORE_KEY:
        await askar_store_from_template(backend.vault_uri, STORE_KEY)
    if (backend.keyring_uri is not None and settings.keyring_uri == backend.keyring_uri
            and settings.keyring_key == KEYRING_KEY):
        await askar_store_from_template(backend.keyring_uri, KEYRING_KEY)


async def app_clients(backend: Backend) -> AsyncIterator[AppFactory]:
    clients: list[TestClient[Any, Any]] = []
    first_start = asyncio.Lock()  # two apps made at once: the second waits for the clones

    async def make(clock: Clock | None = None, **overrides: str) -> TestClient[Any, Any]:
        """A started client on ``clock`` (by default a :class:`ShiftedClock` at the wall time)."""
        settings = Settings.from_env(app_env(backend, **overrides))
        async with first_start:
            await stores_from_templates(backend, settings)
        app = create_app(settings, host_resolver=loopback_resolver,
                         clock=ShiftedClock() if clock is None else clock)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.close()


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
