"""Satchel's exception tree, rooted in :class:`SatchelError`.

Every error that can reach a client is a ``SatchelError`` subclass: it carries the HTTP status, a
stable machine ``code`` (the spec's error code where a spec defines one) and a human ``title``.
The error middleware in ``holder_api`` renders them as RFC 9457 problem+json; nothing else does.

::

    SatchelError
    ├── BadInput                 400 invalid_request   malformed or semantically wrong input
    │   ├── WeakPassphrase       400 weak_passphrase   a new passphrase that is too easy to guess
    │   ├── InvalidCursor        400 invalid_cursor    a page cursor this server did not hand out
    │   └── UnsupportedFormat    415 unsupported_format
    ├── Unauthorized             401 unauthorized      missing, expired, forged or revoked token
    ├── Forbidden                403 forbidden
    ├── NotFound                 404 not_found         unknown *or foreign* id (never tell them apart)
    ├── Conflict                 409 conflict          e.g. duplicate username
    ├── Gone                     410 gone              it existed, but has expired (answered once:
    │                                                  then it is deleted and answers 404)
    ├── PayloadTooLarge          413 payload_too_large
    ├── RateLimited              429 rate_limited      carries ``retry_after`` seconds
    ├── VerificationFailed       422 verification_failed  a credential/signature did not verify
    ├── UpstreamError            502 upstream_error    a peer (issuer, verifier, status list) misbehaved:
    │   │                                              garbage, oversize or mistyped body, an HTTP error
    │   │                                              it gave no reason for, failed TLS, a name that
    │   │                                              does not resolve
    │   ├── UpstreamUnavailable  502 upstream_error    transient: connection refused or reset, timeout,
    │   │                                              temporary DNS failure, HTTP 5xx or 429 (carries
    │   │                                              ``retry_after`` when the peer sent Retry-After)
    │   └── FetchRefused         400 fetch_refused     the guarded fetcher refused a URL before connecting
    └── Unavailable              503 unavailable       a store we must write first (ledger) is down
        └── UploadsBusy          503 uploads_busy      the replica reads as many large uploads as it
                                                       may at once: refused before the body is read

Like httpx's ``TransportError`` below ``HTTPError``, :class:`UpstreamUnavailable` lets a caller
that can wait (a deferred OpenID4VCI poll) tell "try again later" from "this peer answered wrong"
by class alone; on the wire it stays the 502 ``upstream_error`` of its parent, so callers that do
not care see no difference.

Packages add their own subclasses in their ``errors.py``; a protocol error keeps the spec's code
(``invalid_nonce``, ``access_denied`` ...) in ``code``. Details never contain secrets or claim values.
Every code, with its status and what a client should do, is in docs/errors.md (a test holds it to
the classes): a new code needs its row there.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BadInput",
    "Conflict",
    "FetchRefused",
    "Forbidden",
    "Gone",
    "InvalidCursor",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "SatchelError",
    "Unauthorized",
    "Unavailable",
    "UploadsBusy",
    "UnsupportedFormat",
    "UpstreamError",
    "UpstreamUnavailable",
    "VerificationFailed",
    "WeakPassphrase",
]


class SatchelError(Exception):
    """Base of every error Satchel reports to a client."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(self, detail: str = "", *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        if code is not None:
            self.code = code
        self.extra: dict[str, Any] = extra


class BadInput(SatchelError):
    status, code, title = 400, "invalid_request", "Invalid request"


class WeakPassphrase(BadInput):
    """A passphrase of the right length that is still too easy to guess (a common word, too few
    different characters): a rule no JSON Schema states, hence its own code."""

    code = "weak_passphrase"


class InvalidCursor(BadInput):
    """A page cursor this server did not hand out (its MAC does not check): well-formed input
    that only the server can judge, hence its own code."""

    code = "invalid_cursor"


class UnsupportedFormat(BadInput):
    status, code, title = 415, "unsupported_format", "Unsupported format"


class Unauthorized(SatchelError):
    status, code, title = 401, "unauthorized", "Authentication required"


class Forbidden(SatchelError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(SatchelError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(SatchelError):
    status, code, title = 409, "conflict", "Conflict"


class Gone(SatchelError):
    status, code, title = 410, "gone", "Gone"


class PayloadTooLarge(SatchelError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class RateLimited(SatchelError):
    status, code, title = 429, "rate_limited", "Too many requests"

    def __init__(self, detail: str = "", *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, int(retry_after))


class VerificationFailed(SatchelError):
    status, code, title = 422, "verification_failed", "Verification failed"


class UpstreamError(SatchelError):
    status, code, title = 502, "upstream_error", "A remote party answered badly"


class UpstreamUnavailable(UpstreamError):
    """The peer could not be reached or said it is overloaded, so a later try may well succeed.

    Raised by the guarded fetcher for refused or reset connections, timeouts and temporary DNS
    failures, and by protocol clients for HTTP 5xx/429. ``retry_after`` (seconds) is the peer's
    ``Retry-After`` when it sent one; it is not a problem-body extra, since the wire answer of
    this class is its parent's.
    """

    def __init__(self, detail: str = "", *, retry_after: int | None = None,
                 **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = None if retry_after is None else max(1, int(retry_after))


class FetchRefused(UpstreamError):
    status, code, title = 400, "fetch_refused", "URL refused by the network guard"


class Unavailable(SatchelError):
    """A dependency (a store, the pool) or the replica itself cannot serve now; every 503 goes
    out with ``Retry-After`` so that clients back off instead of hammering."""

    status, code, title = 503, "unavailable", "Service unavailable"

    def __init__(self, detail: str = "", *, retry_after: int = 1, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, int(retry_after))


class UploadsBusy(Unavailable):
    """This replica already reads as many large uploads (a signed PDF, a credential file, a
    photo of a QR code) as ``SATCHEL_MAX_CONCURRENT_UPLOADS`` allows: refused at once, before
    the body is read, with ``Retry-After`` (:mod:`wallet.large_bodies`)."""

    code, title = "uploads_busy", "Too many uploads at once"
