"""Comparing a secret someone sent with the one expected, in constant time, whatever it holds.

``hmac.compare_digest`` raises TypeError on a ``str`` that is not ASCII, and ``str.encode()``
raises on lone surrogates, which is what aiohttp keeps of a header's bytes that are not text and
what JSON's ``\\ud800`` escapes decode to. Either made a stranger's odd token a 500 (audit F2, F4,
F11); both sides are encoded here with ``surrogatepass``, so any text compares and only the same
text is equal.
"""

from __future__ import annotations

import hmac

__all__ = ["same_text"]


def same_text(given: object, expected: str) -> bool:
    """Whether ``given`` is the string ``expected`` (False for anything not a ``str``), compared
    in time that does not depend on where they differ."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))
