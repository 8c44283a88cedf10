"""Count the SQL one request issues: a PostgreSQL wire-protocol proxy between a replica and
the server, counting what the replica sends.

For a deployment kept by ``bench/scale.py --keep DIR``, one ``satchel serve`` replica is started
with both its database URLs pointing at the proxy; a learner is signed in (directly, not through
the proxy), requests are sent one at a time, and after ``--warm`` of them (pools opened,
statements prepared) the next ``--n`` are counted. Reported per request and per database (vault,
accounts): round trips (a ``Sync`` or a simple ``Query``: each is one wait for the server),
statements executed (``Execute`` or simple ``Query``), statements parsed (``Parse``: a prepared
statement made again), and each statement text with how often it ran. Counts, not timings:
they hold whatever the machine's load.

The proxy answers a client's ``SSLRequest`` with ``N`` (no TLS), so it sees plain messages;
the PostgreSQL connection behind it is local.

    python bench/sql_count.py --keep /var/tmp/scale-1k [--path '/v1/credentials?limit=20'] [--n 200]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections import Counter
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scale import Deployment, PgCpu, Replicas, load, sign_in  # noqa: E402

from tests.pg_wire import counting_proxy  # noqa: E402


async def cpu_per_request(dep: Deployment, args: argparse.Namespace) -> None:
    """A closed loop on one replica (no proxy): CPU per request of each process."""
    tokens = await sign_in(dep, args.sample)
    replicas = Replicas(dep, 1)
    try:
        await replicas.ready()
        await load(replicas, tokens, 2, concurrency=args.concurrency)  # warm-up
        for _ in range(args.rounds):
            by_db = {name: PgCpu(SimpleNamespace(vault_db=db, sql_db=db))  # type: ignore[arg-type]
                     for name, db in (("vault", dep.vault_db), ("accounts", dep.sql_db))}
            for p in by_db.values():
                p.start()
            r = await load(replicas, tokens, args.load, concurrency=args.concurrency)
            wall = r.seconds
            per = {k: v * wall / max(r.ok, 1) * 1e6 for k, v in r.cpu.items()}
            for name, p in by_db.items():
                per[f"PostgreSQL {name}"] = await p.stop() / max(r.ok, 1) * 1e6
            print(f"closed loop of {args.concurrency}, {args.load:.0f} s: {r.rate:.0f}/s, "
                  f"errors {r.errors}; CPU µs per request: "
                  + ", ".join(f"{k} {v:.0f}" for k, v in per.items())
                  + f"; requests per replica CPU-second {1e6 / per['replica 1']:.0f}"
                  + f" (load average {' '.join(f'{x:.2f}' for x in os.getloadavg())})",
                  flush=True)
    finally:
        replicas.stop()


async def main(args: argparse.Namespace) -> None:
    state = json.loads((args.keep / "state.json").read_text())
    dep = Deployment(pg=args.pg, **{k: v for k, v in state.items() if k != "pg"})
    if args.load:
        await cpu_per_request(dep, args)
        return
    token = (await sign_in(dep, 1))[0]
    host, port = args.pg.rsplit("@", 1)[1].split(":")
    names = {dep.vault_db: "vault", dep.sql_db: "accounts"}
    async with counting_proxy(host, int(port)) as (proxy_port, wire):
        wire.on = False
        via = Deployment(**{**asdict(dep), "pg": args.pg.replace(f":{port}", f":{proxy_port}")})
        replicas = Replicas(via, 1)
        try:
            await replicas.ready()
            url = replicas.urls[0] + args.path
            headers = {"Authorization": f"Bearer {token}"}
            async with aiohttp.ClientSession() as s:
                for i in range(args.warm + args.n):
                    if i == args.warm:
                        await asyncio.sleep(1)  # anything a warm-up request left running ends
                        wire.on = True
                    async with s.get(url, headers=headers) as r:
                        await r.read()
                        if r.status != 200:
                            raise SystemExit(f"{args.path}: status {r.status}")
                await asyncio.sleep(1)
                wire.on = False
        finally:  # the proxy serves the replica's shutdown too: wait for it off the event loop
            await asyncio.get_running_loop().run_in_executor(None, replicas.stop)
    n = args.n
    print(f"{args.path}: per request, {n} requests after {args.warm} of warm-up")
    for db, name in names.items():
        print(f"  {name:8}  round trips {wire.round_trips[db] / n:5.2f}  statements "
              f"{wire.statements[db] / n:5.2f}  parsed {wire.parsed[db] / n:5.2f}  "
              f"connections opened {wire.connections[db]}")
        for sql, k in wire.texts.get(db, Counter()).most_common():
            print(f"    {k / n:5.2f}  {sql}")


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog=__doc__.split("\n\n", 1)[1],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--keep", type=Path, required=True,
                    help="a deployment kept by bench/scale.py --keep (seeded)")
    ap.add_argument("--path", default="/v1/credentials?limit=20", help="the GET to count")
    ap.add_argument("--n", type=int, default=200, help="requests counted (default 200)")
    ap.add_argument("--warm", type=int, default=20, help="requests before counting")
    ap.add_argument("--load", type=float, default=0.0,
                    help="instead of counting, run closed loops of this many seconds on one "
                         "replica without the proxy and print the CPU per request of the "
                         "replica, PostgreSQL and the load generator")
    ap.add_argument("--rounds", type=int, default=3, help="closed loops with --load")
    ap.add_argument("--concurrency", type=int, default=32, help="clients with --load")
    ap.add_argument("--sample", type=int, default=200, help="learners signed in with --load")
    ap.add_argument("--pg", default=os.environ.get("SATCHEL_TEST_PG",
                                                   "postgres://postgres@127.0.0.1:5432"))
    return ap.parse_args()


if __name__ == "__main__":
    asyncio.run(main(_parse()))
