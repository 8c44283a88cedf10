"""Validating an OpenID4VP authorization request into an :class:`AuthorizationRequest`
(OpenID4VP 1.0 §5, §5.2-§5.10, §8.2; RFC 9101).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-authorization-request

Every rule here protects the learner's data, so each is checked explicitly and any failure ends
the flow before anything is shown or sent:
- request object header ``typ`` = ``oauth-authz-req+jwt`` (§5); encrypted request objects are
  refused (we advertise no decryption key);
- ``client_id`` in the link and in the object identical (§5.10.1), the verifier authenticated per
  its prefix (:mod:`~sharing.oid4vp.client_id`);
- ``wallet_nonce`` comes back when we sent one (§5.10.1); ``aud``, when present, is
  ``https://self-issued.me/v2`` or our issuer (§5.8); ``exp``/``nbf``/``iat`` are sane;
- ``response_type`` = ``vp_token``; ``response_mode`` required and one we implement
  (``direct_post``, ``direct_post.jwt``); ``response_uri`` https and bound to the client id where
  the prefix demands; no ``redirect_uri`` next to it (§8.2);
- ``nonce`` required and URL-safe (§5.2); ``state`` URL-safe, and required when a query accepts
  credentials without holder binding (§5.3);
- a ``dcql_query`` (we support no ``scope`` aliases); at least one format we can present
  (``vp_formats_not_supported``); any ``transaction_data`` refused (§5.1, we support no type);
- ``direct_post.jwt``: an encryption key and ``enc`` we can use, chosen now (§8.3).
Unknown parameters are ignored (§5).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from cryptography import x509

from sharing.dcql import DcqlQuery, parse_dcql_query
from sharing.oid4vp.client_id import (
    REQUEST_OBJECT_ALGS,
    ChainValidator,
    DidResolver,
    RegisteredClient,
    VerifierIdentity,
    VerifierTrust,
    authenticate_signed_request,
    unsigned_identity,
)
from sharing.oid4vp.encryption import ResponseEncryption, select_response_encryption
from sharing.oid4vp.errors import (
    InvalidClient,
    InvalidRequest,
    InvalidRequestObject,
    InvalidTransactionData,
    VpFormatsNotSupported,
)
from sharing.oid4vp.metadata import ClientMetadata, parse_client_metadata
from wallet.crypto import same_text
from wallet.formats.traits import PRESENTABLE_FORMATS
from wallet.jose import InvalidJws, JwsParts, parse_compact
from wallet.jsontext import parse_json
from wallet.numbers import finite_number

__all__ = [
    "PRESENTABLE_FORMATS",
    "SELF_ISSUED_AUDIENCE",
    "AuthorizationRequest",
    "ResponseMode",
    "validate_request_object",
    "validate_request_parameters",
]

SELF_ISSUED_AUDIENCE = "https://self-issued.me/v2"
ResponseMode = Literal["direct_post", "direct_post.jwt"]
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]{1,512}", re.ASCII)
_TYP = "oauth-authz-req+jwt"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated presentation request. ``client_id`` is the full identifier, prefix included:
    it is the KB-JWT ``aud`` and what the consent ledger records (§14.4)."""

    client_id: str
    verifier: VerifierIdentity
    response_mode: ResponseMode
    response_uri: str
    nonce: str
    dcql_query: DcqlQuery
    client_metadata: ClientMetadata
    state: str | None = None
    signed: bool = False
    wallet_nonce: str | None = None
    encryption: ResponseEncryption | None = None
    response_type: str = "vp_token"
    parameters: Mapping[str, Any] = field(default_factory=dict, compare=False, hash=False)


def _url_safe(value: Any, name: str, *, required: bool) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or not _URL_SAFE.fullmatch(value):
        raise InvalidRequest(f"{name} is required and must use URL-safe ASCII characters"
                             if required else f"{name} must use URL-safe ASCII characters")
    return value


