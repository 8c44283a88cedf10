"""Bench: receiving through the running service (API → ReceiveService → issuer and back).

1. A full OpenID4VCI pre-authorized flow through the API, per iteration: ``POST /v1/offers``
   (offer by reference, fetched through the GuardedFetcher) → issuer + AS metadata →
   ``POST /v1/offers/{id}/accept`` → token → nonce → proof signed with the learner's sealed holder
   key → credential → intake (SD-JWT VC verification with the issuer's key from its
   ``jwt-vc-issuer`` metadata, status, trust, Annex I elements) → holder-binding check → sealed
   store → ledger event → notification. Against the local HTTPS issuer of
   tests/wallet/oid4vci_support.py (the ``openid4vci`` package + reference ``sd-jwt``).

   "Satchel's own time" = wall time minus the time spent awaiting ``GuardedFetcher._fetch``
   (network, TLS and everything the issuer does: it shares this event loop, so it only runs while
   Satchel awaits a fetch). The in-process HTTP client that calls the API is counted as Satchel's
   time (a slight overestimate). Target: median ≤ 15 ms per credential. Also printed: the
   durable commits of each acceptance, counted at both stores (tests/holder_api/commit_counter.py)
   before its answer was sent, and all commits per acceptance once the work deferred past the
   answer (the ledger outbox's move, docs/consent.md) is done. In the timed flows that deferred
   work is not waited for: it runs while the next flow does, as it would under load, and is
   counted in that flow's time when it uses the event loop. And the Askar sessions and calls of
   one flow, the deferred move included (tests/holder_api/askar_calls.py: every awaited Askar
   call, openings and closings too).

2. Accepted pushes per second on the public inbox URL (JSON ``{credential}``, ~1.5 KB each):
   per-client and per-link rate limits counted in the database, the learner's inbox public key
   looked up, sealed box, row inserted. Limits raised for the bench; 32 concurrent senders.

Storage: embedded SQLite (vault + accounts) in a temporary folder. Run from the repo root:
``/work/venv/bin/python bench/bench_receive.py [flows] [pushes]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trustme  # noqa: E402
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from holder_api.app import create_app  # noqa: E402
from holder_api.appkeys import SERVICES, WIRING  # noqa: E402
from holder_api.settings import Settings  # noqa: E402
from tests.holder_api.askar_calls import count_askar_calls  # noqa: E402
from tests.holder_api.commit_counter import Commits, count_commits  # noqa: E402
from tests.wallet.oid4vci_support import Issuer  # noqa: E402
from wallet.net import GuardedFetcher  # noqa: E402

TARGET_MS = 15.0
WAITED = [0.0, 0, 0.0]  # wall seconds awaiting fetches, fetch count, CPU seconds during them
_original = GuardedFetcher._fetch


async def _timed_fetch(self: GuardedFetcher, *a: Any, **kw: Any) -> Any:
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        return await _original(self, *a, **kw)
    finally:
        WAITED[0] += time.perf_counter() - t0
        WAITED[1] += 1
        WAITED[2] += time.process_time() - c0


GuardedFetcher._fetch = _timed_fetch  # type: ignore[method-assign]


async def _client(tmp: Path, ca_file: Path) -> TestClient[Any, Any]:
    settings = Settings.from_env({
        "SATCHEL_DATA_DIR": str(tmp / "data"), "SATCHEL_ALLOW_WEAK_KDF": "1",
        "SATCHEL_KDF_MEMLIMIT_MIB": "8", "SATCHEL_KDF_OPSLIMIT": "1",
        "SATCHEL_PUBLIC_URL": "http://satchel.test", "SATCHEL_FETCH_ALLOW_HOSTS": "127.0.0.1",
        "SATCHEL_EXTRA_CA_FILE": str(ca_file), "SATCHEL_INBOX_LINK_LIMIT": "10000000/60",
        "SATCHEL_INBOX_CLIENT_LIMIT": "10000000/60", "SATCHEL_LOG_LEVEL": "WARNING",
        # 32 senders to one learner queue behind that learner's lock by design (one learner's
        # pushes are serial): the admission's queue-delay control would shed them, and this
        # measures the accepted rate, not shedding (bench/scale.py measures that)
        "SATCHEL_QUEUE_INTERVAL": "600"})
    client: TestClient[Any, Any] = TestClient(TestServer(create_app(settings)))
    await client.start_server()
    return client


async def one_flow(client: TestClient[Any, Any], hdr: dict[str, str], issuer: Issuer,
                   commits: Commits | None = None) -> tuple[float, float, int, float]:
    uri = issuer.publish_offer(issuer.make_pre_authorized_offer())  # issuer's work: untimed
    link = "openid-credential-offer://?" + urlencode({"credential_offer_uri": uri})
    WAITED[0], WAITED[1], WAITED[2] = 0.0, 0, 0.0
    t0, c0 = time.perf_counter(), time.process_time()
    r = await client.post("/v1/offers", json={"offer": link}, headers=hdr)
    assert r.status == 201, await r.text()
    oid = (await r.json())["id"]
    if commits is not None:
        commits.clear()  # the acceptance's own commits (the offer's record was one more)
    r = await client.post(f"/v1/offers/{oid}/accept", json={}, headers=hdr)
    assert r.status == 200, await r.text()
    assert len((await r.json())["credentials"]) == 1
    total = time.perf_counter() - t0
    cpu = time.process_time() - c0 - WAITED[2]
    return total - WAITED[0], total, int(WAITED[1]), cpu


async def pushes(client: TestClient[Any, Any], hdr: dict[str, str], n: int,
                 credential: str) -> float:
    receive = client.app[SERVICES].receive
    assert receive is not None
    receive.inbox.store.max_items = n + 100  # the bench fills one learner's inbox
    r = await client.post("/v1/inbox-links", json={"label": "Bench University"}, headers=hdr)
    path = urlsplit((await r.json())["url"]).path
    sem = asyncio.Semaphore(32)

    async def one() -> None:
        async with sem:
            resp = await client.post(path, json={"credential": credential})
            assert resp.status == 202, await resp.text()

    for _ in range(20):
        await one()
    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    return n / (time.perf_counter() - t0)


async def run(iterations: int, n_pushes: int) -> None:
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        issuer = await Issuer(ca).start()
        client = await _client(Path(tmp), ca_file)
        r = await client.post("/v1/learners", json={"username": "bench",
                                                    "passphrase": "receive bench: a long passphrase 7d1"})
        assert r.status == 201, await r.text()
        r = await client.post("/v1/sessions", json={"username": "bench",
                                                    "passphrase": "receive bench: a long passphrase 7d1"})
        assert r.status == 201, await r.text()
        hdr = {"Authorization": f"Bearer {(await r.json())['access_token']}"}
        for _ in range(10):  # warm-up (TLS sessions, imports, caches)
            await one_flow(client, hdr, issuer)
        own, total, cpu, calls = [], [], [], 0
        for _ in range(iterations):
            o, t, calls, c = await one_flow(client, hdr, issuer)
            own.append(o * 1000)
            total.append(t * 1000)
            cpu.append(c * 1000)
        # commits, flow by flow, each one's deferred work waited for before the next (untimed)
        per_accept = set()
        outbox = client.app[WIRING].consent.outbox
        await outbox.drain()
        askar = set()
        with count_commits(answers="/accept") as commits:
            for _ in range(5):
                with count_askar_calls() as counted:
                    await one_flow(client, hdr, issuer, commits)
                    [answered] = commits.answered
                    await outbox.drain()
                per_accept.add((answered, commits.total))
                askar.add((counted.sessions, len(counted)))
        med = statistics.median(own)
        p95 = sorted(own)[int(0.95 * len(own)) - 1]
        print(f"pre-authorized flow via API  satchel per credential: median {med:6.2f} ms  "
              f"p95 {p95:6.2f} ms | whole flow incl. issuer+TLS median "
              f"{statistics.median(total):6.2f} ms | {calls} outgoing HTTP calls | "
              f"target {TARGET_MS} ms → ratio {med / TARGET_MS:.2f}")
        print(f"  of which CPU (all threads, issuer excluded): median "
              f"{statistics.median(cpu):6.2f} ms; the rest is waiting on durable storage "
              f"commits (vault + ledger)")
        for (vault, sql), everything in sorted(per_accept):
            print(f"  durable commits per acceptance before its answer: {len(vault) + sql} "
                  f"({sql} ledger/SQL, {len(vault)} vault: {', '.join(vault)}); "
                  f"{everything} in all, the work deferred past the answer included "
                  f"({everything - len(vault) - sql} after the answer)")
        for sessions, n_calls in sorted(askar):
            print(f"  Askar per flow (offer, acceptance, deferred move): {n_calls} calls in "
                  f"{sessions} sessions")
        keys = (await (await client.get("/v1/keys", headers=hdr)).json())["items"]
        jwk = next(k["jwk"] for k in keys if k["alg"] == "ES256")
        credential = issuer._mint({k: jwk[k] for k in ("kty", "crv", "x", "y")})
        rate = await pushes(client, hdr, n_pushes, credential)
        print(f"public inbox pushes ({len(credential)} B credential, 32 concurrent): "
              f"{rate:7.1f} accepted/s over {n_pushes}")
        await client.close()
        await issuer.close()


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_argument("flows", nargs="?", type=int, default=100,
                     help="OpenID4VCI flows through the API to time (default 100)")
    cli.add_argument("pushes", nargs="?", type=int, default=2000,
                     help="pushes to the public inbox endpoint (default 2000)")
    args = cli.parse_args()
    asyncio.run(run(args.flows, args.pushes))
