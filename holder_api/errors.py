"""Errors of the HTTP layer itself (rendered like every other :class:`SatchelError`)."""

from __future__ import annotations

from wallet.errors import SatchelError, Unavailable

__all__ = ["Overloaded", "RequestTimeout"]


class Overloaded(Unavailable):
    """The replica's admission queue is full: shed at once, retry after ``retry_after``."""

    code, title = "overloaded", "Service overloaded"


class RequestTimeout(SatchelError):
    """The request's body did not arrive in time (``SATCHEL_BODY_TIMEOUT``,
    :func:`holder_api.http.read_bytes`): its connection closes after this answer."""

    status, code, title = 408, "request_timeout", "Request timeout"
