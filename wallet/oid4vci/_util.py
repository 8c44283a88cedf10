"""Small validators shared by the OpenID4VCI modules (untrusted JSON in, typed values out).

Spec: OpenID4VCI 1.0 §12.1 (Credential Issuer Identifier: https, no query, no fragment),
https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html#section-12.1. Every value
comes from a remote party, so each accessor raises the caller's typed error, never KeyError.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from wallet.errors import SatchelError

__all__ = ["MAX_STR", "https_url", "issuer_identifier", "opt_str", "opt_str_list", "req_str"]

#: Longest string value accepted anywhere in offers and metadata (URLs, ids, descriptions).
MAX_STR = 4096


def req_str(obj: Mapping[str, Any], key: str, err: type[SatchelError]) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value or len(value) > MAX_STR:
        raise err(f"{key} must be a non-empty string")
    return value


def opt_str(obj: Mapping[str, Any], key: str, err: type[SatchelError]) -> str | None:
    if obj.get(key) is None:
        return None
    return req_str(obj, key, err)


def opt_str_list(obj: Mapping[str, Any], key: str, err: type[SatchelError]) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(v, str) and v and len(v) <= MAX_STR for v in value
    ):
        raise err(f"{key} must be a list of strings")
    return tuple(value)


def https_url(value: object, what: str, err: type[SatchelError]) -> str:
    """An absolute https URL with a host and no fragment."""
    if not isinstance(value, str) or len(value) > MAX_STR:
        raise err(f"{what} must be an https URL")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError as exc:
        raise err(f"{what} must be an https URL") from exc
    if parts.scheme != "https" or not parts.hostname or parts.fragment or "@" in parts.netloc:
        raise err(f"{what} must be an https URL")
    return value


def issuer_identifier(value: object, what: str, err: type[SatchelError]) -> str:
    """§12.1: an https URL with no query and no fragment, kept verbatim (no normalisation)."""
    url = https_url(value, what, err)
    if urlsplit(url).query or "?" in url:
        raise err(f"{what} must not contain a query")
    return url
