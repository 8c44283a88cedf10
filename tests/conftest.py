"""Shared fixtures: the vector folder, the two database backends every storage test runs on, the
guard that keeps the suite off the internet, the test CA and the independent OpenID4VCI issuer.

PostgreSQL is expected on 127.0.0.1:5432 (trust auth, user ``postgres``; override with
``SATCHEL_TEST_PG``). When it is not reachable the PostgreSQL half is *skipped with a loud reason*;
``.ci/run`` sets ``SATCHEL_REQUIRE_POSTGRES=1`` which turns that skip into a failure.

The suite never touches the internet: every test runs under :func:`no_internet`, which refuses
(and fails the test for) any connection or name lookup that is not loopback. Peers in tests are
served on 127.0.0.1; the test apps resolve names with :func:`loopback_resolver`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import queue
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pytest
import trustme
from hypothesis import settings as hypothesis_settings

if TYPE_CHECKING:
    from tests.wallet.oid4vci_support import FakeClock, Issuer

# No test is timed: Hypothesis's per-example deadline (200 ms by default) is a timed assertion
# that fails on a busy machine (a 0.13 ms example once took 269 ms under CI's load).
hypothesis_settings.register_profile("satchel", deadline=None)
hypothesis_settings.load_profile("satchel")

VECTORS = Path(__file__).parent / "vectors"
PG_BASE = os.environ.get("SATCHEL_TEST_PG", "postgres://postgres@127.0.0.1:5432")


def _pg_reachable() -> bool:
    u = urlparse(PG_BASE)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=1):
            return True
    except OSError:
        return False


PG_UP = _pg_reachable()

_LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def _is_local(host: object) -> bool:
    """Loopback (or the unspecified address a server binds to), as a name or an address."""
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


async def loopback_resolver(host: str, port: int) -> Sequence[str]:
    """The test apps' host resolver: ``localhost`` only; any other name does not resolve.

    So a credential pointing at a real status list or DID document (the public samples do) is
    answered locally, as an unreachable host, instead of reaching the internet.
    """
    if host.lower().rstrip(".") == "localhost":
        return ["127.0.0.1"]
    raise OSError(f"{host} does not resolve in the test suite (no internet)")


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Refuse, and fail the test for, any connection or lookup that is not loopback/Unix."""
    attempts: list[str] = []
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(sock: socket.socket, address: Any) -> bool:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return True
        return isinstance(address, tuple) and _is_local(address[0])

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
        if not _is_local(host):
            attempts.append(f"getaddrinfo {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, "no name lookups in the test suite")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield attempts
    if attempts:
        pytest.fail(f"the test tried to reach the network: {attempts[:5]}")


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not there."""
    if PG_UP:
        return
    msg = f"PostgreSQL at {PG_BASE} is not reachable: the PostgreSQL half of this test DID NOT RUN"
    if os.environ.get("SATCHEL_REQUIRE_POSTGRES") == "1":
        pytest.fail(msg)
    pytest.skip(msg)


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


async def _pg_admin(statement: str) -> None:
    """One statement on the server's maintenance database (CREATE / DROP DATABASE)."""
    import asyncpg

    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _create_pg_database(name: str, template: str | None = None) -> None:
    clone = f' TEMPLATE "{template}"' if template is not None else ""
    await _pg_admin(f'CREATE DATABASE "{name}"{clone}')


async def _drop_pg_database(name: str) -> None:
    await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class _Dropper:
    """Drops the PostgreSQL databases the tests are done with on a thread of its own, while the
    next tests run.

    Each ``DROP DATABASE`` waits for a checkpoint (PostgreSQL flushes the whole server to disk),
    about 0.7-1 s on a loaded machine: three of them one after the other were most of a
    PostgreSQL test's time. Here they run in batches, concurrently (concurrent drops share
    checkpoints), and a test no longer waits for its own. At most ``_BACKLOG`` databases wait;
    :func:`pytest_sessionfinish` waits for the last ones, and reports any drop that failed (a
    database left behind)."""

    _BACKLOG = 48

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._room = threading.Semaphore(self._BACKLOG)
        self._thread: threading.Thread | None = None
        self.failures: list[str] = []

    def drop(self, names: Sequence[str]) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=asyncio.run, args=(self._run(),),
                                            name="satchel-test-dropper", daemon=True)
            self._thread.start()
        for name in names:
            self._room.acquire()  # a full backlog: the test waits, as it did for its own drops
            self._queue.put(name)

    async def _run(self) -> None:
        while True:
            batch = [self._queue.get()]  # this thread's loop has nothing else to do meanwhile
            while not self._queue.empty():
                batch.append(self._queue.get())
            names = [name for name in batch if name is not None]
            results = await asyncio.gather(*(_drop_pg_database(n) for n in names),
                                           return_exceptions=True)
            for name, result in zip(names, results, strict=True):
                if isinstance(result, BaseException):
                    self.failures.append(f"{name}: {result!r}")
                self._room.release()
            if None in batch:
                return

    def finish(self) -> list[str]:
        """Wait for every drop asked for; the ones that failed."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        return self.failures


_DROPPER = _Dropper()


class _Templates:
    """This process's (one per xdist worker) migrated-but-empty accounts databases, made on
    first use and cloned for each test that gets them (:func:`fresh_backend` ``migrated``): a
    PostgreSQL database copied with ``CREATE DATABASE … TEMPLATE``, a SQLite file copied. The
    schema is the one the app's start makes (``holder_api.compose.migrations.run_migrations``),
    with no row in it: the start of an app on a clone finds the schema at the head and nothing
    recorded, as a replica started after `satchel migrate` does."""

    def __init__(self) -> None:
        self.pg: str | None = None
        self.sqlite: Path | None = None
        self._folder: Path | None = None

    @staticmethod
    async def _migrate(url: str) -> None:
        from holder_api.compose.migrations import run_migrations
        from wallet.db import create_engine

        engine = create_engine(url)
        try:
            await run_migrations(engine)
        finally:
            await engine.dispose()  # a template must have no connection when it is cloned

    async def pg_template(self) -> str:
        if self.pg is None:
            name = f"satchel_template_{uuid.uuid4().hex[:12]}"
            await _create_pg_database(name)
            self.pg = name
            await self._migrate(_sqlalchemy_pg(name))
        return self.pg

    async def sqlite_template(self) -> Path:
        if self.sqlite is None:
            import tempfile

            self._folder = Path(tempfile.mkdtemp(prefix="satchel-template-"))
            path = self._folder / "satchel.db"
            await self._migrate(f"sqlite+aiosqlite:///{path}")
            self.sqlite = path
        return self.sqlite

    def finish(self) -> None:
        if self.pg is not None:
            _DROPPER.drop([self.pg])
            self.pg = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self.sqlite = None


_TEMPLATES = _Templates()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _TEMPLATES.finish()
    failures = _DROPPER.finish()
    if failures:
        # not a test's failure (every test ran), but databases left on the server: say which
        session.config.get_terminal_writer().line(
            f"PostgreSQL test databases not dropped: {failures[:5]}", red=True)


def _sqlalchemy_pg(database: str) -> str:
    return PG_BASE.replace("postgres://", "postgresql+asyncpg://") + f"/{database}"


class Backend:
    """Where one test's stores live: ``vault_uri`` (Askar) and ``database_url`` (SQLAlchemy)."""

    def __init__(self, kind: str, data_dir: Path, vault_uri: str, database_url: str,
                 pg_databases: tuple[str, ...] = (), keyring_uri: str | None = None) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.vault_uri = vault_uri
        self.database_url = database_url
        self.pg_databases = pg_databases
        #: the shared keyring a PostgreSQL deployment needs (its own database, which Askar
        #: creates on first use); None: the embedded default, a folder in the data folder
        self.keyring_uri = keyring_uri

    def __repr__(self) -> str:
        return f"Backend({self.kind})"


