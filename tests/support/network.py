"""The suite's network boundary: which hosts count as local (the ``no_internet`` guard of
tests/conftest.py lets only those through), and the test apps' host resolver."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

_LOCAL_NAMES = frozenset({"localhost", "localhost.", "ip6-localhost"})


def is_local(host: object) -> bool:
    """Loopback (or the unspecified address a server binds to), as a name or an address."""
    if host is None or host == "":
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower() in _LOCAL_NAMES:
        return True
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return ip.is_loopback or ip.is_unspecified


async def loopback_resolver(host: str, port: int) -> Sequence[str]:
    """The test apps' host resolver: ``localhost`` only; any other name does not resolve.

    So a credential pointing at a real status list or DID document (the public samples do) is
    answered locally, as an unreachable host, instead of reaching the internet.
    """
    if host.lower().rstrip(".") == "localhost":
        return ["127.0.0.1"]
    raise OSError(f"{host} does not resolve in the test suite (no internet)")
