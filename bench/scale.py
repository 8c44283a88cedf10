"""Scale bench: many learners on PostgreSQL, one and two replicas, an open-loop load.

For each learner count (``--learners 1000,10000``):

1. **Seed** fresh PostgreSQL databases (vault, accounts/ledger) through the services, in this
   process: ``AccountService.sign_up`` and ``unlock`` (with a cheap, bench-only Argon2id cost:
   ``SATCHEL_ALLOW_WEAK_KDF``), then ``--credentials`` credentials per learner written by the vault
   layer in one transaction per learner. Reported: learners per second, database size per learner
   (both databases, growth over the empty schema).
2. **Unlock at production cost** (64 MiB, 3 passes), timed on its own for a few learners signed up
   with that cost — the seeding cost says nothing about it.
3. For one and for two replicas (``satchel serve`` subprocesses, replica *i* pinned to core
   *i mod cores* with ``os.sched_setaffinity``; the load generator is a process of its own, on
   the last core): **capacity** = requests per second a closed loop of ``--capacity-concurrency``
   clients gets from authenticated ``GET /v1/credentials?limit=20`` (random learners; the
   replicas in turn); then an **open loop** — requests sent at a fixed rate whatever the answers,
   latency counted from the scheduled send time, so queueing shows — at 50 % and 80 % of that
   capacity, at the *reference load* (80 % of the first learner count's one-replica capacity, the
   same offered load for every count), and at 200 % (overload: admitted requests' p99, shed 503s).
   Reported: p50/p95/p99, capacity per core, RSS per replica, pool waits (checkouts that found
   the accounts pool exhausted, from ``/metrics``) and the admission queue's high-water mark.

Needs PostgreSQL (``--pg``, trust auth; databases ``satchel_scale_*`` are created and dropped).
The machine's load average is printed before and after: on a shared machine compare figures taken
at similar load. Defaults run 1,000 learners in about 8 minutes; add sizes for more::

    python bench/scale.py                              # 1,000 learners
    nice -n 10 python bench/scale.py --learners 1000,10000
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aiohttp import web  # noqa: E402
from aries_askar import Store  # noqa: E402

from holder_api.app import create_app  # noqa: E402
from holder_api.appkeys import SERVICES, WIRING  # noqa: E402
from holder_api.settings import Settings  # noqa: E402
from wallet.vault import StoredCredential  # noqa: E402

PASS = "scale bench passphrase 42"
SESSION_KEY = "c2NhbGUtYmVuY2gtc2Vzc2lvbi1rZXktMzItYnl0ZXMh"
_LIST = "/v1/credentials?limit=20"


# ------------------------------------------------------------------------------------ databases

@dataclass
class Deployment:
    pg: str
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    data: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="satchel-scale-")))
    store_key: str = field(default_factory=Store.generate_raw_key)

    @property
    def vault_db(self) -> str:
        return f"satchel_scale_vault_{self.tag}"

    @property
    def sql_db(self) -> str:
        return f"satchel_scale_sql_{self.tag}"

    def env(self, *, weak_kdf: bool) -> dict[str, str]:
        env = {
            "SATCHEL_DATA_DIR": str(self.data), "SATCHEL_PUBLIC_URL": "http://scale.invalid",
            "SATCHEL_VAULT_URI": f"{self.pg}/{self.vault_db}",
            "SATCHEL_DATABASE_URL": self.pg.replace("postgres://", "postgresql+asyncpg://")
            + f"/{self.sql_db}",
            "SATCHEL_KEYRING_URI": str(self.data / "keyring"),
            "SATCHEL_STORE_KEY": self.store_key, "SATCHEL_SESSION_KEY": SESSION_KEY,
            "SATCHEL_TOKEN_TTL": "86400", "SATCHEL_UNLOCK_LIMIT": "100000000/60",
            "SATCHEL_LOG_LEVEL": "WARNING",
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

    async def create(self) -> None:
        await self.admin(f'CREATE DATABASE "{self.sql_db}"')  # Askar creates its own

    async def size(self) -> int:
        total = 0
        for db in (self.vault_db, self.sql_db):
            total += int(await self.admin(f"SELECT pg_database_size('{db}')") or 0)
        return total

    async def drop(self) -> None:
        for db in (self.vault_db, self.sql_db):
            await self.admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


async def _started(settings: Settings) -> tuple[web.Application, web.AppRunner]:
    app = create_app(settings)
    runner = web.AppRunner(app)
    await runner.setup()  # opens the stores, migrates: the services without a listening socket
    return app, runner


def _credential(i: int, t0: datetime) -> StoredCredential:
    return StoredCredential(
        id=f"urn:uuid:{uuid.uuid4()}", format="jwt_vc_json",
        raw="eyJhbGciOiJFUzI1NiJ9." + "x" * 1500 + ".sig",  # a typical ~1.5 KiB JWT VC
        types=("VerifiableCredential", "OpenBadgeCredential"), issuer="https://uni.example",
        title=f"Course {i}", issued_at=t0, expires_at=None, status="valid",
        added_at=t0 + timedelta(seconds=i),
        data={"claims": {"name": "Ada Lovelace", "achievement": f"Module {i}", "ects": 5},
              "search_text": "programming python esco"})


async def seed(dep: Deployment, learners: int, per_learner: int,
               concurrency: int) -> tuple[list[str], float, float]:
    """(tokens, learners per second, bytes per learner)."""
    app, runner = await _started(Settings.from_env(dep.env(weak_kdf=True)))
    services, vault_store = app[SERVICES], app[WIRING].stores.vault
    empty = await dep.size()
    tokens: list[str] = []
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    gate = asyncio.Semaphore(concurrency)
    done = 0

    async def one(n: int) -> None:
        nonlocal done
        async with gate:
            name = f"learner{n:06d}"
            await services.accounts.sign_up(name, PASS, client="bench")
            token = await services.accounts.unlock(name, PASS, client="bench")
            session = await services.accounts.authenticate(token.token)
            vault = vault_store.for_learner(session.learner_id, session.dek)
            async with vault.atomic() as tx:
                for i in range(per_learner):
                    await tx.credentials.put(_credential(i, t0))
            tokens.append(token.token)
            done += 1
            if done % 1000 == 0:
                print(f"  seeded {done}", file=sys.stderr, flush=True)

    start = time.perf_counter()
    await asyncio.gather(*(one(n) for n in range(learners)))
    rate = learners / (time.perf_counter() - start)
    await runner.cleanup()
    return tokens, rate, (await dep.size() - empty) / learners


async def production_unlock(dep: Deployment, samples: int) -> list[float]:
    """Unlock times (ms) at the production Argon2id cost, for learners signed up with it."""
    app, runner = await _started(Settings.from_env(dep.env(weak_kdf=False)))
    accounts = app[SERVICES].accounts
    times = []
    for n in range(samples):
        name = f"prod{n:03d}"
        await accounts.sign_up(name, PASS, client="bench")
        start = time.perf_counter()
        await accounts.unlock(name, PASS, client="bench")
        times.append((time.perf_counter() - start) * 1000)
    await runner.cleanup()
    return times


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


class Replicas:
    def __init__(self, dep: Deployment, count: int) -> None:
        cores = _cores()
        self.ports = [_free_port() for _ in range(count)]
        env = {**os.environ, **dep.env(weak_kdf=True),
               "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
        self.procs = []
        for i, port in enumerate(self.ports):
            core = cores[i % len(cores)]
            self.procs.append(subprocess.Popen(
                [sys.executable, "-m", "holder_api.cli", "serve", "--port", str(port)], env=env,
                stdout=subprocess.DEVNULL, stderr=open(dep.data / f"replica{i}.log", "a"),  # noqa: SIM115
                preexec_fn=lambda c=core: os.sched_setaffinity(0, {c})))
        self.cores = len({cores[i % len(cores)] for i in range(count)})

    @property
    def urls(self) -> list[str]:
        return [f"http://127.0.0.1:{p}" for p in self.ports]

    async def ready(self) -> None:
        async with aiohttp.ClientSession() as s:
            for url in self.urls:
                for _ in range(600):
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
        return [psutil.Process(p.pid).memory_info().rss / 2**20 for p in self.procs]

    async def metric(self, name: str) -> list[float]:
        pattern = re.compile(rf"^{name} ([0-9.e+-]+)$", re.M)
        out = []
        async with aiohttp.ClientSession() as s:
            for url in self.urls:
                async with s.get(url + "/metrics") as r:
                    m = pattern.search(await r.text())
                    out.append(float(m.group(1)) if m else 0.0)
        return out

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(30)


# ----------------------------------------------------------------------------- load generation

@dataclass
class Result:
    sent: int
    ok: int
    shed: int
    errors: int
    latencies_ms: list[float]  # of the 200 answers
    seconds: float

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies_ms)
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    @property
    def rate(self) -> float:
        return self.ok / self.seconds


async def _load(urls: list[str], tokens: list[str], seconds: float, *, rate: float | None,
                concurrency: int) -> Result:
    """Open loop at ``rate`` requests/s, or (``rate`` None) a closed loop of ``concurrency``."""
    lat: list[float] = []
    counts = {"sent": 0, "ok": 0, "shed": 0, "errors": 0}
    rnd = random.Random(7)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector,
                                     timeout=aiohttp.ClientTimeout(total=60)) as s:

        async def request(scheduled: float, n: int) -> None:
            counts["sent"] += 1
            hdr = {"Authorization": "Bearer " + tokens[rnd.randrange(len(tokens))]}
            try:
                async with s.get(urls[n % len(urls)] + _LIST, headers=hdr) as r:
                    await r.read()
                    if r.status == 200:
                        counts["ok"] += 1
                        lat.append((time.perf_counter() - scheduled) * 1000)
                    elif r.status == 503:
                        counts["shed"] += 1
                    else:
                        counts["errors"] += 1
            except (TimeoutError, aiohttp.ClientError):
                counts["errors"] += 1

        start = time.perf_counter()
        stop = start + seconds
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
    return Result(counts["sent"], counts["ok"], counts["shed"], counts["errors"], lat, elapsed)


def _load_process(urls: list[str], tokens: list[str], seconds: float, rate: float | None,
                  concurrency: int, core: int | None, out: Any) -> None:
    if core is not None:
        os.sched_setaffinity(0, {core})
    r = asyncio.run(_load(urls, tokens, seconds, rate=rate, concurrency=concurrency))
    out.send((r.sent, r.ok, r.shed, r.errors, r.latencies_ms, r.seconds))


def load(urls: list[str], tokens: list[str], seconds: float, *, rate: float | None = None,
         concurrency: int = 32) -> Result:
    """One load run in a process of its own, on the last core."""
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=_load_process,
                    args=(urls, tokens[:5000], seconds, rate, concurrency, _cores()[-1], send))
    p.start()
    result = Result(*recv.recv())
    p.join()
    return result


# ----------------------------------------------------------------------------------------- main

def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _row(label: str, r: Result, offered: float | None = None) -> str:
    off = f"{offered:7.0f}/s" if offered else "  closed "
    return (f"    {label:26} offered {off}  served {r.rate:7.1f}/s  p50 {r.pct(.5):7.1f}  "
            f"p95 {r.pct(.95):7.1f}  p99 {r.pct(.99):7.1f} ms  shed {r.shed}  errors {r.errors}")


async def run_size(pg: str, learners: int, args: argparse.Namespace,
                   reference: dict[str, float]) -> None:
    dep = Deployment(pg)
    await dep.create()
    try:
        print(f"\n== {learners:,} learners × {args.credentials} credentials "
              f"(load average {_loadavg()})", flush=True)
        tokens, seed_rate, per_learner = await seed(dep, learners, args.credentials,
                                                    args.seed_concurrency)
        print(f"  seed: {seed_rate:.1f} learners/s ({seed_rate * args.credentials:.0f} "
              f"credentials/s); database size {per_learner / 1024:.1f} KiB per learner")
        if args.unlock_samples:
            unlock = await production_unlock(dep, args.unlock_samples)
            print(f"  unlock at production cost (64 MiB, 3 passes): median "
                  f"{statistics.median(unlock):.0f} ms over {len(unlock)}")
        for count in args.replicas:
            replicas = Replicas(dep, count)
            try:
                await replicas.ready()
                load(replicas.urls, tokens, 2, concurrency=args.capacity_concurrency)  # warm-up
                cap = load(replicas.urls, tokens, args.seconds,
                           concurrency=args.capacity_concurrency)
                capacity = cap.rate
                reference.setdefault(f"rate{count}", 0.8 * capacity)
                print(f"  {count} replica(s) on {replicas.cores} core(s): capacity "
                      f"{capacity:.0f}/s ({capacity / replicas.cores:.0f}/s per core; closed loop "
                      f"of {args.capacity_concurrency}, p99 {cap.pct(.99):.1f} ms)")
                runs = [("50% of capacity", 0.5 * capacity), ("80% of capacity", 0.8 * capacity),
                        ("reference load", reference[f"rate{count}"]),
                        ("200% (overload)", 2.0 * capacity)]
                results = {}
                for label, rate in runs:
                    results[label] = r = load(replicas.urls, tokens, args.seconds, rate=rate)
                    print(_row(label, r, rate), flush=True)
                over, eighty = results["200% (overload)"], results["80% of capacity"]
                print(f"    overload: admitted p99 {over.pct(.99):.1f} ms = "
                      f"{over.pct(.99) / eighty.pct(.99):.2f}× the p99 at 80% (target ≤ 3×); "
                      f"{over.shed} of {over.sent} shed with 503")
                ref95 = results["reference load"].pct(.95)
                key = f"p95_{count}"
                if key in reference:
                    print(f"    p95 at the reference load: {ref95:.1f} ms = "
                          f"{ref95 / reference[key]:.2f}× the first size's (target ≤ 1.2×)")
                else:
                    reference[key] = ref95
                if count == 1:
                    reference.setdefault(f"cap1_{learners}", capacity)
                elif f"cap1_{learners}" in reference:
                    print(f"    {count} replicas / 1 replica capacity: "
                          f"{capacity / reference[f'cap1_{learners}']:.2f}× (target ≥ 1.7×)")
                waits = await replicas.metric("satchel_db_pool_waits")
                wait_s = await replicas.metric("satchel_db_pool_wait_seconds")
                rss = replicas.rss_mib()
                print(f"    RSS per replica: {', '.join(f'{x:.0f} MiB' for x in rss)}; "
                      f"pool waits: {int(sum(waits))} ({sum(wait_s):.2f} s in all)")
            finally:
                replicas.stop()
    finally:
        await dep.drop()


async def main(args: argparse.Namespace) -> None:
    print(f"cores: {len(_cores())}; load average before: {_loadavg()}")
    print(f"command: {' '.join(sys.argv)}")
    reference: dict[str, float] = {}
    for n in args.learners:
        await run_size(args.pg, n, args, reference)
    print(f"\nload average after: {_loadavg()}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--learners", default="1000",
                    type=lambda s: [int(x) for x in s.split(",")],
                    help="comma-separated learner counts (default 1000)")
    ap.add_argument("--credentials", type=int, default=20, help="per learner (default 20)")
    ap.add_argument("--replicas", default="1,2", type=lambda s: [int(x) for x in s.split(",")],
                    help="replica counts to measure (default 1,2)")
    ap.add_argument("--seconds", type=float, default=15.0, help="per load step (default 15)")
    ap.add_argument("--capacity-concurrency", type=int, default=32,
                    help="closed-loop clients measuring capacity (default 32)")
    ap.add_argument("--seed-concurrency", type=int, default=8, help="sign-ups at once (default 8)")
    ap.add_argument("--unlock-samples", type=int, default=5,
                    help="unlocks timed at the production cost (default 5; 0: skip)")
    ap.add_argument("--pg", default=os.environ.get("SATCHEL_TEST_PG",
                                                   "postgres://postgres@127.0.0.1:5432"))
    asyncio.run(main(ap.parse_args()))
