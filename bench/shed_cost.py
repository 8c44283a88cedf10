"""CPU of one shed request, counted: instructions (callgrind), not seconds.

At twice its capacity a replica answers about as many requests 503 ``overloaded`` as it serves,
so what one refusal costs is taken from the requests it admits; and once the excess times that
cost is more than the CPU the replica gets, it can no longer even refuse at the rate requests
arrive: they pile up unread, with their connections. This script counts that cost. It starts a
``satchel serve`` (SQLite: a shed request touches no store) admitting one request and queueing
none (``SATCHEL_MAX_IN_FLIGHT=1``, ``SATCHEL_MAX_QUEUED=0``), holds that one slot with a sign-up
whose body never comes, and then, under ``valgrind --tool=callgrind`` (every thread), counts
``--n`` ``GET /v1/credentials?limit=20`` after ``--warm`` of warm-up, every one of them shed:

- on ``--concurrency`` keep-alive connections (a client that reuses its connections);
- each on a connection of its own (``--fresh``; a client that finds none idle opens one, as the
  open-loop generator of ``bench/scale.py`` does while the replica is behind), so the count
  includes accepting the connection, setting up its protocol and closing it.

``--beyond`` counts the requests answered on connections beyond ``SATCHEL_MAX_CONNECTIONS``
instead (``holder_api/connections.py``): the bound is set to 1, which the held sign-up takes, so
every other connection is answered 503 by the gate in front of aiohttp. ``--connections K`` first
opens K idle keep-alive connections and leaves them open while it counts: what a replica holding
that many connections pays per shed (its collector scans every object they hold; the bound is off
here unless ``--beyond``). ``--access-log`` is the replica's ``SATCHEL_ACCESS_LOG`` at log level
INFO (default ``errors``, production's: it writes a line for every 4xx/5xx answer, which sheds
were until admission stopped going through it; ``off`` is what this bench counted before).
``--profile`` runs the replica under cProfile instead (thread CPU time) and prints where its
Python time goes.

    python bench/shed_cost.py [--n 2000] [--warm 300] [--concurrency 16] [--fresh] [--beyond]
                              [--connections K] [--access-log errors|off] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from list_cost import (  # noqa: E402
    _appeared,
    _control,
    _dumped,
    _env,
    _free_port,
    _ready,
    _start,
    _valgrind,
)
from scale import _Client  # noqa: E402

_LIST = "/v1/credentials?limit=20"
_HERE = str(Path(__file__).resolve())


async def _hold_the_slot(port: int) -> asyncio.StreamWriter:
    """A sign-up whose body never comes: it holds the replica's one slot while it waits."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"POST /v1/learners HTTP/1.1\r\nHost: cost\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 100\r\n\r\n{")
    await writer.drain()
    return writer


async def _shed(port: int, n: int, concurrency: int, fresh: bool) -> None:
    """``n`` list requests, every one answered 503 (else an error)."""
    url = f"http://127.0.0.1:{port}"
    token = "not-a-token"  # shed before authentication: never looked at
    left, bad = [n], [0]

    async def worker() -> None:
        client = _Client([url])
        client.requests[token] = (f"GET {_LIST} HTTP/1.1\r\nHost: cost\r\nAuthorization: "
                                  f"Bearer {token}\r\n\r\n").encode()
        while left[0] > 0:
            left[0] -= 1
            if await client.get(0, token) != 503:
                bad[0] += 1
            if fresh:
                client.close()
                client.idle[0].clear()
        client.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if bad[0]:
        raise RuntimeError(f"{bad[0]} of {n} requests were not shed")


async def _idle(port: int, count: int) -> list[asyncio.StreamWriter]:
    """``count`` keep-alive connections, each used once (so the replica has set it up whole)."""
    writers = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: cost\r\n\r\n")
        await writer.drain()
        await reader.readuntil(b"\r\n\r\n")
        writers.append(writer)
    return writers


def serve_profiled(profile: str, port: int) -> None:
    """``satchel serve`` with cProfile switched on by SIGUSR1 and dumped by SIGUSR2."""
    import cProfile
    import time

    from holder_api.cli import main

    prof = cProfile.Profile(time.thread_time)

    def dump(*_: object) -> None:
        prof.disable()
        prof.dump_stats(profile)

    signal.signal(signal.SIGUSR1, lambda *_: prof.enable())
    signal.signal(signal.SIGUSR2, dump)
    main(["serve", "--port", str(port)])


async def count(args: argparse.Namespace, work: Path) -> int | None:
    ns = argparse.Namespace(sqlite=True)
    env = _env(ns, None, str(work / "data"))
    env.update({"SATCHEL_MAX_IN_FLIGHT": "1", "SATCHEL_MAX_QUEUED": "0",
                "SATCHEL_MAX_CONNECTIONS": "1" if args.beyond else "0",
                "SATCHEL_ACCESS_LOG": args.access_log})
    port = _free_port()
    out = work / f"replica-{uuid.uuid4().hex[:6]}.cg"
    profile = work / "replica.prof"
    serve = [sys.executable, "-m", "holder_api.cli", "serve", "--port", str(port)]
    if args.profile:
        cmd = [sys.executable, _HERE, "--serve-profiled", str(profile),
               "--port", str(port)]
    else:
        cmd = [*_valgrind(out), *serve]
    proc = _start(cmd, env, work / "replica.log")
    held: list[asyncio.StreamWriter] = []
    try:
        await _ready(f"http://127.0.0.1:{port}")
        held.append(await _hold_the_slot(port))
        held.extend(await _idle(port, args.connections))
        await _shed(port, args.warm, args.concurrency, args.fresh)
        if args.profile:
            proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(1)
        else:
            _control("-z", str(proc.pid))
        await _shed(port, args.n, args.concurrency, args.fresh)
        if args.profile:
            proc.send_signal(signal.SIGUSR2)
            await asyncio.to_thread(_appeared, profile, 60)
            await asyncio.sleep(2)  # written whole
            stats = pstats.Stats(str(profile))
            stats.sort_stats("tottime").print_stats(30)
            stats.sort_stats("cumulative").print_stats(40)
            return None
        _control("-d", str(proc.pid))
        return _dumped(out)
    finally:
        for writer in held:
            writer.close()
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(120)
        proc.kill()


async def main(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="satchel-shed-"))
    (work / "data").mkdir()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)
    total = await count(args, work)
    if total is not None:
        how = "each on a new connection" if args.fresh else \
            f"{args.concurrency} keep-alive connections"
        by = "beyond the connection bound" if args.beyond else "by admission"
        print(f"{args.n} requests shed {by} ({how}; {args.connections} idle connections held; "
              f"access log {args.access_log}): {total / args.n:,.0f} instructions per request")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}", file=sys.stderr)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="requests counted (default 2000)")
    ap.add_argument("--warm", type=int, default=300, help="requests before (default 300)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--fresh", action="store_true", help="each request on a new connection")
    ap.add_argument("--beyond", action="store_true",
                    help="the requests beyond SATCHEL_MAX_CONNECTIONS, not admission's")
    ap.add_argument("--connections", type=int, default=0,
                    help="idle keep-alive connections held open meanwhile (default 0)")
    ap.add_argument("--access-log", choices=("errors", "all", "off"), default="errors",
                    help="the replica's SATCHEL_ACCESS_LOG, at log level INFO (default errors, "
                    "production's)")
    ap.add_argument("--profile", action="store_true", help="cProfile the replica instead")
    ap.add_argument("--serve-profiled", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve_profiled:
        serve_profiled(a.serve_profiled, a.port)
    else:
        asyncio.run(main(a))
