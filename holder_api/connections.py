"""A bound on the connections a replica serves: a request beyond it is answered 503 at once.

Admission (:mod:`holder_api.admission`) bounds the requests a replica *works on*; it cannot bound
the requests that reach it. Each one arrives on a connection, and a client that finds none of its
connections idle opens another (a load balancer's pool, browsers, the open-loop generator of
``bench/scale.py``). While a replica answers at once, a few connections suffice. Once it falls
behind — its excess costs more CPU to refuse than it gets, on a host whose other processes hold
its core — every request still unanswered holds a connection, and every new request opens one
more, each dearer than the last: a request on a new connection costs about twice what one on a
kept connection costs to shed (``bench/shed_cost.py``), and every connection aiohttp holds is
objects the collector scans at each full collection (they are not frozen). Measured on the
2-core bench machine, one replica offered four times its capacity for 20 s (load 5-7):
19,975 connections, RSS from 167 to 380 MiB, full collections of up to 1.6 s, and 264 requests
served in all. The excess did not only wait; it tipped the replica over.

So aiohttp serves at most ``SATCHEL_MAX_CONNECTIONS`` connections. A new connection starts at a
small gate (:class:`_Gate`): at its first whole request head (``head_timeout`` from its first
byte, or it is closed), if the bound has room, the connection is handed to aiohttp whole (that
request included); if not, the request is answered ``503`` with
``Retry-After: 1`` and admission's own problem document (``overloaded``) from the gate, after
finding nothing but the end of its head — no parser, no task, no middleware. A request without a
body keeps its connection (its client need not open another one), and its next request decides
again, so a connection refused in a burst is served once the burst is over; a request with a
body is answered ``Connection: close``. Idle keep-alive connections hold the bound too, until
they close (``KEEPALIVE_TIMEOUT``): a client that keeps a pool of connections open and reuses the
fastest first (last in, first out) then sends most of its requests to the gate while the bound
stands, and the replica serves fewer. So the bound is set far above what a replica serving its
excess holds (122-387 connections at two to four times the capacity in the bench, 2,554 where
one ran away), where only a runaway reaches it. Closing an idle connection to make room instead
was tried: the bench then counted 1,402 and 1,925 failed requests in steps (one replica at
four times the capacity, two at twice) where the same steps unbounded counted none (connections
closed under requests sent on them).
The operator endpoints (``/healthz``, ``/readyz``,
``/metrics``) are handed to aiohttp past the bound, that one request (its head read whole at the
gate) and its connection closed after the answer: an orchestrator and a scraper must get
through, and a connection must not get past the bound by starting with a probe.
Whatever the excess, the requests waiting to be parsed and the objects the collector
scans stay bounded by the bound.

One client address holds at most ``per_client`` of the connections, at the gate and served
together (``SATCHEL_MAX_CONNECTIONS_PER_CLIENT``): one beyond is answered 503 at its first head
and closed, one beyond twice that closed as it arrives, so that one address cannot take the
whole bound. Behind a trusted proxy every connection is the proxy's, and the cap is off.

The bound counts idle keep-alive connections too (kept ``KEEPALIVE_TIMEOUT`` seconds,
:mod:`holder_api.lifecycle`): set it above what the clients in front keep open (a load
balancer's pool per replica) and well above ``SATCHEL_MAX_IN_FLIGHT + SATCHEL_MAX_QUEUED``, the
requests admission holds. ``0`` turns it off.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import re
import resource
import socket
from collections.abc import Callable

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import BaseRunner
from prometheus_client import CollectorRegistry, Counter, Gauge

from holder_api.admission import EXEMPT_PATHS, REFUSAL_BODY, REFUSAL_HEADERS
from holder_api.problems import problem_body
from holder_api.settings import SettingsError
from wallet.errors import BadInput

__all__ = ["BoundedSite", "ConnectionBound", "network_of", "open_files"]

log = logging.getLogger("satchel")

#: Seconds a connection may stay at the gate (beyond the bound) before it is closed.
_IDLE = 75.0
#: Seconds a new connection has to send its first bytes; one that sends nothing is closed (a
#: descriptor held for nothing: 400 of them once exhausted a replica's open files, audit A4).
_FIRST_BYTES = 5.0
#: Descriptors kept for everything but connections: database pools, the keyring, files, logs.
_RESERVE = 128
_HEAD_END = b"\r\n\r\n"
#: a request head longer than this (aiohttp's own limit is 8 KiB per line) is not waited for
_MAX_HEAD = 16384


def _refusal(close: bool) -> bytes:
    """The whole answer to a request beyond the bound, built once: admission's refusal."""
    head = ["HTTP/1.1 503 Service Unavailable",
            *(f"{name}: {value}" for name, value in REFUSAL_HEADERS),
            f"Content-Length: {len(REFUSAL_BODY)}",
            *(["Connection: close"] if close else [])]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + REFUSAL_BODY


