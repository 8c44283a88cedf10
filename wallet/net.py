"""The guarded network door: Satchel's only outgoing HTTP client (docs/architecture.md).

Every URL Satchel contacts is chosen by someone else: credential offers, issuer metadata,
``jwks_uri``, status lists, ``request_uri``/``response_uri``, DID documents. Without a guard, any
of them turns the wallet into a proxy into its own network (SSRF: cloud metadata at
169.254.169.254, the database on 10.x, admin ports on 127.0.0.1). So this module

- checks the URL against the policy of :mod:`wallet.net_policy` (``https`` only, no userinfo, a
  bounded length, no numeric host spelling but a canonical dotted quad), then resolves the name
  itself and checks **every** address against that policy's IANA special-purpose ranges;
- **pins** the vetted addresses for the connection: a resolver inside aiohttp's connector returns
  only the addresses this module checked for this request (a context variable), so DNS rebinding
  between check and connect is impossible, while SNI and ``Host`` stay the original name and TLS
  still verifies it;
- never follows redirects unless the caller opts in (each hop is then re-checked), caps time, body
  size (while streaming, after bounded decompression) and checks the response content type;
- logs host, status and duration only (never paths, query strings, tokens or bodies).

Failures are typed so callers can tell an outage from a bad answer (:mod:`wallet.errors`):
:class:`UpstreamUnavailable` for what a later try may cure (connection refused or reset, a
timeout, a temporary DNS failure), plain :class:`UpstreamError` for everything the peer or its
name got wrong (TLS, a name that does not exist, oversize, mistyped, badly encoded or compressed
bodies, malformed redirects). HTTP statuses are not errors here: every answer is returned, and
the protocol client decides what a 5xx or 429 means (``wallet.oid4vci.client``).

Implements :class:`wallet.ports.Fetcher`. ``allow_hosts`` (``SATCHEL_FETCH_ALLOW_HOSTS``) exempts
named hosts from the address check (tests, private deployments); TLS stays on, and
``extra_ca_file`` (``SATCHEL_EXTRA_CA_FILE``) adds trust anchors to the system ones, for TLS only
(``x5c`` chains in signed objects have their own anchors, ``SATCHEL_X5C_ANCHORS_FILE``).
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Unpack

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from wallet.errors import FetchRefused, UpstreamError, UpstreamUnavailable
from wallet.net_policy import (
    CheckedUrl,
    address_block_reason,
    check_url,
    parse_allow_hosts,
)
from wallet.ports import FetchOptions, FetchResponse

__all__ = [
    "CheckedUrl",
    "FetchEvent",
    "GuardedFetcher",
    "HostResolver",
    "address_block_reason",
    "check_url",
    "parse_allow_hosts",
    "system_resolver",
]

log = logging.getLogger(__name__)

#: ``(host, port) -> addresses`` (strings); the default asks the OS via ``getaddrinfo``.
HostResolver = Callable[[str, int], Awaitable[Sequence[str]]]


async def system_resolver(host: str, port: int) -> Sequence[str]:
    """Every address the OS resolver gives for ``host`` (A and AAAA)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


#: host -> the addresses vetted for the request running in this context.
_PINNED: contextvars.ContextVar[Mapping[str, tuple[str, ...]]] = contextvars.ContextVar(
    "satchel_pinned_addresses"
)


