"""RFC 9457 problem details: the one shape every error response takes.

https://www.rfc-editor.org/rfc/rfc9457
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from wallet.errors import RateLimited, SatchelError, Unavailable

__all__ = ["PROBLEM_TYPE_BASE", "problem_body", "problem_response"]

PROBLEM_TYPE_BASE = "https://satchel.dev/problems/"
_SAFE_EXTRA = ("errors", "pointer", "retry_after", "first_bad_seq")


def problem_body(err: SatchelError, *, instance: str | None = None) -> dict[str, Any]:
    """The problem document of ``err`` (what :func:`problem_response` sends)."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + err.code.replace("_", "-"),
        "title": err.title,
        "status": err.status,
        "detail": err.detail,
        "code": err.code,
    }
    if instance:
        body["instance"] = instance
    for key in _SAFE_EXTRA:
        if key in err.extra:
            body[key] = err.extra[key]
    return body


def problem_response(err: SatchelError, *, instance: str | None = None,
                     headers: dict[str, str] | None = None) -> web.Response:
    body = problem_body(err, instance=instance)
    headers = dict(headers or {})
    if isinstance(err, RateLimited | Unavailable):
        headers["Retry-After"] = str(err.retry_after)
    if err.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="satchel"'
    return web.json_response(body, status=err.status, headers=headers,
                             content_type="application/problem+json")
