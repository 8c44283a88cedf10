"""Bench: a full OpenID4VCI pre-authorized flow, Satchel's own time per credential.

Flow per iteration: offer by reference (``openid-credential-offer://?credential_offer_uri=``) →
issuer + AS metadata → token (pre-authorized code) → nonce → ``jwt`` proof → credential →
notification, against the local HTTPS issuer of tests/wallet/oid4vci_support.py (the ``openid4vci``
package + reference ``sd-jwt``).

"Satchel's own time" = wall time of the flow minus the time spent awaiting the Fetcher (network,
TLS and everything the issuer does: they share this event loop, so the issuer only runs while
Satchel awaits the Fetcher). Target: median ≤ 15 ms per credential.

Run from the repo root: ``/work/venv/bin/python bench/bench_oid4vci.py [iterations]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import trustme  # noqa: E402

from tests.wallet.oid4vci_support import MICRO, HolderKey, Issuer, TestOnlyFetcher  # noqa: E402
from wallet.oid4vci import IssuanceClient, IssuedCredentials  # noqa: E402

TARGET_MS = 15.0


class TimedFetcher:
    """Wraps a Fetcher and accumulates the time spent awaiting it."""

    def __init__(self, inner: TestOnlyFetcher) -> None:
        self.inner = inner
        self.waited = 0.0
        self.calls = 0

    async def _timed(self, fn: Callable[..., Awaitable[Any]], *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return await fn(*a, **kw)
        finally:
            self.waited += time.perf_counter() - t0
            self.calls += 1

    async def get(self, *a: Any, **kw: Any) -> Any:
        return await self._timed(self.inner.get, *a, **kw)

    async def post_form(self, *a: Any, **kw: Any) -> Any:
        return await self._timed(self.inner.post_form, *a, **kw)

    async def post_json(self, *a: Any, **kw: Any) -> Any:
        return await self._timed(self.inner.post_json, *a, **kw)

    async def post_bytes(self, *a: Any, **kw: Any) -> Any:
        return await self._timed(self.inner.post_bytes, *a, **kw)


async def one_flow(client: IssuanceClient, fetcher: TimedFetcher, issuer: Issuer,
                   holder: HolderKey, batch: int) -> tuple[float, float, int]:
    uri = issuer.publish_offer(issuer.make_pre_authorized_offer())  # issuer's work: untimed
    link = "openid-credential-offer://?" + urlencode({"credential_offer_uri": uri})
    fetcher.waited, fetcher.calls = 0.0, 0
    t0 = time.perf_counter()
    resolved = await client.resolve_offer(link)
    token = await client.token_pre_authorized(resolved)
    result = await client.obtain_credential(resolved, token, MICRO, [holder] * batch)
    assert isinstance(result, IssuedCredentials) and len(result.credentials) == batch
    await client.notify(resolved, token, result.notification_id or "", "credential_accepted")
    total = time.perf_counter() - t0
    return total - fetcher.waited, total, fetcher.calls


async def run(iterations: int) -> None:
    ca = trustme.CA()
    with tempfile.TemporaryDirectory() as tmp:
        ca_file = Path(tmp) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_file))
        for label, encrypt, batch in (("plain", "", 1), ("encrypted response", "resp", 1),
                                      ("encrypted req+resp", "both", 1),
                                      ("batch of 2", "", 2)):
            issuer = await Issuer(ca).start()
            issuer.knobs.require_encryption = bool(encrypt)
            issuer.knobs.request_encryption = encrypt == "both"
            async with TestOnlyFetcher(extra_ca_file=ca_file, timeout=5.0) as raw:
                fetcher = TimedFetcher(raw)
                client = IssuanceClient(fetcher)
                holder = HolderKey()
                for _ in range(10):  # warm-up (TLS session, imports, caches)
                    await one_flow(client, fetcher, issuer, holder, batch)
                own, total, calls = [], [], 0
                for _ in range(iterations):
                    o, t, calls = await one_flow(client, fetcher, issuer, holder, batch)
                    own.append(o * 1000 / batch)
                    total.append(t * 1000 / batch)
            await issuer.close()
            med = statistics.median(own)
            p95 = sorted(own)[int(0.95 * len(own)) - 1]
            print(f"{label:20s} satchel per credential: median {med:6.2f} ms  p95 {p95:6.2f} ms"
                  f"  | whole flow incl. issuer+TLS median {statistics.median(total):6.2f} ms"
                  f"  | {calls} HTTP calls | target {TARGET_MS} ms → ratio {med / TARGET_MS:.2f}")


if __name__ == "__main__":
    cli = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    cli.add_argument("iterations", nargs="?", type=int, default=200,
                     help="pre-authorized flows to time (default 200)")
    asyncio.run(run(cli.parse_args().iterations))
