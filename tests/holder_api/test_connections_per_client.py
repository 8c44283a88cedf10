"""One client address holds at most SATCHEL_MAX_CONNECTIONS_PER_CLIENT connections of a replica
(at the gate and served together); a connection beyond them is answered 503 overloaded with
Retry-After at its first request head and closed, and beyond twice them closed as it arrives.

Why: SATCHEL_MAX_CONNECTIONS bounds what a replica holds, not who holds it: one address could
open the whole bound and keep every other client at the gate's 503. Counts, not timings: raw
sockets from different loopback addresses (127.0.0.2, 127.0.0.3: other clients), and what the
server answered and counted.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import pytest

from holder_api.appkeys import CONNECTIONS
from holder_api.connections import _peer_network, network_of
from holder_api.settings import DECLARED, Settings, SettingsError
from tests.holder_api.connection_support import Conn, _replica, _until

_A, _B = "127.0.0.2", "127.0.0.3"
_METRICS = b"GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n"


def _capped_total(text: bytes) -> float:
    m = re.search(rb"^satchel_connections_client_capped_total (\S+)$", text, re.M)
    assert m is not None, "the counter is exported"
    return float(m.group(1))


async def _capped(port: int) -> float:
    scrape = await Conn.open(port, _B)
    _, _, text = await scrape.ask(_METRICS)
    scrape.close()
    return _capped_total(text)


async def test_beyond_its_share_an_address_is_answered_503_and_others_are_served(
        tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS="8",
                        SATCHEL_MAX_CONNECTIONS_PER_CLIENT="2") as (app, port):
        bound = app[CONNECTIONS]
        first, second = await Conn.open(port, _A), await Conn.open(port, _A)
        assert (await first.ask())[0] == 200 and (await second.ask())[0] == 200
        third = await Conn.open(port, _A)  # before: served, up to the whole bound
        status, headers, body = await third.ask()
        assert (status, json.loads(body)["code"]) == (503, "overloaded")
        assert (headers["retry-after"], headers["connection"]) == ("1", "close")
        assert await asyncio.wait_for(third.reader.read(), 30) == b""
        third.close()
        other = await Conn.open(port, _B)  # another address: its own share
        assert (await other.ask())[0] == 200
        other.close()
        assert await _capped(port) == 1
        first.close()  # a place of its own comes back when one of its connections ends
        await _until(lambda: bound.clients.get(_A) == 1, "the close seen")
        again = await Conn.open(port, _A)
        assert (await again.ask())[0] == 200
        for conn in (second, again):
            conn.close()
        await _until(lambda: not bound.clients, "every connection counted out")


async def test_beyond_twice_its_share_a_connection_is_closed_as_it_arrives(
        tmp_path: Path) -> None:
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS_PER_CLIENT="1",
                        SATCHEL_HEAD_TIMEOUT="600") as (app, port):
        served = await Conn.open(port, _A)
        assert (await served.ask())[0] == 200
        over = await Conn.open(port, _A)  # beyond its share: answered 503 at its head
        await _until(lambda: app[CONNECTIONS].clients.get(_A) == 2, "the second counted")
        closed = await Conn.open(port, _A)  # beyond twice: not even held at the gate
        assert await asyncio.wait_for(closed.reader.read(), 30) == b""
        closed.close()
        assert (await over.ask())[0] == 503
        over.close()
        assert await _capped(port) == 2
        # an operator endpoint still goes through, that request only
        await _until(lambda: app[CONNECTIONS].clients.get(_A) == 1, "the others gone")
        probe = await Conn.open(port, _A)
        assert (await probe.ask(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n"))[0] == 200
        assert await asyncio.wait_for(probe.reader.read(), 30) == b""
        for conn in (probe, served):
            conn.close()


async def test_behind_a_trusted_proxy_the_peer_is_not_capped(tmp_path: Path) -> None:
    """With SATCHEL_TRUST_FORWARDED every connection comes from the proxy, whose connections
    carry every client's requests: the cap would cap the proxy, so it does not apply (the
    proxy's own per-client limit does: docs/operations.md "Connections")."""
    async with _replica(tmp_path, SATCHEL_MAX_CONNECTIONS_PER_CLIENT="1",
                        SATCHEL_TRUST_FORWARDED="1") as (app, port):
        conns = [await Conn.open(port, _A) for _ in range(3)]
        assert [(await conn.ask())[0] for conn in conns] == [200, 200, 200]
        for conn in conns:
            conn.close()
        assert await _capped(port) == 0


def test_the_setting() -> None:
    declared = next(s for s in DECLARED if s.name == "SATCHEL_MAX_CONNECTIONS_PER_CLIENT")
    assert declared.default == "256"
    assert Settings.from_env({}).max_connections_per_client == 256
    assert Settings.from_env({"SATCHEL_MAX_CONNECTIONS_PER_CLIENT": "0"}
                             ).max_connections_per_client == 0
    for bad in ("-1", "many"):
        with pytest.raises(SettingsError):
            Settings.from_env({"SATCHEL_MAX_CONNECTIONS_PER_CLIENT": bad})


@pytest.mark.parametrize("peer", ["198.51.100.7", "2001:db8:1:2:3::1", "2001:db8:1:2:ffff::9",
                                  "::ffff:198.51.100.7", "::1"])
def test_the_gate_counts_a_peer_as_the_rate_limits_do(peer: str) -> None:
    """The gate's fast reading of a socket's peer gives the rate limits' key (an IPv6 client's
    /64, a mapped address as IPv4)."""
    assert _peer_network(peer) == network_of(peer)
    assert _peer_network("2001:db8:1:2:3::1") == _peer_network("2001:db8:1:2:ffff::9")