class _PinnedResolver(AbstractResolver):
    """aiohttp resolver that only hands out addresses vetted for the current request."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        pinned = _PINNED.get({}).get(host.rstrip(".").lower())
        if not pinned:
            raise OSError(f"no vetted address for {host}")
        out: list[ResolveResult] = []
        for addr in pinned:
            fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
            if family not in (socket.AF_UNSPEC, fam):
                continue
            out.append({"hostname": host, "host": addr, "port": port, "family": fam,
                        "proto": socket.IPPROTO_TCP, "flags": socket.AI_NUMERICHOST})
        if not out:
            raise OSError(f"no vetted address of the requested family for {host}")
        return out

    async def close(self) -> None:
        return None


@dataclass(frozen=True, slots=True)
class FetchEvent:
    """What the metrics hook sees: no URL path, no query, no body."""

    method: str
    host: str
    outcome: str  # "ok" (any HTTP status), "refused", "error"
    status: int | None
    seconds: float


_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DROPPED_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection",
                              "accept-encoding", "content-encoding", "te", "upgrade"})


def _media_type(value: str | None) -> str:
    return (value or "").split(";", 1)[0].strip().lower()


def _accepts(accept: Sequence[str], media_type: str) -> bool:
    for want in accept:
        want = _media_type(want)
        if want == "*/*" or want == media_type:
            return True
        if want.endswith("/*") and media_type.startswith(want[:-1]):
            return True
    return False


class GuardedFetcher:
    """The :class:`wallet.ports.Fetcher` for production. Owns one ``aiohttp.ClientSession``.

    Use ``async with GuardedFetcher(...) as f`` or ``await f.start()`` / ``await f.close()``.
    Satchel builds one in the composition root (:func:`holder_api.compose.stores.open_stores`),
    which starts it and closes it with the other stores.
    """

    def __init__(
        self,
        *,
        allow_hosts: frozenset[str] = frozenset(),
        extra_ca_file: Path | None = None,
        timeout: float = 10.0,
        connect_timeout: float = 5.0,
        max_bytes: int = 1 << 20,
        max_url_length: int = 4096,
        max_redirects: int = 0,
        resolver: HostResolver | None = None,
        on_fetch: Callable[[FetchEvent], None] | None = None,
        user_agent: str = "Satchel-Wallet/0.1",
    ) -> None:
        self.allow_hosts = frozenset(h.strip().rstrip(".").lower() for h in allow_hosts if h)
        self.extra_ca_file = extra_ca_file
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.max_bytes = max_bytes
        self.max_url_length = max_url_length
        self.max_redirects = max(0, max_redirects)
        self._resolve = resolver or system_resolver
        self._on_fetch = on_fetch
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    # -- lifetime ---------------------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
        if self.extra_ca_file is not None:
            try:
                ctx.load_verify_locations(cafile=str(self.extra_ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise UpstreamError("SATCHEL_EXTRA_CA_FILE cannot be loaded") from exc
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        return ctx

    async def start(self) -> None:
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            resolver=_PinnedResolver(), use_dns_cache=False, ssl=self._ssl_context(),
            limit=100, limit_per_host=10,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,  # no proxy from the environment: it would bypass the address check
            auto_decompress=False,  # decompressed here, bounded
            cookie_jar=aiohttp.DummyCookieJar(),  # never carry one party's cookies to another
            timeout=aiohttp.ClientTimeout(total=self.timeout, connect=self.connect_timeout,
                                          sock_connect=self.connect_timeout),
            headers={"User-Agent": self._user_agent},
        )

    async def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            await session.close()

    async def __aenter__(self) -> GuardedFetcher:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # -- the Fetcher protocol ------------------------------------------------------------------
    async def get(self, url: str, **options: Unpack[FetchOptions]) -> FetchResponse:
        return await self._fetch("GET", url, None, None, options)

    async def post_form(self, url: str, data: Mapping[str, str],
                        **options: Unpack[FetchOptions]) -> FetchResponse:
        return await self._fetch("POST", url, dict(data), None, options)

    async def post_json(self, url: str, body: Any,
                        **options: Unpack[FetchOptions]) -> FetchResponse:
        try:
            payload = json.dumps(body, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise FetchRefused("request body is not JSON-serialisable") from exc
        return await self._fetch("POST", url, None, payload, options)

    async def post_bytes(self, url: str, body: bytes, *, content_type: str,
                         **options: Unpack[FetchOptions]) -> FetchResponse:
        """POST a raw body (e.g. an ``application/jwt`` encrypted OpenID4VCI request)."""
        if not isinstance(body, bytes) or "\n" in content_type or "\r" in content_type:
            raise FetchRefused("raw body must be bytes with a plain content type")
        return await self._fetch("POST", url, None, body, options, content_type=content_type)

    async def preflight(self, url: str) -> None:
        """Check ``url`` exactly as a fetch would (scheme, host spelling, every resolved address)
        without connecting: :class:`FetchRefused` for a URL the guard would refuse. For a URL
        that is only used later (an OpenID4VP ``response_uri``), so that it is refused when it is
        handed over, not when it is first used."""
        await self.vet(url)

    # -- internals -----------------------------------------------------------------------------
    async def vet(self, url: str) -> tuple[CheckedUrl, tuple[str, ...]]:
        """Check ``url`` and resolve its host: the addresses to pin, or :class:`FetchRefused`."""
        target = check_url(url, max_length=self.max_url_length)
        return target, await self._vet_host(target)

    async def _vet_host(self, target: CheckedUrl) -> tuple[str, ...]:
        allowed = target.host in self.allow_hosts
        if target.literal is not None:
            why = None if allowed else address_block_reason(target.literal)
            if why is not None:
                raise FetchRefused(f"address of {target.host} is refused ({why})")
            return (str(target.literal),)
        try:
            addrs = tuple(dict.fromkeys(await self._resolve(target.host, target.port)))
        except socket.gaierror as exc:
            if exc.errno == socket.EAI_AGAIN:  # SERVFAIL, resolver timeout: the DNS is down
                raise UpstreamUnavailable(f"host {target.host} cannot be resolved for now") \
                    from exc
            raise UpstreamError(f"host {target.host} does not resolve") from exc
        except (OSError, UnicodeError) as exc:
            raise UpstreamError(f"host {target.host} does not resolve") from exc
        if not addrs:
            raise UpstreamError(f"host {target.host} does not resolve")
        for addr in addrs:
            why = address_block_reason(addr)
            if why == "not an IP address" or (why is not None and not allowed):
                raise FetchRefused(f"host {target.host} resolves to a refused address ({why})")
        return addrs

    def _report(self, method: str, host: str, outcome: str, status: int | None,
                started: float) -> None:
        seconds = time.monotonic() - started
        log.info("fetch %s %s -> %s %s in %.0f ms", method, host, outcome,
                 status if status is not None else "-", seconds * 1000)
        if self._on_fetch is not None:
            try:
                self._on_fetch(FetchEvent(method, host, outcome, status, seconds))
            except Exception:  # a broken metrics hook must not break fetching
                log.exception("fetch metrics hook failed")

    async def _fetch(self, method: str, url: str, form: dict[str, str] | None,
                     body: bytes | None, options: FetchOptions,
                     content_type: str = "application/json") -> FetchResponse:
        accept = options.get("accept", ("application/json",))
        headers, max_bytes = options.get("headers"), options.get("max_bytes")
        if self._session is None:
            raise UpstreamError("the network door is not open (GuardedFetcher not started)")
        if not accept:
            raise FetchRefused("an accepted content type is required")
        cap = self.max_bytes if max_bytes is None else max_bytes
        send: dict[str, str] = {k: v for k, v in (headers or {}).items()
                                if k.lower() not in _DROPPED_HEADERS}
        send["Accept"] = ", ".join(accept)
        send["Accept-Encoding"] = "gzip, deflate"
        if body is not None:
            send["Content-Type"] = content_type
        hops = self.max_redirects if method == "GET" else 0
        host = "-"
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.timeout):
                while True:
                    target = check_url(url, max_length=self.max_url_length)
                    host = target.host
                    addrs = await self._vet_host(target)
                    resp = await self._once(method, target, addrs, form, body, send, accept, cap)
                    location = resp.headers.get("location")
                    if resp.status not in _REDIRECTS or hops <= 0 or not location:
                        break
                    hops -= 1
                    try:
                        url = str(target.url.join(URL(location)))
                    except (ValueError, TypeError) as exc:
                        raise UpstreamError(f"{host} redirected to a malformed URL") from exc
        except FetchRefused:
            self._report(method, host, "refused", None, started)
            raise
        except UpstreamError:
            self._report(method, host, "error", None, started)
            raise
        except TimeoutError as exc:
            self._report(method, host, "error", None, started)
            raise UpstreamUnavailable(f"request to {host} timed out") from exc
        self._report(method, host, "ok", resp.status, started)
        return resp

    async def _once(self, method: str, target: CheckedUrl, addrs: tuple[str, ...],
                    form: dict[str, str] | None, body: bytes | None, send: dict[str, str],
                    accept: Sequence[str], cap: int) -> FetchResponse:
        assert self._session is not None
        token = _PINNED.set({target.host: addrs})
        try:
            async with self._session.request(
                method, target.url, data=form if form is not None else body, headers=send,
                allow_redirects=False, max_redirects=0,
            ) as r:
                raw = await _read_capped(r, cap)
                media_type = _media_type(r.headers.get("Content-Type"))
                headers = {k.lower(): v for k, v in r.headers.items()}
                if 200 <= r.status < 300 and (raw or media_type) and not _accepts(accept,
                                                                                  media_type):
                    raise UpstreamError(f"{target.host} answered with an unexpected content type",
                                        content_type=media_type[:100])
                content = _decode(raw, r.headers.get("Content-Encoding"), cap, target.host)
                return FetchResponse(str(target.url), r.status, media_type, content, headers)
        except TimeoutError as exc:  # aiohttp's own timeouts are TimeoutErrors too
            raise UpstreamUnavailable(f"request to {target.host} timed out") from exc
        except (aiohttp.ClientSSLError, ssl.SSLError) as exc:  # a certificate does not heal itself
            raise UpstreamError(f"TLS with {target.host} failed") from exc
        except aiohttp.ClientConnectorDNSError as exc:  # only the pinned addresses: none fitted
            raise UpstreamError(f"connection to {target.host} failed") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError) as exc:
            # refused, reset, unreachable, or the connection dropped mid-body
            raise UpstreamUnavailable(f"connection to {target.host} failed") from exc
        except aiohttp.ClientError as exc:  # a malformed HTTP answer and the like
            raise UpstreamError(f"{target.host} answered with malformed HTTP") from exc
        except OSError as exc:
            raise UpstreamUnavailable(f"connection to {target.host} failed") from exc
        finally:
            _PINNED.reset(token)


async def _read_capped(resp: aiohttp.ClientResponse, cap: int) -> bytes:
    length = resp.content_length
    if length is not None and length > cap:
        raise UpstreamError(f"{resp.url.host} answered with a body over the size limit")
    buf = bytearray()
    async for chunk in resp.content.iter_chunked(65536):
        buf += chunk
        if len(buf) > cap:
            raise UpstreamError(f"{resp.url.host} answered with a body over the size limit")
    return bytes(buf)


def _decode(raw: bytes, encoding: str | None, cap: int, host: str) -> bytes:
    enc = (encoding or "identity").strip().lower()
    if enc in ("", "identity"):
        return raw
    if enc in ("gzip", "x-gzip"):
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif enc == "deflate":
        d = zlib.decompressobj(zlib.MAX_WBITS if raw[:1] == b"\x78" else -zlib.MAX_WBITS)
    else:
        raise UpstreamError(f"{host} answered with an unsupported content encoding")
    try:
        out = d.decompress(raw, cap + 1)
    except zlib.error as exc:
        raise UpstreamError(f"{host} answered with a corrupt compressed body") from exc
    if len(out) > cap or d.unconsumed_tail:
        raise UpstreamError(f"{host} answered with a body over the size limit (decompressed)")
    return out
