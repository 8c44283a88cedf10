"""Token Status List: the ``statuslist+jwt`` Status List Token and its ``{bits, lst}`` list.

draft-ietf-oauth-status-list (https://datatracker.ietf.org/doc/draft-ietf-oauth-status-list/),
§4.1 (Status List in JSON: ``bits`` ∈ {1,2,4,8}, ``lst`` = base64url(ZLIB(bytes)), entries LSB
first), §5.1 (Status List Token in JWT: ``typ statuslist+jwt``, ``sub`` = the URI the referenced
token named, ``iat`` required, ``exp``/``ttl`` for caching), §7.1 (status values: 0 VALID,
1 INVALID, 2 SUSPENDED, 3 and 0x0C-0x0F application specific) and §8.3 (validation: reject an
index outside the list). The signature is checked with the caller's key resolver, never with a
key the token names itself (it goes through :func:`wallet.jose.verify_compact`).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

from wallet.errors import BadInput
from wallet.formats.model import StatusState
from wallet.jose import PublicKey, b64url_decode, verify_compact
from wallet.numbers import finite_number
from wallet.status_list.codec import DEFAULT_MAX_INFLATED, inflate, read_lsb_first
from wallet.status_list.errors import InvalidStatusList

__all__ = [
    "STATUS_LIST_JWT_TYP",
    "TOKEN_STATUS_ALGS",
    "StatusListToken",
    "TokenStatusList",
    "decode_status_list",
    "token_status_state",
    "verify_status_list_token",
]

STATUS_LIST_JWT_TYP = "statuslist+jwt"
#: Default algorithm allowlist for Status List Tokens.
TOKEN_STATUS_ALGS: frozenset[str] = frozenset({"ES256", "ES384", "ES512", "EdDSA", "PS256",
                                               "PS384", "PS512", "RS256"})
_BITS = (1, 2, 4, 8)
_STATES: dict[int, StatusState] = {0: "valid", 1: "invalid", 2: "suspended"}


def token_status_state(value: int) -> StatusState:
    """Map a Token Status List value onto Satchel's states; anything application-specific is
    ``"unknown"`` (Satchel cannot know what an issuer meant by it)."""
    return _STATES.get(value, "unknown")


@dataclass(frozen=True, slots=True)
class TokenStatusList:
    """An inflated Token Status List: ``bits`` per entry, LSB first."""

    bits: int
    data: bytes

    def __len__(self) -> int:
        return len(self.data) * 8 // self.bits

    def value(self, index: int) -> int:
        """The raw status value; :class:`StatusIndexOutOfRange` beyond the end."""
        return read_lsb_first(self.data, index, self.bits)

    def state(self, index: int) -> StatusState:
        return token_status_state(self.value(index))


def _decode_from(bits: object, compressed: bytes, max_inflated: int) -> TokenStatusList:
    if isinstance(bits, bool) or bits not in _BITS:
        raise InvalidStatusList("status list bits must be 1, 2, 4 or 8")
    assert isinstance(bits, int)
    data = inflate(compressed, gzip=False, max_size=max_inflated)
    if not data:
        raise InvalidStatusList("status list is empty")
    return TokenStatusList(bits, data)


def decode_status_list(obj: object, *,
                       max_inflated: int = DEFAULT_MAX_INFLATED) -> TokenStatusList:
    """Decode the JSON ``status_list`` object ``{"bits": n, "lst": "<base64url ZLIB>"}``.

    A ``lst`` given as bytes (the CBOR encoding, §4.2) is accepted as is.
    """
    if not isinstance(obj, Mapping):
        raise InvalidStatusList("status_list must be an object")
    lst = obj.get("lst")
    if isinstance(lst, bytes | bytearray):
        compressed = bytes(lst)
    elif isinstance(lst, str):
        try:
            compressed = b64url_decode("".join(lst.split()))
        except BadInput as exc:
            raise InvalidStatusList("status list lst is not base64url") from exc
    else:
        raise InvalidStatusList("status list lst is missing")
    return _decode_from(obj.get("bits"), compressed, max_inflated)


@dataclass(frozen=True, slots=True)
class StatusListToken:
    """A verified Status List Token."""

    sub: str
    iss: str | None
    iat: int
    exp: int | None
    ttl: int | None
    status_list: TokenStatusList

    def fresh_until(self, now: float, *, default_ttl: float, max_ttl: float) -> float:
        """Until when a cached copy may be used: ``now + ttl`` (bounded), never beyond ``exp``."""
        life = default_ttl if self.ttl is None else float(self.ttl)
        until = now + min(max(life, 0.0), max_ttl)
        return until if self.exp is None else min(until, float(self.exp))


def _int_claim(claims: Mapping[str, Any], name: str, *, required: bool) -> int | None:
    v = claims.get(name)
    if v is None and not required:
        return None
    number = finite_number(v)
    if number is None or number < 0:
        raise InvalidStatusList(f"status list token {name} must be a non-negative number")
    return int(number)


def verify_status_list_token(
    token: str,
    *,
    uri: str,
    resolve_key: Callable[[Mapping[str, Any]], PublicKey],
    now: float,
    allowed_algs: Collection[str] = TOKEN_STATUS_ALGS,
    leeway: float = 60.0,
    max_inflated: int = DEFAULT_MAX_INFLATED,
) -> StatusListToken:
    """Verify a Status List Token fetched from ``uri`` (draft §8.3) and decode its list.

    Fail-closed: signature (caller's key, allowlisted alg), ``typ``, ``sub`` = ``uri``, ``iat``
    present and not in the future, ``exp`` not passed, then the list itself.
    """
    parts = verify_compact("".join(token.split()), resolve_key, allowed_algs=allowed_algs,
                           expected_typ={STATUS_LIST_JWT_TYP, "application/" + STATUS_LIST_JWT_TYP})
    claims = parts.claims()
    if claims.get("sub") != uri:
        raise InvalidStatusList("status list token sub is not the URI it was fetched from")
    iat = _int_claim(claims, "iat", required=True)
    assert iat is not None
    if iat > now + leeway:
        raise InvalidStatusList("status list token is issued in the future")
    exp = _int_claim(claims, "exp", required=False)
    if exp is not None and exp <= now - leeway:
        raise InvalidStatusList("status list token has expired")
    ttl = _int_claim(claims, "ttl", required=False)
    iss = claims.get("iss")
    if iss is not None and not isinstance(iss, str):
        raise InvalidStatusList("status list token iss must be a string")
    status_list = decode_status_list(claims.get("status_list"), max_inflated=max_inflated)
    return StatusListToken(uri, iss, iat, exp, ttl, status_list)