_REFUSAL, _REFUSAL_CLOSE = _refusal(close=False), _refusal(close=True)


def _bad_head_answer() -> bytes:
    """The whole answer to a head whose lines end in a bare LF, built once: 400
    ``invalid_request``, the connection closed."""
    body = json.dumps(problem_body(BadInput(
        "the request head's lines must end in CRLF (RFC 9112 section 2.2)"))).encode()
    head = ["HTTP/1.1 400 Bad Request",
            *(f"{name}: {value}" for name, value in REFUSAL_HEADERS if name != "Retry-After"),
            f"Content-Length: {len(body)}", "Connection: close"]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


_BAD_HEAD = _bad_head_answer()
_BODY = re.compile(rb"\r\n(?:content-length:\s*0*[1-9]|transfer-encoding:)", re.I)


_EXEMPT = tuple(path.encode() for path in EXEMPT_PATHS)


def network_of(address: str) -> str | None:
    """The client ``address`` counts as, for rate limits and the per-client connection cap: an
    IPv4 address (an IPv4-mapped IPv6 one too), or the /64 of an IPv6 one (what one subscriber
    is given); a port on it (``a.b.c.d:port``, ``[v6]:port``) is dropped. None when it is no
    address."""
    text = address.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:  # an IPv4 address with a port (IPv6 has two colons at least)
        text = text.partition(":")[0]
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _exempt(data: bytes) -> bool:
    """Whether the request starting ``data`` is for an operator endpoint (admission's
    ``EXEMPT_PATHS``): an orchestrator's probe and a scrape are served past the bound too."""
    target = data[data.find(b" ") + 1:data.find(b" ", data.find(b" ") + 1)]
    return target.partition(b"?")[0] in _EXEMPT


_MAPPED = bytes(10) + b"\xff\xff"


def _peer_network(host: str) -> str | None:
    """:func:`network_of` for a socket's peer, which the kernel gives in canonical form (no port):
    a few string operations instead of :mod:`ipaddress` (~8 µs a new IPv4 connection, ~50 µs an
    IPv6 one)."""
    if ":" not in host:
        return host or None  # IPv4, dotted as the kernel writes it
    try:
        packed = socket.inet_pton(socket.AF_INET6, host.partition("%")[0])
    except OSError:
        return None
    if packed[:12] == _MAPPED:
        return socket.inet_ntop(socket.AF_INET, packed[12:])
    return socket.inet_ntop(socket.AF_INET6, packed[:8] + bytes(8)) + "/64"


