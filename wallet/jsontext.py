"""Reading JSON text that came from outside: a request body, a credential, a verifier's request;
and writing the JSON Satchel seals (:func:`json_bytes`).

One definition of "does not parse": bad syntax, bad UTF-8 (``UnicodeDecodeError`` is a
``ValueError``) and nesting deep enough to exhaust the recursion limit (``RecursionError``, which
``json`` raises on hostile input such as ``[[[[...]]]]``) all become the caller's typed error, a
4xx, never a 500.

And one definition of "text": a JSON string (a value or a key) must be Unicode scalar values.
JSON's grammar lets ``"\ud800"`` through (RFC 8259 §8.2 leaves such a string's meaning open), and
Python parses it to a lone surrogate, a ``str`` that UTF-8 cannot encode: it would fail later,
far from the input (a key derivation, a hash, a page), as a 500. :func:`loads` refuses it where it
is parsed (:class:`NotUnicodeText`, with the JSON pointer of the string), so no lone surrogate
gets past the JSON a client sends; :func:`is_utf8_text` is the same test for text that came
another way.

Pure: no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["NotUnicodeText", "is_utf8_text", "json_bytes", "loads", "parse_json",
           "parse_json_object", "unicode_text"]

#: A surrogate code point (in a parsed string, a lone one: JSON's parser joins a pair).
_SURROGATE = re.compile(r"[\ud800-\udfff]")
#: A JSON escape of one (maybe part of a pair, maybe after an escaped backslash: then the walk
#: finds nothing).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class NotUnicodeText(ValueError):
    """JSON that parses, but a string in it (``pointer``, RFC 6901) holds a lone surrogate."""

    def __init__(self, pointer: str) -> None:
        super().__init__(f"a string at {pointer or 'the top level'} is not Unicode text "
                         "(a lone surrogate)")
        self.pointer = pointer


def is_utf8_text(text: str) -> bool:
    """Whether ``text`` is Unicode text (no lone surrogate: only then can UTF-8 encode it)."""
    return _SURROGATE.search(text) is None


def unicode_text(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD: for showing text kept before
    :func:`loads` refused it."""
    return _SURROGATE.sub("\ufffd", text)


def _pointer_token(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _lone_surrogate_at(value: Any) -> str | None:
    """The JSON pointer of a string (value or key) of ``value`` that is not Unicode text. A bad
    key is reported by its object's pointer (the pointer must not carry the surrogate)."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, v = stack.pop()
        if isinstance(v, str):
            if not is_utf8_text(v):
                return where
        elif isinstance(v, dict):
            for k, x in v.items():
                if not is_utf8_text(k):
                    return where
                stack.append((f"{where}/{_pointer_token(k)}", x))
        elif isinstance(v, list):
            stack.extend((f"{where}/{i}", x) for i, x in enumerate(v))
    return None


def loads(text: str | bytes) -> Any:
    """The JSON value of ``text``: ``ValueError`` or ``RecursionError`` when it does not parse,
    :class:`NotUnicodeText` (a ``ValueError``) when a string in it is not Unicode text.

    Bytes are decoded strictly (``json.loads`` itself decodes them with ``surrogatepass``, which
    lets a UTF-8-encoded surrogate through), so a surrogate in them can only come from a ``\\u``
    escape; a ``str`` may hold one itself. The walk for lone surrogates only runs on text that
    may hold one: most bodies cost one substring search more than ``json.loads``."""
    decoded = not isinstance(text, str)
    s = text if isinstance(text, str) else text.decode(json.detect_encoding(text))
    value = json.loads(s)
    if (("\\u" in s and _SURROGATE_ESCAPE.search(s) is not None)
            or not (decoded or s.isascii() or is_utf8_text(s))):
        where = _lone_surrogate_at(value)
        if where is not None:
            raise NotUnicodeText(where)
    return value


def parse_json(text: str | bytes, error: Exception, not_text: Exception | None = None) -> Any:
    """The JSON value of ``text``; ``error`` (raised from the parser's) when it does not parse,
    ``not_text`` (default ``error``) when a string in it is not Unicode text."""
    try:
        return loads(text)
    except NotUnicodeText as exc:
        raise (not_text if not_text is not None else error) from exc
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


def json_bytes(body: Any, error: Exception) -> bytes:
    """``body`` as compact UTF-8 JSON; ``error`` (raised from the encoder's) when it is no JSON
    (a type JSON lacks, NaN) or holds a string UTF-8 cannot encode (a lone surrogate;
    ``UnicodeEncodeError`` is a ``ValueError``)."""
    try:
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise error from exc
