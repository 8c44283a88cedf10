"""HTTP hot paths against their primitives, measured in one run on this machine.

- authenticated ``GET /v1/credentials`` (20 items) over HTTP  vs  raw Askar fetching the same 20
  credentials in-process, twice over (target: Satchel ≥ 50 % of Askar's rate; issue 14: ≥ 75 %):
  * against Askar fetching the 20 whole credential rows (category ``credential``: each value the
    sealed summary then the sealed record, ~2.3 KiB, with four index tags), which is what the
    list read until it had summary rows of its own;
  * against Askar fetching what the list reads now: the learner's summary rows (category
    ``credential_summary``: 20 sealed summaries of ~300 bytes without tags, plus the one small
    row saying they are complete; docs/architecture.md), the stricter baseline;
- authenticated ``GET /v1/keys``  vs  a bare aiohttp JSON endpoint (target ≥ 35 %).

How it is kept fair:

- every subject runs in its own process, alone: the Satchel server (``satchel serve``, INFO logs
  written to a file, metrics on), a bare aiohttp server, and the raw Askar loop, which opens
  *Satchel's own store* and fetches the learner's rows (``fetch_all`` of one category in one
  session, the names and values copied out as Satchel does);
- the subjects are pinned to one core and the load generator (``wrk`` when installed, otherwise
  an aiohttp client in its own process) to the other, so the client never steals the server's CPU;
- the measures are interleaved in rounds (Askar, Satchel list, bare endpoint, Satchel keys, ...)
  and each ratio is taken inside its round, so load from elsewhere on a shared machine hits both
  sides of a ratio alike; the table shows medians over the rounds and the load average.
- each raw Askar rate is the better of one loop and 16 concurrent loops (the stricter baseline);
- besides requests per second, each subject's requests per CPU-second (its process, every
  thread) are shown: on a machine shared with other work that ratio moves much less, since it
  does not depend on how much of the core the subject happened to get. Trust the req/s ratios
  only when the load average is low: under contention the raw Askar loop (one runnable thread
  at a time) gets a smaller share of its core than a server with 16 requests in flight, and its
  wall rate collapses, which flatters the list ratio (seen: 1.8 at load 8 against 0.6 at load 2).

    python bench/bench_api.py [--seconds 5] [--rounds 5] [--concurrency 16] [--client wrk]
                              [--log-level INFO] [--no-pin]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import psutil
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASS = "benchmark passphrase 123"
ENV = {"SATCHEL_PUBLIC_URL": "http://bench.invalid"}


def _cpus() -> tuple[set[int] | None, set[int] | None]:
    """(server core, client core), or (None, None) when there are fewer than two cores."""
    try:
        cores = sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return None, None
    if len(cores) < 2:
        return None, None
    return {cores[0]}, {cores[1]}


def _pin(cpus: set[int] | None) -> None:
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ------------------------------------------------------------------------------------- subjects

def _bare_server(port: int, cpus: set[int] | None) -> None:
    _pin(cpus)

    async def handler(_r: web.Request) -> web.Response:
        return web.json_response({"items": [{"id": "k1", "alg": "ES256", "jwk": {"kty": "EC"},
                                             "did": "did:jwk:x"}]})

    app = web.Application()
    app.router.add_get("/keys", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _satchel_server(port: int, data: str, cpus: set[int] | None, level: str = "INFO") -> None:
    _pin(cpus)
    log = open(Path(data) / "server.log", "a")  # noqa: SIM115 - lives as long as the process
    os.dup2(log.fileno(), 2)
    os.environ.update({"SATCHEL_DATA_DIR": data, "SATCHEL_LOG_LEVEL": level, **ENV})
    from holder_api.cli import main

    main(["serve", "--port", str(port)])


#: What the raw Askar loop fetches: category → rows it must get (the 20 credential rows; the 20
#: summary rows and the row marking them complete, which is what the list reads).
RAW_FETCHES = {"credential": 20, "credential_summary": 21}


def _raw_askar(data: str, learner_id: str, category: str, seconds: float,
               cpus: set[int] | None, out: Any) -> None:
    """Fetch the learner's rows of ``category`` from Satchel's store, as fast as Askar goes."""
    _pin(cpus)
    expect = RAW_FETCHES[category]

    async def run() -> dict[str, float]:
        from aries_askar import Store

        key = (Path(data) / "store.key").read_text().strip()
        store = await Store.open(f"sqlite://{data}/vault.db", "raw", key)

        async def loop(stop: float) -> int:
            n = 0
            while time.perf_counter() < stop:
                async with store.session(learner_id) as sess:
                    rows = await sess.fetch_all(category, limit=expect)
                    assert len(rows) == expect, (category, len(rows))
                    for e in rows:
                        (e.name, bytes(e.raw_value))
                n += 1
            return n

        rates = {}
        for conc in (1, 16):
            t0, c0 = time.perf_counter(), time.process_time()  # CPU of every thread
            counts = await asyncio.gather(*(loop(t0 + seconds / 2) for _ in range(conc)))
            rates[f"c{conc}"] = sum(counts) / (time.perf_counter() - t0)
            rates[f"cpu{conc}"] = sum(counts) / (time.process_time() - c0)
        await store.close()
        return rates

    out.send(asyncio.run(run()))


def _run_in_process(target: Callable[..., None], *args: Any) -> Any:
    ctx = mp.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    p = ctx.Process(target=target, args=(*args, send))
    p.start()
    result = recv.recv()
    p.join()
    return result


# ------------------------------------------------------------------------------ load generators

_WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")


def _wrk(url: str, headers: dict[str, str], seconds: float, concurrency: int,
         cpus: set[int] | None) -> float:
    # a 10 s timeout (wrk: 2 s): under load a slow answer is slow, not a failure of the run
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(seconds))}s", "--timeout", "10s"]
    for k, v in headers.items():
        cmd += ["-H", f"{k}: {v}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True,
                         preexec_fn=(lambda: _pin(cpus)) if cpus else None).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw failures:\n{out}")
    m = _WRK_RATE.search(out)
    if m is None:
        raise RuntimeError(f"no rate in wrk output:\n{out}")
    return float(m.group(1))


def _aiohttp_client(url: str, headers: dict[str, str], seconds: float, concurrency: int,
                    cpus: set[int] | None, out: Any) -> None:
    _pin(cpus)

    async def run() -> float:
        done = 0
        stop = time.perf_counter() + seconds
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=concurrency)) as s:
            async def worker() -> None:
                nonlocal done
                while time.perf_counter() < stop:
                    async with s.get(url, headers=headers) as r:
                        await r.read()
                        if r.status != 200:
                            raise RuntimeError(f"status {r.status}")
                    done += 1

            t0 = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(concurrency)))
            return done / (time.perf_counter() - t0)

    out.send(asyncio.run(run()))


# ---------------------------------------------------------------------------------------- setup

async def _wait(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(1200):  # 60 s: start-up takes over 20 s at load ≈ 20
            try:
                async with s.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def _seed(base: str) -> str:
    async with aiohttp.ClientSession() as s:
        async with s.post(f"{base}/v1/learners",
                          json={"username": "bench", "passphrase": PASS}) as r:
            assert r.status == 201, await r.text()
        async with s.post(f"{base}/v1/sessions",
                          json={"username": "bench", "passphrase": PASS}) as r:
            return str((await r.json())["access_token"])


async def _store_20(data: str, token: str) -> str:
    """Put 20 credentials into the learner's vault through the vault layer; the learner's id."""
    from holder_api.settings import Settings
    from wallet.accounts.tokens import ServiceKeys, TokenService
    from wallet.crypto import VaultKey
    from wallet.vault import StoredCredential, VaultStore, load_or_create_store_key

    settings = Settings.from_env({"SATCHEL_DATA_DIR": data, **ENV})
    keys = ServiceKeys.from_secret(settings.session_key)
    claims = TokenService(keys, ttl=60,  # the issuer the server uses (one per deployment)
                          issuer=settings.deployment_id or keys.deployment_id).check(token)
    store = await VaultStore.open(settings.vault_uri, load_or_create_store_key(Path(data)))
    creds = store.for_learner(claims.learner_id, VaultKey.from_bytes(claims.dek)).credentials
    raw = "eyJhbGciOiJFUzI1NiJ9." + "x" * 1500 + ".sig"  # a typical ~1.5 KiB JWT VC
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(20):
        await creds.put(StoredCredential(
            id=f"urn:uuid:{uuid.uuid4()}", format="jwt_vc_json", raw=raw,
            types=("VerifiableCredential", "OpenBadgeCredential"), issuer="https://uni.example",
            title=f"Course {i}", issued_at=t0, expires_at=None, status="valid",
            added_at=t0 + timedelta(seconds=i),
            data={"claims": {"name": "Ada Lovelace", "achievement": "Python basics", "ects": 5},
                  "search_text": "programming python esco"}))
    await store.close()
    return claims.learner_id


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


async def main(seconds: float, rounds: int, concurrency: int, client: str, level: str,
               pin: bool) -> None:
    server_cpu, client_cpu = _cpus() if pin else (None, None)
    if client == "wrk" and shutil.which("wrk") is None:
        client = "aiohttp"

    def load(url: str, headers: dict[str, str], server: Any = None) -> tuple[float, float]:
        """(requests per second, requests per CPU-second of the server, all its threads)."""
        proc = psutil.Process(server.pid) if server is not None else None
        c0 = sum(proc.cpu_times()[:2]) if proc else 0.0
        if client == "wrk":
            rate = _wrk(url, headers, seconds, concurrency, client_cpu)
        else:
            rate = float(_run_in_process(_aiohttp_client, url, headers, seconds, concurrency,
                                         client_cpu))
        cpu = sum(proc.cpu_times()[:2]) - c0 if proc else 0.0
        return rate, (rate * round(seconds) / cpu if cpu else 0.0)

    data = tempfile.mkdtemp(prefix="satchel-bench-")
    sp, bp = _free_port(), _free_port()
    ctx = mp.get_context("spawn")
    satchel = ctx.Process(target=_satchel_server, args=(sp, data, server_cpu, level),
                          daemon=True)
    bare = ctx.Process(target=_bare_server, args=(bp, server_cpu), daemon=True)
    satchel.start()
    bare.start()
    base = f"http://127.0.0.1:{sp}"
    load_before = _loadavg()
    keys_ = ("askar1", "askar16", "askar", "askar_s1", "askar_s16", "askar_s", "creds", "bare",
             "keys", "r_creds", "r_creds_s", "r_keys", "cpu_askar", "cpu_askar_s", "cpu_creds",
             "cpu_bare", "cpu_keys", "rc_creds", "rc_creds_s", "rc_keys")
    rows: dict[str, list[float]] = {k: [] for k in keys_}
    try:
        await _wait(f"{base}/healthz")
        await _wait(f"http://127.0.0.1:{bp}/keys")
        token = await _seed(base)
        learner = await _store_20(data, token)
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as s, s.get(f"{base}/v1/credentials?limit=20",
                                                       headers=auth) as r:
            assert len((await r.json())["items"]) == 20
        load(f"{base}/v1/credentials?limit=20", auth)  # warm-up
        for _ in range(rounds):
            raw = _run_in_process(_raw_askar, data, learner, "credential", seconds, server_cpu)
            best = 1 if raw["c1"] >= raw["c16"] else 16
            askar, cpu_askar = raw[f"c{best}"], raw[f"cpu{best}"]
            creds, cpu_creds = load(f"{base}/v1/credentials?limit=20", auth, satchel)
            raw_s = _run_in_process(_raw_askar, data, learner, "credential_summary", seconds,
                                    server_cpu)
            best = 1 if raw_s["c1"] >= raw_s["c16"] else 16
            askar_s, cpu_askar_s = raw_s[f"c{best}"], raw_s[f"cpu{best}"]
            bare_rate, cpu_bare = load(f"http://127.0.0.1:{bp}/keys", {}, bare)
            keys, cpu_keys = load(f"{base}/v1/keys", auth, satchel)
            for k, v in (("askar1", raw["c1"]), ("askar16", raw["c16"]), ("askar", askar),
                         ("askar_s1", raw_s["c1"]), ("askar_s16", raw_s["c16"]),
                         ("askar_s", askar_s), ("creds", creds), ("bare", bare_rate),
                         ("keys", keys), ("r_creds", creds / askar),
                         ("r_creds_s", creds / askar_s), ("r_keys", keys / bare_rate),
                         ("cpu_askar", cpu_askar), ("cpu_askar_s", cpu_askar_s),
                         ("cpu_creds", cpu_creds), ("cpu_bare", cpu_bare), ("cpu_keys", cpu_keys),
                         ("rc_creds", cpu_creds / cpu_askar),
                         ("rc_creds_s", cpu_creds / cpu_askar_s),
                         ("rc_keys", cpu_keys / cpu_bare)):
                rows[k].append(v)
            print(f"round: askar rows {askar:6.0f}/s summary rows {askar_s:6.0f}/s  list "
                  f"{creds:6.0f}/s ({creds / askar:.2f}, {creds / askar_s:.2f})  "
                  f"bare {bare_rate:6.0f}/s  keys {keys:6.0f}/s ({keys / bare_rate:.2f}); "
                  f"per CPU-s: list {cpu_creds / cpu_askar:.2f}, {cpu_creds / cpu_askar_s:.2f} "
                  f"keys {cpu_keys / cpu_bare:.2f}", file=sys.stderr, flush=True)
    finally:
        satchel.terminate()
        bare.terminate()
        shutil.rmtree(data, ignore_errors=True)

    def med(k: str) -> float:
        return statistics.median(rows[k])

    pinning = (f"servers on CPU {sorted(server_cpu)}, client on CPU {sorted(client_cpu)}"
               if server_cpu and client_cpu else "no CPU pinning")
    print(f"client: {client} ({concurrency} connections); {pinning}; {rounds} rounds of "
          f"{seconds:g} s; Satchel log level {level} (one JSON access line per request at INFO)")
    print(f"load average before: {load_before}; after: {_loadavg()}")
    print(f"{'measure (medians over rounds)':52} {'req/s':>7} {'ratio':>6}  "
          f"{'req/CPU-s':>9} {'ratio':>6}  target")
    print(f"{'raw Askar: fetch the 20 credential rows, 1 loop':52} {med('askar1'):7.0f}")
    print(f"{'raw Askar: ... 16 concurrent loops':52} {med('askar16'):7.0f}")
    print(f"{'raw Askar: ... the better of the two (A)':52} {med('askar'):7.0f} {'':6}  "
          f"{med('cpu_askar'):9.0f}")
    print(f"{'raw Askar: fetch the 20 summary rows + marker, 1 loop':52} {med('askar_s1'):7.0f}")
    print(f"{'raw Askar: ... 16 concurrent loops':52} {med('askar_s16'):7.0f}")
    print(f"{'raw Askar: ... the better of the two (S)':52} {med('askar_s'):7.0f} {'':6}  "
          f"{med('cpu_askar_s'):9.0f}")
    print(f"{'Satchel: GET /v1/credentials?limit=20 (HTTP, auth)':52} {med('creds'):7.0f}")
    print(f"{'  ... vs A (Askar reading the 20 credential rows)':52} {'':7} "
          f"{med('r_creds'):6.2f}  {med('cpu_creds'):9.0f} {med('rc_creds'):6.2f}  >= 0.75")
    print(f"{'  ... vs S (Askar reading what the list reads)':52} {'':7} "
          f"{med('r_creds_s'):6.2f}  {'':9} {med('rc_creds_s'):6.2f}")
    print(f"{'bare aiohttp JSON endpoint':52} {med('bare'):7.0f} {'':6}  {med('cpu_bare'):9.0f}")
    print(f"{'Satchel: GET /v1/keys (HTTP, auth)':52} {med('keys'):7.0f} "
          f"{med('r_keys'):6.2f}  {med('cpu_keys'):9.0f} {med('rc_keys'):6.2f}  >= 0.35")
    print("per-round ratios, req/s: list vs A " + " ".join(f"{x:.2f}" for x in rows["r_creds"])
          + ", vs S " + " ".join(f"{x:.2f}" for x in rows["r_creds_s"])
          + "; keys " + " ".join(f"{x:.2f}" for x in rows["r_keys"]))
    print("per-round ratios, per CPU-s: list vs A "
          + " ".join(f"{x:.2f}" for x in rows["rc_creds"])
          + ", vs S " + " ".join(f"{x:.2f}" for x in rows["rc_creds_s"]))
    print(json.dumps({k: [round(x, 3) for x in v] for k, v in rows.items()}), file=sys.stderr)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--client", choices=("wrk", "aiohttp"), default="wrk")
    ap.add_argument("--log-level", default="INFO", help="Satchel's (INFO: the default)")
    ap.add_argument("--no-pin", action="store_true", help="let the scheduler place everything")
    a = ap.parse_args()
    asyncio.run(main(a.seconds, a.rounds, a.concurrency, a.client, a.log_level.upper(),
                     not a.no_pin))