class _Gate(asyncio.Protocol):
    """A new connection, until its first whole request head decides: served by aiohttp if the
    bound has room then (the connection is handed over whole, from that head on), else answered
    503 from here.

    A request without a body is answered and the connection kept (its client need not open
    another), and its next request decides again; a request with a body or a head that never
    ends closes it after the answer, and so does ``_IDLE`` seconds at the gate, requests or not
    (its client opens another, which finds room or not). A head has the bound's
    ``head_timeout`` from its first byte to its end, or the connection is closed unanswered
    (aiohttp has no deadline on a head: one trickled a byte every few seconds held a served
    connection until the keep-alive close, ~75 s; audit F10). A head with a line ending in a bare
    LF, before the head is whole, is answered 400 and closed as soon as the LF arrives
    (:meth:`_bad_head`). A connection
    beyond its address's share (``per_client``) is answered 503 at its first head and closed.
    Nothing is parsed but the end of the head, its line ends and whether a body follows."""

    __slots__ = ("_bound", "_buffer", "_client", "_head_timer", "_heard", "_over", "_server",
                 "_timer", "_transport")

    def __init__(self, bound: ConnectionBound, server: web.Server) -> None:
        self._bound, self._server = bound, server
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._head_timer: asyncio.TimerHandle | None = None
        self._buffer = b""
        self._heard = False
        #: its address's key in the per-client count (None: not counted), and whether it came
        #: beyond that address's share (answered 503 at its first head, never served)
        self._client: str | None = None
        self._over = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        client = self._bound.client_of(transport)
        held = 0 if client is None else self._bound.clients.get(client, 0)
        if client is not None and held >= 2 * self._bound.per_client:
            self._bound.capped()  # twice its share: not even held at the gate
            transport.close()
            return
        if not self._bound.arrived():  # more than the open-files limit holds: closed unread
            transport.abort()
            return
        if client is not None:
            self._client, self._over = client, held >= self._bound.per_client
            self._bound.clients[client] = held + 1
        self._transport = transport
        self._timer = asyncio.get_running_loop().call_later(_FIRST_BYTES, transport.close)
        self._bound.unheaded[self] = None  # evictable until its first head is whole

    def evict(self) -> None:
        """Closed to make room for a newer connection at the open-files ceiling: the oldest
        that has not yet sent a whole head (a trickler, or a client that sends nothing)."""
        transport = self._transport
        self._bound.unheaded.pop(self, None)
        if transport is not None:
            self._transport = None
            self._bound.left()
            transport.abort()

    def data_received(self, data: bytes) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return  # after a closing answer: what the client still sends is dropped
        loop = asyncio.get_running_loop()
        if not self._heard:  # its first bytes: _IDLE from now
            self._heard = True
            assert self._timer is not None
            self._timer.cancel()
            self._timer = loop.call_later(_IDLE, transport.close)
        if not self._buffer and self._bound.head_timeout:  # a head begins: its deadline
            self._head_timer = loop.call_later(self._bound.head_timeout, self._head_late)
        self._buffer += data
        while True:
            end = self._buffer.find(_HEAD_END)
            if end < 0:
                buffer = self._buffer  # the head so far: a bare LF in it?
                if buffer and buffer.count(b"\n") != buffer.count(b"\r\n"):
                    self._bad_head(transport)
                    return
                break
            if self._over:  # beyond its address's share: this request answered, then closed
                if _exempt(self._buffer[:end]):
                    self._hand_over(transport, self._buffer, last=True)
                    return
                self._bound.capped()
                self._bound.unheaded.pop(self, None)
                self._refuse(transport, close=True, counted=False)
                return
            if self._bound.admit():
                self._hand_over(transport, self._buffer)
                return
            if _exempt(self._buffer[:end]):  # served past the bound: this request only
                self._hand_over(transport, self._buffer, last=True)
                return
            head, self._buffer = self._buffer[:end], self._buffer[end + len(_HEAD_END):]
            self._bound.unheaded.pop(self, None)  # it sends whole heads: not evicted
            if _BODY.search(head):  # a body follows, of a length not worth parsing: close
                self._refuse(transport, close=True)
                return
            self._refuse(transport, close=False)
            self._head_done()
            if self._buffer and self._bound.head_timeout:  # the next head has begun
                self._head_timer = loop.call_later(self._bound.head_timeout, self._head_late)
        if len(self._buffer) > _MAX_HEAD:
            if self._bound.admit():  # aiohttp answers a head over its limits itself
                self._hand_over(transport, self._buffer)
                return
            self._refuse(transport, close=True)

    def _bad_head(self, transport: asyncio.Transport) -> None:
        """A line of a head not yet whole ended in a bare LF: 400, and the connection closed.
        RFC 9112 section 2.2 lets a recipient take one for a line's end, and lets a server
        refuse it; both of aiohttp's request parsers refuse it (llhttp in its strict mode, which
        aiohttp keeps for requests; the pure-Python parser as a bad line ending), and a proxy in
        front that read the head otherwise would be a way to smuggle a request past it. So the
        gate refuses it too, as soon as the LF arrives: it looked only for CRLF CRLF, and held a
        head that ends in LF LF to its deadline. A whole head (its CRLF CRLF found) is not
        searched: refused 503 here, or handed over and answered 400 at once by llhttp, so the
        refusals the gate answers most pay nothing for this (2,750 instructions a head when
        every head was searched: 6 % of the gate's work for a refused head)."""
        self._bound.bad_head()
        self._buffer = b""
        self._head_done()
        transport.write(_BAD_HEAD)
        transport.close()

    def _head_late(self) -> None:
        """The head begun ``head_timeout`` ago has not ended: the connection is closed."""
        self._head_timer = None
        if self._transport is not None:
            self._bound.head_late()
            self._transport.close()

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, transport: asyncio.Transport, *, close: bool, counted: bool = True
                ) -> None:
        if counted:
            self._bound.refused()
        transport.write(_REFUSAL_CLOSE if close else _REFUSAL)
        if close:
            self._buffer = b""
            self._head_done()
            transport.close()

    def _hand_over(self, transport: asyncio.Transport, data: bytes, *, last: bool = False
                   ) -> None:
        """aiohttp serves the connection from here on, from this request; ``last``: this
        request only (a whole head in ``data``), the connection closed after its answer — an
        operator endpoint beyond the bound, which must not bring the rest of its connection
        past it."""
        if self._timer is not None:
            self._timer.cancel()
        self._head_done()
        self._bound.unheaded.pop(self, None)
        self._transport, self._buffer = None, b""
        self._bound.left()
        handler = self._bound.handler(self._server, self._client)
        self._client = None  # the handler counts it out when it ends
        transport.set_protocol(handler)
        handler.connection_made(transport)
        handler.data_received(data)
        if last:
            handler.close()  # nothing more is read; closed once this request is answered

    def eof_received(self) -> bool:
        return False  # the client is done: close

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._head_done()
        self._bound.unheaded.pop(self, None)
        if self._transport is not None:  # still at the gate (not handed over, not refused)
            self._bound.left()
        self._transport = None
        if self._client is not None:
            self._bound.client_left(self._client)
            self._client = None


