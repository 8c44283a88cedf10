"""The guarded fetcher: the SSRF table (with a canary that must see no connection), a real HTTPS
server with trustme certificates, and a property test of the address classifier."""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import socket
import ssl
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
import trustme
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.errors import FetchRefused, UpstreamError
from wallet.net import (
    FetchEvent,
    GuardedFetcher,
    _PinnedResolver,
    address_block_reason,
    check_url,
    parse_allow_hosts,
)
from wallet.ports import Fetcher

HOST = "issuer.test"  # a name that only the injected resolver knows; pinned to 127.0.0.1


class Canary:
    """A plain TCP listener on loopback that counts every connection it receives."""

    def __init__(self) -> None:
        self.hits = 0
        self.servers: list[asyncio.base_events.Server] = []
        self.port = 0

    async def _on(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.hits += 1
        writer.close()

    async def start(self) -> None:
        srv = await asyncio.start_server(self._on, "127.0.0.1", 0)
        self.port = srv.sockets[0].getsockname()[1]
        self.servers.append(srv)
        try:  # the same port on ::1 too, when the host has IPv6 loopback
            self.servers.append(await asyncio.start_server(self._on, "::1", self.port))
        except OSError:
            pass

    async def close(self) -> None:
        for srv in self.servers:
            srv.close()
            await srv.wait_closed()


@pytest.fixture
async def canary() -> AsyncIterator[Canary]:
    c = Canary()
    await c.start()
    # sanity: the canary does notice a connection
    _, w = await asyncio.open_connection("127.0.0.1", c.port)
    w.close()
    for _ in range(50):
        if c.hits:
            break
        await asyncio.sleep(0.01)
    assert c.hits == 1
    c.hits = 0
    yield c
    await c.close()


class Server:
    port: int
    canary_port: int


@pytest.fixture
async def server(ca: trustme.CA, canary: Canary) -> AsyncIterator[Server]:
    info = Server()
    info.canary_port = canary.port

    async def json_ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "query": request.query_string,
                                  "host": request.host})

    async def form(request: web.Request) -> web.Response:
        data = await request.post()
        return web.json_response({k: str(v) for k, v in data.items()})

    async def echo_json(request: web.Request) -> web.Response:
        return web.json_response({"got": await request.json(),
                                  "ctype": request.content_type})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * (2 << 20), content_type="application/json")

    async def big_chunked(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for _ in range(64):
            await resp.write(b"y" * 65536)
        await resp.write_eof()
        return resp

    async def gzip_bomb(request: web.Request) -> web.Response:
        body = gzip.compress(b"\0" * (50 << 20))
        return web.Response(body=body, headers={"Content-Type": "application/json",
                                                "Content-Encoding": "gzip"})

    async def gzip_ok(request: web.Request) -> web.Response:
        body = gzip.compress(json.dumps({"small": True}).encode())
        return web.Response(body=body, headers={"Content-Type": "application/json",
                                                "Content-Encoding": "gzip"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(1.5)
        return web.json_response({})

    async def html(request: web.Request) -> web.Response:
        return web.Response(text="<html></html>", content_type="text/html")

    async def not_found(request: web.Request) -> web.Response:
        return web.json_response({"error": "nope"}, status=404)

    async def redirect(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"https://127.0.0.1:{info.canary_port}/latest/meta-data")

    async def redirect_ok(request: web.Request) -> web.Response:
        raise web.HTTPFound("/json")

    app = web.Application()
    app.router.add_get("/json", json_ok)
    app.router.add_post("/form", form)
    app.router.add_post("/echo", echo_json)
    app.router.add_get("/big", big)
    app.router.add_get("/big-chunked", big_chunked)
    app.router.add_get("/gzip-bomb", gzip_bomb)
    app.router.add_get("/gzip", gzip_ok)
    app.router.add_get("/slow", slow)
    app.router.add_get("/html", html)
    app.router.add_get("/missing", not_found)
    app.router.add_get("/redirect", redirect)
    app.router.add_get("/redirect-ok", redirect_ok)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(HOST).configure_cert(server_ctx)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    info.port = runner.addresses[0][1]
    yield info
    await runner.cleanup()


def fake_resolver(table: dict[str, Sequence[str]], calls: list[str] | None = None):  # noqa: ANN201
    async def resolve(host: str, port: int) -> Sequence[str]:
        if calls is not None:
            calls.append(host)
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "unknown")
        return table[host]

    return resolve


RESOLVE = {
    HOST: ["127.0.0.1"],
    "evil.test": ["127.0.0.1"],  # a public-looking name resolving to loopback (the canary)
    "private.test": ["10.0.0.1"],
    "mixed.test": ["93.184.216.34", "127.0.0.1"],  # one good address is not enough
    "meta.test": ["169.254.169.254"],
    "ula.test": ["fd00:ec2::254"],
    "mapped.test": ["::ffff:127.0.0.1"],
}


@pytest.fixture
async def fetcher(ca_file: Path) -> AsyncIterator[GuardedFetcher]:
    async with GuardedFetcher(allow_hosts=frozenset({HOST}), extra_ca_file=ca_file,
                              resolver=fake_resolver(RESOLVE), timeout=2.0) as f:
        yield f


def ssrf_table(s: Server) -> list[str]:
    c = s.canary_port
    return [
        f"http://{HOST}:{s.port}/json",
        f"http://127.0.0.1:{c}/",
        "file:///etc/passwd",
        "data:application/json,{}",
        f"ftp://127.0.0.1:{c}/",
        f"https://127.1:{c}/",
        f"https://2130706433:{c}/",
        f"https://0x7f.1:{c}/",
        f"https://0177.0.0.1:{c}/",
        f"https://0x7f000001:{c}/",
        f"https://[::1]:{c}/",
        f"https://[::ffff:7f00:1]:{c}/",
        f"https://[::ffff:127.0.0.1]:{c}/",
        f"https://[::127.0.0.1]:{c}/",
        f"https://127.0.0.1:{c}/",
        f"https://0.0.0.0:{c}/",
        "https://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://10.0.0.1/",
        "https://100.64.0.1/",
        "https://192.168.1.1/",
        "https://224.0.0.1/",
        "https://255.255.255.255/",
        "https://[fe80::1]/",
        "https://[2002:7f00:1::1]/",
        "https://[64:ff9b::7f00:1]/",
        f"https://evil.test:{c}/",
        f"https://private.test:{c}/",
        f"https://mixed.test:{c}/",
        f"https://meta.test:{c}/",
        f"https://ula.test:{c}/",
        f"https://mapped.test:{c}/",
        f"https://user:secret@{HOST}:{s.port}/json",
        f"https://{HOST}:{s.port}/" + "a" * 5000,
        f"https://{HOST}:{s.port}\\@127.0.0.1:{c}/",
        f"https://{HOST}:{s.port}/ json",
    ]


async def test_ssrf_table_refused_before_any_connection(
    fetcher: GuardedFetcher, server: Server, canary: Canary, ca_file: Path
) -> None:
    for url in ssrf_table(server):
        with pytest.raises(FetchRefused):
            await fetcher.get(url)
        with pytest.raises(FetchRefused):
            await fetcher.post_json(url, {"a": 1})
    with pytest.raises(UpstreamError) as info:  # a name that does not resolve: upstream trouble
        await fetcher.get(f"https://unknown.test:{canary.port}/")
    assert not isinstance(info.value, FetchRefused)
    # ``localhost`` through the real OS resolver, not on the allow list
    async with GuardedFetcher(extra_ca_file=ca_file) as real:
        with pytest.raises(FetchRefused):
            await real.get(f"https://localhost:{canary.port}/")
    # a 302 to loopback: not followed by default ...
    resp = await fetcher.get(f"https://{HOST}:{server.port}/redirect")
    assert resp.status == 302
    assert resp.headers["location"].startswith("https://127.0.0.1:")
    # ... and refused when following is switched on
    async with GuardedFetcher(allow_hosts=frozenset({HOST}), extra_ca_file=ca_file,
                              resolver=fake_resolver(RESOLVE), max_redirects=3) as following:
        with pytest.raises(FetchRefused):
            await following.get(f"https://{HOST}:{server.port}/redirect")
        ok = await following.get(f"https://{HOST}:{server.port}/redirect-ok")
        assert ok.status == 200 and ok.json()["ok"] is True
    await asyncio.sleep(0.05)
    assert canary.hits == 0


async def test_preflight_refuses_what_a_fetch_refuses_without_connecting(
    fetcher: GuardedFetcher, server: Server, canary: Canary
) -> None:
    for url in ssrf_table(server):
        with pytest.raises(FetchRefused):
            await fetcher.preflight(url)
    with pytest.raises(UpstreamError) as info:  # a name that does not resolve: not the policy
        await fetcher.preflight(f"https://unknown.test:{canary.port}/")
    assert not isinstance(info.value, FetchRefused)
    # an allowed host (here on the canary's port): checked and passed, never connected to
    await fetcher.preflight(f"https://{HOST}:{canary.port}/")
    await asyncio.sleep(0.05)
    assert canary.hits == 0


async def test_get_post_over_tls_with_allow_list_and_extra_ca(
    fetcher: GuardedFetcher, server: Server
) -> None:
    base = f"https://{HOST}:{server.port}"
    r = await fetcher.get(f"{base}/json?x=1#frag")
    assert r.status == 200 and r.content_type == "application/json"
    assert r.json() == {"ok": True, "query": "x=1", "host": f"{HOST}:{server.port}"}
    assert r.url == f"{base}/json?x=1"  # the fragment is never sent
    r = await fetcher.post_form(f"{base}/form", {"a": "1", "b": "two"})
    assert r.json() == {"a": "1", "b": "two"}
    r = await fetcher.post_json(f"{base}/echo", {"n": [1, 2]})
    assert r.json() == {"got": {"n": [1, 2]}, "ctype": "application/json"}
    r = await fetcher.get(f"{base}/gzip")
    assert r.json() == {"small": True}
    r = await fetcher.get(f"{base}/missing")  # non-2xx is returned, not raised
    assert r.status == 404 and r.json() == {"error": "nope"}


async def test_fetcher_satisfies_the_port(fetcher: GuardedFetcher) -> None:
    port: Fetcher = fetcher
    assert port is fetcher


async def test_resolution_happens_once_and_is_pinned(ca_file: Path, server: Server) -> None:
    calls: list[str] = []
    async with GuardedFetcher(allow_hosts=frozenset({HOST}), extra_ca_file=ca_file,
                              resolver=fake_resolver(RESOLVE, calls)) as f:
        r = await f.get(f"https://{HOST}:{server.port}/json")
    assert r.status == 200
    assert calls == [HOST]  # aiohttp never asked DNS itself: it got the vetted address
    resolver = _PinnedResolver()
    with pytest.raises(OSError):  # outside a vetted request there is nothing to connect to
        await resolver.resolve(HOST, 443)


async def test_tls_fails_without_the_extra_ca(server: Server) -> None:
    async with GuardedFetcher(allow_hosts=frozenset({HOST}),
                              resolver=fake_resolver(RESOLVE)) as f:
        with pytest.raises(UpstreamError) as info:
            await f.get(f"https://{HOST}:{server.port}/json")
    assert not isinstance(info.value, FetchRefused)


async def test_tls_checks_the_name(ca_file: Path, server: Server) -> None:
    table = {**RESOLVE, "other.test": ["127.0.0.1"]}  # right address, wrong certificate name
    async with GuardedFetcher(allow_hosts=frozenset({HOST, "other.test"}), extra_ca_file=ca_file,
                              resolver=fake_resolver(table)) as f:
        with pytest.raises(UpstreamError):
            await f.get(f"https://other.test:{server.port}/json")


async def test_limits(fetcher: GuardedFetcher, server: Server) -> None:
    base = f"https://{HOST}:{server.port}"
    for path in ("/big", "/big-chunked", "/gzip-bomb"):
        with pytest.raises(UpstreamError, match="size limit"):
            await fetcher.get(base + path)
    r = await fetcher.get(base + "/big", max_bytes=3 << 20)  # per-call override
    assert len(r.body) == 2 << 20
    with pytest.raises(UpstreamError, match="content type"):
        await fetcher.get(base + "/html")
    r = await fetcher.get(base + "/html", accept=("text/html",))
    assert r.text() == "<html></html>"
    r = await fetcher.get(base + "/html", accept=("*/*",))
    assert r.content_type == "text/html"


async def test_timeout(ca_file: Path, server: Server) -> None:
    events: list[FetchEvent] = []
    async with GuardedFetcher(allow_hosts=frozenset({HOST}), extra_ca_file=ca_file,
                              resolver=fake_resolver(RESOLVE), timeout=0.3,
                              on_fetch=events.append) as f:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(UpstreamError, match="timed out"):
            await f.get(f"https://{HOST}:{server.port}/slow")
        assert loop.time() - t0 < 3
        with pytest.raises(FetchRefused):
            await f.get("https://10.0.0.1/?token=secret")
    assert [(e.host, e.outcome) for e in events] == [(HOST, "error"), ("10.0.0.1", "refused")]


async def test_logs_carry_no_query_or_body(fetcher: GuardedFetcher, server: Server,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="wallet.net")
    await fetcher.get(f"https://{HOST}:{server.port}/json?access_token=sekrit123")
    with pytest.raises(FetchRefused):
        await fetcher.get("https://10.0.0.1/cb?code=sekrit456")
    text = caplog.text
    assert HOST in text and "200" in text
    assert "sekrit" not in text and "/json" not in text


async def test_not_started_is_an_upstream_error() -> None:
    f = GuardedFetcher()
    with pytest.raises(UpstreamError):
        await f.get("https://example.com/")


# -- the address classifier ---------------------------------------------------------------------

EXPLICIT_BLOCK = [ipaddress.ip_network(n) for n in (
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
    "::/128", "::1/128", "::/96", "::ffff:0:0/96", "fc00::/7", "fe80::/10", "fec0::/10",
    "ff00::/8", "2001:db8::/32", "2001:2::/48", "2001::/32", "100::/64",
    "2002:7f00::/24", "2002:a00::/24", "2002:a9fe::/32", "2002:c0a8::/32",  # 6to4 of private v4
    "64:ff9b::7f00:0/104", "64:ff9b::a00:0/104", "64:ff9b::a9fe:0/112",  # NAT64 of private v4
)]
_EXTRA_V4 = [ipaddress.ip_network(n) for n in ("224.0.0.0/4", "192.0.0.0/24", "192.88.99.0/24")]


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses(v=4))
def test_ipv4_classifier_agrees_with_is_global(ip: ipaddress.IPv4Address) -> None:
    expected_blocked = (not ip.is_global) or any(ip in n for n in _EXTRA_V4)
    assert (address_block_reason(ip) is not None) == expected_blocked


@settings(max_examples=200, deadline=None)
@given(st.ip_addresses(v=6))
def test_ipv6_classifier_never_allows_a_non_global(ip: ipaddress.IPv6Address) -> None:
    if address_block_reason(ip) is None:
        assert ip.is_global
        assert ip in ipaddress.ip_network("2000::/3") or ip in ipaddress.ip_network(
            "64:ff9b::/96")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(EXPLICIT_BLOCK).flatmap(lambda n: st.ip_addresses(network=n)))
