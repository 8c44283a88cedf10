"""The consent package's exceptions, rooted in :class:`ConsentError`.

Each class also subclasses the matching :mod:`wallet.errors` class, so the one error middleware in
``holder_api`` renders it (RFC 9457) with the right status without knowing this package. Details
never carry claim values, counterparties or sealed bytes.

::

    ConsentError            (never raised itself)
    ├── InvalidEvent        400 invalid_consent_event  malformed event, or something that looks like
    │                           a claim *value* where a claim *path* belongs (str / int >= 0 / null)
    ├── InvalidQuery        400 invalid_query  a bad filter or limit
    │   └── UnknownCursor   400 invalid_cursor  a cursor this ledger did not hand out
    ├── ImportRejected      400 invalid_import  an exported chain that is malformed or does not
    │                           verify (names the first bad entry)
    ├── EventNotFound       404 not_found  unknown *or foreign* event id (never told apart)
    ├── LearnerAssertedEntry  409 learner_asserted_entry  an entry imported on the learner's
    │                           word (docs/consent.md): listed, but no receipt signs it
    ├── EntryFromNewerRelease  409 ledger_entry_from_newer_release  an entry a newer release
    │                           wrote (a kind or body this one cannot interpret, its hash intact):
    │                           shown as such, but no receipt or export of it here
    ├── LedgerErased        409 ledger_erased  the learner's ledger was erased (Art. 17): it takes
    │                           no new entries and has no bodies left to read
    ├── BodyUnreadable      422 ledger_body_unreadable  a sealed body did not open with the key
    │                           given: wrong key, shredded key, or a tampered body
    ├── LedgerTampered      422 ledger_tampered  a stored entry no longer matches its hash: no
    │                           receipt is signed for it
    ├── LedgerUnavailable   503 ledger_unavailable  the ledger store could not be read or written;
    │                           the caller must not perform the action (fail closed)
    ├── ImportsBusy         503 imports_busy  this replica runs as many imports as it may at
    │                           once (SATCHEL_MAX_CONCURRENT_IMPORTS): refused before the body is read
    ├── ImportInProgress    429 import_in_progress  an import of this learner is still being read
    │                           on this replica (one at a time): refused before the body is read
    ├── BundleRejected      400 invalid_bundle  an export bundle offered for import is malformed
    ├── BundleVersionUnsupported  400 unsupported_bundle_version  a bundle of a newer (or unknown)
    │                           format version than this Satchel reads
    ├── BundlePassphraseWrong     422 wrong_bundle_passphrase  the passphrase does not open the
    │                           bundle's sealed keys
    ├── AccountNotEmpty     409 account_not_empty  import goes into a fresh account only
    └── ManifestKeyUnknown  (never answered) an export manifest's ``kid`` names neither the
                                importer's keys nor the bundle's: caught where it is raised
                                (:mod:`consent.portability`), the chain is then learner-asserted
"""

from __future__ import annotations

from wallet.errors import (
    BadInput,
    Conflict,
    NotFound,
    RateLimited,
    SatchelError,
    Unavailable,
    VerificationFailed,
)

__all__ = [
    "AccountNotEmpty",
    "BodyUnreadable",
    "BundlePassphraseWrong",
    "BundleRejected",
    "BundleVersionUnsupported",
    "ConsentError",
    "EntryFromNewerRelease",
    "EventNotFound",
    "ImportInProgress",
    "ImportRejected",
    "ImportsBusy",
    "InvalidEvent",
    "InvalidQuery",
    "LearnerAssertedEntry",
    "LedgerErased",
    "LedgerTampered",
    "LedgerUnavailable",
    "UnknownCursor",
    "ManifestKeyUnknown",
]


class ConsentError(SatchelError):
    """Base of every consent-ledger error; carries no status of its own."""


class InvalidEvent(ConsentError, BadInput):
    """A :class:`~consent.events.ConsentEvent` was built from bad or value-bearing input."""

    code, title = "invalid_consent_event", "Invalid consent event"


class InvalidQuery(ConsentError, BadInput):
    """A history query with a bad filter, limit or ``cursor``."""

    code, title = "invalid_query", "Invalid consent history query"


class UnknownCursor(InvalidQuery):
    """A well-formed ``cursor`` this ledger did not hand out (no schema can say so)."""

    code = "invalid_cursor"


class ImportRejected(ConsentError, BadInput):
    """An exported chain offered for import is malformed or does not verify."""

    code, title = "invalid_import", "Consent ledger import rejected"


class EventNotFound(ConsentError, NotFound):
    """No event with this id belongs to this learner (foreign ids look the same)."""


class LedgerErased(ConsentError, Conflict):
    """The learner's ledger ends in an erasure tombstone: no reads of bodies, no new entries."""

    code, title = "ledger_erased", "Consent ledger erased"


class BodyUnreadable(ConsentError, VerificationFailed):
    """A sealed body did not open with the sealer given (wrong or shredded key, or tampering)."""

    code, title = "ledger_body_unreadable", "Consent ledger entry cannot be opened"


class LedgerTampered(ConsentError, VerificationFailed):
    """A stored entry no longer matches its own hash."""

    code, title = "ledger_tampered", "Consent ledger entry was altered"


class LedgerUnavailable(ConsentError, Unavailable):
    """The ledger store failed; whatever was about to happen must not happen."""

    code, title = "ledger_unavailable", "Consent ledger unavailable"


class BundleRejected(ConsentError, BadInput):
    """An export bundle offered for import is malformed (names the part, never a value)."""

    code, title = "invalid_bundle", "Export bundle rejected"


class BundleVersionUnsupported(BundleRejected):
    """The bundle's ``format``/``version`` is not one this Satchel reads (e.g. a newer one)."""

    code, title = "unsupported_bundle_version", "Export bundle version not supported"


class BundlePassphraseWrong(ConsentError, VerificationFailed):
    """The passphrase given does not open the bundle's sealed keys."""

    code, title = "wrong_bundle_passphrase", "Wrong passphrase for this bundle"


class AccountNotEmpty(ConsentError, Conflict):
    """Import goes into a fresh account: this one already holds credentials."""

    code, title = "account_not_empty", "Account is not empty"


class LearnerAssertedEntry(ConsentError, Conflict):
    """The entry was imported on the learner's word (a bundle this service cannot verify: from
    another deployment, or without a manifest): no receipt of this service asserts it."""

    code, title = "learner_asserted_entry", "Entry imported on the learner's word"


class ImportsBusy(ConsentError, Unavailable):
    """This replica already runs as many imports as it may (their bodies take tens of MiB each):
    refused at once, before the body is read, with ``Retry-After``."""

    code, title = "imports_busy", "Too many imports at once"


class ImportInProgress(ConsentError, RateLimited):
    """An import of this learner is still being read on this replica: a learner holds one
    import slot at a time (wallet.large_bodies), so this one is refused at once, before its
    body is read, with ``Retry-After``."""

    code, title = "import_in_progress", "An import of yours is in progress"


class EntryFromNewerRelease(ConsentError, Conflict):
    """An entry a newer release wrote (during a rolling upgrade): its kind or body is one this
    release cannot interpret, its hash intact. Listed as such; this release signs no receipt
    for it and exports no chain holding it (it cannot say what it is): a newer replica can."""

    code, title = ("ledger_entry_from_newer_release",
                   "Consent ledger entry written by a newer release")


class ManifestKeyUnknown(ConsentError):
    """A manifest's ``kid`` names neither the importer's keys nor the bundle's. Raised by the
    key resolver a manifest is verified with and caught around that check
    (:mod:`consent.portability`): it never reaches a client."""
