"""OpenID4VCI 1.0 error codes as typed exceptions (wallet side).

Spec: OpenID for Verifiable Credential Issuance 1.0,
https://openid.net/specs/openid-4-verifiable-credential-issuance-1_0.html — §6.3 (Token Error
Response, with RFC 6749 §5.2), §8.3.1.2 (Credential Error Response), §9.3 (Deferred Credential
Error Response), §10 (encryption), §11.3 (Notification Error Response).

Why: the wallet acts differently on each code (``invalid_nonce`` → new nonce and one retry,
``issuance_pending`` → keep polling, ``credential_request_denied`` → stop, ``invalid_grant`` after
a ``tx_code`` → ask the learner again). One class per code keeps that decision typed, and the
class's place in :mod:`wallet.errors` decides how the API reports it. Details never carry tokens,
codes, tx_codes or the issuer's free text.

::

    SatchelError
    ├── BadInput (400)
    │   ├── InvalidCredentialOffer      invalid_credential_offer  the offer itself is malformed
    │   ├── TxCodeRequired              tx_code_required          the offer needs a tx_code
    │   ├── InvalidGrant                invalid_grant             wrong tx_code/code, expired
    │   ├── AuthorizationStateMismatch  invalid_state             callback state is not ours
    │   └── UnsupportedProofAlgorithm   unsupported_proof_alg     holder key cannot sign for issuer
    ├── Forbidden (403)
    │   ├── AccessDenied                access_denied             learner/AS refused authorization
    │   └── CredentialRequestDenied     credential_request_denied the issuer refused: stop
    ├── Conflict (409)
    │   └── IssuancePending             issuance_pending          deferred, not ready yet
    └── UpstreamError (502)             the issuer or its AS misbehaved or refused our request
        ├── InvalidIssuerMetadata       invalid_issuer_metadata   bad/mismatching metadata
        ├── IssuerProtocolError         <spec code>               carries any spec code
        │   ├── InvalidRequest          invalid_request
        │   ├── InvalidClient           invalid_client
        │   ├── UnauthorizedClient      unauthorized_client
        │   ├── UnsupportedGrantType    unsupported_grant_type
        │   ├── InvalidScope            invalid_scope
        │   ├── InvalidToken            invalid_token
        │   ├── ExpiredToken            expired_token
        │   ├── InvalidNonce            invalid_nonce             (after the one retry)
        │   ├── InvalidProof            invalid_proof
        │   ├── InvalidCredentialRequest        invalid_credential_request
        │   ├── UnknownCredentialConfiguration  unknown_credential_configuration
        │   ├── UnknownCredentialIdentifier     unknown_credential_identifier
        │   ├── InvalidTransactionId    invalid_transaction_id
        │   ├── InvalidEncryptionParameters     invalid_encryption_parameters
        │   ├── InvalidNotificationId   invalid_notification_id
        │   └── InvalidNotificationRequest      invalid_notification_request
        └── InvalidCredentialResponse   invalid_credential_response  a response we cannot use
"""

from __future__ import annotations

from typing import Any

from wallet.errors import BadInput, Conflict, Forbidden, UpstreamError

__all__ = [
    "AccessDenied",
    "AuthorizationStateMismatch",
    "CredentialRequestDenied",
    "ExpiredToken",
    "InvalidClient",
    "InvalidCredentialOffer",
    "InvalidCredentialRequest",
    "InvalidCredentialResponse",
    "InvalidEncryptionParameters",
    "InvalidGrant",
    "InvalidIssuerMetadata",
    "InvalidNonce",
    "InvalidNotificationId",
    "InvalidNotificationRequest",
    "InvalidProof",
    "InvalidRequest",
    "InvalidScope",
    "InvalidToken",
    "InvalidTransactionId",
    "IssuancePending",
    "IssuerProtocolError",
    "TxCodeRequired",
    "UnauthorizedClient",
    "UnknownCredentialConfiguration",
    "UnknownCredentialIdentifier",
    "UnsupportedGrantType",
    "UnsupportedProofAlgorithm",
    "error_for_code",
]


class InvalidCredentialOffer(BadInput):
    """The credential offer (by value or fetched by reference) violates §4.1."""

    code, title = "invalid_credential_offer", "Invalid credential offer"


class TxCodeRequired(BadInput):
    """§4.1.1: the offer carries a ``tx_code`` object, so the learner must supply the code."""

    code, title = "tx_code_required", "Transaction code required"


