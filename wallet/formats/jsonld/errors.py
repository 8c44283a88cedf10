"""Errors of the W3C credential formats (JSON-LD with Data Integrity or JAdES, and VC-JWT).

::

    BadInput
    ├── InvalidCredential        400 invalid_credential   not a W3C credential we can parse
    └── DataIntegrityNotSignable 400 not_signable         (di_signing) cannot carry an
                                                          ``eddsa-rdfc-2022`` proof
    PayloadTooLarge              413 payload_too_large    over the size / depth caps
    VerificationFailed
    ├── UnknownContext           422 unknown_context      (loader) a context that is not bundled
    ├── CanonicalizationFailed   422 canonicalization_failed  (canon) not valid JSON-LD
    │   ├── CanonicalizationBudgetExceeded  (canon) over a quad / blank node / work bound
    │   └── TermNotCovered       (canon) RDF conversion would drop or splice a term
    │       ├── NotAbsoluteIri        jsonld_relative_iri  an id / type / property not an IRI
    │       ├── LanguageTagMalformed  jsonld_language_tag_invalid
    │       └── NotCompactForm        (compact_form) jsonld_not_in_compact_form  the JSON is not
    │           │                     the compact form of what the proof signs
    │           └── InlineContext     jsonld_inline_context  a @context that is not bundled URLs
    └── TimestampInvalid         422 timestamp_invalid    (timestamps) an RFC 3161 token fails

Each class is defined here and still importable from the module that raises it (named in
parentheses above).

Checkers *return* a signature verdict (``valid``/``invalid``/``no_key``/``unsupported``) for
anything they could parse; they raise only when the input is not a credential at all.
"""

from __future__ import annotations

from wallet.errors import BadInput, VerificationFailed

__all__ = [
    "CanonicalizationBudgetExceeded",
    "CanonicalizationFailed",
    "DataIntegrityNotSignable",
    "InlineContext",
    "InvalidCredential",
    "LanguageTagMalformed",
    "NotAbsoluteIri",
    "NotCompactForm",
    "TermNotCovered",
    "TimestampInvalid",
    "UnknownContext",
]


class InvalidCredential(BadInput):
    """The input is not a W3C verifiable credential Satchel can parse."""

    code = "invalid_credential"


class UnknownContext(VerificationFailed):
    """A JSON-LD context that is not bundled with Satchel (it is never fetched)."""

    code = "unknown_context"


class CanonicalizationFailed(VerificationFailed):
    """The document cannot be turned into canonical N-Quads (invalid JSON-LD or over a bound)."""

    code = "canonicalization_failed"


class CanonicalizationBudgetExceeded(CanonicalizationFailed):
    """The document is over a size or work bound: it is not checked (never shown as valid)."""

    code = "canonicalization_budget_exceeded"


class TermNotCovered(CanonicalizationFailed):
    """Part of the document would not reach the N-Quads faithfully, so no proof could cover it."""

    code = "jsonld_term_not_covered"
    #: What JSON-LD expansion dropped as well (reported beside this, it is the likelier cause).
    dropped_terms: tuple[str, ...] = ()


class NotAbsoluteIri(TermNotCovered):
    """A node id, type, property or node reference is not an absolute IRI (nor a blank node)."""

    code = "jsonld_relative_iri"


class LanguageTagMalformed(TermNotCovered):
    """A language tag is not of the N-Quads/BCP 47 shape (it would be written verbatim)."""

    code = "jsonld_language_tag_invalid"


class NotCompactForm(TermNotCovered):
    """The JSON is not the compact form of what the proof covers (a reader would be misled)."""

    code = "jsonld_not_in_compact_form"


class InlineContext(NotCompactForm):
    """A ``@context`` that is not a bundled context URL (or list of them)."""

    code = "jsonld_inline_context"


class TimestampInvalid(VerificationFailed):
    """A time-stamp token that is malformed, misses the data, or whose TSA signature fails."""

    code = "timestamp_invalid"


class DataIntegrityNotSignable(BadInput):
    """The document cannot carry an ``eddsa-rdfc-2022`` proof (JSON-LD or RDF drops part of it)."""

    code, title = "not_signable", "The document cannot be signed with Data Integrity"
