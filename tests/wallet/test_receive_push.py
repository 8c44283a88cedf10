"""The inbox push parser: typed errors only, exactly one parameter, caps (Hypothesis + cases)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.errors import PayloadTooLarge, SatchelError
from wallet.receive.push import MAX_PUSH_BYTES, parse_push

OFFER = {"credential_issuer": "https://uni.example/issuer",
         "credential_configuration_ids": ["MicroCredential"],
         "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {
             "pre-authorized_code": "abc"}}}


def test_offer_by_value_in_query_and_form() -> None:
    q = parse_push({"credential_offer": [json.dumps(OFFER)]}, "", b"")
    assert q == {"kind": "offer", "offer": OFFER, "issuer": "https://uni.example/issuer"}
    form = "credential_offer=" + json.dumps(OFFER).replace(" ", "+")
    f = parse_push({}, "application/x-www-form-urlencoded", form.encode())
    assert f["offer"]["credential_issuer"] == OFFER["credential_issuer"]


def test_offer_by_reference_is_kept_as_uri_and_never_fetched() -> None:
    p = parse_push({"credential_offer_uri": ["https://uni.example/o/1"]}, "", b"")
    assert p["kind"] == "offer" and p["issuer"] is None
    assert p["offer"].startswith("openid-credential-offer://?credential_offer_uri=https")


def test_credential_json() -> None:
    p = parse_push({}, "application/json", json.dumps({"credential": "eyJ.a.b~"}).encode())
    assert p == {"kind": "credential", "credential": "eyJ.a.b~", "issuer": None}
    ld = {"credential": {"issuer": {"id": "https://uni.example"}, "type": ["X"]}}
    assert parse_push({}, "application/json", json.dumps(ld).encode())["issuer"] == \
        "https://uni.example"


@pytest.mark.parametrize(("query", "ctype", "body"), [
    ({}, "", b""),
    ({"credential_offer": [json.dumps(OFFER)], "credential_offer_uri": ["https://a.example"]},
     "", b""),
    ({"credential_offer": [json.dumps(OFFER), json.dumps(OFFER)]}, "", b""),
    ({"credential_offer_uri": ["http://plain.example/o"]}, "", b""),
    ({"credential_offer": ["{not json"]}, "", b""),
    ({}, "application/json", b"[1]"),
    ({}, "application/json", b'{"credential": ""}'),
    ({}, "application/json", b'{"credential": "x", "more": 1}'),
    ({}, "text/plain", b"hello"),
])
def test_refused(query: dict[str, list[str]], ctype: str, body: bytes) -> None:
    with pytest.raises(SatchelError) as info:
        parse_push(query, ctype, body)
    assert info.value.status == 400


def test_size_cap() -> None:
    with pytest.raises(PayloadTooLarge):
        parse_push({}, "application/json", b" " * (MAX_PUSH_BYTES + 1))


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                     lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c,
                                                                         max_size=4),
                     max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(query=st.dictionaries(st.sampled_from(["credential_offer", "credential_offer_uri", "x"]),
                             st.lists(st.text(max_size=60), max_size=2), max_size=3),
       ctype=st.sampled_from(["", "application/json", "application/x-www-form-urlencoded",
                              "text/plain", "application/ld+json"]),
       body=st.one_of(st.binary(max_size=200), _json.map(lambda v: json.dumps(v).encode())))
def test_fuzz_only_typed_errors(query: dict[str, list[str]], ctype: str, body: bytes) -> None:
    try:
        out: Any = parse_push(query, ctype, body)
    except SatchelError as exc:
        assert 400 <= exc.status < 500
        return
    assert out["kind"] in ("offer", "credential")