def test_explicit_block_list_is_always_blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address,
                                               ) -> None:
    assert address_block_reason(ip) is not None
    assert address_block_reason(str(ip)) is not None


def test_parse_allow_hosts() -> None:
    assert parse_allow_hosts(" Issuer.test., b.example\nc.example ,") == frozenset(
        {"issuer.test", "b.example", "c.example"})
    assert parse_allow_hosts(None) == frozenset() == parse_allow_hosts("")


@pytest.mark.parametrize("addr", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111",
                                  "2002:808:808::1", "64:ff9b::808:808"])
def test_public_addresses_pass(addr: str) -> None:
    assert address_block_reason(addr) is None


@settings(max_examples=300, deadline=None)
@given(st.one_of(
    st.text(max_size=80),
    st.builds(lambda scheme, host, rest: f"{scheme}://{host}{rest}",
              st.sampled_from(["https", "http", "HTTPS", "file", ""]),
              st.text(alphabet="0123456789abcdefx.:[]%@-_", max_size=30),
              st.text(max_size=20)),
))
def test_check_url_only_returns_https_or_refuses(url: str) -> None:
    """Any string: either a vetted https target without userinfo, or FetchRefused; nothing else."""
    try:
        target = check_url(url)
    except FetchRefused:
        return
    assert target.url.scheme == "https" and target.url.user is None
    if target.literal is not None:
        assert str(target.literal) == target.host
    else:
        assert not target.host.replace(".", "").isdigit()


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20), st.sampled_from([*map(chr, range(0x21)), "\x7f", "\\"]),
       st.text(max_size=20))
def test_check_url_refuses_whitespace_control_characters_and_backslashes(
        before: str, bad: str, after: str) -> None:
    with pytest.raises(FetchRefused):
        check_url(f"https://example.org/{before}{bad}{after}")
    check_url("https://example.org/" + "".join(c for c in before + after
                                                 if c.isalnum()))  # the rest passes
