"""The fast paths of SD-JWT processing give exactly what the plain definitions give.

Parsing, digests, base64url, the JWK key cache and the choice of Disclosures to present were made
faster (bench/bench_sd_jwt.py); each fast path is checked here against a plain, obviously-correct
version: the per-Disclosure decoder, hashlib + base64, ``public_key_from_jwk`` and the
"on the way to or beneath a chosen path" definition (RFC 9901 §4.2.6, §7.2).
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wallet.sd_jwt_support import (
    BASE,
    CASES,
    ELEM,
    FAMILY,
    GIVEN,
    HOLDER,
    NOW,
    Case,
    make,
    reference_issue,
)
from tests.wallet.sd_jwt_support import verify as verify_base
from wallet.errors import BadInput
from wallet.formats.sd_jwt import (
    InvalidDisclosure,
    UnverifiedSdJwt,
    build_presentation,
    decode_disclosure,
    digest,
    select_disclosures,
    static_key,
    verify_key_binding,
    verify_sd_jwt,
)
from wallet.formats.sd_jwt.parse import _decode_all
from wallet.formats.sd_jwt.verify import _digests
from wallet.jose import (
    b64url_decode,
    b64url_encode,
    public_key_from_jwk,
    public_key_from_jwk_cached,
)

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


#: Disclosure-like strings: valid ones, and every way of being almost valid.
DISCLOSURES = st.one_of(
    st.builds(lambda s, n, v: _b64(json.dumps([s, n, v])), st.text(), st.text(), JSON_VALUES),
    st.builds(lambda s, v: _b64(json.dumps([s, v])), st.text(), JSON_VALUES),
    st.builds(lambda s, n: _b64(json.dumps([s, n, 1])), st.text(), st.sampled_from(["_sd", "..."])),
    st.builds(lambda v: _b64(json.dumps(v)), JSON_VALUES),  # wrong shapes
    st.builds(lambda t: _b64(t), st.sampled_from(
        [' ["s", "n", 1] ', '["s", "n", NaN]', '["s", "n", 1]]', '["s", "n"', "", '["s"]',
         '[1, "n", 2]', '["s", 2, 3]', '["s", "n", 1, 2]', '\ufeff["s", 1]'])),
    st.text(alphabet="ABCDEFGHabcdefgh0123456789-_+/= !\n~é", max_size=12),
    st.builds(lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode(), st.binary(max_size=20)),
)


def _one_by_one(encoded: list[str]) -> tuple[Any, ...] | type[Exception]:
    try:
        return tuple(decode_disclosure(d) for d in encoded)
    except InvalidDisclosure as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(st.lists(DISCLOSURES, max_size=6))
def test_batch_decoding_is_the_one_by_one_decoding(encoded: list[str]) -> None:
    encoded = [d for d in encoded if "~" not in d]  # the serialization's separator
    expected = _one_by_one(encoded)
    try:
        got: tuple[Any, ...] | type[Exception] = _decode_all(encoded)
    except InvalidDisclosure as exc:
        got = type(exc)
    assert got == expected


def test_batch_decoding_takes_the_plain_path_for_what_it_does_not_accept() -> None:
    padded_json = _b64(' ["salt", "name", "v"] ')  # whitespace around the JSON text is allowed
    assert _decode_all([padded_json])[0].name == "name"
    with pytest.raises(InvalidDisclosure):
        _decode_all([_b64('["salt", "name", "v"]'), _b64('["salt", "v"]') + "="])


@settings(max_examples=100, deadline=None)
@given(st.lists(st.builds(lambda s, v: _b64(json.dumps([s, "n", v])), st.text(), st.text()),
                max_size=8), st.sampled_from(["sha-256", "sha-384", "sha-512"]))
def test_batched_digests_are_the_digests(encoded: list[str], alg: str) -> None:
    disclosures = tuple(decode_disclosure(d) for d in encoded)
    name = {"sha-256": "sha256", "sha-384": "sha384", "sha-512": "sha512"}[alg]
    plain = [base64.urlsafe_b64encode(hashlib.new(name, d.encode()).digest()).rstrip(b"=").decode()
             for d in encoded]
    assert _digests(alg, disclosures) == plain == [digest(alg, d) for d in encoded]


@given(st.binary(max_size=80))
def test_b64url_round_trip_is_plain_base64url(data: bytes) -> None:
    text = b64url_encode(data)
    assert text == base64.urlsafe_b64encode(data).rstrip(b"=").decode()
    assert b64url_decode(text) == data


def _plain_b64url_decode(text: str) -> bytes | None:
    """The obviously-correct decoder: the url alphabet only, no padding, stdlib strict decoding."""
    if not text.isascii() or any(c in text for c in "+/="):
        return None
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except ValueError:
        return None


#: Around and above the length where long values take the SIMD decoder, with every kind of bad
#: character a JWT segment could carry.
LONG_B64 = st.one_of(
    st.text(alphabet="ABCxyz019-_", min_size=250, max_size=400),
    st.text(alphabet="ABCxyz019-_+/= \n!é", min_size=250, max_size=400),
)


@given(st.binary(min_size=180, max_size=300))
def test_long_b64url_values_round_trip(data: bytes) -> None:
    assert b64url_decode(b64url_encode(data)) == data


@given(LONG_B64)
def test_long_b64url_decoding_is_the_plain_decoding(text: str) -> None:
    expected = _plain_b64url_decode(text)
    if expected is None:
        with pytest.raises(BadInput):
            b64url_decode(text)
    else:
        assert b64url_decode(text) == expected


@pytest.mark.parametrize("bad", ["YQ=", "YWJj+", "YWJj/", "YW Jj", "YWJj\n", "YW!j", "Y", "YWJjZ",
                                 "YWé", "YWJ\x00"])
def test_b64url_decode_refuses_anything_but_the_url_alphabet(bad: str) -> None:
    with pytest.raises(BadInput):
        b64url_decode(bad)


def test_cached_jwk_keys_are_the_keys() -> None:
    jwk = {"kty": "EC", "crv": "P-256", "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
           "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"}
    key = public_key_from_jwk_cached(jwk)
    assert key == public_key_from_jwk(jwk)
    assert public_key_from_jwk_cached({**jwk, "kid": "k1", "use": "sig"}) is key
    # a bad JWK is refused every time (failures are not cached as keys)
    bad = {**jwk, "y": jwk["x"]}  # not on the curve
    for _ in range(2):
        with pytest.raises(BadInput):
            public_key_from_jwk_cached(bad)
    with pytest.raises(BadInput):
        public_key_from_jwk_cached({**jwk, "x": ["not", "a", "string"]})
    with pytest.raises(BadInput):
        public_key_from_jwk_cached("not a JWK")  # type: ignore[arg-type]


def _plain_selection(verified: Any, patterns: list[tuple[Any, ...]]) -> list[str]:
    """Every record on the way to or beneath a pattern (``None``: any index), its parents too."""

    def prefix(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
        return len(a) <= len(b) and all(
            (x is None and type(y) is int) or (x == y and type(x) is type(y))
            for x, y in zip(a, b, strict=False))

    wanted: set[str] = set()
    for rec in verified.disclosures:
        if any(prefix(p, rec.path) or prefix(rec.path, p) for p in patterns):
            wanted.add(rec.digest)
            wanted.update(rec.parents)
    return [r.disclosure.encoded for r in verified.disclosures if r.digest in wanted]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_selection_is_the_plain_definition(case: Case) -> None:
    issued = reference_issue(case, decoys=True)
    verified = verify_sd_jwt(UnverifiedSdJwt.parse(issued, reject_kb=True),
                             issuer_key_resolver=static_key(public_key_from_jwk(case.issuer_jwk)),
                             now=NOW)
    paths = sorted({p[:i] for p in verified.paths for i in range(1, len(p) + 1)}, key=repr)
    wild = [tuple(None if type(s) is int else s for s in p) for p in paths if any(
        type(s) is int for s in p)]
    rng = random.Random(case.id)
    for _ in range(12):
        chosen = rng.sample(paths + wild, k=min(len(paths + wild), rng.randint(1, 4)))
        assert select_disclosures(verified, chosen) == _plain_selection(verified, chosen), chosen


@pytest.mark.parametrize("aud, nonce", [("https://verifier.example.org", "n-0S6_WzA2Mj"),
                                        ('x509_san_dns:vérifier.example "q" \\', "nonce\u2028\x01é")])
def test_kb_jwt_payload_is_compact_json(aud: str, nonce: str) -> None:
    verified = verify_base(make(BASE, [GIVEN, FAMILY, ELEM]))
    presentation = build_presentation(verified, [("given_name",)], holder_key=HOLDER, aud=aud,
                                      nonce=nonce, iat=1744743394)
    kb = presentation.rsplit("~", 1)[1]
    header, payload, _ = (b64url_decode(p) for p in kb.split("."))
    assert header == b'{"alg":"ES256","typ":"kb+jwt"}'
    claims = json.loads(payload)
    assert payload == json.dumps(claims, separators=(",", ":")).encode()
    assert list(claims) == ["iat", "aud", "nonce", "sd_hash"]
    assert claims["aud"] == aud and claims["nonce"] == nonce and claims["iat"] == 1744743394
    back = verify_base(presentation)
    assert verify_key_binding(back, expected_aud=aud, expected_nonce=nonce,
                              now=datetime.fromtimestamp(1744743394, UTC))["nonce"] == nonce
