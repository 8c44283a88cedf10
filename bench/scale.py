"""Scale bench: many learners on PostgreSQL, one and two replicas, an open-loop load.

For each learner count (``--learners 1000,10000``, ascending), in one deployment that grows:

1. **Seed** the learners still missing (PostgreSQL: vault and accounts/ledger databases) through
   the services: ``AccountService.sign_up`` and ``unlock`` (with a cheap, bench-only Argon2id
   cost: ``SATCHEL_ALLOW_WEAK_KDF``), then ``--credentials`` credentials per learner written by
   the vault layer in one transaction per learner, every learner from a client address of its
   own (as real sign-ups are: one shared address would make every sign-up wait on one rate-limit
   row). ``--seed-procs`` processes seed in parallel, each with its own services and
   ``--seed-concurrency`` learners at once. While seeding, and only then, the two bench databases
   run with ``synchronous_commit = off`` (``--durable-seed`` keeps it on): every row is written
   as in production, but a commit does not wait for its WAL flush; it is reset before anything
   is measured. Reported: learners per second, database size per learner (both databases,
   growth over the empty schema).
2. **Unlock at production cost** (64 MiB, 3 passes), timed on its own for a few learners signed up
   with that cost — the seeding cost says nothing about it.
3. **Sign in** ``--sample`` learners drawn at random from the whole population (``unlock``): the
   load uses their tokens, so it reads across the whole database, not its first rows.
4. **Capacity**, interleaved (``bench/scale_capacity.py``): replicas (``satchel serve``
   subprocesses, replica *i* pinned to core *i mod cores*) are started once, and ``--rounds``
   rounds each run a closed loop of ``--capacity-connections`` connections *per replica* (as
   many as a replica admits at once, so none waits in its admission queue or is shed, whatever
   the replica count) for ``--capacity-seconds`` against 1, then 2 replicas (1, 2, 1, 2, …; a
   one-replica run loads the first replica, the second idles), under each of ``--placements``
   in turn: where the load generator and PostgreSQL run (``gen-last``: generator pinned to the
   last core, PostgreSQL floats; ``float``: both float; ``shared-last``: both pinned to the last
   core). Capacity is the median over the rounds, shown with its range, and the two-replica
   ratio is taken round by round (each two-replica run over the one-replica run just before
   it), median and range. The closed loop is ``wrk`` (C) with a generated Lua script that
   draws a sampled learner's bearer token at random for each request (as the open-loop
   generator does: the replicas' per-learner caches then hit as often in both): it costs about
   a quarter less CPU per request than the Python generator (~55 against ~75 µs), CPU that
   comes from the replicas' cores. Each run reports where the
   machine's CPU went (each replica, PostgreSQL's bench backends, the generator, *others* —
   everything else busy, other people's work and the hypervisor's steal — and idle, as shares
   of one core) and the CPU per request of the replicas (r), PostgreSQL (p) and the generator
   (g). Beside the ratio: the **ceiling** the cores allow at one replica's costs,
   min(replicas, cores, cores · r / (r + p + g)) — a replica is bound by its core, replicas
   together by the cores they share with PostgreSQL and the generator — and the ratio
   **projected** for an idle machine from the two-replica runs' own costs,
   min(2, cores · r₁ / (r₂ + p₂ + g₂)), which the machine's other load does not move (the
   measured ratio is flagged when one replica got less than 90 % of its core, or *others* used
   more than 10 % of a core beside two).
5. **Open loop**, for one and for two replicas (started again), the Python generator pinned to
   the last core: requests sent at a fixed rate whatever the answers, latency counted from the
   scheduled send time, so queueing shows — at 50 % and 80 % of the first placement's median
   capacity, at the *reference load* (80 % of the first learner count's one-replica capacity,
   the same offered load for every count), and at 200 % (overload: admitted requests' p99, shed
   503s, and where the excess went: shed at once or after waiting in the admission queue,
   connections the kernel refused with the listen backlog full, the replicas' context
   switches). Reported: p50/p95/p99, RSS per replica, pool waits (checkouts that found the
   accounts pool exhausted, from ``/metrics``).

At the end a Markdown table of the figures (README-ready) is printed.

The open-loop generator speaks HTTP/1.1 on raw asyncio streams (keep-alive connections, one
request in flight per connection): several times cheaper than an HTTP client library, dearer
than ``wrk``, but it sends on a schedule, which ``wrk`` does not.

Needs PostgreSQL (``--pg``, trust auth). Without ``--keep`` the databases (``satchel_scale_*``)
are created and dropped by the run. With ``--keep DIR`` the deployment (databases, store key,
keyring, how many learners it holds) stays, described in ``DIR/state.json``: a later run with
the same ``DIR`` seeds only the learners still missing, so a large population is seeded once and
measured many times (``--seed-only`` seeds and stops; ``--drop`` removes a kept deployment). The
machine's load average is printed before and after: on a shared machine compare figures taken at
similar load. Needs ``wrk`` on the PATH for the capacity rounds. The default (1,000 learners,
4 rounds × 2 placements) runs in about 6 minutes at load 6-9, 13 at load 20-25::

    python bench/scale.py                              # 1,000 learners
    nice -n 10 python bench/scale.py --learners 1000,10000
    # a population seeded once, then measured (1,000 and 10,000 first, in the same deployment):
    python bench/scale.py --keep /var/tmp/satchel-scale --learners 1000,10000,100000
    # or populations kept apart, seeded when the machine has time, measured back to back in
    # one quiet window at the same offered load (the first run writes ref.json, later ones
    # read it and compare their p95 with the first's):
    python bench/scale.py --keep /var/tmp/scale-100k --learners 100000 --seed-only
    python bench/scale.py --keep /var/tmp/scale-1k --learners 1000 --reference ref.json
    python bench/scale.py --keep /var/tmp/scale-100k --learners 100000 --reference ref.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil
from prometheus_client.parser import text_string_to_metric_families

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aiohttp import web  # noqa: E402
from aries_askar import Store  # noqa: E402
from scale_capacity import (  # noqa: E402
    PLACEMENTS,
    Capacity,
    Driver,
    Spread,
    ceiling,
    cpu_per_request,
    projected,
    round_ratios,
)

from holder_api.app import create_app  # noqa: E402
from holder_api.appkeys import SERVICES, WIRING  # noqa: E402
from holder_api.settings import DECLARED, Settings, SettingsError  # noqa: E402
from wallet.errors import Conflict  # noqa: E402
from wallet.vault import StoredCredential  # noqa: E402

PASS = "scale bench passphrase 42"
SESSION_KEY = "c2NhbGUtYmVuY2gtc2Vzc2lvbi1rZXktMzItYnl0ZXMh"
DATA_KEY = "c2NhbGUtYmVuY2gtZGF0YS1rZXktb2YtMzItYnl0ZXMtdG9v"
_LIST = "/v1/credentials?limit=20"
#: the replicas' in-flight limit by default (holder_api/settings.toml)
_IN_FLIGHT = int(next(s.default for s in DECLARED if s.name == "SATCHEL_MAX_IN_FLIGHT"))
_DECLARED_NAMES = frozenset(s.name for s in DECLARED)


def _name(n: int) -> str:
    return f"learner{n:07d}"


def _client(n: int) -> str:
    """An address of its own per learner (198.18.0.0/15, RFC 2544: 131,072 of them)."""
    return f"198.{18 + (n >> 16 & 1)}.{n >> 8 & 255}.{n & 255}"


# ------------------------------------------------------------------------------------ databases

@dataclass
class Deployment:
    pg: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    data: str = field(default_factory=lambda: tempfile.mkdtemp(prefix="satchel-scale-"))
    store_key: str = field(default_factory=lambda: str(Store.generate_raw_key()))
    keyring_key: str = field(default_factory=lambda: str(Store.generate_raw_key()))
    learners: int = 0  # seeded so far
    empty_bytes: int = 0  # both databases with the empty schema

    @classmethod
    def kept(cls, pg: str, keep: Path) -> Deployment:
        """The deployment described in ``keep/state.json``, or a new one to be kept there."""
        state = keep / "state.json"
        if state.exists():
            return cls(pg=pg, **{k: v for k, v in json.loads(state.read_text()).items()
                                 if k != "pg"})
        (keep / "data").mkdir(parents=True, exist_ok=True)
        return cls(pg=pg, data=str(keep / "data"))

    def save(self, keep: Path | None) -> None:
        if keep is not None:
            (keep / "state.json").write_text(json.dumps(asdict(self), indent=1))

    @property
    def vault_db(self) -> str:
        return f"satchel_scale_vault_{self.tag}"

    @property
    def sql_db(self) -> str:
        return f"satchel_scale_sql_{self.tag}"

    @property
    def keyring_db(self) -> str:
        """The shared keyring a PostgreSQL vault needs (holder_api.settings); Askar creates it."""
        return f"satchel_scale_keyring_{self.tag}"

    def env(self, *, weak_kdf: bool) -> dict[str, str]:
        env = {
            "SATCHEL_DATA_DIR": self.data, "SATCHEL_PUBLIC_URL": "http://scale.invalid",
            "SATCHEL_VAULT_URI": f"{self.pg}/{self.vault_db}",
            "SATCHEL_DATABASE_URL": self.pg.replace("postgres://", "postgresql+asyncpg://")
            + f"/{self.sql_db}",
            "SATCHEL_KEYRING_URI": f"{self.pg}/{self.keyring_db}",
            "SATCHEL_KEYRING_KEY": self.keyring_key,
            "SATCHEL_STORE_KEY": self.store_key, "SATCHEL_SESSION_KEY": SESSION_KEY,
            "SATCHEL_DATA_KEY": DATA_KEY,
            "SATCHEL_SUMMARY_ROWS": "read",  # a fresh deployment: no earlier version runs
            "SATCHEL_TOKEN_TTL": "86400", "SATCHEL_UNLOCK_LIMIT": "100000000/60",
            "SATCHEL_LOG_LEVEL": "WARNING",
            # the load generator is many clients on one address: no per-address cap
            "SATCHEL_MAX_CONNECTIONS_PER_CLIENT": "0",
        }
        if weak_kdf:  # bench-only: sign-up and unlock cheap enough to seed 100,000 learners
            env.update(SATCHEL_ALLOW_WEAK_KDF="1", SATCHEL_KDF_MEMLIMIT_MIB="1",
                       SATCHEL_KDF_OPSLIMIT="1", SATCHEL_MAX_CONCURRENT_UNLOCKS="4")
        return env

    async def admin(self, sql: str) -> Any:
        conn = await asyncpg.connect(self.pg + "/postgres")
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    async def exists(self) -> bool:
        return bool(await self.admin(
            f"SELECT count(*) FROM pg_database WHERE datname = '{self.sql_db}'"))

    async def create(self) -> None:
        if not await self.exists():
            await self.admin(f'CREATE DATABASE "{self.sql_db}"')  # Askar creates its own
        if not self.empty_bytes:
            await services_once(self)  # the schemas (vault store, migrations), then measure
            self.empty_bytes = await self.size()

    async def size(self) -> int:
        total = 0
        for db in (self.vault_db, self.sql_db):
            total += int(await self.admin(f"SELECT pg_database_size('{db}')") or 0)
        return total

    async def synchronous_commit(self, on: bool) -> None:
        """Per database: new connections take it (the services open theirs after this)."""
        for db in (self.vault_db, self.sql_db):
            await self.admin(f'ALTER DATABASE "{db}" ' + (
                "RESET synchronous_commit" if on else "SET synchronous_commit = off"))

    async def analyze(self) -> None:
        """Statistics after the bulk load, as autovacuum would gather them (a server may run
        without it: this machine's does), so plans are those of a deployment in service."""
        for db in (self.vault_db, self.sql_db):
            conn = await asyncpg.connect(f"{self.pg}/{db}")
            try:
                await conn.execute("ANALYZE")
            finally:
                await conn.close()

    async def drop(self) -> None:
        for db in (self.vault_db, self.sql_db, self.keyring_db):
            await self.admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(self.data, ignore_errors=True)


async def _started(settings: Settings) -> tuple[web.Application, web.AppRunner]:
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # opens the stores, migrates: the services without a listening socket
    return app, runner


async def services_once(dep: Deployment) -> None:
    _, runner = await _started(Settings.from_env(dep.env(weak_kdf=True)))
    await runner.cleanup()


def _credential(i: int, t0: datetime) -> StoredCredential:
    return StoredCredential(
        id=f"urn:uuid:{uuid.uuid4()}", format="jwt_vc_json",
        raw="eyJhbGciOiJFUzI1NiJ9." + "x" * 1500 + ".sig",  # a typical ~1.5 KiB JWT VC
        types=("VerifiableCredential", "OpenBadgeCredential"), issuer="https://uni.example",
        title=f"Course {i}", issued_at=t0, expires_at=None, status="valid",
        added_at=t0 + timedelta(seconds=i),
        data={"claims": {"name": "Ada Lovelace", "achievement": f"Module {i}", "ects": 5},
              "search_text": "programming python esco"})


# -------------------------------------------------------------------------------------- seeding

async def _seed_range(dep: Deployment, start: int, stop: int, per_learner: int,
                      concurrency: int, ready: Any) -> float:
    """Seed learners ``start … stop-1``; the CPU seconds it took (start-up excluded)."""
    app, runner = await _started(Settings.from_env(dep.env(weak_kdf=True)))
    accounts, vault_store = app[SERVICES].accounts, app[WIRING].stores.vault
    await asyncio.get_running_loop().run_in_executor(None, ready.wait, 900)  # start together
    c0 = time.process_time()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    numbers = iter(range(start, stop))

    async def worker() -> None:
        for n in numbers:
            try:
                await accounts.sign_up(_name(n), PASS, client=_client(n))
                resumed = False
            except Conflict:  # signed up by a run that was stopped: finish what it began
                resumed = True
            token = await accounts.unlock(_name(n), PASS, client=_client(n))
            session = await accounts.authenticate(token.token)
            vault = vault_store.for_learner(session.learner_id, session.dek)
            if resumed and await vault.credentials.count():
                continue  # its credentials went in (one transaction: all or none)
            async with vault.atomic() as tx:  # one transaction: the learner's 20 credentials
                for i in range(per_learner):
                    await tx.credentials.put(_credential(i, t0))
            if (n + 1) % 5000 == 0:
                print(f"  seeded learner {n + 1:,}", file=sys.stderr, flush=True)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu = time.process_time() - c0
    await runner.cleanup()
    return cpu


def _seed_process(dep: dict[str, Any], start: int, stop: int, per_learner: int,
                  concurrency: int, ready: Any, out: Any) -> None:
    out.send(asyncio.run(_seed_range(Deployment(**dep), start, stop, per_learner, concurrency,
                                     ready)))


@dataclass
class Seeding:
    rate: float  # learners per second
    cpu_ms: float  # CPU per learner, the seeding processes
    pg_cpu_ms: float  # CPU per learner, PostgreSQL
    procs: int  # seeding processes


async def seed(dep: Deployment, target: int, args: argparse.Namespace) -> Seeding | None:
    """Seed learners ``dep.learners … target-1`` (None: nothing to do)."""
    todo = target - dep.learners
    if todo <= 0:
        return None
    procs = max(1, min(args.seed_procs, todo // 50 or 1))
    ctx = mp.get_context("spawn")
    ready = ctx.Barrier(procs + 1)
    pipes = [ctx.Pipe(duplex=False) for _ in range(procs)]
    bounds = [dep.learners + todo * i // procs for i in range(procs + 1)]
    if not args.durable_seed:
        await dep.synchronous_commit(False)
    try:
        workers = [ctx.Process(target=_seed_process, args=(
            asdict(dep), bounds[i], bounds[i + 1], args.credentials, args.seed_concurrency,
            ready, pipes[i][1])) for i in range(procs)]
        for p in workers:
            p.start()
        await asyncio.get_running_loop().run_in_executor(None, ready.wait, 900)
        start = time.perf_counter()  # every process has its services up (imports excluded)
        pg = PgCpu(dep)
        pg.start()
        cpu = 0.0
        for p, (recv, _) in zip(workers, pipes, strict=True):
            cpu += await asyncio.get_running_loop().run_in_executor(None, recv.recv)
            await asyncio.get_running_loop().run_in_executor(None, p.join)
        elapsed = time.perf_counter() - start
        pg_cpu = await pg.stop()
        if any(p.exitcode for p in workers):
            raise RuntimeError("a seeding process failed (its traceback is above)")
    finally:
        if not args.durable_seed:
            await dep.synchronous_commit(True)
    await dep.analyze()
    dep.learners = target
    return Seeding(todo / elapsed, cpu / todo * 1000, pg_cpu / todo * 1000, procs)


async def production_unlock(dep: Deployment, samples: int) -> list[float]:
    """Unlock times (ms) at the production Argon2id cost, for learners signed up with it."""
    app, runner = await _started(Settings.from_env(dep.env(weak_kdf=False)))
    accounts = app[SERVICES].accounts
    times = []
    for _ in range(samples):
        name = f"prod{uuid.uuid4().hex[:12]}"  # new ones on every run of a kept deployment
        await accounts.sign_up(name, PASS, client="198.51.100.1")
        start = time.perf_counter()
        await accounts.unlock(name, PASS, client="198.51.100.1")
        times.append((time.perf_counter() - start) * 1000)
    await runner.cleanup()
    return times


async def sign_in(dep: Deployment, sample: int, concurrency: int = 8) -> list[str]:
    """Tokens of ``sample`` learners drawn at random from the whole population.

    Each learner's credentials are listed once here: a learner's first list writes the marker
    that says their summary rows are complete (docs/architecture.md, "The vault's rows"), once
    in their vault's life, and the load measures the lists that come after it (otherwise the
    first replica count measured pays for those writes and the next does not)."""
    app, runner = await _started(Settings.from_env(dep.env(weak_kdf=True)))
    accounts, credentials = app[SERVICES].accounts, app[SERVICES].credentials
    chosen = random.Random(dep.learners).sample(range(dep.learners), min(sample, dep.learners))
    numbers = iter(chosen)
    tokens: list[str] = []

    async def worker() -> None:
        for n in numbers:
            token = (await accounts.unlock(_name(n), PASS, client=_client(n))).token
            session = await accounts.authenticate(token)
            await credentials.list(session.learner_id, session.dek, limit=20)
            tokens.append(token)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    await runner.cleanup()
    return tokens


# ------------------------------------------------------------------------------------- replicas

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:
        return [0]


def _cpu_seconds(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


class PgCpu:
    """CPU seconds used by the PostgreSQL backends serving the bench databases.

    Other databases on the same server (other people's tests) are left out: a backend's process
    title names its database. Backends are sampled twice a second and each counts with its last
    sample, so connections that close before the end still count; the shared processes
    (checkpointer, WAL writer) are not counted.
    """

    def __init__(self, dep: Deployment) -> None:
        self._names = (dep.vault_db, dep.sql_db)
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    def _sample(self) -> None:
        for p in psutil.process_iter(["cmdline"]):
            title = " ".join(p.info["cmdline"] or ())
            if title.startswith("postgres:") and any(n in title for n in self._names):
                try:
                    t = p.cpu_times()
                except psutil.Error:
                    continue
                self._first.setdefault(p.pid, t.user + t.system)
                self._last[p.pid] = t.user + t.system

    async def _run(self) -> None:
        while True:
            self._sample()
            await asyncio.sleep(0.5)

    def start(self) -> None:
        self._sample()
        self._first = dict(self._last)  # what was used before the start does not count
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> float:
        """Seconds used since :meth:`start`."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._sample()
        return sum(self._last[pid] - self._first.get(pid, 0.0) for pid in self._last)


class Replicas:
    def __init__(self, dep: Deployment, count: int, settings: dict[str, str] | None = None,
                 code: Path | None = None) -> None:
        self.dep = dep
        cores = _cores()
        self.ports = [_free_port() for _ in range(count)]
        # the replicas run this checkout's code, or ``code``'s (--baseline-code)
        env = {**os.environ, **dep.env(weak_kdf=True), **(settings or {}),
               "PYTHONPATH": str(code or Path(__file__).resolve().parents[1])}
        self.procs = []
        for i, port in enumerate(self.ports):
            core = cores[i % len(cores)]
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "holder_api.cli", "serve", "--port", str(port)], env=env,
                stdout=subprocess.DEVNULL,
                stderr=open(Path(dep.data) / f"replica{i}.log", "a"),  # noqa: SIM115
                preexec_fn=lambda c=core: os.sched_setaffinity(0, {c})))
        self.cores = len({cores[i % len(cores)] for i in range(count)})
        self.ps = [psutil.Process(p.pid) for p in self.procs]

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    async def ready(self) -> None:
        async with aiohttp.ClientSession() as s:
            for url in self.urls:
                for _ in range(1200):
                    try:
                        async with s.get(url + "/readyz") as r:
                            if r.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError(f"{url} did not become ready")

    def rss_mib(self) -> list[float]:
        return [p.memory_info().rss / 2**20 for p in self.ps]

    def cpu(self) -> list[float]:
        return [_cpu_seconds([p]) for p in self.ps]

    async def metric(self, name: str) -> list[float]:
        pattern = re.compile(rf"^{name} ([0-9.e+-]+)$", re.M)
        out = []
        # a replica that tipped over answers late: 0 rather than a bench that waits minutes
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as s:
            for url in self.urls:
                try:
                    async with s.get(url + "/metrics") as r:
                        m = pattern.search(await r.text())
                        out.append(float(m.group(1)) if m else 0.0)
                except (TimeoutError, aiohttp.ClientError):
                    out.append(0.0)
        return out

    async def pauses(self) -> dict[str, float]:
        """What held the replicas' event loops so far (holder_api/pauses.py), summed: gen2
        collections, collections and loop lags over 50 ms, the longest collection, the CPU of
        every collection; and what admitted requests waited for a slot (sum, count, over
        10 ms)."""
        out = {"gen2": 0.0, "gen2_cpu": 0.0, "gc_over_50ms": 0.0, "lag_over_50ms": 0.0,
               "gc_longest": 0.0, "gc_cpu": 0.0, "wait_sum": 0.0, "wait_count": 0.0,
               "wait_over_10ms": 0.0}
        sign = {"+Inf": 1, "0.05": -1}  # over 50 ms: all, less those up to 50 ms
        async with aiohttp.ClientSession() as s:
            for url in self.urls:
                async with s.get(url + "/metrics") as r:
                    for family in text_string_to_metric_families(await r.text()):
                        for m in family.samples:
                            le = m.labels.get("le", "")
                            if m.name == "satchel_gc_pause_seconds_count" \
                                    and m.labels["generation"] == "2":
                                out["gen2"] += m.value
                            elif m.name == "satchel_gc_cpu_seconds_total":
                                out["gc_cpu"] += m.value
                                if m.labels["generation"] == "2":
                                    out["gen2_cpu"] += m.value
                            elif m.name == "satchel_gc_pause_seconds_bucket" and le in sign:
                                out["gc_over_50ms"] += sign[le] * m.value
                            elif m.name == "satchel_event_loop_lag_seconds_bucket" and le in sign:
                                out["lag_over_50ms"] += sign[le] * m.value
                            elif m.name == "satchel_gc_pause_longest_seconds":
                                out["gc_longest"] = max(out["gc_longest"], m.value)
                            elif m.name == "satchel_admission_wait_seconds_sum":
                                out["wait_sum"] += m.value
                            elif m.name == "satchel_admission_wait_seconds_count":
                                out["wait_count"] += m.value
                            elif m.name == "satchel_admission_wait_seconds_bucket" \
                                    and le in ("+Inf", "0.01"):
                                out["wait_over_10ms"] += m.value if le == "+Inf" else -m.value
        return out

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(60)


# ----------------------------------------------------------------------------- load generation

@dataclass
class Result:
    sent: int
    ok: int
    shed: int
    errors: int
    latencies_ms: list[float]  # of the 200 answers
    seconds: float
    client_cpu: float = 0.0  # the load generator's CPU seconds
    cpu: dict[str, float] = field(default_factory=dict)  # who used how much CPU (core shares)

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


_HEAD_END = b"\r\n\r\n"
_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.I)


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request in flight: the answer's status once
    its head and ``Content-Length`` bytes of body are in (nothing else is parsed)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.answer: asyncio.Future[int] | None = None
        self.end = -1  # where the answer being read ends in ``buffer`` (-1: head not yet in)
        self.status = 0
        self.reusable = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # a TCP connection's transport
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.answer is None or self.answer.done():
            return
        if self.end < 0:
            head_end = self.buffer.find(_HEAD_END)
            if head_end < 0:
                return
            head = bytes(self.buffer[:head_end])
            m = _LENGTH.search(head)
            if m is None:
                self.answer.set_exception(ConnectionError("no Content-Length"))
                return
            self.status = int(head[9:12])
            self.reusable = b"connection: close" not in head.lower()
            self.end = head_end + len(_HEAD_END) + int(m.group(1))
        if len(self.buffer) >= self.end:
            del self.buffer[:self.end]
            self.end = -1
            self.answer.set_result(self.status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        if self.answer is not None and not self.answer.done():
            self.answer.set_exception(ConnectionError("connection closed"))


class _Client:
    """Minimal HTTP/1.1 GETs over keep-alive connections, one request in flight per connection
    (no pipelining): idle connections are reused, a new one is opened when none is idle. A
    protocol, not streams, and each token's request bytes built once: the generator's CPU per
    request is taken from the cores the replicas run on."""

    def __init__(self, urls: list[str]) -> None:
        self.targets = [(u.split("//")[1].split(":")[0], int(u.rsplit(":", 1)[1])) for u in urls]
        self.idle: list[list[_Connection]] = [[] for _ in urls]
        self.requests: dict[str, bytes] = {}

    async def get(self, replica: int, token: str) -> int:
        request = self.requests.get(token)
        if request is None:
            request = self.requests[token] = (
                f"GET {_LIST} HTTP/1.1\r\nHost: scale\r\nAuthorization: Bearer {token}"
                "\r\n\r\n".encode())
        pool = self.idle[replica]
        loop = asyncio.get_running_loop()
        while pool and not pool[-1].reusable:  # closed by the server while idle
            pool.pop()
        if pool:
            conn = pool.pop()
        else:
            _, conn = await loop.create_connection(_Connection, *self.targets[replica])
        assert conn.transport is not None
        conn.answer = loop.create_future()
        try:
            conn.transport.write(request)
            status = await conn.answer
        except BaseException:
            conn.transport.close()  # an answer cut short (timeout, error): never reused
            raise
        if conn.reusable:
            pool.append(conn)
        else:
            conn.transport.close()
        return status

    def close(self) -> None:
        for pool in self.idle:
            for conn in pool:
                if conn.transport is not None:
                    conn.transport.close()


async def _load(urls: list[str], tokens: list[str], seconds: float, *, rate: float | None,
                concurrency: int, started: Any = lambda: None) -> Result:
    """Open loop at ``rate`` requests/s, or (``rate`` None) a closed loop of ``concurrency``."""
    lat: list[float] = []
    counts = {"sent": 0, "ok": 0, "shed": 0, "errors": 0}
    rnd = random.Random(7)
    client = _Client(urls)

    async def request(scheduled: float, n: int) -> None:
        counts["sent"] += 1
        try:
            async with asyncio.timeout(60):  # no task per request, unlike wait_for
                status = await client.get(n % len(urls), tokens[rnd.randrange(len(tokens))])
        except (TimeoutError, OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                ValueError):
            counts["errors"] += 1
            return
        if status == 200:
            counts["ok"] += 1
            lat.append((time.perf_counter() - scheduled) * 1000)
        elif status == 503:
            counts["shed"] += 1
        else:
            counts["errors"] += 1

    c0 = time.process_time()
    start = time.perf_counter()
    stop = start + seconds
    started()
    if rate is None:
        async def worker(w: int) -> None:
            n = w
            while time.perf_counter() < stop:
                await request(time.perf_counter(), n)
                n += concurrency
        await asyncio.gather(*(worker(w) for w in range(concurrency)))
    else:
        tasks = set()
        total = int(rate * seconds)
        for n in range(total):
            scheduled = start + n / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(request(scheduled, n))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.gather(*tasks)
    elapsed = max(time.perf_counter() - start, seconds)
    client.close()
    return Result(counts["sent"], counts["ok"], counts["shed"], counts["errors"], lat, elapsed,
                  time.process_time() - c0)


def _load_process(urls: list[str], tokens: list[str], seconds: float, rate: float | None,
                  concurrency: int, core: int | None, out: Any) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    r = asyncio.run(_load(urls, tokens, seconds, rate=rate, concurrency=concurrency,
                          started=lambda: out.send(None)))
    out.send((r.sent, r.ok, r.shed, r.errors, r.latencies_ms, r.seconds, r.client_cpu))


async def load(replicas: Replicas, tokens: list[str], seconds: float, *,
               rate: float | None = None, concurrency: int = 32) -> Result:
    """One load run in a process of its own, on the last core; CPU shares measured around it."""
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_load_process,
                    args=(replicas.urls, tokens, seconds, rate, concurrency, _cores()[-1], send))
    p.start()
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, recv.recv)  # the generator is up: CPU counted from here
    pg = PgCpu(replicas.dep)
    pg.start()
    before = (replicas.cpu(), time.perf_counter())
    result = Result(*await loop.run_in_executor(None, recv.recv))
    wall = time.perf_counter() - before[1]
    after = replicas.cpu()
    pg_seconds = await pg.stop()
    await loop.run_in_executor(None, p.join)
    result.cpu = {f"replica {i + 1}": (a - b) / wall for i, (a, b) in
                  enumerate(zip(after, before[0], strict=True))}
    result.cpu["load generator"] = result.client_cpu / wall
    result.cpu["PostgreSQL"] = pg_seconds / wall
    return result


# ----------------------------------------------------------------------------------------- main

def _listen_overflows() -> int:
    """TcpExt ListenOverflows (the kernel's count of connections refused because a listen
    backlog was full, all sockets of the host): -1 where /proc/net/netstat is not there."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return -1
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            fields = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(fields.get("ListenOverflows", -1))
    return -1


def _ctx_switches(replicas: Replicas) -> tuple[int, int]:
    """Voluntary and involuntary context switches of the replicas' main threads (the event
    loops) so far: involuntary ones are preemptions, a replica short of CPU."""
    vol = invol = 0
    for p in replicas.ps:
        try:
            c = p.num_ctx_switches()
        except psutil.Error:
            continue
        vol, invol = vol + c.voluntary, invol + c.involuntary
    return vol, invol


def _loop_sched(replicas: Replicas) -> list[tuple[float, float]]:
    """Per replica, seconds its event loop's thread (the main thread) has run and has waited in
    the kernel's run queue for a CPU (``/proc/<pid>/task/<pid>/schedstat``; 0, 0 without it)."""
    out = []
    for p in replicas.procs:
        try:
            run, wait = Path(f"/proc/{p.pid}/task/{p.pid}/schedstat").read_text().split()[:2]
            out.append((int(run) / 1e9, int(wait) / 1e9))
        except (OSError, ValueError):
            out.append((0.0, 0.0))
    return out


async def _overload(replicas: Replicas, tokens: list[str], seconds: float,
                    rate: float) -> tuple[Result, str]:
    """The 200 % step, with what shows where the excess went: connections the kernel refused
    (listen backlog full), requests shed after waiting in the admission queue (and so, by
    difference, at once), the replicas' context switches (involuntary: preempted, short of CPU)."""
    overflows, ctx = _listen_overflows(), _ctx_switches(replicas)
    waited = sum(await replicas.metric("satchel_requests_shed_waited_total"))
    refused = sum(await replicas.metric("satchel_connections_refused_total"))
    sched = _loop_sched(replicas)
    pauses = await replicas.pauses()
    limits: list[list[float]] = []
    peak = {"connections": [0.0] * len(replicas.procs), "rss": replicas.rss_mib()}

    async def watch_limits() -> None:  # the in-flight limit in force (adaptive or not)
        while True:
            await asyncio.sleep(0.5)
            limits.append(await replicas.metric("satchel_admission_limit"))
            # what a replica holds while it sheds: the connections aiohttp serves, its memory
            open_now = await replicas.metric("satchel_connections_open")
            peak["connections"] = [max(a, b) for a, b in zip(peak["connections"], open_now,
                                                            strict=True)]
            peak["rss"] = [max(a, b) for a, b in zip(peak["rss"], replicas.rss_mib(),
                                                    strict=True)]

    watcher = asyncio.create_task(watch_limits())
    try:
        r = await load(replicas, tokens, seconds, rate=rate)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    overflows = _listen_overflows() - overflows if overflows >= 0 else -1
    after = _ctx_switches(replicas)
    waited = sum(await replicas.metric("satchel_requests_shed_waited_total")) - waited
    refused = sum(await replicas.metric("satchel_connections_refused_total")) - refused
    cpu_wait = [(a[1] - b[1]) / r.seconds for a, b in zip(_loop_sched(replicas), sched,
                                                          strict=True)]
    now = await replicas.pauses()
    held = {k: v - pauses[k] for k, v in now.items()}
    per_s = [(a - b) / r.seconds for a, b in zip(after, ctx, strict=True)]
    cause = (f"shed after waiting {int(waited):,}, unparsed beyond SATCHEL_MAX_CONNECTIONS "
             f"{int(refused):,} (the rest at once by admission); event loops waiting for a CPU "
             f"{', '.join(f'{w:.0%}' for w in cpu_wait)} of the time; listen overflows "
             f"{'n/a' if overflows < 0 else f'{overflows:,}'}; replica context switches "
             f"{per_s[0]:,.0f}/s voluntary, {per_s[1]:,.0f}/s involuntary; event loop held: "
             f"{held['gen2']:.0f} gen2 collections ("
             f"{held['gen2_cpu'] * 1000 / max(held['gen2'], 1):.0f} ms CPU each), "
             f"{held['gc_over_50ms']:.0f} collections and "
             f"{held['lag_over_50ms']:.0f} loop lags over 50 ms (longest collection since the "
             f"start {now['gc_longest'] * 1000:.0f} ms); {paid(held, r.seconds)}; "
             f"in-flight limit, mean (min–max) of "
             f"{len(limits)} readings per replica: {_spread(limits)}; most connections served "
             f"by aiohttp {', '.join(f'{c:,.0f}' for c in peak['connections'])}, peak RSS "
             f"{', '.join(f'{m:.0f} MiB' for m in peak['rss'])}")
    return r, cause


def paid(held: dict[str, float], seconds: float) -> str:
    """What admitted requests paid in a step besides their own work (``held``: the difference
    of two :meth:`Replicas.pauses`): their wait for a slot, and the collector's CPU."""
    count = max(held["wait_count"], 1)
    return (f"admitted requests' wait for a slot: mean {held['wait_sum'] * 1000 / count:.1f} ms, "
            f"{held['wait_over_10ms'] / count:.1%} over 10 ms; garbage collection "
            f"{held['gc_cpu'] * 1000 / seconds:.0f} ms of CPU a second")


def _spread(readings: list[list[float]]) -> str:
    """Per replica, the mean (min–max) of a metric read over and over (``[[r1, r2], …]``)."""
    if not readings:
        return "—"
    return ", ".join(f"{statistics.fmean(seen):.1f} ({min(seen):.0f}–{max(seen):.0f})"
                     for seen in zip(*readings, strict=True))


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _row(label: str, r: Result, offered: float | None = None) -> str:
    off = f"{offered:7.0f}/s" if offered else "  closed "
    return (f"    {label:26} offered {off}  served {r.rate:7.1f}/s  p50 {r.pct(.5):7.1f}  "
            f"p95 {r.pct(.95):7.1f}  p99 {r.pct(.99):7.1f} ms  shed {r.shed}  errors {r.errors}")


def _ms(r: Result) -> str:
    return f"{r.pct(.5):,.0f} / {r.pct(.95):,.0f} / {r.pct(.99):,.0f} ms"


def steady(r: Result) -> str:
    """A step under the capacity: its latencies, what it served and what it shed (nothing
    should be: a replica that sheds there sheds what it could serve, as 7ca0ca1's rule did)."""
    return f"{_ms(r)}; served {r.rate:,.0f}/s, shed {r.shed:,}"


#: Other processes' share of a core above which a run's ratio is flagged as the machine's.
_BUSY = 0.10


def busy_caveat(shares: dict[int, dict[str, float]]) -> str:
    """What to say of a measured ratio when the replicas did not have the machine (median
    shares per replica count): one replica that got less than 90 % of its core, or other
    processes using more than 10 % of a core beside several replicas. On a busy machine the
    scheduler shares the cores among runnable processes, so two replicas get about twice one
    replica's share whatever they can do. Other work beside *one* replica is not counted: it
    runs on the core that replica leaves free, which is not the replica's to use."""
    notes = []
    one = shares.get(1, {}).get("replica 1")
    if one is not None and one < 1 - _BUSY:
        notes.append(f"one replica got {one:.0%} of its core")
    beside = max((v.get("others", 0.0) for n, v in shares.items() if n > 1), default=0.0)
    if beside > _BUSY:
        notes.append(f"other processes used {beside:.0%} of a core beside several")
    return f" (not the replicas': {'; '.join(notes)})" if notes else ""


def _shares(cpu: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0%}" for k, v in cpu.items())


def summarise(runs: dict[int, list[Capacity]], cores: int) -> dict[str, Any]:
    """One placement's interleaved runs (per replica count, in round order): capacities and
    their spread, CPU per request (medians), each round's ratio to one replica, the ceiling."""
    out: dict[str, Any] = {"capacity": {n: Spread.of([r.rate for r in rs])
                                        for n, rs in runs.items()}}
    per = {n: {k: statistics.median(cpu_per_request(r)[k] for r in rs)
               for k in ("replica", "PostgreSQL", "generator")} for n, rs in runs.items()}
    out["per_request_us"] = per
    out["shares"] = {n: {k: statistics.median(r.cpu.get(k, 0.0) for r in rs)
                         for k in rs[0].cpu} for n, rs in runs.items()}
    if 1 in runs:
        one = per[1]
        for n, rs in runs.items():
            if n == 1:
                continue
            ratios = round_ratios([r.rate for r in runs[1]], [r.rate for r in rs])
            out.setdefault("ratio", {})[n] = Spread.of(ratios)
            out.setdefault("ceiling", {})[n] = ceiling(n, cores, one["replica"],
                                                       one["PostgreSQL"], one["generator"])
            out.setdefault("projected", {})[n] = projected(
                n, cores, one["replica"], per[n]["replica"], per[n]["PostgreSQL"],
                per[n]["generator"])
    return out


async def capacity_rounds(dep: Deployment, tokens: list[str], args: argparse.Namespace,
                          put: Any) -> dict[int, float]:
    """Capacity per replica count: the median of ``--rounds`` interleaved ``wrk`` closed loops
    (1, 2, 1, 2, … replicas, under each of ``--placements`` in turn) on one set of replicas
    started once (a one-replica run loads the first, the others idle). Prints every run, then
    per placement the medians, spread, CPU per request, ratio and ceiling; returns the first
    placement's medians."""
    counts = sorted(set(args.replicas))
    cores = _cores()
    replicas = Replicas(dep, max(counts), args.replica_env)
    driver: Driver | None = None
    runs: dict[str, dict[int, list[Capacity]]] = {p: {} for p in args.placements}
    print(f"  capacity: {args.rounds} rounds × {len(args.placements)} placement(s) × replicas "
          f"{', '.join(map(str, counts))}, {args.capacity_seconds} s each, wrk closed loop of "
          f"{args.capacity_connections} connections per replica", flush=True)
    try:
        await replicas.ready()
        driver = Driver(replicas.urls, tokens, _LIST, replica_cpu=replicas.cpu,
                        pg=lambda: PgCpu(dep), pg_names=(dep.vault_db, dep.sql_db), cores=cores,
                        connections=args.capacity_connections)
        await driver.run(max(counts), 2, args.placements[0])  # warm-up: pools, statements
        for k in range(args.rounds):
            for placement in args.placements:
                for count in counts:
                    run = await driver.run(count, args.capacity_seconds, placement)
                    runs[placement].setdefault(count, []).append(run)
                    print(f"    round {k + 1} {placement:11} {count} replica(s): "
                          f"{run.rate:6.0f}/s  p99 {run.p99_ms:6.1f} ms  non-2xx {run.non2xx} "
                          f"errors {run.errors}; CPU: {_shares(run.cpu)}", flush=True)
    finally:
        if driver is not None:
            driver.close()
        replicas.stop()
    medians: dict[int, float] = {}
    for placement, by_count in runs.items():
        s = summarise(by_count, len(cores))
        first = placement == args.placements[0]
        tag = "" if first else f" [{placement}]"
        print(f"  placement {placement}: {PLACEMENTS[placement]}")
        for n, spread in s["capacity"].items():
            us = s["per_request_us"][n]
            print(f"    {n} replica(s): capacity {spread.show(unit='/s')} median (range) of "
                  f"{len(by_count[n])}; CPU µs per request: replica {us['replica']:.0f}, "
                  f"PostgreSQL {us['PostgreSQL']:.0f}, generator {us['generator']:.0f}; "
                  f"shares: {_shares(s['shares'][n])}")
            pre = "1 replica" if n == 1 else f"{n} replicas"
            put(f"{pre}: capacity, median (range) of {len(by_count[n])}; per core{tag}",
                f"{spread.show(unit='/s')}; {spread.median / min(n, len(cores)):.0f}/s")
            put(f"{pre}: CPU at capacity (share of one core){tag}", _shares(s["shares"][n]))
            put(f"{pre}: CPU µs per request: replica, PostgreSQL, generator{tag}",
                f"{us['replica']:.0f}, {us['PostgreSQL']:.0f}, {us['generator']:.0f}")
            if first:
                medians[n] = spread.median
        caveat = busy_caveat(s["shares"])
        for n, ratio in s.get("ratio", {}).items():
            cap, proj = s["ceiling"][n], s["projected"][n]
            reached = "" if caveat else f" (reached {ratio.median / cap:.0%} of it)"
            print(f"    {n} replicas / 1 replica, round by round: {ratio.show('{:.2f}', '×')}"
                  f"{caveat} (target ≥ 1.7×); the most {len(cores)} cores allow at one "
                  f"replica's CPU per request: {cap:.2f}×{reached}; on an idle machine at the "
                  f"CPU per request of the {n}-replica runs: {proj:.2f}×")
            put(f"{n} replicas / 1 replica capacity, median (range) of rounds; ceiling; "
                f"projected on an idle machine{tag}",
                f"**{ratio.show('{:.2f}', '×')}**{caveat}; {cap:.2f}×; {proj:.2f}×")
    return medians


async def measure(dep: Deployment, learners: int, args: argparse.Namespace,
                  reference: dict[str, float], table: dict[str, dict[int, str]]) -> None:
    def put(row: str, value: str) -> None:
        table.setdefault(row, {})[learners] = value

    print(f"\n== {learners:,} learners × {args.credentials} credentials "
          f"(load average {_loadavg()})", flush=True)
    seeding = await seed(dep, learners, args)
    dep.save(args.keep)
    per_learner = (await dep.size() - dep.empty_bytes) / learners
    if seeding is not None:
        rate = seeding.rate
        print(f"  seed: {rate:.1f} learners/s ({rate * args.credentials:.0f} credentials/s; "
              f"{seeding.procs} processes × {args.seed_concurrency}, synchronous_commit "
              f"{'on' if args.durable_seed else 'off'} while seeding); CPU per learner: "
              f"{seeding.cpu_ms:.1f} ms in the services, {seeding.pg_cpu_ms:.1f} ms in "
              "PostgreSQL")
        put("seed rate", f"{rate:.1f} learners/s ({rate * args.credentials:.0f} credentials/s)")
        put("… CPU per learner seeded: services + PostgreSQL",
            f"{seeding.cpu_ms:.1f} + {seeding.pg_cpu_ms:.1f} ms")
    else:
        print("  seed: already seeded (kept deployment)")
        put("seed rate", "(kept)")
        put("… CPU per learner seeded: services + PostgreSQL", "—")
    print(f"  database size: {per_learner / 1024:.1f} KiB per learner")
    put("database size per learner (vault + accounts/ledger)", f"{per_learner / 1024:.1f} KiB")
    if args.seed_only:
        return
    if args.unlock_samples:
        unlock = await production_unlock(dep, args.unlock_samples)
        print(f"  unlock at production cost (64 MiB, 3 passes): median "
              f"{statistics.median(unlock):.0f} ms over {len(unlock)}")
        put(f"unlock at the production cost (64 MiB, 3 passes), median of {len(unlock)}",
            f"{statistics.median(unlock):.0f} ms")
    tokens = await sign_in(dep, args.sample)
    print(f"  signed in {len(tokens):,} learners drawn from all {learners:,}")
    capacities = await capacity_rounds(dep, tokens, args, put)
    # the open loop as configured, then (--compare-env) again with those settings added, at the
    # same offered rates: a setting compared with the default in one run
    variants: list[tuple[str, dict[str, str], Path | None]] = [("", args.replica_env, None)]
    for compared in ([args.compare_env] if args.compare_env else []) + args.variant:
        variants.append((" with " + " ".join(f"{k}={v}" for k, v in compared.items()),
                         {**args.replica_env, **compared}, None))
    if args.baseline_code:
        variants.append((f" with the code of {args.baseline_code}", args.replica_env,
                         args.baseline_code))
    for count, (variant, settings, code) in ((c, v) for c in args.replicas for v in variants):
        replicas = Replicas(dep, count, settings, code)
        try:
            await replicas.ready()
            await load(replicas, tokens, 2,  # warm-up
                       concurrency=args.capacity_connections * count)
            capacity = capacities[count]
            reference.setdefault(f"rate{count}", 0.8 * capacity)
            if variant:
                print(f"  {count} replica(s){variant}:", flush=True)
            pre = ("1 replica" if count == 1 else f"{count} replicas") + variant
            runs = [("50% of capacity", 0.5 * capacity), ("80% of capacity", 0.8 * capacity),
                    ("reference load", reference[f"rate{count}"]),
                    ("200% (overload)", 2.0 * capacity)]
            results = {}
            cause = ""
            for label, rate in runs:
                if label.startswith("200%"):
                    r, cause = await _overload(replicas, tokens, args.seconds, rate)
                    print(_row(label, r, rate), flush=True)
                else:
                    before = await replicas.pauses()
                    r = await load(replicas, tokens, args.seconds, rate=rate)
                    after = await replicas.pauses()
                    print(_row(label, r, rate) + "\n      " + paid(
                        {k: v - before[k] for k, v in after.items()}, r.seconds), flush=True)
                results[label] = r
            over, eighty = results["200% (overload)"], results["80% of capacity"]
            print(f"    overload: admitted p99 {over.pct(.99):.1f} ms = "
                  f"{over.pct(.99) / eighty.pct(.99):.2f}× the p99 at 80% (target ≤ 3×); "
                  f"{over.shed} of {over.sent} shed with 503; errors {over.errors}\n"
                  f"      {cause}")
            put(f"{pre}: p50 / p95 / p99 at 50 %", steady(results["50% of capacity"]))
            put(f"{pre}: p50 / p95 / p99 at 80 %", steady(results["80% of capacity"]))
            ref = results["reference load"]
            ref95 = ref.pct(.95)
            key = f"p95_{count}"
            note = ""
            if variant:
                pass  # compared with the default in this run, not kept as the reference
            elif key in reference:
                note = f" (p95 {ref95 / reference[key]:.2f}× the first size's; target ≤ 1.2×)"
                print(f"    p95 at the reference load: {ref95:.1f} ms = "
                      f"{ref95 / reference[key]:.2f}× the first size's (target ≤ 1.2×)")
            else:
                reference[key] = ref95
            put(f"{pre}: p50 / p95 / p99 at the reference load "
                f"({reference[f'rate{count}']:.0f}/s)", _ms(ref) + note)
            put(f"{pre}: at 200 %: admitted p99, shed",
                f"{over.pct(.99):,.0f} ms = {over.pct(.99) / eighty.pct(.99):.2f}× the p99 at "
                f"80 %; {over.shed:,} of {over.sent:,} shed; errors {over.errors}")
            put(f"{pre}: at 200 %: where the excess went", cause)
            if args.storm:  # far past the capacity: does the replica still shed, or tip over?
                rate = args.storm * capacity
                r, storm_cause = await _overload(replicas, tokens, args.seconds, rate)
                print(_row(f"{args.storm:.0%} (storm)", r, rate) + f"\n      {storm_cause}",
                      flush=True)
                put(f"{pre}: at {args.storm:.0%}: served, admitted p50 / p95 / p99, shed",
                    f"{r.rate:,.0f}/s; {_ms(r)}; {r.shed:,} of {r.sent:,} shed; errors "
                    f"{r.errors}")
                put(f"{pre}: at {args.storm:.0%}: where the excess went", storm_cause)
            waits = await replicas.metric("satchel_db_pool_waits")
            wait_s = await replicas.metric("satchel_db_pool_wait_seconds")
            rss = replicas.rss_mib()
            print(f"    RSS per replica: {', '.join(f'{x:.0f} MiB' for x in rss)}; "
                  f"pool waits: {int(sum(waits))} ({sum(wait_s):.2f} s in all)")
            put(f"{pre}: RSS per replica", " + ".join(f"{x:.0f} MiB" for x in rss))
            put(f"{pre}: pool waits (accounts pool)", f"{int(sum(waits))}")
        finally:
            replicas.stop()


def print_table(table: dict[str, dict[int, str]], sizes: list[int]) -> None:
    print("\n| per learner count | " + " | ".join(f"{n:,}" for n in sizes) + " |")
    print("|---|" + "---|" * len(sizes))
    for row, values in table.items():
        print(f"| {row} | " + " | ".join(values.get(n, "—") for n in sizes) + " |")


def _shared_reference(path: Path | None) -> dict[str, float]:
    """The reference load and its p95 from an earlier run (``--reference``), else empty.

    Deployments seeded apart (1,000 / 10,000 / 100,000 learners, each kept in its own folder)
    are then measured at the same offered load and compared with the first one's p95.
    """
    if path is None or not path.exists():
        return {}
    return {k: float(v) for k, v in json.loads(path.read_text()).items()
            if k.startswith(_SHARED_KEYS)}


def _save_reference(path: Path | None, reference: dict[str, float]) -> None:
    if path is not None and not path.exists():  # the first run sets it; later ones compare
        path.write_text(json.dumps({k: v for k, v in reference.items()
                                    if k.startswith(_SHARED_KEYS)}, indent=1))


#: What a later run takes from the first: the offered reference load and its p95, per replica count.
_SHARED_KEYS = ("rate", "p95_")


async def main(args: argparse.Namespace) -> None:
    print(f"cores: {len(_cores())}; load average before: {_loadavg()}")
    print(f"command: {' '.join(sys.argv)}")
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        dep = Deployment.kept(args.pg, args.keep)
        if args.drop:
            await dep.drop()
            (args.keep / "state.json").unlink(missing_ok=True)
            print(f"dropped the deployment kept in {args.keep}")
            return
        print(f"kept deployment in {args.keep}: {dep.learners:,} learners seeded so far")
    else:
        dep = Deployment(args.pg)
    reference = _shared_reference(args.reference)
    table: dict[str, dict[int, str]] = {}
    try:
        await dep.create()
        dep.save(args.keep)
        for n in sorted(args.learners):
            if n < dep.learners:
                print(f"\n== {n:,} learners: skipped, the kept deployment holds {dep.learners:,}")
                continue
            await measure(dep, n, args, reference, table)
            _save_reference(args.reference, reference)
    finally:
        if args.keep is None:
            await dep.drop()
    print(f"\nload average after: {_loadavg()}")
    print_table(table, [n for n in sorted(args.learners) if any(n in v for v in table.values())])


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--learners", default="1000", type=_counts,
                    help="comma-separated learner counts (default 1000)")
    ap.add_argument("--credentials", type=int, default=20, help="per learner (default 20)")
    ap.add_argument("--replicas", default="1,2", type=_counts,
                    help="replica counts to measure (default 1,2)")
    ap.add_argument("--seconds", type=float, default=15.0,
                    help="per open-loop step (default 15)")
    ap.add_argument("--capacity-connections", type=_positive, default=_IN_FLIGHT,
                    help=f"closed-loop connections per replica measuring capacity (default "
                         f"{_IN_FLIGHT}, the in-flight limit SATCHEL_MAX_IN_FLIGHT's default: a "
                         "replica is saturated, nothing waits in its admission queue, one "
                         "replica and two are measured alike)")
    ap.add_argument("--rounds", type=_positive, default=4,
                    help="interleaved capacity rounds: each measures every replica count in "
                         "turn (1, 2, 1, 2, …) under each placement; capacity is the median "
                         "(default 4)")
    ap.add_argument("--capacity-seconds", type=_positive, default=5,
                    help="seconds per capacity run, whole (default 5)")
    ap.add_argument("--placements", default=",".join(_DEFAULT_PLACEMENTS), type=_placements,
                    help="where the load generator and PostgreSQL run during the capacity "
                         "rounds, comma-separated; the first sets the capacity the open-loop "
                         "steps use, the others are compared with it. "
                         + "; ".join(f"{k}: {v}" for k, v in PLACEMENTS.items())
                         + f" (default {','.join(_DEFAULT_PLACEMENTS)})")
    ap.add_argument("--sample", type=int, default=1000,
                    help="learners signed in for the load, drawn from all (default 1000)")
    ap.add_argument("--seed-procs", type=int, default=2 * len(_cores()),
                    help="seeding processes (default: twice the cores)")
    ap.add_argument("--seed-concurrency", type=int, default=4,
                    help="learners seeded at once per process (default 4)")
    ap.add_argument("--durable-seed", action="store_true",
                    help="keep synchronous_commit on while seeding (slower)")
    ap.add_argument("--unlock-samples", type=int, default=5,
                    help="unlocks timed at the production cost (default 5; 0: skip)")
    ap.add_argument("--keep", type=Path, default=None,
                    help="keep the deployment in this folder and reuse it (seed incrementally)")
    ap.add_argument("--seed-only", action="store_true", help="seed, measure nothing else")
    ap.add_argument("--reference", type=Path, default=None,
                    help="JSON file for the reference load: written by the first run, read by "
                         "later ones (compare deployments kept apart at the same offered load)")
    ap.add_argument("--drop", action="store_true", help="drop the deployment kept in --keep")
    ap.add_argument("--replica-env", metavar="NAME=VALUE", action=_Settings, type=_setting,
                    default={}, help="a setting for every replica (capacity rounds and open "
                    "loop), e.g. SATCHEL_MAX_IN_FLIGHT=8; repeatable")
    ap.add_argument("--compare-env", metavar="NAME=VALUE", action=_Settings, type=_setting,
                    default={}, help="after the open-loop steps of each replica count, run them "
                    "again with the replicas restarted with this setting added, at the same "
                    "offered rates (rows marked 'with NAME=VALUE'), e.g. "
                    "SATCHEL_ADAPTIVE_IN_FLIGHT=1 against the fixed limit; repeatable (all of "
                    "them together)")
    ap.add_argument("--baseline-code", type=_checkout, default=None, metavar="DIR",
                    help="after the variants, run the open-loop steps again with the replicas "
                    "started from DIR's code (a copy of the commit a change starts from, e.g. "
                    "git archive COMMIT | tar -x -C DIR), at the same offered rates (rows "
                    "marked 'with the code of DIR'): a change against the code it changes, in "
                    "one run")
    ap.add_argument("--storm", type=float, default=0.0, metavar="X",
                    help="after the 200 %% step, one more at X times the capacity (e.g. 4): "
                    "whether a replica far past its capacity still sheds or tips over (peak "
                    "connections, RSS, collections); default: none")
    ap.add_argument("--variant", metavar="NAME=VALUE[,NAME=VALUE…]", action="append",
                    type=_variant, default=[], help="like --compare-env, but each --variant is "
                    "a comparison of its own: the open-loop steps run once as configured and "
                    "once per variant, replicas restarted, at the same offered rates (e.g. "
                    "--variant SATCHEL_MAX_IN_FLIGHT=8 --variant SATCHEL_ADAPTIVE_IN_FLIGHT=1); "
                    "after --compare-env's")
    ap.add_argument("--pg", default=os.environ.get("SATCHEL_TEST_PG",
                                                   "postgres://postgres@127.0.0.1:5432"),
                    help="PostgreSQL server URL, trust auth (default $SATCHEL_TEST_PG or "
                         "postgres://postgres@127.0.0.1:5432)")
    return ap


def _counts(text: str) -> list[int]:
    """``1000,10000`` → [1000, 10000]: positive whole numbers."""
    try:
        counts = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: comma-separated whole numbers") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: each count at least 1")
    return counts


def _setting(text: str) -> tuple[str, str]:
    """``SATCHEL_X=1`` → ("SATCHEL_X", "1"): a replica's setting, one this checkout declares (a
    misspelt name would be ignored by the replicas, and its variant measure the default again)."""
    name, sep, value = text.partition("=")
    if not sep or not name.startswith("SATCHEL_") or not name.replace("_", "").isalnum():
        raise argparse.ArgumentTypeError(f"{text!r}: NAME=VALUE, NAME a SATCHEL_ setting")
    if name not in _DECLARED_NAMES:
        raise argparse.ArgumentTypeError(f"{text!r}: {name} is not a setting (satchel serve "
                                         "--help lists them)")
    return name, value


def _checkout(text: str) -> Path:
    """A folder holding Satchel's packages (what a replica's PYTHONPATH names)."""
    path = Path(text).resolve()
    if not (path / "holder_api" / "cli.py").is_file():
        raise argparse.ArgumentTypeError(f"{text!r}: no holder_api/cli.py in it")
    return path


def _variant(text: str) -> dict[str, str]:
    """``SATCHEL_X=1,SATCHEL_Y=2`` → their settings: one variant compared with the default,
    its values checked together now rather than by replicas that refuse to start at its turn."""
    variant = dict(_setting(part) for part in text.split(","))
    try:
        Settings.from_env(variant)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return variant


class _Settings(argparse.Action):
    """Repeated ``NAME=VALUE`` options gathered in a dict (the last value of a name wins)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> None:
        name, value = values
        setattr(namespace, self.dest, {**getattr(namespace, self.dest), name: value})


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: at least 1")
    return n


def _placements(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [x for x in names if x not in PLACEMENTS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(
            f"{text!r}: comma-separated, each one of {', '.join(PLACEMENTS)}")
    return list(dict.fromkeys(names))


#: gen-last first: the open-loop steps run their Python generator on the last core too.
_DEFAULT_PLACEMENTS = ("gen-last", "float")


if __name__ == "__main__":
    arguments = build_parser().parse_args()
    if not (arguments.seed_only or arguments.drop or shutil.which("wrk")):
        sys.exit("bench/scale.py measures capacity with wrk (https://github.com/wg/wrk): "
                 "install it (apt-get install wrk)")
    asyncio.run(main(arguments))