def _https(value: Any, name: str) -> str:
    if not isinstance(value, str) or len(value) > 2048:
        raise InvalidRequest(f"{name} must be an https URL")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidRequest(f"{name} must be an https URL") from exc
    if parts.scheme != "https" or not parts.hostname or parts.fragment:
        raise InvalidRequest(f"{name} must be an https URL without fragment")
    return value


def _response_uri(params: Mapping[str, Any], who: VerifierIdentity) -> str:
    if params.get("redirect_uri") is not None:  # §8.2: never next to direct_post
        raise InvalidRequest("redirect_uri must not be present with response_mode direct_post")
    raw = params.get("response_uri")
    if raw is None and who.prefix == "redirect_uri":
        raw = who.value  # §5.9.3: the verifier MAY omit it, the client id is the URI
    uri = _https(raw, "response_uri")
    if who.prefix == "redirect_uri" and uri != who.value:
        raise InvalidRequest("response_uri must be the URI named by the redirect_uri client id")
    if who.prefix == "x509_san_dns" and (urlsplit(uri).hostname or "") != who.value.lower():
        raise InvalidRequest("response_uri host must be the client id's DNS name")
    reg = who.registered
    if reg is not None and reg.response_uris and uri not in reg.response_uris:
        raise InvalidRequest("response_uri is not registered for this verifier")
    return uri


def _json_member(value: Any, name: str) -> Any:
    if isinstance(value, str):  # by-value requests carry objects as JSON text (§5.1)
        return parse_json(value, InvalidRequest(f"{name} is not valid JSON"))
    return value


def _build(params: Mapping[str, Any], client_id: str, who: VerifierIdentity, *, signed: bool,
           wallet_nonce: str | None) -> AuthorizationRequest:
    if params.get("transaction_data") is not None:
        raise InvalidTransactionData("transaction_data is not supported by this wallet")
    if params.get("response_type") != "vp_token":
        raise InvalidRequest("response_type must be vp_token")
    mode = params.get("response_mode")
    if mode is None:
        raise InvalidRequest("response_mode is required")
    if mode not in ("direct_post", "direct_post.jwt"):
        raise InvalidRequest("response_mode is not supported (use direct_post or "
                             "direct_post.jwt)")
    nonce = cast(str, _url_safe(params.get("nonce"), "nonce", required=True))
    state = _url_safe(params.get("state"), "state", required=False)
    if params.get("dcql_query") is None:
        raise InvalidRequest("a dcql_query is required (scope-based queries are not supported)")
    query = parse_dcql_query(_json_member(params["dcql_query"], "dcql_query"))
    if not query.known_formats:  # typed at parse: every one without a row in the table
        raise VpFormatsNotSupported("none of the requested credential formats is supported")
    if state is None and any(not c.require_cryptographic_holder_binding
                             for c in query.credentials):
        raise InvalidRequest("state is required when holder binding is not required (§5.3)")
    raw_meta = params.get("client_metadata")
    if raw_meta is not None and who.registered is not None:
        raise InvalidClient("client_metadata must not be sent by a pre-registered verifier")
    metadata = parse_client_metadata(_json_member(raw_meta, "client_metadata"))
    response_uri = _response_uri(params, who)
    encryption = select_response_encryption(metadata) if mode == "direct_post.jwt" else None
    return AuthorizationRequest(
        client_id=client_id, verifier=who, response_mode=cast(ResponseMode, mode),
        response_uri=response_uri, nonce=nonce, dcql_query=query, client_metadata=metadata,
        state=state, signed=signed, wallet_nonce=wallet_nonce, encryption=encryption,
        parameters=MappingProxyType(dict(params)),
    )


def validate_request_parameters(
    params: Mapping[str, str], *, registered_clients: Mapping[str, RegisteredClient] | None = None
) -> AuthorizationRequest:
    """A request passed by value in the link's query (unsigned by nature, §5)."""
    client_id = params.get("client_id")
    if not isinstance(client_id, str) or not client_id:
        raise InvalidRequest("client_id is required")
    registered = registered_clients or {}
    who = unsigned_identity(client_id, registered)
    return _build(params, client_id, who, signed=False, wallet_nonce=None)


