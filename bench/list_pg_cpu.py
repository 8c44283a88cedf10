"""PostgreSQL's CPU per request, by database, read from its backends' ``schedstat``.

For a deployment kept by ``bench/scale.py --keep DIR``: one ``satchel serve`` replica per
variant (``--variant NAME=ENV=VALUE[,ENV=VALUE]``, repeatable; ``base`` is the deployment's own
settings), ``--sample`` learners signed in once, then ``--rounds`` rounds, variants interleaved
(A, B, A, B, …), each sending ``--n`` requests (``--path``) with ``--concurrency`` in flight to
one replica while the others idle. Per request: the replica's CPU and the CPU of every
PostgreSQL backend whose process title names one of the deployment's databases (vault,
accounts, keyring), from ``/proc/<pid>/schedstat`` (nanoseconds, kernel time included), before
and after the round. The replicas' connections are their own (one replica per variant), so a
variant's backends are told apart by their client port. Medians over the rounds with their
range, and the load average; the request rate is shown only to see a variant wait (a smaller
pool), not as a cost. CPU time, not wall time: it holds under the shared machine's load
better than a rate does, though a busy machine still inflates it (cache misses, migrations).

    python bench/list_pg_cpu.py --keep /var/tmp/scale-1k --variant base= \\
        --variant auto=SATCHEL_VAULT_URI=postgres://…/db?options%5Bplan_cache_mode%5D=auto

Writes nothing to the deployment but what signing in writes (sessions): run it on a copy
(``CREATE DATABASE … TEMPLATE``) and a ``state.json`` naming it, not on a deployment others
measure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from pathlib import Path

import aiohttp
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scale import Deployment, Replicas, sign_in  # noqa: E402


def _ns(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/schedstat") as f:
            return int(f.read().split()[0])
    except OSError:
        return 0


def backends(dep: Deployment, replica_pid: int) -> dict[int, str]:
    """The PostgreSQL backends serving ``replica_pid``'s connections: pid → database kind."""
    ports = {c.laddr.port for c in psutil.Process(replica_pid).net_connections("tcp")
             if c.raddr and c.raddr.port == 5432}
    kinds = {dep.vault_db: "vault", dep.sql_db: "accounts", dep.keyring_db: "keyring"}
    found: dict[int, str] = {}
    for p in psutil.process_iter(["cmdline"]):
        title = " ".join(p.info["cmdline"] or ())
        if not title.startswith("postgres:"):
            continue
        words = title.split()
        db = next((kinds[w] for w in words if w in kinds), None)
        port = next((w.rsplit("(", 1)[1].rstrip(")") for w in words if "127.0.0.1(" in w), None)
        if db and port and int(port) in ports:
            found[p.pid] = db
    return found


async def round_(dep: Deployment, url: str, pid: int, tokens: list[str], path: str, n: int,
                 concurrency: int) -> dict[str, float]:
    pg = backends(dep, pid)
    before = {b: _ns(b) for b in pg}
    proc = psutil.Process(pid)
    t0 = proc.cpu_times()
    wall = time.perf_counter()
    sent = iter(range(n))
    async with aiohttp.ClientSession() as s:
        async def worker() -> None:
            for i in sent:
                headers = {"Authorization": f"Bearer {tokens[i % len(tokens)]}"}
                async with s.get(url + path, headers=headers) as r:
                    await r.read()
                    if r.status != 200:
                        raise SystemExit(f"{path}: status {r.status}")
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    t1 = proc.cpu_times()
    wall = time.perf_counter() - wall
    # requests per second: only to see a pool wait (a smaller pool serving fewer), not a cost
    per = {"replica": (t1.user + t1.system - t0.user - t0.system) / n * 1e6, "rate/s": n / wall}
    for b, kind in backends(dep, pid).items():  # a connection opened meanwhile counts whole
        per[f"PG {kind}"] = per.get(f"PG {kind}", 0.0) + (_ns(b) - before.get(b, 0)) / n / 1e3
    per["PG"] = sum(v for k, v in per.items() if k.startswith("PG "))
    return per


async def main(args: argparse.Namespace) -> None:
    state = json.loads((args.keep / "state.json").read_text())
    dep = Deployment(pg=args.pg, **{k: v for k, v in state.items() if k != "pg"})
    variants: dict[str, dict[str, str]] = {}
    for v in args.variant or ["base="]:
        name, _, rest = v.partition("=")
        variants[name] = dict(kv.split("=", 1) for kv in rest.split(",") if kv)
    tokens = await sign_in(dep, args.sample)
    running = {name: Replicas(dep, 1, env) for name, env in variants.items()}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    load = [os.getloadavg()[0]]
    try:
        for r in running.values():
            await r.ready()
            await round_(dep, r.urls[0], r.procs[0].pid, tokens, args.path,
                         max(200, len(tokens)), args.concurrency)  # warm: pools, plans
        for _ in range(args.rounds):
            for name, r in running.items():
                results[name].append(await round_(dep, r.urls[0], r.procs[0].pid, tokens,
                                                  args.path, args.n, args.concurrency))
                load.append(os.getloadavg()[0])
    finally:
        for r in running.values():
            r.stop()
    print(f"{args.path}, {args.n} requests × {args.rounds} rounds per variant, "
          f"{args.concurrency} in flight; load average {min(load):.1f}–{max(load):.1f}")
    for name, rows in results.items():
        keys = sorted({k for row in rows for k in row})
        print(f"  {name:10} CPU µs per request, median (range): " + ", ".join(
            f"{k} {statistics.median(row.get(k, 0) for row in rows):.0f} "
            f"({min(row.get(k, 0) for row in rows):.0f}–{max(row.get(k, 0) for row in rows):.0f})"
            for k in keys))


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, required=True, help="a kept deployment (a copy)")
    ap.add_argument("--variant", action="append",
                    help="NAME=ENV=VALUE[,ENV=VALUE]: a replica with these settings")
    ap.add_argument("--path", default="/v1/credentials?limit=20")
    ap.add_argument("--n", type=int, default=2000, help="requests per round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--sample", type=int, default=100, help="learners signed in")
    ap.add_argument("--pg", default=os.environ.get("SATCHEL_TEST_PG",
                                                   "postgres://postgres@127.0.0.1:5432"))
    return ap.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_parse()))
