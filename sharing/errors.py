"""Errors shared by the ``sharing`` package (DCQL, OpenID4VP, presentations, share links).

The OAuth 2.0 error code ``invalid_request`` (RFC 6749 §4.1.2.1,
https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1) is the root of every complaint about a
verifier's request, because OpenID4VP 1.0 §8.5 maps DCQL and request-object problems onto it.
Sub-packages refine it with their own classes::

    wallet.errors.BadInput
    └── InvalidRequest              invalid_request   the verifier's request is malformed or unsafe
        ├── sharing.dcql.errors.InvalidDcqlQuery ...
        └── sharing.oid4vp.errors.InvalidClient, InvalidRequestObject ...

Details never carry claim values, nonces or tokens.
"""

from __future__ import annotations

from wallet.errors import BadInput

__all__ = ["InvalidRequest"]


class InvalidRequest(BadInput):
    """The verifier's request is missing a required parameter, is malformed or is refused.

    RFC 6749 §4.1.2.1: "The request is missing a required parameter, includes an invalid
    parameter value, includes a parameter more than once, or is otherwise malformed."
    """

    status, code, title = 400, "invalid_request", "Invalid presentation request"
