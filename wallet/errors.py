"""Satchel's exception tree, rooted in :class:`SatchelError`.

Every error that can reach a client is a ``SatchelError`` subclass: it carries the HTTP status, a
stable machine ``code`` (the spec's error code where a spec defines one) and a human ``title``.
The error middleware in ``holder_api`` renders them as RFC 9457 problem+json; nothing else does.

::

    SatchelError                 500 internal_error
    ├── BadInput                 400 invalid_request   malformed or semantically wrong input
    │   ├── WeakPassphrase       400 weak_passphrase   a new passphrase that is too easy to guess
    │   ├── InvalidCursor        400 invalid_cursor    a page cursor this server did not hand out
    │   ├── UnsupportedFormat    415 unsupported_format
    │   ├── StagedKindUnknown    400 invalid_consent_event  a staged ledger entry of a kind this
    │   │                                              release does not know (left staged)
    │   ├── DidError             400 invalidDid        DID Resolution's own codes:
    │   │   ├── InvalidDid       400 invalidDid          a malformed DID or embedded key
    │   │   └── DidMethodNotSupported 400 methodNotSupported
    │   └── TrustListError       400 invalid_trust_list  start-up only: SATCHEL_TRUST_LIST is bad
    ├── Unauthorized             401 unauthorized      missing, expired, forged or revoked token
    ├── Forbidden                403 forbidden
    ├── NotFound                 404 not_found         unknown *or foreign* id (never tell them apart)
    ├── Conflict                 409 conflict          e.g. duplicate username
    ├── Gone                     410 gone              it existed, but has expired (answered once:
    │                                                  then it is deleted and answers 404)
    ├── PayloadTooLarge          413 payload_too_large
    ├── RateLimited              429 rate_limited      carries ``retry_after`` seconds
    │   ├── Contended            429 contended         others held the learner's lock too long
    │   └── UploadInProgress     429 upload_in_progress  an upload of this learner is still being
    │                                                  read on this replica: refused before its body
    ├── VerificationFailed       422 verification_failed  a credential/signature did not verify
    │   ├── InvalidJws           422 invalid_jws       malformed, refused header, bad signature
    │   │   ├── InvalidAlg       422 invalid_alg       an algorithm not allowed there
    │   │   └── InvalidTyp       422 invalid_typ       not the ``typ`` expected there
    │   ├── CredentialExpired    422 credential_expired
    │   ├── CredentialNotYetValid 422 credential_not_yet_valid
    │   ├── InvalidProof         422 invalid_proof     the credential's proof does not verify
    │   ├── CertificateError     422 invalid_certificate  a certificate or chain (RFC 5280):
    │   │   ├── MalformedCertificate 422 invalid_certificate  not DER, a bad ``x5c``
    │   │   ├── CertificateNotValidAtTime 422 certificate_expired
    │   │   └── UntrustedChain   422 untrusted_certificate_chain  no path to an anchor
    │   └── VerificationMethodNotFound 422 verification_method_not_found  (a DID document's)
    ├── UpstreamError            502 upstream_error    a peer (issuer, verifier, status list) misbehaved:
    │   │                                              garbage, oversize or mistyped body, an HTTP error
    │   │                                              it gave no reason for, failed TLS, a name that
    │   │                                              does not resolve
    │   ├── UpstreamUnavailable  502 upstream_error    transient: connection refused or reset, timeout,
    │   │                                              temporary DNS failure, HTTP 5xx or 429 (carries
    │   │                                              ``retry_after`` when the peer sent Retry-After)
    │   ├── DidResolutionFailed  502 notFound          did:web: no valid DID document could be had
    │   └── FetchRefused         400 fetch_refused     the guarded fetcher refused a URL before connecting
    ├── Unavailable              503 unavailable       a store we must write first (ledger) is down
    │   └── UploadsBusy          503 uploads_busy      the replica reads as many large uploads as it
    │                                                  may at once: refused before the body is read
    └── DecryptionFailed         500 decryption_failed  a sealed value of Satchel's did not open
        └── RecordUnreadable     409 record_unreadable  it opened, but this version cannot read it

The classes of the wallet's modules that have no errors module of their own are here too, each
still importable where it was first defined (``wallet.jose.InvalidJws``, ``wallet.x509``,
``wallet.dids``, ``wallet.intake``, ``wallet.trust``, ``wallet.db.Contended``,
``wallet.crypto.DecryptionFailed``). A sub-package with errors of its own keeps them in its
``errors.py`` below these classes: :mod:`wallet.accounts.errors`, :mod:`wallet.oid4vci.errors`,
:mod:`wallet.receive.errors`, :mod:`wallet.status_list.errors`, :mod:`wallet.microcred.errors`,
:mod:`wallet.formats.sd_jwt.errors`, :mod:`wallet.formats.jsonld.errors`,
:mod:`wallet.formats.pdf.errors`.

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
    "CertificateError",
    "CertificateNotValidAtTime",
    "Conflict",
    "Contended",
    "CredentialExpired",
    "CredentialNotYetValid",
    "DecryptionFailed",
    "DidError",
    "DidMethodNotSupported",
    "DidResolutionFailed",
    "FetchRefused",
    "Forbidden",
    "Gone",
    "InvalidAlg",
    "InvalidCursor",
    "InvalidDid",
    "InvalidJws",
    "InvalidProof",
    "InvalidTyp",
    "MalformedCertificate",
    "NotFound",
    "PayloadTooLarge",
    "RateLimited",
    "RecordUnreadable",
    "SatchelError",
    "StagedKindUnknown",
    "TrustListError",
    "Unauthorized",
    "Unavailable",
    "UnsupportedFormat",
    "UntrustedChain",
    "UploadInProgress",
    "UploadsBusy",
    "UpstreamError",
    "UpstreamUnavailable",
    "VerificationFailed",
    "VerificationMethodNotFound",
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


class UploadInProgress(RateLimited):
    """An upload of this learner is still being read on this replica: a learner holds one
    upload slot at a time (:mod:`wallet.large_bodies`), so this one is refused at once, before
    its body is read, with ``Retry-After``."""

    code, title = "upload_in_progress", "An upload of yours is in progress"


# -- sealed values (wallet.crypto) ----------------------------------------------------------------


class DecryptionFailed(SatchelError):
    """A sealed blob did not open: wrong key, wrong context (AAD) or tampered bytes.

    It is an integrity failure of data Satchel itself sealed, so it is Satchel's fault, not a
    client's; callers that seal client-held data (e.g. a token) convert it to ``Unauthorized``.
    """

    status, code, title = 500, "decryption_failed", "Sealed data could not be opened"


class RecordUnreadable(DecryptionFailed):
    """A sealed record opened, but this version cannot read what it holds (a state it does not
    know, a member missing or of the wrong type): corruption, or a newer replica's write during a
    rolling upgrade.

    409, not 500: the server is working; the record's present state conflicts with what this
    version can do with it (the answer names the record, RFC 9110 §15.5.10). A list leaves such a
    record out and logs its id, so one record spoils only itself (docs/presenting.md).
    """

    status, code, title = 409, "record_unreadable", "This record cannot be read"


# -- stores (wallet.db) ----------------------------------------------------------------------------


class Contended(RateLimited):
    """Others held the same ``serialised`` key for longer than the wait allows."""

    code = "contended"


# -- verifying credentials: JOSE, intake, X.509, DIDs, the trust list ------------------------------


class InvalidJws(VerificationFailed):
    """A JWS that is malformed, uses a refused algorithm or header, or whose signature fails."""

    code = "invalid_jws"


class InvalidAlg(InvalidJws):
    """A JWS algorithm that is not allowed there (RFC 8725 §3.1: the verifier decides)."""

    code = "invalid_alg"


class InvalidTyp(InvalidJws):
    """A JWS ``typ`` that is not the one expected there (RFC 8725 §3.11)."""

    code = "invalid_typ"


class CredentialExpired(VerificationFailed):
    code, title = "credential_expired", "The credential has expired"


class CredentialNotYetValid(VerificationFailed):
    code, title = "credential_not_yet_valid", "The credential is not valid yet"


class InvalidProof(VerificationFailed):
    code, title = "invalid_proof", "The credential's proof does not verify"


class CertificateError(VerificationFailed):
    """Base: a certificate or chain cannot be relied on."""

    code = "invalid_certificate"


class MalformedCertificate(CertificateError):
    """Not a DER certificate, or an ``x5c`` that is not a list of base64 DER strings."""


class CertificateNotValidAtTime(CertificateError):
    """The leaf is outside its validity period at the validation time (RFC 5280 §4.1.2.5)."""

    code = "certificate_expired"


class UntrustedChain(CertificateError):
    """No valid path from the leaf to a configured anchor (RFC 5280 §6), or the name does not
    match."""

    code = "untrusted_certificate_chain"


class DidError(BadInput):
    """Base of the DID errors (DID Resolution error codes in ``code``)."""

    code = "invalidDid"


class InvalidDid(DidError):
    """The DID or DID URL is malformed, or its embedded key is not a valid key."""

    code = "invalidDid"


class DidMethodNotSupported(DidError):
    """A DID method Satchel does not resolve."""

    code = "methodNotSupported"


class DidResolutionFailed(UpstreamError):
    """did:web: the DID document could not be fetched or is not a valid document for this DID."""

    code = "notFound"


class VerificationMethodNotFound(VerificationFailed):
    """The DID document has no usable verification method with that id for assertions."""

    code = "verification_method_not_found"


class TrustListError(BadInput):
    """``SATCHEL_TRUST_LIST`` is unreadable or malformed (raised at startup)."""

    code = "invalid_trust_list"
    title = "Invalid trust list"


# -- the ledger outbox (wallet.ledger_outbox) -------------------------------------------------------


class StagedKindUnknown(BadInput):
    """A staged ledger entry (the vault's ledger outbox) names an event kind this release does
    not know, one a newer replica staged: the ledger's own refusal of such an entry, which the
    flush leaves staged for a release that knows the kind (:mod:`wallet.ledger_outbox`), never a
    500."""

    code = "invalid_consent_event"
