"""Errors of the HTTP layer and the operator commands (rendered like every other
:class:`~wallet.errors.SatchelError`)::

    SatchelError
    ├── RequestTimeout        408 request_timeout     a request body did not arrive in time
    ├── BadInput
    │   └── MethodNotAllowed  405 method_not_allowed  the path exists, not with this method
    ├── Conflict
    │   └── ReplicasRunning   409 replicas_running    operator command only (``satchel
    │                                                 move-keyring``): a replica is at work
    └── Unavailable
        └── Overloaded        503 overloaded          admission control shed the request

The settings' errors stay in :mod:`holder_api.settings` (``SettingsError``, 400
``invalid_settings``, start-up only), and the web pages' in ``holder_api/web/``.
"""

from __future__ import annotations

from wallet.errors import BadInput, Conflict, SatchelError, Unavailable

__all__ = ["MethodNotAllowed", "Overloaded", "ReplicasRunning", "RequestTimeout"]


class Overloaded(Unavailable):
    """The replica's admission queue is full: shed at once, retry after ``retry_after``."""

    code, title = "overloaded", "Service overloaded"


class RequestTimeout(SatchelError):
    """The request's body did not arrive in time (``SATCHEL_BODY_TIMEOUT``,
    :func:`holder_api.http.read_bytes`): its connection closes after this answer."""

    status, code, title = 408, "request_timeout", "Request timeout"


class MethodNotAllowed(BadInput):
    """The path exists but not with this method (the error middleware adds ``Allow``)."""

    status, code, title = 405, "method_not_allowed", "Method not allowed"


class ReplicasRunning(Conflict):
    """A replica (or a migration) is at work on the deployment: stop every replica first."""

    code = "replicas_running"