class InvalidGrant(BadInput):
    """RFC 6749 §5.2 / §6.3: the pre-authorized code or tx_code is wrong or expired.

    Raised as a client error because the learner can fix it (type the tx_code again)."""

    code, title = "invalid_grant", "Invalid grant"


class AuthorizationStateMismatch(BadInput):
    """The authorization callback's ``state`` is not the one this flow generated (CSRF)."""

    code, title = "invalid_state", "Authorization state mismatch"


class UnsupportedProofAlgorithm(BadInput):
    """The holder key's algorithm is not in ``proof_signing_alg_values_supported`` (§12.2.4)."""

    code, title = "unsupported_proof_alg", "No usable proof algorithm"


class AccessDenied(Forbidden):
    """RFC 6749 §4.1.2.1: the authorization request was refused."""

    code, title = "access_denied", "Authorization denied"


class CredentialRequestDenied(Forbidden):
    """§8.3.1.2 ``credential_request_denied``: the issuer will not issue; do not retry."""

    code, title = "credential_request_denied", "Credential request denied"


class IssuancePending(Conflict):
    """§9.3 ``issuance_pending`` (pre-1.0 issuers): deferred credential not ready yet."""

    code, title = "issuance_pending", "Issuance pending"

    def __init__(self, detail: str = "", *, interval: int = 5, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.interval = max(1, int(interval))


class InvalidIssuerMetadata(UpstreamError):
    """Issuer or authorization server metadata is malformed or not for the expected issuer."""

    code, title = "invalid_issuer_metadata", "Invalid issuer metadata"


class InvalidCredentialResponse(UpstreamError):
    """A token, nonce, credential or deferred response that violates the spec."""

    code, title = "invalid_credential_response", "Invalid issuer response"


class IssuerProtocolError(UpstreamError):
    """An error response carrying a spec error code; ``code`` is that code."""

    code, title = "issuer_error", "The issuer returned an error"


class InvalidRequest(IssuerProtocolError):
    code = "invalid_request"


class InvalidClient(IssuerProtocolError):
    code = "invalid_client"


class UnauthorizedClient(IssuerProtocolError):
    code = "unauthorized_client"


class UnsupportedGrantType(IssuerProtocolError):
    code = "unsupported_grant_type"


class InvalidScope(IssuerProtocolError):
    code = "invalid_scope"


class InvalidToken(IssuerProtocolError):
    """RFC 6750 §3.1: the access token was refused by the credential issuer."""

    code = "invalid_token"


class ExpiredToken(IssuerProtocolError):
    code = "expired_token"


class InvalidNonce(IssuerProtocolError):
    """§8.3.1.2: the proof's nonce is stale; raised only after the one retry failed too."""

    code = "invalid_nonce"


class InvalidProof(IssuerProtocolError):
    code = "invalid_proof"


class InvalidCredentialRequest(IssuerProtocolError):
    code = "invalid_credential_request"


class UnknownCredentialConfiguration(IssuerProtocolError):
    code = "unknown_credential_configuration"


class UnknownCredentialIdentifier(IssuerProtocolError):
    code = "unknown_credential_identifier"


class InvalidTransactionId(IssuerProtocolError):
    code = "invalid_transaction_id"


class InvalidEncryptionParameters(IssuerProtocolError):
    code = "invalid_encryption_parameters"


class InvalidNotificationId(IssuerProtocolError):
    code = "invalid_notification_id"


class InvalidNotificationRequest(IssuerProtocolError):
    code = "invalid_notification_request"


_BY_CODE: dict[str, type[Exception]] = {
    cls.code: cls
    for cls in (
        InvalidGrant, AccessDenied, CredentialRequestDenied, InvalidRequest, InvalidClient,
        UnauthorizedClient, UnsupportedGrantType, InvalidScope, InvalidToken, ExpiredToken,
        InvalidNonce, InvalidProof, InvalidCredentialRequest, UnknownCredentialConfiguration,
        UnknownCredentialIdentifier, InvalidTransactionId, InvalidEncryptionParameters,
        InvalidNotificationId, InvalidNotificationRequest,
    )
}


def error_for_code(code: object, where: str) -> Exception:
    """The typed error for a spec error ``code`` received from ``where`` (an endpoint name).

    The issuer's ``error_description`` is deliberately not used: it is untrusted free text that
    may echo request values.
    """
    if isinstance(code, str) and code in _BY_CODE:
        cls = _BY_CODE[code]
        return cls(f"{where} answered with error {code}")
    if isinstance(code, str) and code == "issuance_pending":
        return IssuancePending(f"{where}: issuance pending")
    return IssuerProtocolError(f"{where} answered with an unknown error")