def _numeric(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    number = finite_number(value)  # not a bool, NaN, 1e400 or 10**400 (float() overflows)
    if number is None:
        raise InvalidRequestObject(f"{name} must be a finite number")
    return number


def _check_times(claims: Mapping[str, Any], now: datetime, skew: int) -> None:
    t = now.timestamp()
    exp, nbf, iat = (_numeric(claims, n) for n in ("exp", "nbf", "iat"))
    if exp is not None and exp + skew < t:
        raise InvalidRequestObject("the request object has expired")
    if nbf is not None and nbf - skew > t:
        raise InvalidRequestObject("the request object is not valid yet")
    if iat is not None and iat - skew > t:
        raise InvalidRequestObject("the request object was issued in the future")


def _check_aud(claims: Mapping[str, Any], wallet_issuer: str | None) -> None:
    if "aud" not in claims:
        return
    aud = claims["aud"]
    values = aud if isinstance(aud, list) else [aud]
    ok = {SELF_ISSUED_AUDIENCE} | ({wallet_issuer} if wallet_issuer else set())
    if not values or not all(isinstance(a, str) for a in values) or ok.isdisjoint(values):
        raise InvalidRequestObject("the request object is addressed to another audience")


def _parse(jwt: str) -> JwsParts:
    if not isinstance(jwt, str):
        raise InvalidRequestObject("the request object must be a compact JWT")
    token = jwt.strip()
    if token.count(".") == 4:
        raise InvalidRequestObject("encrypted request objects are not supported")
    try:
        return parse_compact(token, max_length=256 * 1024)
    except InvalidJws as exc:
        raise InvalidRequestObject("the request object is not a compact JWT") from exc


async def validate_request_object(
    jwt: str,
    *,
    url_client_id: str,
    x509_anchors: Sequence[x509.Certificate],
    now: datetime,
    wallet_nonce: str | None = None,
    did_resolver: DidResolver | None = None,
    registered_clients: Mapping[str, RegisteredClient] | None = None,
    wallet_issuer: str | None = None,
    chain_validator: ChainValidator | None = None,
    allowed_algs: Collection[str] = REQUEST_OBJECT_ALGS,
    clock_skew: int = 60,
) -> AuthorizationRequest:
    """Validate a request object (from ``request`` or ``request_uri``) into a request.

    Asynchronous only because a ``decentralized_identifier`` client needs ``did_resolver``;
    everything else is pure. ``chain_validator`` defaults to ``wallet.x509.validate_chain``.
    """
    parts = _parse(jwt)
    if parts.header.get("typ") != _TYP:
        raise InvalidRequestObject("the request object typ must be oauth-authz-req+jwt")
    try:
        claims = parts.claims()
    except InvalidJws as exc:
        raise InvalidRequestObject("the request object payload is not a JSON object") from exc
    client_id = claims.get("client_id")
    if not isinstance(client_id, str) or not isinstance(url_client_id, str) \
            or not same_text(client_id, url_client_id):
        raise InvalidRequestObject("client_id in the request object differs from the link's")
    registered = registered_clients or {}
    alg = parts.header.get("alg")
    if alg == "none":
        if parts.signature:
            raise InvalidRequestObject("an unsigned request object must have no signature")
        who = unsigned_identity(client_id, registered)
    else:
        who = await authenticate_signed_request(parts, client_id, VerifierTrust(
            x509_anchors, did_resolver, registered, chain_validator, allowed_algs), now=now)
    if wallet_nonce is not None:
        got = claims.get("wallet_nonce")
        if not same_text(got, wallet_nonce):
            raise InvalidRequestObject("the request object does not carry our wallet_nonce")
    _check_aud(claims, wallet_issuer)
    _check_times(claims, now, clock_skew)
    return _build(claims, client_id, who, signed=alg != "none", wallet_nonce=wallet_nonce)
