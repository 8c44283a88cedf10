"""W3C Bitstring Status List v1.0 (and its predecessor StatusList2021).

https://www.w3.org/TR/vc-bitstring-status-list/ §2.1 (BitstringStatusListEntry: ``statusPurpose``,
``statusListIndex``, ``statusSize``, ``statusMessage``), §2.2 (BitstringStatusListCredential,
``encodedList`` = multibase base64url (``u`` prefix, no padding) of the GZIP-compressed bitstring,
``ttl`` in milliseconds), §3.2 (validation: the list's ``statusPurpose`` must match the entry's;
the first index is the left-most bit) and §6.1 (minimum length 131,072 entries, i.e. 16 KB, for
herd privacy). StatusList2021 (https://www.w3.org/TR/2023/WD-vc-status-list-20230427/) has the
same layout; its ``encodedList`` has no multibase prefix. The two W3C lists and the IETF Token
Status List differ in compression (GZIP vs ZLIB) and bit order (MSB vs LSB first); :mod:`.codec`
has both.

This module checks the list's *content* and dates; the proof is checked by the caller (VC-JWT: see
:func:`credential_from_vc_jwt`; Data Integrity: a verifier the caller injects).
Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from wallet.errors import BadInput
from wallet.formats.model import StatusState
from wallet.jose import PublicKey, b64url_decode, verify_compact
from wallet.numbers import finite_number
from wallet.status_list.codec import DEFAULT_MAX_INFLATED, inflate, read_msb_first
from wallet.status_list.errors import InvalidStatusList

__all__ = [
    "BITSTRING_MIN_BYTES",
    "BitstringStatusList",
    "VC_JWT_ALGS",
    "bitstring_status_state",
    "credential_from_vc_jwt",
    "decode_encoded_list",
    "parse_bitstring_credential",
]

#: 131,072 one-bit entries (§6.1 "Herd privacy").
BITSTRING_MIN_BYTES = 16 * 1024
VC_JWT_ALGS: frozenset[str] = frozenset({"ES256", "ES384", "ES512", "EdDSA", "PS256", "PS384",
                                         "PS512", "RS256"})
_CRED_TYPES = {"BitstringStatusListCredential": False, "StatusList2021Credential": True}
_SUBJECT_TYPES = {"BitstringStatusList", "StatusList2021"}


def decode_encoded_list(encoded: object, *, legacy: bool = False,
                        max_inflated: int = DEFAULT_MAX_INFLATED) -> bytes:
    """``encodedList`` → the uncompressed bitstring (bounded).

    Bitstring Status List requires the multibase ``u`` prefix; StatusList2021 (``legacy``) is plain
    base64url, although some issuers add the prefix there too (a GZIP stream in base64url starts
    with ``H4sI``, never with ``u``, so both are told apart safely).
    """
    if not isinstance(encoded, str) or not encoded:
        raise InvalidStatusList("encodedList must be a non-empty string")
    if encoded.startswith("u"):
        body = encoded[1:]
    elif legacy:
        body = encoded
    else:
        raise InvalidStatusList("encodedList must be multibase base64url (prefix 'u')")
    try:
        compressed = b64url_decode(body.rstrip("="))
    except BadInput as exc:
        raise InvalidStatusList("encodedList is not base64url") from exc
    return inflate(compressed, gzip=True, max_size=max_inflated)


def bitstring_status_state(purpose: str, value: int) -> StatusState:
    """``revocation``: 1 → invalid; ``suspension``: 1 → suspended; 0 → valid. Any other purpose
    or value (``message``, multi-bit codes) is ``"unknown"`` to Satchel unless it is 0."""
    if value == 0:
        return "valid"
    if value == 1 and purpose == "revocation":
        return "invalid"
    if value == 1 and purpose == "suspension":
        return "suspended"
    return "unknown"


@dataclass(frozen=True, slots=True)
class BitstringStatusList:
    """A decoded, date-checked list credential (its proof checked by the caller)."""

    purposes: tuple[str, ...]
    data: bytes
    legacy: bool  # StatusList2021
    valid_until: float | None  # epoch seconds
    ttl_seconds: float | None

    def entries(self, status_size: int = 1) -> int:
        return len(self.data) * 8 // status_size

    def value(self, index: int, status_size: int = 1) -> int:
        """The raw value; :class:`StatusIndexOutOfRange` beyond the end."""
        if isinstance(status_size, bool) or not isinstance(status_size, int) or status_size < 1:
            raise InvalidStatusList("statusSize must be a positive integer")
        return read_msb_first(self.data, index, status_size)

    def state(self, index: int, purpose: str, status_size: int = 1) -> StatusState:
        if purpose not in self.purposes:
            raise InvalidStatusList("the list's statusPurpose does not match the entry's")
        return bitstring_status_state(purpose, self.value(index, status_size))

    def fresh_until(self, now: float, *, default_ttl: float, max_ttl: float) -> float:
        life = default_ttl if self.ttl_seconds is None else self.ttl_seconds
        until = now + min(max(life, 0.0), max_ttl)
        return until if self.valid_until is None else min(until, self.valid_until)


def _epoch(value: object, name: str) -> float | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidStatusList(f"{name} must be a date-time string")
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InvalidStatusList(f"{name} is not a date-time") from exc
    if dt.tzinfo is None:
        raise InvalidStatusList(f"{name} has no time zone")
    return dt.timestamp()


def _types(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return set(value)
    return set()


def parse_bitstring_credential(
    credential: Mapping[str, Any],
    *,
    now: float,
    purpose: str | None = None,
    leeway: float = 60.0,
    max_inflated: int = DEFAULT_MAX_INFLATED,
    status_message: Collection[Mapping[str, Any]] | None = None,
    status_size: int = 1,
) -> BitstringStatusList:
    """Check a ``BitstringStatusListCredential`` / ``StatusList2021Credential`` and decode its list.

    ``purpose`` (the entry's ``statusPurpose``), when given, must be one of the list's. An entry
    with ``status_size`` > 1 must carry ``status_message`` with one message per value (§2.1).
    """
    if not isinstance(credential, Mapping):
        raise InvalidStatusList("status list credential must be an object")
    kinds = [legacy for t, legacy in _CRED_TYPES.items() if t in _types(credential.get("type"))]
    if len(kinds) != 1:
        raise InvalidStatusList("not a BitstringStatusListCredential or StatusList2021Credential")
    legacy = kinds[0]
    subject = credential.get("credentialSubject")
    if not isinstance(subject, Mapping) or not (_types(subject.get("type")) & _SUBJECT_TYPES):
        raise InvalidStatusList("status list credentialSubject has the wrong type")
    raw_purpose = subject.get("statusPurpose")
    purposes = tuple(sorted(_types(raw_purpose)))
    if not purposes:
        raise InvalidStatusList("status list statusPurpose is missing")
    if purpose is not None and purpose not in purposes:
        raise InvalidStatusList("the list's statusPurpose does not match the entry's")
    if status_size != 1 and (status_message is None or len(status_message) != 2 ** status_size):
        raise InvalidStatusList("statusSize > 1 needs a statusMessage for every value")
    valid_from = _epoch(credential.get("validFrom", credential.get("issuanceDate")), "validFrom")
    valid_until = _epoch(credential.get("validUntil", credential.get("expirationDate")),
                         "validUntil")
    if valid_from is not None and valid_from > now + leeway:
        raise InvalidStatusList("status list credential is not valid yet")
    if valid_until is not None and valid_until <= now - leeway:
        raise InvalidStatusList("status list credential has expired")
    ttl = subject.get("ttl")
    ttl_ms = finite_number(ttl)
    if ttl is not None and (ttl_ms is None or ttl_ms < 0):
        raise InvalidStatusList("status list ttl must be a non-negative number")
    data = decode_encoded_list(subject.get("encodedList"), legacy=legacy,
                               max_inflated=max_inflated)
    if len(data) < BITSTRING_MIN_BYTES:
        raise InvalidStatusList("status list is shorter than 131,072 entries")
    return BitstringStatusList(purposes, data, legacy, valid_until,
                               None if ttl_ms is None else ttl_ms / 1000.0)


def credential_from_vc_jwt(
    token: str,
    *,
    resolve_key: Callable[[Mapping[str, Any]], PublicKey],
    now: float,
    allowed_algs: Collection[str] = VC_JWT_ALGS,
    leeway: float = 60.0,
) -> dict[str, Any]:
    """Verify a status list credential secured as a JWT and return the credential inside.

    VC-JWT 1.1 (https://www.w3.org/TR/vc-data-model/#json-web-token) puts it under ``vc`` with
    ``exp``/``nbf``; VC-JOSE-COSE (https://www.w3.org/TR/vc-jose-cose/, ``typ vc+jwt``) makes the
    payload the credential itself.
    """
    parts = verify_compact("".join(token.split()), resolve_key, allowed_algs=allowed_algs)
    claims = parts.claims()
    for name, too_late in (("exp", False), ("nbf", True)):
        raw = claims.get(name)
        if raw is None:
            continue
        v = finite_number(raw)
        if v is None:
            raise InvalidStatusList(f"status list JWT {name} must be a finite number")
        if (not too_late and v <= now - leeway) or (too_late and v > now + leeway):
            raise InvalidStatusList("status list JWT is outside its validity period")
    vc = claims.get("vc", claims)
    if not isinstance(vc, dict):
        raise InvalidStatusList("status list JWT carries no credential")
    out = dict(vc)
    exp = finite_number(claims.get("exp"))  # checked above: finite and not passed
    if exp is not None and "validUntil" not in out and "expirationDate" not in out:
        try:
            out["validUntil"] = datetime.fromtimestamp(exp, tz=UTC).isoformat()
        except (OverflowError, OSError, ValueError) as error:  # beyond year 9999
            raise InvalidStatusList("status list JWT exp is out of range") from error
    return out
