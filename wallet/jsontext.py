"""Reading JSON text that came from outside: a request body, a credential, a verifier's request;
and writing the JSON Satchel seals (:func:`json_bytes`).

One definition of "does not parse": bad syntax, bad UTF-8 (``UnicodeDecodeError`` is a
``ValueError``) and nesting deep enough to exhaust the recursion limit (``RecursionError``, which
``json`` raises on hostile input such as ``[[[[...]]]]``) all become the caller's typed error, a
4xx, never a 500.

Pure: no I/O.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["is_utf8_text", "json_bytes", "parse_json", "parse_json_object"]


def parse_json(text: str | bytes, error: Exception) -> Any:
    """The JSON value of ``text``; ``error`` (raised from the parser's) when it does not parse."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise error from exc


def parse_json_object(text: str | bytes, error: Exception,
                      not_object: Exception | None = None) -> dict[str, Any]:
    """:func:`parse_json`, which must give an object; ``not_object`` (default ``error``) when
    the text is JSON but not an object."""
    value = parse_json(text, error)
    if not isinstance(value, dict):
        raise not_object if not_object is not None else error
    return value


def is_utf8_text(text: str) -> bool:
    """Whether UTF-8 can encode ``text``: JSON's ``\\ud800`` escape parses to a lone surrogate,
    which is a Python string but no Unicode text."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def json_bytes(body: Any, error: Exception) -> bytes:
    """``body`` as compact UTF-8 JSON; ``error`` (raised from the encoder's) when it is no JSON
    (a type JSON lacks, NaN) or holds a string UTF-8 cannot encode (a lone surrogate;
    ``UnicodeEncodeError`` is a ``ValueError``)."""
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise error from exc
