"""Errors shared by the ``sharing`` package (DCQL, OpenID4VP, presentations, share links).

The OAuth 2.0 error code ``invalid_request`` (RFC 6749 §4.1.2.1,
https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1) is the root of every complaint about a
verifier's request, because OpenID4VP 1.0 §8.5 maps DCQL and request-object problems onto it.
Sub-packages refine it with their own classes::

    wallet.errors.BadInput
    ├── InvalidRequest              invalid_request   the verifier's request is malformed or unsafe
    │   ├── sharing.dcql.errors.InvalidDcqlQuery ...
    │   └── sharing.oid4vp.errors.InvalidClient, InvalidRequestObject ...
    └── PresentationNotSupported    presentation_not_supported   this credential cannot be
        │                                                        presented that way
        └── WholeCredentialOnly     whole_credential_only        a W3C credential is shared
                                                                 whole (``claims: [[]]``)
    wallet.errors.Conflict
    └── RequestAlreadyAnswered      request_already_answered     a second answer (a replay)
    wallet.errors.NotFound
    └── ShareLinkUnavailable        not_found         unknown, expired, used-up or revoked link
    wallet.errors.VerificationFailed
    └── StoredCredentialUnusable    credential_unusable   the stored credential no longer
                                                          verifies as it is to be presented
    SatchelError
    └── RequestExpired              410 request_expired   the verifier's request has expired

(:class:`StoredCredentialUnusable` is still importable from :mod:`sharing.presentations`.)

Details never carry claim values, nonces or tokens.
"""

from __future__ import annotations

from wallet.errors import BadInput, Conflict, NotFound, SatchelError, VerificationFailed

__all__ = ["InvalidRequest", "PresentationNotSupported", "RequestAlreadyAnswered", "RequestExpired",
           "ShareLinkUnavailable", "StoredCredentialUnusable", "WholeCredentialOnly"]


class InvalidRequest(BadInput):
    """The verifier's request is missing a required parameter, is malformed or is refused.

    RFC 6749 §4.1.2.1: "The request is missing a required parameter, includes an invalid
    parameter value, includes a parameter more than once, or is otherwise malformed."
    """

    status, code, title = 400, "invalid_request", "Invalid presentation request"


class RequestAlreadyAnswered(Conflict):
    """A presentation request is answered (sent or declined) once; a second answer is a replay."""

    code, title = "request_already_answered", "Presentation request already answered"


class RequestExpired(SatchelError):
    """The verifier's request (or our hold on it) has expired: nothing is sent any more."""

    status, code, title = 410, "request_expired", "Presentation request expired"


class PresentationNotSupported(BadInput):
    """The chosen credential cannot be presented in the requested way (format, binding)."""

    code, title = "presentation_not_supported", "Presentation not supported"


class WholeCredentialOnly(PresentationNotSupported):
    """A W3C credential (``jwt_vc_json``, ``ldp_vc``) cannot disclose claims selectively: a share
    link takes it whole (``claims: [[]]``), never a subset it could not honour."""

    code, title = "whole_credential_only", "This credential format is shared whole"


class ShareLinkUnavailable(NotFound):
    """Unknown, expired, exhausted or revoked share link — one answer for all, so a guess
    learns nothing."""

    code, title = "not_found", "Not found"


class StoredCredentialUnusable(VerificationFailed):
    code, title = "credential_unusable", "The stored credential cannot be presented"
