"""wallet.jsontext.loads: JSON from outside is Unicode text or a ValueError naming where."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wallet.jsontext import NotUnicodeText, is_utf8_text, loads, unicode_text

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12)
#: A lone surrogate (Hypothesis leaves category Cs out unless asked; one alone, since a high one
#: then a low one would be a pair, one character).
_NOT_TEXT = st.characters(categories=["Cs"])


@given(_JSON, st.booleans())
def test_unicode_json_parses_as_json_loads_does(value: Any, ascii_escapes: bool) -> None:
    wire = json.dumps(value, ensure_ascii=ascii_escapes)
    assert loads(wire) == value == loads(wire.encode("utf-8"))


@given(_JSON, _NOT_TEXT, st.booleans(), st.booleans())
def test_a_lone_surrogate_anywhere_is_refused_with_its_pointer(
        value: Any, lone: str, as_key: bool, ascii_escapes: bool) -> None:
    doc = {"v": value, "bad": {f"k{lone}": 1} if as_key else [f"x{lone}y"]}
    wire = json.dumps(doc, ensure_ascii=True)
    with pytest.raises(NotUnicodeText) as caught:
        loads(wire.encode("ascii") if ascii_escapes else wire)
    assert caught.value.pointer == ("/bad" if as_key else "/bad/0")
    assert is_utf8_text(str(caught.value))  # the message never carries the surrogate


@pytest.mark.parametrize("wire", [
    b'"\\\\ud800"',                 # an escaped backslash, then the letters: no surrogate
    b'"\\ud83d\\ude00"',            # a pair is one character
    '"\U0001f600"',
])
def test_what_is_text_passes(wire: str | bytes) -> None:
    assert is_utf8_text(loads(wire))


@pytest.mark.parametrize("wire", [
    b'"a\xed\xa0\x80b"',            # a surrogate's UTF-8 form is no UTF-8
    '"a\ud800b"',                   # a str that holds one
    '"\ud800"'.encode("utf-16-le", "surrogatepass"),
    b'{"a~/b": "\\udc00"}',
])
def test_what_is_not_text_is_a_value_error(wire: str | bytes) -> None:
    with pytest.raises(ValueError):
        loads(wire)


def test_kept_text_is_shown_with_replacement_characters() -> None:
    assert unicode_text("evil\ud800") == "evil\ufffd" and unicode_text("ok") == "ok"
    with pytest.raises(NotUnicodeText) as caught:
        loads(b'{"a~/b": "\\udc00"}')
    assert caught.value.pointer == "/a~0~1b"
