"""OpenID for Verifiable Presentations 1.0, the wallet side: request handling and response
building (§5 authorization request, §5.9 client identifier prefixes, §5.10 ``request_uri``
methods, §8 response, ``direct_post`` and ``direct_post.jwt``).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html

Pure message handling: the network is reached only through :class:`wallet.ports.Fetcher`
(``request_uri``, ``response_uri``) and DID resolution through a callable the caller passes in.
The DCQL query inside a request is handled by :mod:`sharing.dcql`.

Typical use::

    req = await resolve_authorization_request(link, fetcher, now=now, x509_anchors=anchors)
    result = match_query(req.dcql_query, candidates)          # sharing.dcql
    selection = select_for_response(result, learner_choices)  # sharing.dcql
    vp_token = build_vp_token(presentations, selection=selection)
    form = response_form(req, authorization_response(vp_token, req.state))  # or decline_form(req)
    redirect = await submit_response(req, form, fetcher)
"""

from sharing.oid4vp.client_id import (
    REQUEST_OBJECT_ALGS,
    ChainValidator,
    ClientPrefix,
    DidResolver,
    RegisteredClient,
    VerifierIdentity,
)
from sharing.oid4vp.encryption import (
    ResponseEncryption,
    encrypt_response,
    select_response_encryption,
)
from sharing.oid4vp.errors import (
    AccessDenied,
    InvalidClient,
    InvalidRequest,
    InvalidRequestObject,
    InvalidRequestUri,
    InvalidRequestUriMethod,
    InvalidTransactionData,
    RequestObjectUnavailable,
    VpFormatsNotSupported,
    WalletUnavailable,
)
from sharing.oid4vp.fetch import fetch_request_object, new_wallet_nonce
from sharing.oid4vp.flow import resolve_authorization_request
from sharing.oid4vp.metadata import ClientMetadata, parse_client_metadata
from sharing.oid4vp.request import (
    SELF_ISSUED_AUDIENCE,
    AuthorizationRequest,
    validate_request_object,
    validate_request_parameters,
)
from sharing.oid4vp.response import (
    authorization_response,
    build_error_response,
    build_vp_token,
    decline_form,
    direct_post_form,
    response_form,
    submit_response,
)
from sharing.oid4vp.uri import RequestReference, parse_authorization_request_uri

__all__ = [
    "REQUEST_OBJECT_ALGS",
    "SELF_ISSUED_AUDIENCE",
    "AccessDenied",
    "AuthorizationRequest",
    "ChainValidator",
    "ClientMetadata",
    "ClientPrefix",
    "DidResolver",
    "InvalidClient",
    "InvalidRequest",
    "InvalidRequestObject",
    "InvalidRequestUri",
    "InvalidRequestUriMethod",
    "InvalidTransactionData",
    "RegisteredClient",
    "RequestObjectUnavailable",
    "RequestReference",
    "ResponseEncryption",
    "VerifierIdentity",
    "VpFormatsNotSupported",
    "WalletUnavailable",
    "authorization_response",
    "build_error_response",
    "build_vp_token",
    "decline_form",
    "direct_post_form",
    "encrypt_response",
    "fetch_request_object",
    "new_wallet_nonce",
    "parse_authorization_request_uri",
    "parse_client_metadata",
    "resolve_authorization_request",
    "response_form",
    "select_response_encryption",
    "submit_response",
    "validate_request_object",
    "validate_request_parameters",
]
