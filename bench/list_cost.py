"""CPU of one authenticated list-20 request, counted: instructions (callgrind), not seconds.

Issue 14 wants ``GET /v1/credentials?limit=20`` at 0.75 or more of raw Askar's rate for the
same rows. Rates on this shared 2-core machine swing with its load; instruction counts do not.
This script sets up one learner with 20 credentials (PostgreSQL by default, ``--sqlite`` for the
embedded store), then counts, under ``valgrind --tool=callgrind`` (every thread):

- **the replica**: a ``satchel serve`` process answering ``--n`` list requests from a client of
  ``--concurrency`` keep-alive connections (the load generator of ``bench/scale.py``, in this
  process, outside valgrind); counters are zeroed after ``--warm`` requests and dumped after
  the ``--n`` counted ones (``callgrind_control``), so start-up and warm-up are not counted;
- **raw Askar**: a process that opens the same store and, as ``bench/bench_api.py``'s loop does,
  fetches the learner's 20 summary rows and marker (``--category credential_summary``) or its
  20 credential rows (``credential``) in one session per iteration, names and values copied
  out; zeroed after the warm-up, dumped after ``--n`` iterations;
- optionally (``--healthz``) the replica answering ``GET /healthz`` (HTTP and the middlewares,
  no auth, no admission, no vault) for the share that is aiohttp's own.

Instructions per request are the dumped total over ``--n``; the ratio raw/list is the rate the
list would reach against Askar if both were CPU-bound on the same core and ran at the same
instructions per cycle (they do not quite: ``bench/bench_api.py`` measures the rates). The
replica runs at INFO with the access log off (under valgrind every request is slower than a
second, which the default access log, errors and slow requests, would write a line for), and
without the adaptive in-flight limit and the queue-delay shedding, which would take valgrind's
pace for an overload and shed requests.
``--profile`` instead runs the replica under cProfile (thread CPU time, started after the
warm-up) and prints where its Python time goes.

    python bench/list_cost.py [--sqlite] [--n 400] [--warm 100] [--concurrency 16] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from scale import PASS, Deployment, _Client, _credential, _started  # noqa: E402

from holder_api.appkeys import SERVICES, WIRING  # noqa: E402
from holder_api.settings import Settings  # noqa: E402

_TOTALS = re.compile(rb"^(?:summary|totals):\s*(\d+)", re.M)
_LIST = "/v1/credentials?limit=20"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(args: argparse.Namespace, dep: Deployment | None, data: str) -> dict[str, str]:
    if dep is not None:
        env = dep.env(weak_kdf=True)
    else:
        env = {"SATCHEL_DATA_DIR": data, "SATCHEL_PUBLIC_URL": "http://cost.invalid",
               "SATCHEL_ALLOW_WEAK_KDF": "1", "SATCHEL_KDF_MEMLIMIT_MIB": "1",
               "SATCHEL_KDF_OPSLIMIT": "1", "SATCHEL_TOKEN_TTL": "86400",
               "SATCHEL_SUMMARY_ROWS": "read"}
    env["SATCHEL_LOG_LEVEL"] = "INFO"  # as bench_api.py runs it: the production default
    # under valgrind every request takes over a second, which the default access log (errors
    # and slow requests) would write a line for; at full speed none of these gets one
    env["SATCHEL_ACCESS_LOG"] = "off"
    # what is counted is a served request's cost, not overload control: at valgrind's pace
    # (~50 times slower) the adaptive in-flight limit and the queue-delay shedding would take
    # every request for an overload and shed it
    env["SATCHEL_ADAPTIVE_IN_FLIGHT"] = "0"
    env["SATCHEL_QUEUE_INTERVAL"] = "600"
    return env


async def _seed(env: dict[str, str]) -> tuple[str, str]:
    """(token, learner id) of a learner with 20 credentials, listed once."""
    app, runner = await _started(Settings.from_env(env))
    try:
        accounts, credentials = app[SERVICES].accounts, app[SERVICES].credentials
        name = f"cost{uuid.uuid4().hex[:10]}"
        await accounts.sign_up(name, PASS, client="198.51.100.7")
        token = (await accounts.unlock(name, PASS, client="198.51.100.7")).token
        session = await accounts.authenticate(token)
        vault = app[WIRING].stores.vault.for_learner(session.learner_id, session.dek)
        t0 = datetime(2026, 1, 1, tzinfo=UTC)
        async with vault.atomic() as tx:
            for i in range(20):
                await tx.credentials.put(_credential(i, t0))
        page = await credentials.list(session.learner_id, session.dek, limit=20)
        assert len(page.items) == 20
        return token, session.learner_id
    finally:
        await runner.cleanup()


def _vault_uri(env: dict[str, str]) -> str:
    return Settings.from_env(env).vault_uri


def _store_key(env: dict[str, str]) -> str:
    if "SATCHEL_STORE_KEY" in env:
        return env["SATCHEL_STORE_KEY"]
    return (Path(env["SATCHEL_DATA_DIR"]) / "store.key").read_text().strip()


def _valgrind(out: Path) -> list[str]:
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            "--dump-instr=no", "--compress-strings=no"]


def _control(*args: str) -> None:
    subprocess.run(["callgrind_control", *args], check=True, capture_output=True, timeout=600)


def _dumped(out: Path) -> int:
    """Instructions of the one dump ``callgrind_control -d`` wrote (``out.1``)."""
    dump = Path(f"{out}.1")
    for _ in range(600):
        if dump.exists() and _TOTALS.search(dump.read_bytes()):
            break
        time.sleep(0.5)
    m = _TOTALS.search(dump.read_bytes())
    assert m is not None, f"no totals in {dump}"
    return int(m.group(1))


async def _ready(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(3600):
            try:
                async with s.get(url + "/readyz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.25)
    raise RuntimeError(f"{url} did not become ready")


async def _drive(url: str, token: str, n: int, concurrency: int, path: str) -> None:
    client = _Client([url])
    request = f"GET {path} HTTP/1.1\r\nHost: cost\r\nAuthorization: Bearer {token}\r\n\r\n"
    client.requests[token] = request.encode()
    left = [n]
    bad = [0]

    async def worker() -> None:
        while left[0] > 0:
            left[0] -= 1
            if await client.get(0, token) != 200:
                bad[0] += 1

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    client.close()
    if bad[0]:
        raise RuntimeError(f"{bad[0]} of {n} requests failed")


def _start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("a") as err:
        return subprocess.Popen(cmd, env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
                                stdout=subprocess.DEVNULL, stderr=err)


def _appeared(path: Path, seconds: float) -> bool:
    for _ in range(int(seconds * 2)):
        if path.exists():
            return True
        time.sleep(0.5)
    return False


async def replica(env: dict[str, str], token: str, args: argparse.Namespace, work: Path,
                  path: str) -> int | None:
    port = _free_port()
    out = work / f"replica-{uuid.uuid4().hex[:6]}.cg"
    cmd = [sys.executable, "-m", "holder_api.cli", "serve", "--port", str(port)]
    profile = work / "replica.prof"
    if args.profile:
        cmd = [sys.executable, str(ROOT / "bench" / "list_cost.py"), "--serve-profiled", str(profile),
               "--port", str(port)]
    else:
        cmd = [*_valgrind(out), *cmd]
    proc = _start(cmd, env, work / "replica.log")
    url = f"http://127.0.0.1:{port}"
    try:
        await _ready(url)
        await _drive(url, token, args.warm, args.concurrency, path)
        if args.profile:
            proc.send_signal(signal.SIGUSR1)
            await asyncio.sleep(1)
        else:
            _control("-z", str(proc.pid))
        await _drive(url, token, args.n, args.concurrency, path)
        if args.profile:
            proc.send_signal(signal.SIGUSR2)
            await asyncio.to_thread(_appeared, profile, 60)
            return None
        _control("-d", str(proc.pid))
        return _dumped(out)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(120)
        proc.kill()


_RAW = """
import asyncio, sys, time
from aries_askar import Store

