"""Where a third-party parser meets a file an attacker may have written.

pyHanko (PDF), asn1crypto (RFC 3161 tokens) and pyld (JSON-LD) can be made to raise almost
anything by hostile input — ``KeyError``, ``IndexError``, ``struct.error``, ``zlib.error``, their
own error classes — and which ones is an implementation detail of their version. To the learner
each such failure is one fact: that part of the file cannot be read, a 4xx or a "broken" check,
never a 500. So these boundaries, and only these, catch ``Exception``; each reports it here, so
that a parser bug stays visible to the operator.
"""

from __future__ import annotations

import logging

__all__ = ["parser_failed"]

log = logging.getLogger(__name__)


def parser_failed(exc: Exception, where: str) -> None:
    """Log that the parser failed on ``where`` of an untrusted input: the exception's type only,
    never its message (it may quote the file's bytes, a claim value among them)."""
    log.info("parser failure on untrusted input (%s): %s", where, type(exc).__name__)
