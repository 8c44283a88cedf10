"""OpenID4VP 1.0 error codes as exception classes (§8.5, RFC 6749 §4.1.2.1, RFC 9101 §6.2).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-error-response

One class per spec code, so the wallet can answer the verifier with the right ``error`` and the
holder API can render the same code to the learner. Every one is raised *before* anything is
disclosed; a failure is final for the request (fail closed)::

    sharing.errors.InvalidRequest   invalid_request             malformed / refused request
    ├── InvalidClient               invalid_client              client cannot be accepted
    ├── InvalidRequestUri           invalid_request_uri         request_uri unusable
    ├── InvalidRequestUriMethod     invalid_request_uri_method  neither ``get`` nor ``post``
    ├── InvalidRequestObject        invalid_request_object      typ, signature, claims of the JAR
    ├── VpFormatsNotSupported       vp_formats_not_supported    none of the formats is ours
    └── InvalidTransactionData      invalid_transaction_data    we support no transaction data
    wallet.errors.Forbidden
    └── AccessDenied                access_denied               declined, or nothing matched
    wallet.errors.UpstreamError
    └── RequestObjectUnavailable    invalid_request_uri         request_uri answered non-200
    wallet.errors.Unavailable
    └── WalletUnavailable           wallet_unavailable

Details never contain nonces, states, tokens or claim values.
"""

from __future__ import annotations

from sharing.errors import InvalidRequest
from wallet.errors import Forbidden, Unavailable, UpstreamError

__all__ = [
    "AccessDenied",
    "InvalidClient",
    "InvalidRequest",
    "InvalidRequestObject",
    "InvalidRequestUri",
    "InvalidRequestUriMethod",
    "InvalidTransactionData",
    "RequestObjectUnavailable",
    "VpFormatsNotSupported",
    "WalletUnavailable",
]


class InvalidClient(InvalidRequest):
    """§8.5: ``client_metadata`` is present although the Wallet knows the client's metadata, or
    the client cannot be authenticated the way its Client Identifier Prefix requires."""

    code, title = "invalid_client", "Verifier not accepted"


class InvalidRequestUri(InvalidRequest):
    """RFC 9101 §6.2: "The request_uri in the authorization request returns an error or contains
    invalid data." (here also: not https, or both ``request`` and ``request_uri``)."""

    code, title = "invalid_request_uri", "Unusable request_uri"


class InvalidRequestUriMethod(InvalidRequest):
    """§8.5: "The value of the request_uri_method request parameter is neither get nor post"."""

    code, title = "invalid_request_uri_method", "Invalid request_uri_method"


class InvalidRequestObject(InvalidRequest):
    """RFC 9101 §6.2: "The request parameter contains an invalid Request Object." Wrong ``typ``,
    bad signature, untrusted chain, client_id mismatch, missing ``wallet_nonce``, stale ``exp``."""

    code, title = "invalid_request_object", "Invalid request object"


class VpFormatsNotSupported(InvalidRequest):
    """§8.5: "The Wallet does not support any of the formats requested by the Verifier"."""

    code, title = "vp_formats_not_supported", "No supported credential format"


class InvalidTransactionData(InvalidRequest):
    """§8.5 / §5.1: Satchel supports no transaction data type, so any ``transaction_data`` is
    refused ("Wallets that do not support this parameter MUST reject requests that contain it")."""

    code, title = "invalid_transaction_data", "Transaction data not supported"


class AccessDenied(Forbidden):
    """§8.5: the Wallet did not have the requested credentials, or the End-User declined. Both
    are answered identically so the verifier cannot tell them apart."""

    code, title = "access_denied", "Access denied"


class RequestObjectUnavailable(UpstreamError):
    """§5.10.2: "If the Verifier responds with any HTTP error response, the Wallet MUST terminate
    the process." Also a redirect (§14.9) or a body that is not a request object."""

    code, title = "invalid_request_uri", "The verifier's request_uri did not answer properly"


class WalletUnavailable(Unavailable):
    """§8.5: the Wallet cannot answer now (e.g. the learner's vault is locked)."""

    code, title = "wallet_unavailable", "Wallet unavailable"
