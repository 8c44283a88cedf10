"""Which URLs and addresses the guarded fetcher (:mod:`wallet.net`) may contact: the SSRF policy.

Every URL Satchel contacts is chosen by someone else, so the policy

- accepts ``https`` only, without userinfo, with a bounded length;
- refuses every numeric host spelling that is not a canonical dotted quad (``127.1``,
  ``2130706433``, ``0x7f.1``, ``0177.0.0.1``: WHATWG/inet_aton would map them onto addresses);
- judges **every** resolved address against the IANA special-purpose ranges
  (https://www.iana.org/assignments/iana-ipv4-special-registry,
  https://www.iana.org/assignments/iana-ipv6-special-registry), including IPv6 forms that embed an
  IPv4 address (mapped, compatible, 6to4 RFC 3056, Teredo RFC 4380, NAT64 RFC 6052).

A module of its own because it is the part of the guard that is a pure function of its input
(what the property tests run against), apart from the connection machinery that applies it; it
opens nothing itself, and :mod:`wallet.net` stays the only way to the network.

Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from yarl import URL

from wallet.errors import FetchRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Address ranges never contacted (IPv4 and IPv6), each with the reason a refusal names.
_BLOCKED: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why)
    for net, why in (
        ("0.0.0.0/8", "unspecified/this network"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "carrier-grade NAT"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local/metadata"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved/broadcast"),
        ("::/96", "IPv4-compatible/unspecified/loopback"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("::ffff:0:0:0/96", "IPv4-translated"),
        ("64:ff9b:1::/48", "local-use NAT64"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (Teredo, benchmarking, ORCHID ...)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing SIDs"),
        ("fc00::/7", "unique-local (incl. fd00:ec2::254 metadata)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local"),
        ("ff00::/8", "multicast"),
    )
)
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def address_block_reason(addr: IPAddress | str) -> str | None:
    """Why ``addr`` must not be contacted, or ``None`` when it is an ordinary global address.

    IPv6 is allowed only inside global unicast ``2000::/3`` (plus NAT64 ``64:ff9b::/96`` of an
    allowed IPv4 address); 6to4 and Teredo addresses are judged by the IPv4 address they embed.
    """
    try:
        ip = ipaddress.ip_address(addr) if isinstance(addr, str) else addr
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
        return "scoped IPv6 address"
    # an address is never in a network of the other family
    blocked = next((why for net, why in _BLOCKED if ip in net), None)
    if blocked is not None or isinstance(ip, ipaddress.IPv4Address):
        return blocked
    if ip in _NAT64:
        inner = address_block_reason(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        return None if inner is None else f"NAT64 embedding {inner} IPv4"
    if ip not in _V6_GLOBAL_UNICAST:
        return "reserved IPv6"
    if ip.sixtofour is not None:
        inner = address_block_reason(ip.sixtofour)
        return None if inner is None else f"6to4 embedding {inner} IPv4"
    return None


#: whitespace, control characters (C0 and DEL) and backslashes: never in a URL fetched
_REFUSED_CHAR = re.compile(r"[\x00-\x20\x7f\\]")
_NUMERIC_LABEL = re.compile(r"0x[0-9a-f]*|[0-9]+")
_CANONICAL_QUAD = re.compile(r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
                             r"(\.(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])){3}")
_HOST_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")


@dataclass(frozen=True, slots=True)
class CheckedUrl:
    """A URL that passed the syntax checks (its host is not yet resolved)."""

    url: URL  # normalised, without fragment; what aiohttp is given
    host: str  # as aiohttp's connector sees it (req.host)
    port: int
    literal: IPAddress | None


def check_url(url: str, *, max_length: int = 4096) -> CheckedUrl:
    """Syntax checks that need no DNS; :class:`FetchRefused` when the URL is refused."""
    if not isinstance(url, str) or not url or len(url) > max_length:
        raise FetchRefused("URL missing or too long")
    if _REFUSED_CHAR.search(url):
        raise FetchRefused("URL contains whitespace, control characters or backslashes")
    try:
        u = URL(url)
    except (ValueError, TypeError, IndexError) as exc:  # yarl raises IndexError on some inputs
        raise FetchRefused("URL does not parse") from exc
    if u.scheme != "https":
        raise FetchRefused("only https URLs are fetched")
    if u.raw_user is not None or u.raw_password is not None or "@" in (u.raw_authority or ""):
        raise FetchRefused("URLs with user information are refused")
    raw_host = (u.raw_host or "").lower()
    if not raw_host:
        raise FetchRefused("URL has no host")
    port = u.port or 443
    if "%" in raw_host:
        raise FetchRefused("scoped or percent-encoded hosts are refused")
    if ":" in raw_host:  # IPv6 literal (yarl strips the brackets)
        try:
            literal: IPAddress = ipaddress.IPv6Address(raw_host)
        except ValueError as exc:
            raise FetchRefused("malformed IPv6 host") from exc
        return CheckedUrl(u.with_fragment(None), raw_host, port, literal)
    host = raw_host[:-1] if raw_host.endswith(".") else raw_host
    labels = host.split(".")
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        if not _CANONICAL_QUAD.fullmatch(host):
            raise FetchRefused("numeric host that is not a canonical dotted-quad IPv4 address")
        literal = ipaddress.IPv4Address(host)
        return CheckedUrl(u.with_fragment(None).with_host(host), host, port, literal)
    if len(host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise FetchRefused("host name is not a valid DNS name")
    return CheckedUrl(u.with_fragment(None).with_host(host), host, port, None)


def parse_allow_hosts(value: str | None) -> frozenset[str]:
    """``SATCHEL_FETCH_ALLOW_HOSTS``: host names separated by commas or whitespace."""
    return frozenset(h.strip().rstrip(".").lower() for h in re.split(r"[,\s]+", value or "")
                     if h.strip())