class _Served(RequestHandler):
    """aiohttp's handler of a connection the gate handed over, the gate's head deadline kept on
    its later requests: bytes that arrive while it waits for a request and do not make a whole
    head start ``head_timeout``, and a head not whole by then closes the connection (else a
    served connection's next head, trickled, held its place until the keep-alive close). A
    connection counted against its address's share (``client``) is counted out when it ends."""

    __slots__ = ("_gate_bound", "_gate_client", "_head_timer")

    def __init__(self, server: web.Server, bound: ConnectionBound, client: str | None) -> None:
        super().__init__(server, loop=asyncio.get_running_loop(), **server._kwargs)
        self._gate_bound, self._gate_client = bound, client
        self._head_timer: asyncio.TimerHandle | None = None

    def data_received(self, data: bytes) -> None:
        waiting = self._waiter is not None and not self._messages  # for a request's head
        super().data_received(data)
        if self._messages or self._waiter is None:  # a head is whole (or a body's bytes)
            self._head_done()
        elif waiting and self._head_timer is None and self._gate_bound.head_timeout:
            self._head_timer = self._loop.call_later(self._gate_bound.head_timeout,
                                                     self._head_late)

    def _head_late(self) -> None:
        self._head_timer = None
        if self._waiter is not None and not self._messages:
            self._gate_bound.head_late()
            self.force_close()

    def _head_done(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        self._head_done()
        if self._gate_client is not None:
            self._gate_bound.client_left(self._gate_client)
            self._gate_client = None
        super().connection_lost(exc)


class ConnectionBound:
    """At most ``limit`` connections served by aiohttp (``0``: no bound); a connection beyond
    them is answered 503 from a :class:`_Gate` until the bound has room."""

    def __init__(self, limit: int, registry: CollectorRegistry | None = None, *,
                 head_timeout: float = 0.0, per_client: int = 0) -> None:
        if limit < 0 or head_timeout < 0 or per_client < 0:
            raise ValueError("a connection bound needs limit, head_timeout and per_client >= 0")
        self.limit = limit
        #: connections one client address (:func:`network_of` of the socket's peer) holds, at
        #: the gate and served together (0: no cap); behind a trusted proxy 0, since every
        #: connection is the proxy's
        self.per_client = per_client
        #: connections held now, by client address (only those that hold any)
        self.clients: dict[str, int] = {}
        #: seconds from a request head's first byte to its end at the gate (0: no deadline)
        self.head_timeout = head_timeout
        #: connections served and at the gate together (:func:`open_files` sets it under the
        #: open-files limit); one beyond is closed as it arrives
        self.ceiling = 1 << 62
        self.at_gate = 0
        #: connections at the gate that have not sent a whole head yet, oldest first
        self.unheaded: dict[_Gate, None] = {}
        self._server: web.Server | None = None
        self._refused = Counter("satchel_connections_refused", "Requests answered 503 "
                                "overloaded at once, unparsed, on connections beyond "
                                "SATCHEL_MAX_CONNECTIONS", registry=registry)
        Gauge("satchel_connections_open", "Connections served by aiohttp (idle keep-alive ones "
              "too): what SATCHEL_MAX_CONNECTIONS bounds", registry=registry
              ).set_function(lambda: self.open)
        Gauge("satchel_connections_at_gate", "Connections beyond SATCHEL_MAX_CONNECTIONS, or "
              "not yet sent a request, waiting at the gate", registry=registry
              ).set_function(lambda: self.at_gate)
        self._dropped = Counter("satchel_connections_dropped", "Connections closed unread as "
                                "they arrived: more than the open-files limit holds",
                                registry=registry)
        self._evicted = Counter("satchel_connections_evicted", "Connections at the gate "
                                "without a whole request head, closed at the open-files ceiling "
                                "to make room for a newer one", registry=registry)
        self._late = Counter("satchel_connections_head_timeouts", "Connections closed at the "
                             "gate because a request head did not end within "
                             "SATCHEL_HEAD_TIMEOUT of its first byte", registry=registry)
        self._capped = Counter("satchel_connections_client_capped", "Connections beyond "
                               "SATCHEL_MAX_CONNECTIONS_PER_CLIENT from one address: answered "
                               "503 overloaded at their first request head and closed, or, "
                               "beyond twice it, closed as they arrived", registry=registry)
        self._bad_heads = Counter("satchel_connections_bare_lf_heads", "Request heads answered "
                                  "400 at the gate and their connections closed: a line ended "
                                  "in a bare LF", registry=registry)

    @property
    def open(self) -> int:
        return 0 if self._server is None else len(self._server.connections)

    def factory(self, server: web.Server) -> Callable[[], asyncio.Protocol]:
        """The protocol factory a listener uses: aiohttp's own, behind a gate if bounded or
        given a head deadline."""
        self._server = server
        if self.limit == 0 and not self.head_timeout and not self.per_client:
            return server
        return lambda: _Gate(self, server)

    def handler(self, server: web.Server, client: str | None = None) -> RequestHandler:
        """The aiohttp handler a connection is handed to: with the head deadline, if any, and
        counted against ``client``'s share until it ends."""
        if self.head_timeout or client is not None:
            return _Served(server, self, client)
        return server()

    def client_of(self, transport: asyncio.BaseTransport) -> str | None:
        """The address ``transport``'s connection counts against, or None: no cap, or a peer
        that is no IP address (a Unix socket)."""
        if not self.per_client:
            return None
        peer = transport.get_extra_info("peername")
        return _peer_network(peer[0]) if isinstance(peer, tuple) and peer else None

    def client_left(self, client: str) -> None:
        """One of ``client``'s connections ended."""
        held = self.clients[client] - 1
        if held:
            self.clients[client] = held
        else:
            del self.clients[client]

    def capped(self) -> None:
        self._capped.inc()

    def admit(self) -> bool:
        """Whether a connection may be handed to aiohttp now."""
        return self.limit == 0 or self.open < self.limit

    def refused(self) -> None:
        self._refused.inc()

    def head_late(self) -> None:
        self._late.inc()

    def bad_head(self) -> None:
        self._bad_heads.inc()

    def arrived(self) -> bool:
        """A new connection at the gate: counted, unless it is beyond :attr:`ceiling`. There,
        the oldest connection at the gate that has not sent a whole head is closed to make room
        (so that connections trickling heads, or sending nothing, cannot keep every newer
        client out until their deadlines; audit F10); without one, the new one is closed."""
        if self.open + self.at_gate >= self.ceiling:
            if not self.unheaded:
                self._dropped.inc()
                return False
            self._evicted.inc()
            next(iter(self.unheaded)).evict()
        self.at_gate += 1
        return True

    def left(self) -> None:
        """A connection left the gate (handed over, or closed)."""
        self.at_gate -= 1


#: fewer connections than this per replica is no service: refused, never fitted down to
_FEWEST = 64
#: connections a fitted bound leaves between itself and the ceiling, so that the gate can still
#: hold new ones to answer them 503 when the bound is full (else every new one is closed unread
#: as it arrives, a reset to its client rather than a retryable 503; audit F10)
_GATE_ROOM = 64
#: what macOS lets a process raise its soft limit to when its hard one is unlimited
_OPEN_MAX = 10240


def open_files(bound: ConnectionBound, backlog: int = 0, *, fit: bool = False) -> int:
    """Raise the soft open-files limit (RLIMIT_NOFILE) to the hard one and set ``bound``'s
    :attr:`~ConnectionBound.ceiling` under it; the limit now. Beside the connections, the
    descriptors one turn of the event loop may accept at once (``backlog``, the listen backlog)
    and a reserve for the stores and files must fit, or asyncio's accept loop meets EMFILE
    (audit A4). A bound the limit cannot hold is a :class:`SettingsError` where the operator set
    it; the default one (``fit``) is lowered to what the limit holds, with a warning, so that
    ``satchel serve`` starts on a laptop whose limit is small (macOS: 256), unless that leaves
    fewer than 64 connections. A fitted bound leaves ``_GATE_ROOM`` connections under the
    ceiling for the gate, so that a full bound still answers new connections 503."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for wanted in (hard, min(hard, _OPEN_MAX) if hard != resource.RLIM_INFINITY else _OPEN_MAX):
        if soft >= wanted:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
            break
        except (ValueError, OSError):
            continue  # not allowed: the next, or kept as it is for the check below
    if bound.limit == 0:
        return soft
    ceiling = soft - backlog - _RESERVE
    needs = (f"SATCHEL_MAX_CONNECTIONS={bound.limit} needs {bound.limit + backlog + _RESERVE} "
             f"open files (the bound, the listen backlog {backlog}, {_RESERVE} for stores and "
             f"files) and the limit is {soft}")
    if bound.limit > ceiling and (not fit or ceiling < _FEWEST):
        raise SettingsError(f"{needs}: raise it (ulimit -n, LimitNOFILE) or lower the bound")
    if bound.limit > ceiling - _GATE_ROOM and fit:
        fitted = max(_FEWEST, ceiling - _GATE_ROOM)  # room for the gate to answer 503
        log.warning("%s: serving at most %d connections (raise the limit with ulimit -n or "
                    "LimitNOFILE for more)", needs, fitted)
        bound.limit = fitted
    bound.ceiling = ceiling
    return soft


class BoundedSite(web.TCPSite):
    """aiohttp's TCP site, its connections counted against a :class:`ConnectionBound`."""

    __slots__ = ("_bound",)

    def __init__(self, runner: BaseRunner, host: str | None, port: int, *, backlog: int,
                 bound: ConnectionBound) -> None:
        super().__init__(runner, host, port, backlog=backlog)
        self._bound = bound

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site with its runner
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            self._bound.factory(server), self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)
        sockets = self._server.sockets
        self._bound_port = sockets[0].getsockname()[1] if sockets else self._port
