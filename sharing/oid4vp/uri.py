"""Reading the authorization request a learner hands to Satchel (OpenID4VP 1.0 §5, §5.10;
RFC 9101 §5 "JWT-Secured Authorization Request").

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-authorization-request

The learner pastes or scans a link: ``openid4vp://``, ``haip-vp://``, an https universal link or any
other scheme. Only its query matters. It either points at a request object (``request_uri``, with
``request_uri_method`` ``get``/``post``), carries one (``request``), or is the request itself with
plain parameters. Nothing here is trusted yet: this module only splits the link and refuses shapes
the spec forbids (a parameter twice, ``request`` with ``request_uri``, a non-https ``request_uri``,
``request_uri_method`` without ``request_uri`` or with another value).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

from sharing.oid4vp.errors import InvalidRequest, InvalidRequestUri, InvalidRequestUriMethod

__all__ = ["MAX_URI_LENGTH", "RequestReference", "parse_authorization_request_uri"]

MAX_URI_LENGTH = 64 * 1024


@dataclass(frozen=True, slots=True)
class RequestReference:
    """An authorization request as found in the link, before any fetching or validation."""

    client_id: str | None
    request_uri: str | None = None
    request_uri_method: Literal["get", "post"] = "get"
    request: str | None = None
    params: Mapping[str, str] = field(default_factory=dict, compare=False, hash=False)

    @property
    def kind(self) -> Literal["request_uri", "request", "by_value"]:
        if self.request_uri is not None:
            return "request_uri"
        if self.request is not None:
            return "request"
        return "by_value"


def _https_url(value: str) -> str:
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidRequestUri("request_uri is not a URL") from exc
    if parts.scheme != "https" or not parts.hostname or parts.fragment:
        raise InvalidRequestUri("request_uri must be an https URL without fragment")
    return value


def parse_authorization_request_uri(uri: str) -> RequestReference:
    """Split an authorization request link into a :class:`RequestReference`."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI_LENGTH:
        raise InvalidRequest("the authorization request must be a link of bounded length")
    try:
        parts = urlsplit(uri.strip())
        pairs = parse_qsl(parts.query, keep_blank_values=True, max_num_fields=64)
    except ValueError as exc:
        raise InvalidRequest("the authorization request is not a valid URL") from exc
    if not parts.scheme:
        raise InvalidRequest("the authorization request has no scheme")
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:  # RFC 6749 §3.1: parameters MUST NOT be included more than once
            raise InvalidRequest("a request parameter appears more than once", parameter=name)
        params[name] = value
    if not params:
        raise InvalidRequest("the authorization request carries no parameters")
    client_id = params.get("client_id")
    request, request_uri = params.get("request"), params.get("request_uri")
    method = params.get("request_uri_method")
    if request is not None and request_uri is not None:
        raise InvalidRequestUri("request and request_uri must not both be present")
    if method is not None:
        if request_uri is None:
            raise InvalidRequest("request_uri_method without request_uri")
        if method not in ("get", "post"):
            raise InvalidRequestUriMethod("request_uri_method must be 'get' or 'post'")
    if (request is not None or request_uri is not None) and not client_id:
        raise InvalidRequest("client_id is required next to request or request_uri")
    return RequestReference(
        client_id=client_id,
        request_uri=_https_url(request_uri) if request_uri is not None else None,
        request_uri_method="post" if method == "post" else "get",
        request=request,
        params=MappingProxyType(params),
    )
