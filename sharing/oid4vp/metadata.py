"""Verifier metadata carried in the request: ``client_metadata`` (OpenID4VP 1.0 §5.1, §11).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-new-parameters

Only the members §5.1 lets a request carry are read: ``jwks`` (keys to encrypt the response to;
each MUST have a ``kid``), ``encrypted_response_enc_values_supported`` and ``vp_formats_supported``.
Display members (``client_name``, ``logo_uri``) are kept as untrusted text for the consent screen,
and so are ``client_name``'s variants in other languages (``client_name#es``: RFC 7591 §2.2,
OpenID Connect Dynamic Client Registration §2.1), so that a page can show the learner's.
Everything else is ignored, as §5.1 requires.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from sharing.oid4vp.errors import InvalidRequest
from wallet.jsontext import parse_json

__all__ = ["ClientMetadata", "parse_client_metadata"]


@dataclass(frozen=True, slots=True)
class ClientMetadata:
    """The verifier's request-borne metadata (untrusted unless the client is authenticated)."""

    jwks: tuple[Mapping[str, Any], ...] = ()
    encrypted_response_enc_values_supported: tuple[str, ...] | None = None
    vp_formats_supported: Mapping[str, Any] | None = field(default=None, compare=False,
                                                           hash=False)
    client_name: str | None = None
    logo_uri: str | None = None
    #: ``client_name#<BCP 47 tag>`` members: language tag (as sent) -> that language's name
    client_names: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}),
                                            compare=False, hash=False)


#: a BCP 47 tag's shape (RFC 5646 §2.1, without checking the registry)
_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,7}")
_MAX_NAMES = 32


def _names(raw: Mapping[str, Any]) -> Mapping[str, str]:
    """The name's language variants that are text under a well-formed tag (at most 32)."""
    out: dict[str, str] = {}
    for key, value in raw.items():
        tag = key.partition("#")[2] if isinstance(key, str) and key.startswith(
            "client_name#") else ""
        if _TAG.fullmatch(tag) and isinstance(value, str) and value and len(out) < _MAX_NAMES:
            out[tag] = value[:200]
    return MappingProxyType(out)


def _strings(value: Any, name: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f"client_metadata.{name} must be a non-empty array of strings")
    return tuple(value)


def parse_client_metadata(raw: Any) -> ClientMetadata:
    """Validate ``client_metadata`` (an object, or its JSON text from a by-value request)."""
    if raw is None:
        return ClientMetadata()
    if isinstance(raw, str):
        raw = parse_json(raw, InvalidRequest("client_metadata is not valid JSON"))
    if not isinstance(raw, Mapping):
        raise InvalidRequest("client_metadata must be a JSON object")
    keys: tuple[Mapping[str, Any], ...] = ()
    jwks = raw.get("jwks")
    if jwks is not None:
        if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
            raise InvalidRequest("client_metadata.jwks must be a JWK Set")
        items = jwks["keys"]
        if len(items) > 16 or not all(isinstance(k, Mapping) for k in items):
            raise InvalidRequest("client_metadata.jwks must hold at most 16 JWK objects")
        kids = [k.get("kid") for k in items]
        if not all(isinstance(k, str) and k for k in kids) or len(set(kids)) != len(kids):
            raise InvalidRequest("every key in client_metadata.jwks needs a unique kid")
        keys = tuple(MappingProxyType(dict(k)) for k in items)
    enc = raw.get("encrypted_response_enc_values_supported")
    formats = raw.get("vp_formats_supported")
    if formats is not None and not isinstance(formats, Mapping):
        raise InvalidRequest("client_metadata.vp_formats_supported must be an object")
    name, logo = raw.get("client_name"), raw.get("logo_uri")
    return ClientMetadata(
        jwks=keys,
        encrypted_response_enc_values_supported=(
            _strings(enc, "encrypted_response_enc_values_supported") if enc is not None else None),
        vp_formats_supported=MappingProxyType(dict(formats)) if formats is not None else None,
        client_name=name[:200] if isinstance(name, str) else None,
        client_names=_names(raw),
        logo_uri=logo if isinstance(logo, str) and logo.startswith("https://") else None,
    )