def sqlite_backend(folder: Path) -> Backend:
    """The embedded default in ``folder``."""
    return Backend("sqlite", folder, f"sqlite://{folder}/vault.db",
                   f"sqlite+aiosqlite:///{folder}/satchel.db")


@asynccontextmanager
async def fresh_backend(kind: str, folder: Path, *,
                        migrated: bool = False) -> AsyncIterator[Backend]:
    """Fresh, empty databases of ``kind`` (``sqlite`` files in ``folder``, or new PostgreSQL
    databases, dropped afterwards). ``migrated``: the accounts database already holds the
    newest schema (no row), cloned from this process's template; the vault and the keyring are
    still absent, for Askar to create."""
    if kind == "sqlite":
        fresh = sqlite_backend(folder)
        if migrated:
            await asyncio.to_thread(shutil.copyfile, await _TEMPLATES.sqlite_template(),
                                    folder / "satchel.db")
        yield fresh
        return
    require_postgres()
    tag = uuid.uuid4().hex[:12]
    vault_db, sql_db = f"satchel_vault_{tag}", f"satchel_sql_{tag}"
    keyring_db = f"satchel_keyring_{tag}"
    await _create_pg_database(sql_db, await _TEMPLATES.pg_template() if migrated else None)
    try:
        yield Backend(
            "postgres", folder, f"{PG_BASE}/{vault_db}", _sqlalchemy_pg(sql_db),
            (vault_db, sql_db), keyring_uri=f"{PG_BASE}/{keyring_db}",
        )
    finally:
        _DROPPER.drop((vault_db, sql_db, keyring_db))


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
