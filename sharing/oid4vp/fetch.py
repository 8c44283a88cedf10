"""Fetching a request object from ``request_uri`` (OpenID4VP 1.0 §5.10, RFC 9101 §5.2).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-request-uri-method-post

GET by default; POST (form-encoded, ``wallet_nonce`` and ``wallet_metadata``) when the link says
``request_uri_method=post``. The answer must be a 200 with ``application/oauth-authz-req+jwt``:
"If the Verifier responds with any HTTP error response, the Wallet MUST terminate the process"
(§5.10.2), and redirects are errors too (§14.9) — the guarded :class:`~wallet.ports.Fetcher`
never follows them, and a 3xx reaching us is refused like any other non-200.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from typing import Any

from sharing.oid4vp.errors import InvalidRequest, RequestObjectUnavailable
from sharing.oid4vp.uri import RequestReference
from wallet.ports import Fetcher, FetchResponse

__all__ = ["MAX_REQUEST_OBJECT_BYTES", "REQUEST_OBJECT_MEDIA_TYPE", "fetch_request_object",
           "new_wallet_nonce"]

REQUEST_OBJECT_MEDIA_TYPE = "application/oauth-authz-req+jwt"
MAX_REQUEST_OBJECT_BYTES = 256 * 1024


def new_wallet_nonce() -> str:
    """A fresh ``wallet_nonce`` (§5.10: base64url, fresh, with sufficient entropy)."""
    return secrets.token_urlsafe(24)


def _jwt_body(resp: FetchResponse) -> str:
    if resp.status != 200:
        raise RequestObjectUnavailable("the verifier's request_uri answered with an error",
                                       status=resp.status)
    if resp.content_type != REQUEST_OBJECT_MEDIA_TYPE:
        raise RequestObjectUnavailable("the request_uri did not answer with a request object")
    text = resp.text().strip()
    if not text or any(c.isspace() for c in text):
        raise RequestObjectUnavailable("the request_uri answer is not a compact JWT")
    return text


async def fetch_request_object(
    ref: RequestReference,
    fetcher: Fetcher,
    *,
    wallet_nonce: str | None = None,
    wallet_metadata: Mapping[str, Any] | None = None,
) -> str:
    """The request object of ``ref``: fetched from ``request_uri``, or ``request`` as given.

    ``wallet_nonce`` and ``wallet_metadata`` are sent only with ``request_uri_method=post``; the
    caller must then pass the same ``wallet_nonce`` to ``validate_request_object``.
    """
    if ref.request_uri is None:
        if ref.request is None:
            raise InvalidRequest("the authorization request has no request object")
        return ref.request.strip()
    accept = (REQUEST_OBJECT_MEDIA_TYPE,)
    headers = {"Accept": REQUEST_OBJECT_MEDIA_TYPE}
    if ref.request_uri_method == "post":
        form: dict[str, str] = {}
        if wallet_nonce is not None:
            form["wallet_nonce"] = wallet_nonce
        if wallet_metadata is not None:
            meta = dict(wallet_metadata)
            if (ref.client_id or "").startswith("redirect_uri:"):
                # §5.10: "MUST NOT include this parameter if the Client Identifier Prefix
                # precludes signed Request Objects"
                meta.pop("request_object_signing_alg_values_supported", None)
            form["wallet_metadata"] = json.dumps(meta, separators=(",", ":"))
        resp = await fetcher.post_form(ref.request_uri, form, accept=accept, headers=headers,
                                       max_bytes=MAX_REQUEST_OBJECT_BYTES)
    else:
        resp = await fetcher.get(ref.request_uri, accept=accept, headers=headers,
                                 max_bytes=MAX_REQUEST_OBJECT_BYTES)
    return _jwt_body(resp)
