"""The web wallet's pages against the JSON calls they wrap, and what each page weighs.

Scenario: one learner (Askar on SQLite) holding ``--credentials`` SD-JWT VCs (issued by the
suite's verifier peer and imported through ``POST /v1/credentials``), with a share link and a
pending presentation request. Satchel runs in this process on a loopback port; one client asks
each URL ``--runs`` times, sequentially, the page and its JSON calls interleaved, and the median
latency is taken. A page's JSON counterpart is the *sum* of the ``/v1`` calls whose answers the
page shows (for ``/credentials``: the list and the portfolio), so the ratio is the cost of
rendering and of the second hop, never hidden behind a cheaper single call. Target: ratio ≤ 1.5.

Weight: the page's HTML plus its static files (one stylesheet, one script), as sent (no
compression). Target: ≤ 100 KB. The static files are cached for a year after the first visit.

    python bench/bench_web.py [--credentials 20] [--runs 40]
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PASS = "benchmark passphrase 123"


async def _main(args: argparse.Namespace) -> None:
    import aiohttp
    import trustme
    from aiohttp.test_utils import TestServer

    from holder_api.app import create_app
    from holder_api.settings import Settings
    from tests.holder_api.present_support import Peer, dcql
    from tests.support.apps import app_env
    from tests.support.backends import Backend
    from tests.support.network import loopback_resolver

    tmp = Path(tempfile.mkdtemp(prefix="bench-web-"))
    ca = trustme.CA()
    ca_file = tmp / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    peer = await Peer(ca, tmp).start()
    backend = Backend("sqlite", tmp, f"sqlite://{tmp}/vault.db",
                      f"sqlite+aiosqlite:///{tmp}/satchel.db")
    settings = Settings.from_env(app_env(
        backend, SATCHEL_FETCH_ALLOW_HOSTS="localhost", SATCHEL_EXTRA_CA_FILE=str(ca_file),
        SATCHEL_X5C_ANCHORS_FILE=str(ca_file), SATCHEL_UNLOCK_LIMIT="100000/60",
        SATCHEL_TOKEN_TTL="3600"))
    server = TestServer(create_app(settings, host_resolver=loopback_resolver))
    await server.start_server()
    base = str(server.make_url("")).rstrip("/")
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as http:
        # a learner, signed up through the page (so the cookie session is the real one)
        start = await (await http.get(base + "/")).text()
        csrf = re.search(r'name="csrf" value="([^"]+)"', start)
        assert csrf
        r = await http.post(base + "/signup", data={"username": "bench", "passphrase": PASS,
                                                     "csrf": csrf.group(1)})
        assert r.status == 200
        r = await http.post(base + "/v1/sessions", json={"username": "bench", "passphrase": PASS})
        token = (await r.json())["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        keys = (await (await http.get(base + "/v1/keys", headers=bearer)).json())["items"]
        jwk = next(k["jwk"] for k in keys if k["alg"] == "ES256")
        jwk = {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}
        ids = []
        for i in range(args.credentials):
            raw = peer.issue(jwk, {"given_name": "Ada", "family_name": "Lovelace",
                                   "degree": f"Course {i}"})
            r = await http.post(base + "/v1/credentials", json={"raw": raw}, headers=bearer)
            assert r.status == 201, await r.text()
            ids.append((await r.json())["id"])
        r = await http.post(base + "/v1/share-links", headers=bearer,
                            json={"credential_id": ids[0], "claims": [["degree"]]})
        assert r.status == 201
        client_id = "x509_san_dns:localhost"
        link = peer.serve_request(lambda _f: peer.sign(peer.claims(client_id, dcql("degree"))),
                                  client_id=client_id)
        r = await http.post(base + "/v1/presentation-requests", json={"request": link},
                            headers=bearer)
        req_id = (await r.json())["id"]

        pages: list[tuple[str, list[str]]] = [
            ("/credentials", ["/v1/credentials?limit=200", "/v1/portfolio"]),
            (f"/credentials/{ids[0]}", [f"/v1/credentials/{ids[0]}"]),
            (f"/requests/{req_id}", [f"/v1/presentation-requests/{req_id}",
                                     "/v1/credentials?limit=200"]),
            ("/inbox", ["/v1/inbox", "/v1/offers", "/v1/inbox-links",
                        "/v1/presentation-requests"]),
            ("/shares", ["/v1/share-links", "/v1/credentials?limit=200"]),
            ("/history", ["/v1/consent/events?limit=100", "/v1/consent/verify",
                          "/v1/share-links", "/v1/inbox-links"]),
            ("/my-data", []),
        ]

        async def timed(path: str, headers: dict[str, str] | None = None) -> tuple[float, bytes]:
            t = time.perf_counter()
            async with http.get(base + path, headers=headers or {}) as resp:
                body = await resp.read()
                assert resp.status == 200, (path, resp.status)
            return time.perf_counter() - t, body

        if args.profile:
            import cProfile
            import pstats
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(200):
                await timed(args.profile.replace("{id}", ids[0]))
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
            return
        static: dict[str, int] = {}
        rows = []
        for page, calls in pages:
            page_t, json_t = [], []
            html = b""
            for _ in range(args.runs):
                t, html = await timed(page)
                page_t.append(t)
                total = 0.0
                for c in calls:
                    total += (await timed(c, bearer))[0]
                json_t.append(total)
            for ref in re.findall(rb'(?:href|src)="(/static/[^"]+)"', html):
                if ref.decode() not in static:
                    static[ref.decode()] = len((await timed(ref.decode()))[1])
            weight = len(html) + sum(static.values())
            p, j = statistics.median(page_t) * 1000, statistics.median(json_t) * 1000
            rows.append((page.split("/")[1] and "/" + page.split("/")[1] + (
                "/{id}" if page.count("/") > 1 else ""), p, j, p / j if j else None, weight))
    await server.close()
    await peer.close()
    print(f"{args.credentials} credentials, {args.runs} runs per URL, median latency over "
          f"loopback HTTP (client side)\n")
    print(f"{'page':<20} {'page ms':>8} {'JSON ms':>8} {'ratio':>6} {'weight KB':>10}")
    for name, p, j, ratio, weight in rows:
        r = f"{ratio:6.2f}" if ratio is not None else "     -"
        print(f"{name:<20} {p:8.2f} {j:8.2f} {r} {weight / 1024:10.1f}")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--credentials", type=int, default=20, help="credentials in the vault")
    ap.add_argument("--runs", type=int, default=40, help="requests per URL")
    ap.add_argument("--profile", metavar="PATH", help="profile one page (e.g. /credentials/{id})")
    args = ap.parse_args(argv)
    asyncio.run(_main(args))


if __name__ == "__main__":
    main()