async def main(uri, profile, category, expect, warm, n):
    key = sys.stdin.readline().strip()  # not on the command line
    store = await Store.open(uri, "raw", key)
    async def one():
        async with store.session(profile) as sess:
            rows = await sess.fetch_all(category, limit=expect)
            assert len(rows) == expect, (category, len(rows))
            for e in rows:
                (e.name, bytes(e.raw_value))
    for _ in range(warm):
        await one()
    print("warm", flush=True)
    sys.stdin.readline()
    for _ in range(n):
        await one()
    print("done", flush=True)
    sys.stdin.readline()
    await store.close()

asyncio.run(main(*sys.argv[1:4], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])))
"""


def raw_askar(env: dict[str, str], learner: str, args: argparse.Namespace, work: Path) -> int:
    out = work / f"raw-{uuid.uuid4().hex[:6]}.cg"
    expect = {"credential": 20, "credential_summary": 21}[args.category]
    uri = _vault_uri(env).replace("postgresql://", "postgres://")
    with (work / "raw.log").open("a") as err:
        proc = subprocess.Popen(
            [*_valgrind(out), sys.executable, "-c", _RAW, uri, learner, args.category,
             str(expect), str(args.warm), str(args.n)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(_store_key(env) + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "warm"
        _control("-z", str(proc.pid))
        proc.stdin.write("go\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "done"
        _control("-d", str(proc.pid))
        proc.stdin.write("end\n")
        proc.stdin.flush()
        return _dumped(out)
    finally:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(120)
        proc.kill()


def serve_profiled(profile: str, port: int) -> None:
    """``satchel serve`` with cProfile switched on by SIGUSR1 and dumped by SIGUSR2."""
    import cProfile

    from holder_api.cli import main

    prof = cProfile.Profile(time.thread_time)  # the event loop's thread: CPU, not wall time
    signal.signal(signal.SIGUSR1, lambda *_: prof.enable())

    def dump(*_: Any) -> None:
        prof.disable()
        prof.dump_stats(profile)

    signal.signal(signal.SIGUSR2, dump)
    main(["serve", "--port", str(port)])


async def main(args: argparse.Namespace, work: Path) -> None:
    dep = None if args.sqlite else Deployment(pg=args.pg, data=str(work / "data"),
                                              tag="cost" + uuid.uuid4().hex[:8])
    data = str(work / "data")
    env = _env(args, dep, data)
    print(f"load average: {os.getloadavg()}", file=sys.stderr)
    try:
        if dep is not None:
            await dep.create()
            await dep.analyze()
        token, learner = await _seed(env)
        if args.profile:
            await replica(env, token, args, work, _LIST)
            import pstats

            stats = pstats.Stats(str(work / "replica.prof"))
            stats.sort_stats("tottime").print_stats(45)
            stats.sort_stats("cumulative").print_stats(60)
            return
        listed = await replica(env, token, args, work, _LIST)
        assert listed is not None
        print(f"{args.n} requests, {args.concurrency} connections, "
              f"{'SQLite' if args.sqlite else 'PostgreSQL'}")
        print(f"replica, list-20:       {listed / args.n:12,.0f} instructions per request",
              flush=True)
        if not args.no_raw:
            raw = raw_askar(env, learner, args, work)
            print(f"raw Askar ({args.category}): {raw / args.n:12,.0f} instructions per fetch")
            print(f"ratio raw/list:         {raw / listed:12.2f}")
        if args.healthz:
            hz = await replica(env, token, args, work, "/healthz")
            assert hz is not None
            print(f"replica, /healthz:      {hz / args.n:12,.0f} instructions per request")
        print(f"load average: {os.getloadavg()}", file=sys.stderr)
    finally:
        if dep is not None and not args.keep:
            await dep.drop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--sqlite", action="store_true", help="the embedded store, not PostgreSQL")
    ap.add_argument("--n", type=int, default=400, help="requests counted (default 400)")
    ap.add_argument("--warm", type=int, default=100, help="requests before (default 100)")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--category", default="credential_summary",
                    choices=("credential_summary", "credential"),
                    help="what raw Askar fetches (default: what the list reads)")
    ap.add_argument("--no-raw", action="store_true", help="count the replica only")
    ap.add_argument("--healthz", action="store_true", help="count GET /healthz too")
    ap.add_argument("--profile", action="store_true", help="cProfile the replica instead")
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL databases")
    ap.add_argument("--pg", default=os.environ.get("SATCHEL_TEST_PG",
                                                   "postgres://postgres@127.0.0.1:5432"))
    ap.add_argument("--serve-profiled", help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.serve_profiled:
        serve_profiled(a.serve_profiled, a.port)
    else:
        workdir = Path(tempfile.mkdtemp(prefix="satchel-cost-"))
        (workdir / "data").mkdir()
        asyncio.run(main(a, workdir))
