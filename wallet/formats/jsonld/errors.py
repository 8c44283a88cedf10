"""Errors of the W3C credential formats (JSON-LD with Data Integrity or JAdES, and VC-JWT).

::

    BadInput
    └── InvalidCredential        400 invalid_credential   not a W3C credential we can parse
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

Checkers *return* a signature verdict (``valid``/``invalid``/``no_key``/``unsupported``) for
anything they could parse; they raise only when the input is not a credential at all.
"""

from __future__ import annotations

from wallet.errors import BadInput

__all__ = ["InvalidCredential"]


class InvalidCredential(BadInput):
    """The input is not a W3C verifiable credential Satchel can parse."""

    code = "invalid_credential"
