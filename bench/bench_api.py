"""HTTP hot paths against their primitives, measured in one run on this machine.

- authenticated ``GET /v1/credentials`` (20 items) over HTTP  vs  raw Askar fetching the same 20
  records in-process (target: Satchel ≥ 50 % of Askar's rate);
- authenticated ``GET /v1/keys``  vs  a bare aiohttp JSON endpoint (target ≥ 35 %).

Servers run in their own processes (one each, like ``satchel serve``); the load generator is an
aiohttp client with a fixed number of concurrent connections in this process.

    python bench/bench_api.py [--seconds 5] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASS = "benchmark passphrase 123"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _bare_server(port: int) -> None:
    async def handler(_r: web.Request) -> web.Response:
        return web.json_response({"items": [{"id": "k1", "alg": "ES256", "jwk": {"kty": "EC"},
                                             "did": "did:jwk:x"}]})

    app = web.Application()
    app.router.add_get("/keys", handler)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


def _satchel_server(port: int, data: str) -> None:
    os.environ.update({"SATCHEL_DATA_DIR": data, "SATCHEL_LOG_LEVEL": "WARNING",
                       "SATCHEL_PUBLIC_URL": "http://bench.invalid"})
    from holder_api.cli import main

    main(["serve", "--port", str(port)])


async def _wait(url: str) -> None:
    async with aiohttp.ClientSession() as s:
        for _ in range(200):
            try:
                async with s.get(url) as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise RuntimeError(f"{url} did not come up")


async def _load(url: str, headers: dict[str, str], seconds: float, concurrency: int) -> float:
    done = 0
    stop = time.perf_counter() + seconds
    conn = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=conn) as s:
        async def worker() -> None:
            nonlocal done
            while time.perf_counter() < stop:
                async with s.get(url, headers=headers) as r:
                    await r.read()
                    assert r.status == 200, r.status
                done += 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done / (time.perf_counter() - t0)


async def _seed(base: str) -> str:
    async with aiohttp.ClientSession() as s:
        await s.post(f"{base}/v1/learners", json={"username": "bench", "passphrase": PASS})
        async with s.post(f"{base}/v1/sessions",
                          json={"username": "bench", "passphrase": PASS}) as r:
            return str((await r.json())["access_token"])


async def _store_20(data: str, token: str) -> None:
    """Put 20 credentials into the learner's vault through the service layer."""
    from holder_api.settings import Settings
    from wallet.accounts.tokens import ServiceKeys, TokenService
    from wallet.crypto import VaultKey
    from wallet.vault import StoredCredential, VaultStore, load_or_create_store_key

    settings = Settings.from_env({"SATCHEL_DATA_DIR": data,
                                  "SATCHEL_PUBLIC_URL": "http://bench.invalid"})
    claims = TokenService(ServiceKeys.from_secret(settings.session_key), ttl=60,
                          issuer=settings.public_url).check(token)
    store = await VaultStore.open(settings.vault_uri, load_or_create_store_key(Path(data)))
    creds = store.for_learner(claims.learner_id, VaultKey.from_bytes(claims.dek)).credentials
    doc = json.dumps({"credentialSubject": {"achievement": {"name": "x" * 900}}})
    for i in range(20):
        await creds.put(StoredCredential(
            id=str(uuid.uuid4()), format="ldp_vc", raw=doc, types=("VerifiableCredential",),
            issuer="https://uni.example", title=f"Course {i}", issued_at=None, expires_at=None,
            status="valid", added_at=datetime.now(UTC), data={"claims": {"n": i}}))
    await store.close()


async def _raw_askar_rate(seconds: float) -> float:
    from aries_askar import Store

    with tempfile.TemporaryDirectory() as d:
        store = await Store.provision(f"sqlite://{d}/raw.db", "raw", Store.generate_raw_key())
        await store.create_profile("p")
        async with store.transaction("p") as txn:
            for i in range(20):
                await txn.insert("credential", f"c{i}", os.urandom(1200), {"fmt": "x"})
            await txn.commit()
        n = 0
        stop = time.perf_counter() + seconds
        t0 = time.perf_counter()
        while time.perf_counter() < stop:
            async with store.session("p") as sess:
                rows = await sess.fetch_all("credential", limit=20)
                assert len(rows) == 20
            n += 1
        rate = n / (time.perf_counter() - t0)
        await store.close()
        return rate


async def main(seconds: float, concurrency: int) -> None:
    data = tempfile.mkdtemp(prefix="satchel-bench-")
    sp, bp = _free_port(), _free_port()
    ctx = mp.get_context("spawn")
    satchel = ctx.Process(target=_satchel_server, args=(sp, data), daemon=True)
    bare = ctx.Process(target=_bare_server, args=(bp,), daemon=True)
    satchel.start()
    bare.start()
    base = f"http://127.0.0.1:{sp}"
    try:
        await _wait(f"{base}/healthz")
        await _wait(f"http://127.0.0.1:{bp}/keys")
        token = await _seed(base)
        await _store_20(data, token)
        auth = {"Authorization": f"Bearer {token}"}
        async with aiohttp.ClientSession() as s, s.get(f"{base}/v1/credentials?limit=20",
                                                       headers=auth) as r:
            assert len((await r.json())["items"]) == 20
        askar = await _raw_askar_rate(seconds)
        creds = await _load(f"{base}/v1/credentials?limit=20", auth, seconds, concurrency)
        keys = await _load(f"{base}/v1/keys", auth, seconds, concurrency)
        bare_rate = await _load(f"http://127.0.0.1:{bp}/keys", {}, seconds, concurrency)
    finally:
        satchel.terminate()
        bare.terminate()
    print(f"{'measure':58} {'req/s':>9} {'ratio':>7} target")
    print(f"{'raw Askar: fetch 20 records (in-process, one session)':58} {askar:9.0f}")
    print(f"{'Satchel: GET /v1/credentials?limit=20 (HTTP, auth)':58} {creds:9.0f} "
          f"{creds / askar:7.2f} >= 0.50")
    print(f"{'bare aiohttp JSON endpoint':58} {bare_rate:9.0f}")
    print(f"{'Satchel: GET /v1/keys (HTTP, auth)':58} {keys:9.0f} {keys / bare_rate:7.2f} >= 0.35")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--concurrency", type=int, default=16)
    a = ap.parse_args()
    asyncio.run(main(a.seconds, a.concurrency))
