"""Building and sending the authorization response (OpenID4VP 1.0 §8.1-§8.3, §8.5).

https://openid.net/specs/openid-4-verifiable-presentations-1_0.html#name-response

- ``vp_token`` is a JSON object keyed by credential query id, each value a non-empty array of
  presentations (strings, or objects for ``ldp_vc``) (§8.1). :func:`build_vp_token` also checks the
  token against the learner's :class:`~sharing.dcql.Selection`, so no query the learner did not
  approve, and no extra presentation, can slip in.
- ``direct_post``: form fields, ``vp_token`` as JSON text, ``state`` echoed (§8.2).
- ``direct_post.jwt``: the same parameters as top-level members of a JWE, sent as ``response``
  (§8.3.1); the error response is encrypted the same way.
- A decline and "nothing matched" are the same ``access_denied`` with no description (§8.5), so
  the verifier cannot tell whether the learner holds the credential.
- The verifier's 200 reply may carry ``redirect_uri`` to send the learner on (§8.2); any other
  status (redirects included, §14.9) is an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args
from urllib.parse import urlsplit

from sharing.dcql import Selection
from sharing.oid4vp.encryption import encrypt_response
from sharing.oid4vp.errors import InvalidRequest
from sharing.oid4vp.request import AuthorizationRequest
from wallet.errors import UpstreamError
from wallet.ports import Fetcher

__all__ = [
    "ERROR_CODES",
    "ErrorCode",
    "Presentation",
    "authorization_response",
    "build_error_response",
    "build_vp_token",
    "decline_form",
    "direct_post_form",
    "response_form",
    "submit_response",
]

#: One presentation as it goes into ``vp_token``: a compact string, or a JSON-LD VP object.
Presentation = str | Mapping[str, Any]

#: The codes a wallet sends back to a verifier (§8.5 and RFC 6749 §4.1.2.1).
ErrorCode = Literal["access_denied", "invalid_request", "invalid_client",
                    "invalid_request_uri_method", "invalid_request_object",
                    "vp_formats_not_supported", "invalid_transaction_data", "wallet_unavailable"]
ERROR_CODES: frozenset[str] = frozenset(get_args(ErrorCode))
_ID = re.compile(r"[A-Za-z0-9_-]+", re.ASCII)


def build_vp_token(presentations: Mapping[str, Sequence[Presentation]], *,
                   selection: Selection | None = None) -> dict[str, list[Presentation]]:
    """The ``vp_token`` object; with ``selection``, exactly the approved queries and counts."""
    if not presentations:
        raise InvalidRequest("a vp_token needs at least one presentation")
    token: dict[str, list[Presentation]] = {}
    for qid, items in presentations.items():
        if not isinstance(qid, str) or not _ID.fullmatch(qid):
            raise InvalidRequest("vp_token keys must be credential query ids")
        if isinstance(items, str | bytes | Mapping) or not items:
            raise InvalidRequest("each vp_token entry must be a non-empty array")
        for p in items:
            if not (isinstance(p, str) and p) and not isinstance(p, Mapping):
                raise InvalidRequest("a presentation must be a string or an object")
        token[qid] = [dict(p) if isinstance(p, Mapping) else p for p in items]
    if selection is not None:
        approved = {q: len(selection.for_query(q)) for q in selection.query_ids}
        if {q: len(v) for q, v in token.items()} != approved:
            raise InvalidRequest("the vp_token does not match the learner's selection")
    return token


def authorization_response(vp_token: Mapping[str, Sequence[Presentation]],
                           state: str | None) -> dict[str, Any]:
    """The response parameters (§8.1): ``vp_token`` and, when the request had one, ``state``."""
    payload: dict[str, Any] = {"vp_token": dict(vp_token)}
    if state is not None:
        payload["state"] = state
    return payload


def build_error_response(state: str | None,
                         error: ErrorCode = "access_denied") -> dict[str, str]:
    """An error response; the default ``access_denied`` serves a decline *and* "no match"."""
    assert error in ERROR_CODES, "not an OpenID4VP error code"
    payload: dict[str, str] = {"error": error}
    if state is not None:
        payload["state"] = state
    return payload


def direct_post_form(payload: Mapping[str, Any]) -> dict[str, str]:
    """Form fields for ``direct_post``: objects (``vp_token``) as JSON text (§8.2)."""
    return {k: v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
            for k, v in payload.items()}


def response_form(request: AuthorizationRequest, payload: Mapping[str, Any]) -> dict[str, str]:
    """The form to POST to ``request.response_uri`` in the request's response mode."""
    if request.response_mode == "direct_post.jwt":
        if request.encryption is None:
            raise InvalidRequest("direct_post.jwt without an encryption key")
        return {"response": encrypt_response(payload, request.encryption)}
    return direct_post_form(payload)


def decline_form(request: AuthorizationRequest) -> dict[str, str]:
    """The form that tells the verifier ``access_denied`` (decline or no match alike)."""
    return response_form(request, build_error_response(request.state))


def _redirect(reply: Any) -> str | None:
    if not isinstance(reply, Mapping):
        return None
    uri = reply.get("redirect_uri")
    if not isinstance(uri, str) or len(uri) > 4096:
        return None
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    if parts.scheme not in ("https",) or not parts.hostname:
        return None  # only https continuations are handed back to the learner's browser
    return uri


async def submit_response(request: AuthorizationRequest, form: Mapping[str, str],
                          fetcher: Fetcher) -> str | None:
    """POST ``form`` to the response URI; the ``redirect_uri`` to follow, if the verifier gave
    one. Raises :class:`~wallet.errors.UpstreamError` for any status but 200."""
    resp = await fetcher.post_form(request.response_uri, form, accept=("application/json",),
                                   max_bytes=64 * 1024)
    if resp.status != 200:
        raise UpstreamError("the verifier's response_uri answered with an error",
                            status=resp.status)
    if not resp.body.strip():
        return None
    return _redirect(resp.json())
