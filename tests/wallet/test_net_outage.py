"""The guarded fetcher's failure types: an outage (:class:`UpstreamUnavailable`) is told apart from
a peer that answered wrong (plain :class:`UpstreamError`), against real local sockets.

A deferred OpenID4VCI poll retries the first and reports the second as final, so a wrong class
here either hides an outage or makes a learner's app poll a broken issuer forever.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import trustme
from aiohttp import web

from wallet.errors import FetchRefused, UpstreamError, UpstreamUnavailable
from wallet.net import FetchEvent, GuardedFetcher
from wallet.oid4vci.client import _raise_for_error

HOST = "issuer.test"


async def _resolve(host: str, port: int) -> Sequence[str]:
    if host == HOST:
        return ["127.0.0.1"]
    if host == "flaky-dns.test":
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


class Peer:
    """An HTTPS server on 127.0.0.1 whose routes fail in the ways an issuer does."""

    def __init__(self) -> None:
        self.port = 0
        self.release = asyncio.Event()  # set at teardown: the stalled handler then returns
        self.stalled = asyncio.Event()  # set once a request is being stalled

    async def _stall(self, request: web.Request) -> web.Response:
        self.stalled.set()
        await self.release.wait()
        return web.json_response({})

    async def _unavailable(self, request: web.Request) -> web.Response:
        return web.Response(text="<h1>down</h1>", status=503, content_type="text/html",
                            headers={"Retry-After": "120"})

    async def _status(self, request: web.Request) -> web.Response:
        return web.Response(text="<h1>no</h1>", status=int(request.match_info["code"]),
                            content_type="text/html")

    async def _drop(self, request: web.Request) -> web.Response:
        assert request.transport is not None
        request.transport.abort()  # the connection is cut before any answer (a reset)
        await self.release.wait()
        return web.json_response({})

    async def _big(self, request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 4096, content_type="application/json")

    async def _html(self, request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/stall", self._stall)
        app.router.add_get("/unavailable", self._unavailable)
        app.router.add_get("/status/{code}", self._status)
        app.router.add_get("/drop", self._drop)
        app.router.add_get("/big", self._big)
        app.router.add_get("/html", self._html)
        return app


@pytest.fixture
async def peer(ca: trustme.CA) -> AsyncIterator[Peer]:
    p = Peer()
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST, "127.0.0.1").configure_cert(ctx)
    runner = web.AppRunner(p.app(), shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    p.port = runner.addresses[0][1]
    yield p
    p.release.set()
    await runner.cleanup()


@pytest.fixture
async def fetcher(ca_file: Path) -> AsyncIterator[GuardedFetcher]:
    async with GuardedFetcher(allow_hosts=frozenset({HOST, "127.0.0.1"}), extra_ca_file=ca_file,
                              resolver=_resolve, timeout=5.0, max_bytes=1024) as f:
        yield f


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_a_refused_connection_is_unavailable(fetcher: GuardedFetcher) -> None:
    with pytest.raises(UpstreamUnavailable, match="connection to 127.0.0.1 failed"):
        await fetcher.get(f"https://127.0.0.1:{_closed_port()}/deferred")


async def test_a_peer_that_stalls_past_the_timeout_is_unavailable(ca_file: Path,
                                                                   peer: Peer) -> None:
    events: list[FetchEvent] = []
    async with GuardedFetcher(allow_hosts=frozenset({HOST}), extra_ca_file=ca_file,
                              resolver=_resolve, timeout=0.3, on_fetch=events.append) as f:
        loop = asyncio.get_running_loop()
        started = loop.time()
        with pytest.raises(UpstreamUnavailable, match="timed out"):
            await f.get(f"https://{HOST}:{peer.port}/stall")
        assert loop.time() - started < 3
    assert peer.stalled.is_set()  # it was the answer that never came, not the connection
    assert [(e.host, e.outcome) for e in events] == [(HOST, "error")]


async def test_a_connection_cut_before_the_answer_is_unavailable(fetcher: GuardedFetcher,
                                                                 peer: Peer) -> None:
    with pytest.raises(UpstreamUnavailable):
        await fetcher.get(f"https://{HOST}:{peer.port}/drop")


async def test_a_temporary_dns_failure_is_unavailable_a_missing_name_is_not(
        fetcher: GuardedFetcher) -> None:
    with pytest.raises(UpstreamUnavailable, match="cannot be resolved for now"):
        await fetcher.get("https://flaky-dns.test/deferred")
    with pytest.raises(UpstreamError, match="does not resolve") as info:
        await fetcher.get("https://gone.test/deferred")
    assert type(info.value) is UpstreamError


async def test_statuses_are_answers_not_fetch_errors(fetcher: GuardedFetcher, peer: Peer) -> None:
    """The fetcher returns every HTTP status; the protocol client types 5xx/429 as outages."""
    r = await fetcher.get(f"https://{HOST}:{peer.port}/unavailable")
    assert r.status == 503 and r.headers["retry-after"] == "120"
    with pytest.raises(UpstreamUnavailable, match="HTTP 503") as info:
        _raise_for_error(r, "deferred credential endpoint")
    assert info.value.retry_after == 120
    for code in (500, 502, 504, 429):
        r = await fetcher.get(f"https://{HOST}:{peer.port}/status/{code}",
                              accept=("text/html",))
        assert r.status == code
        with pytest.raises(UpstreamUnavailable) as info:
            _raise_for_error(r, "deferred credential endpoint")
        assert info.value.retry_after is None
    for code in (400, 403, 404, 410):
        r = await fetcher.get(f"https://{HOST}:{peer.port}/status/{code}",
                              accept=("text/html",))
        with pytest.raises(UpstreamError, match=f"HTTP {code}") as plain:
            _raise_for_error(r, "deferred credential endpoint")
        assert type(plain.value) is UpstreamError


async def test_wrong_answers_stay_plain_upstream_errors(ca_file: Path, fetcher: GuardedFetcher,
                                                        peer: Peer) -> None:
    base = f"https://{HOST}:{peer.port}"
    for path, why in (("/big", "size limit"), ("/html", "content type")):
        with pytest.raises(UpstreamError, match=why) as info:
            await fetcher.get(base + path)
        assert type(info.value) is UpstreamError
    async with GuardedFetcher(allow_hosts=frozenset({HOST}), resolver=_resolve) as no_ca:
        with pytest.raises(UpstreamError, match="TLS") as info:
            await no_ca.get(base + "/html", accept=("text/html",))
    assert type(info.value) is UpstreamError
    with pytest.raises(FetchRefused):  # the guard is unchanged: refused, never "unavailable"
        await fetcher.get(f"https://10.0.0.1:{peer.port}/")
