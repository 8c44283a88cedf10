"""The two database backends every storage test runs on: where a test's stores live
(:class:`Backend`), fresh databases for one test (:func:`fresh_backend`), the PostgreSQL server
the suite uses (``SATCHEL_TEST_PG``, :func:`require_postgres`), the migrated templates the app-only
tests start from, and the thread that drops the PostgreSQL databases the tests are done with.

The ``backend`` fixture (tests/conftest.py) gives these to a test; ``pytest_sessionfinish`` there
drops the templates and waits for the last drops.
"""

from __future__ import annotations

import asyncio
import os
import queue
import shutil
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest

PG_BASE = os.environ.get("SATCHEL_TEST_PG", "postgres://postgres@127.0.0.1:5432")


def _pg_reachable() -> bool:
    u = urlparse(PG_BASE)
    try:
        with socket.create_connection((u.hostname or "127.0.0.1", u.port or 5432), timeout=1):
            return True
    except OSError:
        return False


PG_UP = _pg_reachable()


def require_postgres() -> None:
    """Skip (or, in CI, fail) when PostgreSQL is not there."""
    if PG_UP:
        return
    msg = f"PostgreSQL at {PG_BASE} is not reachable: the PostgreSQL half of this test DID NOT RUN"
    if os.environ.get("SATCHEL_REQUIRE_POSTGRES") == "1":
        pytest.fail(msg)
    pytest.skip(msg)



async def _pg_admin(statement: str) -> None:
    """One statement on the server's maintenance database (CREATE / DROP DATABASE)."""
    import asyncpg

    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def create_pg_database(name: str, template: str | None = None) -> None:
    clone = f' TEMPLATE "{template}"' if template is not None else ""
    await _pg_admin(f'CREATE DATABASE "{name}"{clone}')


async def drop_pg_database(name: str) -> None:
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
            results = await asyncio.gather(*(drop_pg_database(n) for n in names),
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


DROPPER = _Dropper()


class _Templates:
    """This process's (one per xdist worker) migrated-but-empty accounts databases, made on
    first use and cloned for each test that gets them (:func:`fresh_backend` ``migrated``): a
    PostgreSQL database copied with ``CREATE DATABASE … TEMPLATE``, a SQLite file copied. The
    schema is the one the app's start makes (``holder_api.compose.migrations.run_migrations``),
    with no row in it: the start of an app on a clone finds the schema at the head and nothing
    recorded, as a replica started after `satchel migrate` does.

    And, on PostgreSQL, one provisioned-but-empty Askar store per raw key (the test apps' vault
    key and keyring key, one of each per process: tests/support/apps.py), cloned the same way
    for the app-only tests (:func:`askar_store_from_template`): Askar's provisioning (its
    database, tables and the store's config and default profile) is done once instead of twice
    per test. A clone is the template's store: the same store key (the process's, as every
    test app's store has anyway) and the same default profile and its key. No test app can tell
    (a start finds a store there and opens it, as a replica does after the first start; it
    then records its canaries in it as on a store it created), but two clones can read each
    other's rows: a test that moves rows between two stores must make its stores itself."""

    def __init__(self) -> None:
        self.pg: str | None = None
        self.sqlite: Path | None = None
        self._folder: Path | None = None
        self.askar: dict[str, str] = {}  # raw store key -> its template database

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
            await create_pg_database(name)
            self.pg = name
            await self._migrate(sqlalchemy_pg(name))
        return self.pg

    async def askar_template(self, key: str) -> str:
        if key not in self.askar:
            from aries_askar import Store

            name = f"satchel_template_askar_{uuid.uuid4().hex[:12]}"
            self.askar[key] = name  # dropped at the end even if provisioning fails half-way
            store = await Store.provision(f"{PG_BASE}/{name}", "raw", key, recreate=False)
            await store.close()
            await _no_connection_left(name)
        return self.askar[key]

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
            DROPPER.drop([self.pg])
            self.pg = None
        DROPPER.drop(list(self.askar.values()))
        self.askar.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = self.sqlite = None


async def _no_connection_left(database: str) -> None:
    """Wait (a few seconds at most) until no server process is connected to ``database``: a
    closed Askar store's connections end on the server a moment later, and a database cannot be
    a template while one is there."""
    import asyncpg

    conn = await asyncpg.connect(PG_BASE + "/postgres")
    try:
        for _ in range(100):
            if not await conn.fetchval("SELECT count(*) FROM pg_stat_activity WHERE datname = $1",
                                       database):
                return
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


TEMPLATES = _Templates()


def sqlalchemy_pg(database: str) -> str:
    return PG_BASE.replace("postgres://", "postgresql+asyncpg://") + f"/{database}"


class Backend:
    """Where one test's stores live: ``vault_uri`` (Askar) and ``database_url`` (SQLAlchemy)."""

    def __init__(self, kind: str, data_dir: Path, vault_uri: str, database_url: str,
                 pg_databases: tuple[str, ...] = (), keyring_uri: str | None = None,
                 askar_templates: bool = False) -> None:
        self.kind = kind
        self.data_dir = data_dir
        self.vault_uri = vault_uri
        self.database_url = database_url
        self.pg_databases = pg_databases
        #: the shared keyring a PostgreSQL deployment needs (its own database, which Askar
        #: creates on first use); None: the embedded default, a folder in the data folder
        self.keyring_uri = keyring_uri
        #: the Askar stores (PostgreSQL) may be cloned from this process's templates before the
        #: first test app starts (tests/support/apps.py); cleared once that was decided
        self.askar_templates = askar_templates

    def __repr__(self) -> str:
        return f"Backend({self.kind})"


async def askar_store_from_template(uri: str, key: str) -> None:
    """The Askar store at ``uri`` (a ``postgres://`` URI on :data:`PG_BASE`, a database that does
    not exist yet) made a provisioned, empty store opened with the raw ``key``: a clone of this
    process's template for that key."""
    database = uri.removeprefix(PG_BASE + "/")
    assert "/" not in database and "?" not in database, uri
    await create_pg_database(database, await TEMPLATES.askar_template(key))


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
    still absent, for Askar to create, or on PostgreSQL for the first test app to clone
    (:attr:`Backend.askar_templates`)."""
    if kind == "sqlite":
        fresh = sqlite_backend(folder)
        if migrated:
            await asyncio.to_thread(shutil.copyfile, await TEMPLATES.sqlite_template(),
                                    folder / "satchel.db")
        yield fresh
        return
    require_postgres()
    tag = uuid.uuid4().hex[:12]
    vault_db, sql_db = f"satchel_vault_{tag}", f"satchel_sql_{tag}"
    keyring_db = f"satchel_keyring_{tag}"
    await create_pg_database(sql_db, await TEMPLATES.pg_template() if migrated else None)
    try:
        yield Backend(
            "postgres", folder, f"{PG_BASE}/{vault_db}", sqlalchemy_pg(sql_db),
            (vault_db, sql_db), keyring_uri=f"{PG_BASE}/{keyring_db}", askar_templates=migrated,
        )
    finally:
        DROPPER.drop((vault_db, sql_db, keyring_db))
