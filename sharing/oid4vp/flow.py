"""From a link to a validated request, in one call (OpenID4VP 1.0 §5, §5.10).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-request-uri-method-post

Glue only: parse the link, fetch the request object through the guarded
:class:`~wallet.ports.Fetcher` (with a fresh ``wallet_nonce`` when the verifier asks for POST),
validate. It lives apart so the service layer has one entry point and the steps stay testable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from cryptography import x509

from sharing.oid4vp.client_id import ChainValidator, DidResolver, RegisteredClient
from sharing.oid4vp.fetch import fetch_request_object, new_wallet_nonce
from sharing.oid4vp.request import (
    AuthorizationRequest,
    validate_request_object,
    validate_request_parameters,
)
from sharing.oid4vp.uri import parse_authorization_request_uri
from wallet.ports import Fetcher

__all__ = ["resolve_authorization_request"]


async def resolve_authorization_request(
    uri: str,
    fetcher: Fetcher,
    *,
    now: datetime,
    x509_anchors: Sequence[x509.Certificate] = (),
    did_resolver: DidResolver | None = None,
    registered_clients: Mapping[str, RegisteredClient] | None = None,
    wallet_metadata: Mapping[str, Any] | None = None,
    wallet_issuer: str | None = None,
    chain_validator: ChainValidator | None = None,
) -> AuthorizationRequest:
    """Parse ``uri``, fetch its request object if any, and validate it."""
    ref = parse_authorization_request_uri(uri)
    if ref.kind == "by_value":
        return validate_request_parameters(ref.params, registered_clients=registered_clients)
    nonce = new_wallet_nonce() if ref.request_uri_method == "post" and ref.request_uri else None
    jwt = await fetch_request_object(ref, fetcher, wallet_nonce=nonce,
                                     wallet_metadata=wallet_metadata)
    assert ref.client_id is not None  # parse_authorization_request_uri requires it here
    return await validate_request_object(
        jwt, url_client_id=ref.client_id, x509_anchors=x509_anchors, now=now,
        wallet_nonce=nonce, did_resolver=did_resolver, registered_clients=registered_clients,
        wallet_issuer=wallet_issuer, chain_validator=chain_validator)
