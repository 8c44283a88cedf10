"""Status lists: the draft's vectors (1/2/4/8 bits, JSON and CBOR, the signed token), W3C
Bitstring lists built here independently, both formats side by side, bombs, ranges, the checker's
cache and its fail-closed behaviour."""

from __future__ import annotations

import base64
import gzip
import json
import re
import zlib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from wallet.errors import UpstreamError
from wallet.formats.model import StatusReference
from wallet.jose import InvalidJws, public_key_from_jwk, sign_compact
from wallet.ports import FetchResponse
from wallet.status_list import (
    InvalidStatusList,
    StatusChecker,
    StatusIndexOutOfRange,
    credential_from_vc_jwt,
    decode_encoded_list,
    decode_status_list,
    parse_bitstring_credential,
    verify_status_list_token,
)
from wallet.status_list.codec import inflate

SL_URI = "https://example.com/statuslists/1"
IAT = 1686920170
#: The inputs of the draft's small examples (draft body, §4.1).
ONE_BIT_16 = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
TWO_BIT_12 = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]


def read_json_vector(path: Path) -> dict[str, Any]:
    text = path.read_text()
    return json.loads(re.sub(r"\s+", "", text[text.index("{"):]))


def read_cbor_hex(path: Path) -> bytes:
    return bytes.fromhex("".join(path.read_text().split("encoded:")[-1].split()))


def mini_cbor(data: bytes) -> Any:
    """Just enough CBOR (RFC 8949) for ``{"bits": uint, "lst": bstr}``: an independent reader."""
    pos = 0

    def item() -> Any:
        nonlocal pos
        head = data[pos]
        pos += 1
        major, info = head >> 5, head & 0x1F
        if info < 24:
            arg = info
        else:
            n = {24: 1, 25: 2, 26: 4, 27: 8}[info]
            arg = int.from_bytes(data[pos:pos + n], "big")
            pos += n
        if major == 0:
            return arg
        if major in (2, 3):
            raw = data[pos:pos + arg]
            pos += arg
            return raw if major == 2 else raw.decode()
        if major == 5:
            return {item(): item() for _ in range(arg)}
        raise AssertionError(f"CBOR major type {major} not needed here")

    out = item()
    assert pos == len(data)
    return out


def pack_lsb(statuses: Mapping[int, int] | Sequence[int], bits: int, size: int) -> bytes:
    """Independent Token Status List packing: LSB first."""
    arr = bytearray((size * bits + 7) // 8)
    items = statuses.items() if isinstance(statuses, Mapping) else enumerate(statuses)
    for i, v in items:
        pos = i * bits
        arr[pos // 8] |= v << (pos % 8)
    return bytes(arr)


def pack_msb(statuses: Sequence[int], bits: int, size: int) -> bytes:
    """Independent W3C Bitstring packing: index 0 is the left-most bit."""
    bitstr = "".join(format(v, f"0{bits}b") for v in statuses) + "0" * ((size - len(statuses))
                                                                          * bits)
    bitstr += "0" * (-len(bitstr) % 8)
    return int(bitstr, 2).to_bytes(len(bitstr) // 8, "big")


# -- Token Status List vectors ------------------------------------------------------------------

def test_small_vectors_json_and_cbor(vectors: Path) -> None:
    d = vectors / "status-list"
    for name, bits, statuses, raw in (("", 1, ONE_BIT_16, "b9a3"), ("2", 2, TWO_BIT_12, "c944f9")):
        for obj in (read_json_vector(d / f"status_list_encoding{name}_json.md"),
                    mini_cbor(read_cbor_hex(d / f"status_list_encoding{name}_cbor.md"))):
            sl = decode_status_list(obj)
            assert sl.bits == bits and sl.data == bytes.fromhex(raw)
            assert sl.data == pack_lsb(statuses, bits, len(statuses))
            assert [sl.value(i) for i in range(len(statuses))] == statuses
    assert decode_status_list(read_json_vector(d / "status_list_encoding2_json.md")).state(1) \
        == "suspended"


def _draft_expectations(vectors: Path) -> list[tuple[int, str, str, dict[int, int]]]:
    text = (vectors / "status-list" / "draft-test-vectors-section.md").read_text()
    out = []
    for section in re.split(r"^## ", text, flags=re.M)[1:]:
        bits = int(re.match(r"(\d+)-bit", section).group(1))  # type: ignore[union-attr]
        statuses = {int(i): int(v, 2) for i, v in re.findall(r"status\[(\d+)\]\s*=\s*0b([01]+)",
                                                             section)}
        json_file = re.search(r"examples/(status_list_encoding\w+_json\.md)", section).group(1)  # type: ignore[union-attr]
        cbor_file = re.search(r"examples/(status_list_encoding\w+_cbor\.md)", section).group(1)  # type: ignore[union-attr]
        out.append((bits, json_file, cbor_file, statuses))
    return out


def test_long_vectors_match_the_drafts_expected_entries(vectors: Path) -> None:
    cases = _draft_expectations(vectors)
    assert [c[0] for c in cases] == [1, 2, 4, 8]
    for bits, json_file, cbor_file, statuses in cases:
        expected = pack_lsb(statuses, bits, 1 << 20)
        for obj in (read_json_vector(vectors / "status-list" / json_file),
                    mini_cbor(read_cbor_hex(vectors / "status-list" / cbor_file))):
            sl = decode_status_list(obj)
            assert sl.bits == bits and len(sl) == 1 << 20
            assert sl.data == expected  # every one of the 2^20 entries
            for i, v in statuses.items():
                assert sl.value(i) == v
            with pytest.raises(StatusIndexOutOfRange):
                sl.value(1 << 20)


def test_signed_status_list_token_verifies(vectors: Path) -> None:
    d = vectors / "status-list"
    token = d.joinpath("status_list_jwt_raw.md").read_text()
    key = public_key_from_jwk(json.loads(d.joinpath("status_list_issuer_key.public.jwk.json")
                                         .read_text()))
    tl = verify_status_list_token(token, uri=SL_URI, resolve_key=lambda h: key, now=IAT + 10)
    assert (tl.iss, tl.iat, tl.exp, tl.ttl) == ("https://example.com", IAT, 2291720170, 43200)
    assert [tl.status_list.state(i) for i in range(16)] == [
        "invalid" if s else "valid" for s in ONE_BIT_16]
    assert tl.fresh_until(IAT + 10, default_ttl=300, max_ttl=86400) == IAT + 10 + 43200
    with pytest.raises(InvalidStatusList, match="sub"):
        verify_status_list_token(token, uri="https://example.com/statuslists/2",
                                 resolve_key=lambda h: key, now=IAT + 10)
    with pytest.raises(InvalidStatusList, match="expired"):
        verify_status_list_token(token, uri=SL_URI, resolve_key=lambda h: key, now=2291720170 + 61)
    with pytest.raises(InvalidStatusList, match="future"):
        verify_status_list_token(token, uri=SL_URI, resolve_key=lambda h: key, now=IAT - 3600)
    other = ec.generate_private_key(ec.SECP256R1()).public_key()
    with pytest.raises(InvalidJws):
        verify_status_list_token(token, uri=SL_URI, resolve_key=lambda h: other, now=IAT + 10)
    with pytest.raises(InvalidJws):  # allowlist excludes ES256
        verify_status_list_token(token, uri=SL_URI, resolve_key=lambda h: key, now=IAT + 10,
                                 allowed_algs={"EdDSA"})


def _sign_token(claims: dict[str, Any], key: ec.EllipticCurvePrivateKey,
                typ: str = "statuslist+jwt") -> str:
    return sign_compact({"typ": typ, "kid": "k1"}, claims, key)


def test_token_typ_and_list_checks() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    lst = base64.urlsafe_b64encode(zlib.compress(b"\x01" * 8)).rstrip(b"=").decode()
    good = {"sub": SL_URI, "iat": IAT, "status_list": {"bits": 1, "lst": lst}}
    pub = key.public_key()
    assert verify_status_list_token(_sign_token(good, key), uri=SL_URI, resolve_key=lambda h: pub,
                                    now=IAT).status_list.state(0) == "invalid"
    with pytest.raises(InvalidJws):
        verify_status_list_token(_sign_token(good, key, "JWT"), uri=SL_URI,
                                 resolve_key=lambda h: pub, now=IAT)
    for bad in ({"bits": 3, "lst": lst}, {"bits": True, "lst": lst}, {"bits": 1},
                {"bits": 1, "lst": "!!"}, {"bits": 1, "lst": base64.urlsafe_b64encode(
                    b"not zlib").decode()}, "x"):
        with pytest.raises(InvalidStatusList):
            verify_status_list_token(_sign_token({**good, "status_list": bad}, key), uri=SL_URI,
                                     resolve_key=lambda h: pub, now=IAT)
    with pytest.raises(InvalidStatusList):  # iat is required
        verify_status_list_token(_sign_token({k: v for k, v in good.items() if k != "iat"}, key),
                                 uri=SL_URI, resolve_key=lambda h: pub, now=IAT)


def test_application_specific_values_are_unknown() -> None:
    sl = decode_status_list({"bits": 8, "lst": base64.urlsafe_b64encode(
        zlib.compress(bytes([0, 1, 2, 3, 0x0F, 0xFF]))).rstrip(b"=").decode()})
    assert [sl.state(i) for i in range(6)] == ["valid", "invalid", "suspended", "unknown",
                                                "unknown", "unknown"]


def test_bombs_are_refused() -> None:
    bomb = zlib.compress(b"\0" * (64 << 20), 9)
    assert len(bomb) < 100_000
    with pytest.raises(InvalidStatusList, match="size limit"):
        decode_status_list({"bits": 1, "lst": base64.urlsafe_b64encode(bomb).decode()})
    with pytest.raises(InvalidStatusList, match="size limit"):
        decode_encoded_list("u" + base64.urlsafe_b64encode(gzip.compress(b"\0" * (64 << 20)))
                            .rstrip(b"=").decode())
    with pytest.raises(InvalidStatusList, match="size limit"):  # a custom, smaller bound
        inflate(zlib.compress(b"\0" * 2000), gzip=False, max_size=1000)
    with pytest.raises(InvalidStatusList, match="truncated"):
        inflate(zlib.compress(b"\1" * 2000)[:-3], gzip=False)
    with pytest.raises(InvalidStatusList, match="trailing"):
        inflate(zlib.compress(b"\1" * 20) + b"junk", gzip=False)


def test_out_of_range_index() -> None:
    sl = decode_status_list({"bits": 2, "lst": base64.urlsafe_b64encode(
        zlib.compress(b"\xff\xff")).rstrip(b"=").decode()})
    assert len(sl) == 8 and sl.value(7) == 3
    for idx in (8, 9, 1 << 40, -1):
        with pytest.raises(StatusIndexOutOfRange):
            sl.value(idx)


@settings(max_examples=150, deadline=None)
@given(st.sampled_from([1, 2, 4, 8]).flatmap(
    lambda b: st.tuples(st.just(b), st.lists(st.integers(0, (1 << b) - 1), min_size=1,
                                             max_size=300))))
def test_token_list_roundtrip_against_independent_packing(case: tuple[int, list[int]]) -> None:
    bits, statuses = case
    packed = pack_lsb(statuses, bits, len(statuses))
    sl = decode_status_list({"bits": bits, "lst": base64.urlsafe_b64encode(
        zlib.compress(packed)).rstrip(b"=").decode()})
    assert [sl.value(i) for i in range(len(statuses))] == statuses


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_lists_fail_typed(blob: bytes) -> None:
    """Whatever the bytes, the decoders either decode or raise the typed error, nothing else."""
    b64 = base64.urlsafe_b64encode(blob).rstrip(b"=").decode()
    for call in (lambda: decode_status_list({"bits": 1, "lst": b64}),
                 lambda: decode_encoded_list("u" + b64)):
        try:
            call()
        except InvalidStatusList:
            pass


# -- W3C Bitstring Status List ------------------------------------------------------------------

MIN_ENTRIES = 131_072


def encoded_list(statuses: Sequence[int], bits: int = 1, size: int = MIN_ENTRIES,
                 prefix: str = "u") -> str:
    raw = pack_msb(statuses, bits, size)
    return prefix + base64.urlsafe_b64encode(gzip.compress(raw)).rstrip(b"=").decode()


def bitstring_vc(statuses: Sequence[int], purpose: str | list[str] = "revocation", *,
                 legacy: bool = False, bits: int = 1, size: int = MIN_ENTRIES,
                 **extra: Any) -> dict[str, Any]:
    kind = "StatusList2021" if legacy else "BitstringStatusList"
    subject: dict[str, Any] = {"id": "https://issuer.example/status/3#list", "type": kind,
                               "statusPurpose": purpose,
                               "encodedList": encoded_list(statuses, bits, size,
                                                           "" if legacy else "u")}
    subject.update(extra.pop("subject", {}))
    return {"@context": ["https://www.w3.org/ns/credentials/v2"],
            "id": "https://issuer.example/status/3", "type": ["VerifiableCredential",
                                                              kind + "Credential"],
            "issuer": "did:example:12345", "validFrom": "2024-01-01T00:00:00Z",
            "credentialSubject": subject, **extra}


NOW = 1_750_000_000.0


def test_bitstring_revocation_and_suspension() -> None:
    statuses = ONE_BIT_16
    bl = parse_bitstring_credential(bitstring_vc(statuses), now=NOW, purpose="revocation")
    assert bl.entries() == MIN_ENTRIES and not bl.legacy
    assert [bl.state(i, "revocation") for i in range(16)] == [
        "invalid" if s else "valid" for s in statuses]
    sus = parse_bitstring_credential(bitstring_vc(statuses, "suspension"), now=NOW)
    assert sus.state(0, "suspension") == "suspended" and sus.state(1, "suspension") == "valid"
    with pytest.raises(InvalidStatusList, match="statusPurpose"):
        parse_bitstring_credential(bitstring_vc(statuses), now=NOW, purpose="suspension")
    with pytest.raises(InvalidStatusList, match="statusPurpose"):
        bl.state(0, "suspension")
    both = parse_bitstring_credential(bitstring_vc(statuses, ["revocation", "suspension"]),
                                      now=NOW, purpose="suspension")
    assert both.state(0, "suspension") == "suspended"
    with pytest.raises(StatusIndexOutOfRange):
        bl.value(MIN_ENTRIES)


def test_status_list_2021_is_accepted_the_same_way() -> None:
    bl = parse_bitstring_credential(bitstring_vc([0, 0, 1], legacy=True), now=NOW,
                                    purpose="revocation")
    assert bl.legacy and bl.state(2, "revocation") == "invalid" and bl.state(1, "revocation") \
        == "valid"
    prefixed = bitstring_vc([0, 0, 1], legacy=True)
    prefixed["credentialSubject"]["encodedList"] = "u" + prefixed["credentialSubject"][
        "encodedList"]
    assert parse_bitstring_credential(prefixed, now=NOW).value(2) == 1
    unprefixed = bitstring_vc([1])
    unprefixed["credentialSubject"]["encodedList"] = unprefixed["credentialSubject"][
        "encodedList"][1:]
    with pytest.raises(InvalidStatusList, match="multibase"):
        parse_bitstring_credential(unprefixed, now=NOW)


def test_bitstring_checks() -> None:
    with pytest.raises(InvalidStatusList, match="131,072"):
        parse_bitstring_credential(bitstring_vc([1], size=MIN_ENTRIES - 8), now=NOW)
    with pytest.raises(InvalidStatusList, match="expired"):
        parse_bitstring_credential(bitstring_vc([1], validUntil="2025-01-01T00:00:00Z"), now=NOW)
    with pytest.raises(InvalidStatusList, match="not valid yet"):
        parse_bitstring_credential(bitstring_vc([1], validFrom="2099-01-01T00:00:00Z"), now=NOW)
    wrong = bitstring_vc([1])
    wrong["type"] = ["VerifiableCredential"]
    with pytest.raises(InvalidStatusList):
        parse_bitstring_credential(wrong, now=NOW)
    with pytest.raises(InvalidStatusList, match="statusMessage"):
        parse_bitstring_credential(bitstring_vc([1]), now=NOW, status_size=2)
    messages = [{"status": f"0x{i}", "message": m} for i, m in enumerate("abcd")]
    bl = parse_bitstring_credential(bitstring_vc([2, 1, 3], "message", bits=2, size=MIN_ENTRIES),
                                    now=NOW, status_size=2, status_message=messages)
    assert [bl.value(i, 2) for i in range(4)] == [2, 1, 3, 0]
    assert bl.state(3, "message", 2) == "valid" and bl.state(0, "message", 2) == "unknown"
    ttl = parse_bitstring_credential(bitstring_vc([1], subject={"ttl": 60_000},
                                                  validUntil="2025-06-15T16:00:00Z"), now=NOW)
    assert ttl.fresh_until(NOW, default_ttl=300, max_ttl=86400) == NOW + 60
    assert ttl.fresh_until(NOW, default_ttl=300, max_ttl=30) == NOW + 30


def test_both_formats_side_by_side() -> None:
    """Same logical statuses, different bytes: compression and bit order differ."""
    statuses = ONE_BIT_16 + [0] * (MIN_ENTRIES - 16)
    token_bytes = pack_lsb(statuses, 1, len(statuses))
    w3c_bytes = pack_msb(statuses, 1, len(statuses))
    assert token_bytes[:2] == bytes.fromhex("b9a3") and w3c_bytes[:2] == bytes.fromhex("9dc5")
    token_list = decode_status_list({"bits": 1, "lst": base64.urlsafe_b64encode(
        zlib.compress(token_bytes)).rstrip(b"=").decode()})
    w3c_list = parse_bitstring_credential(bitstring_vc(ONE_BIT_16), now=NOW)
    assert token_list.data != w3c_list.data
    for i in range(64):
        assert token_list.value(i) == w3c_list.value(i) == statuses[i]
    # reading one format with the other's bit order gives wrong answers
    swapped = parse_bitstring_credential(
        bitstring_vc([]) | {"credentialSubject": {
            "type": "BitstringStatusList", "statusPurpose": "revocation",
            "encodedList": "u" + base64.urlsafe_b64encode(gzip.compress(token_bytes)).rstrip(
                b"=").decode()}}, now=NOW)
    assert [swapped.value(i) for i in range(16)] != ONE_BIT_16
    # and the W3C list is GZIP, not ZLIB
    with pytest.raises(InvalidStatusList):
        decode_status_list({"bits": 1, "lst": w3c_list_gzip_b64(w3c_bytes)})


def w3c_list_gzip_b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(gzip.compress(raw)).rstrip(b"=").decode()


def test_vc_jwt_status_list_credential() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    vc = bitstring_vc([0, 1])
    token = sign_compact({"typ": "JWT"}, {"iss": "did:example:12345", "exp": int(NOW) + 600,
                                          "vc": vc}, key)
    cred = credential_from_vc_jwt(token, resolve_key=lambda h: key.public_key(), now=NOW)
    bl = parse_bitstring_credential(cred, now=NOW, purpose="revocation")
    assert bl.state(1, "revocation") == "invalid"
    assert bl.fresh_until(NOW, default_ttl=3600, max_ttl=86400) == NOW + 600  # JWT exp bounds it
    with pytest.raises(InvalidStatusList):
        credential_from_vc_jwt(token, resolve_key=lambda h: key.public_key(), now=NOW + 700)
    v2 = sign_compact({"typ": "vc+jwt"}, vc, key)
    assert credential_from_vc_jwt(v2, resolve_key=lambda h: key.public_key(), now=NOW)[
        "credentialSubject"]["statusPurpose"] == "revocation"


@pytest.mark.parametrize("literal", ["1e400", str(10**400), str(-10**400)])
def test_absurd_numbers_in_status_lists_are_typed_errors(literal: str) -> None:
    """1e400 parses to infinity and 10**400 overflows float(): InvalidStatusList, not a 500."""
    key = ec.generate_private_key(ec.SECP256R1())
    lst = base64.urlsafe_b64encode(zlib.compress(b"\x01" * 8)).rstrip(b"=").decode()
    good = {"sub": SL_URI, "iat": IAT, "status_list": {"bits": 1, "lst": lst}}
    for name in ("iat", "exp", "ttl"):
        text = json.dumps({**good, name: "__n__"}).replace('"__n__"', literal)
        token = sign_compact({"typ": "statuslist+jwt"}, text.encode(), key)
        with pytest.raises(InvalidStatusList):
            verify_status_list_token(token, uri=SL_URI, resolve_key=lambda h: key.public_key(),
                                     now=IAT)
    vc = bitstring_vc([1], subject={"ttl": "__n__"})
    with pytest.raises(InvalidStatusList):
        parse_bitstring_credential(json.loads(json.dumps(vc).replace('"__n__"', literal)), now=NOW)
    for name in ("exp", "nbf"):
        text = json.dumps({"vc": bitstring_vc([1]), name: "__n__"}).replace('"__n__"', literal)
        with pytest.raises(InvalidStatusList):
            credential_from_vc_jwt(sign_compact({"typ": "JWT"}, text.encode(), key),
                                   resolve_key=lambda h: key.public_key(), now=NOW)


# -- the checker ---------------------------------------------------------------------------------

class FakeFetcher:
    """An in-memory :class:`wallet.ports.Fetcher` recording what was asked."""

    def __init__(self, routes: dict[str, tuple[int, str, bytes]]) -> None:
        self.routes = routes
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    async def get(self, url: str, *, accept: Sequence[str] = ("application/json",),
                  headers: Mapping[str, str] | None = None,
                  max_bytes: int | None = None) -> FetchResponse:
        self.calls.append((url, tuple(accept)))
        if url not in self.routes:
            raise UpstreamError("connection refused")
        status, ctype, body = self.routes[url]
        return FetchResponse(url, status, ctype, body)

    async def post_form(self, url: str, data: Mapping[str, str], **kw: Any) -> FetchResponse:
        raise AssertionError("not used")

    async def post_json(self, url: str, body: Any, **kw: Any) -> FetchResponse:
        raise AssertionError("not used")


class Clock:
    """A clock set in epoch seconds (``t``), read as the aware datetime every clock returns."""

    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> datetime:
        return datetime.fromtimestamp(self.t, UTC)


@pytest.fixture
def issuer_key(vectors: Path) -> Any:
    return public_key_from_jwk(json.loads((vectors / "status-list" /
                                           "status_list_issuer_key.public.jwk.json").read_text()))


async def test_checker_token_status_list_with_cache(vectors: Path, issuer_key: Any) -> None:
    token = (vectors / "status-list" / "status_list_jwt_raw.md").read_text().encode()
    fetcher = FakeFetcher({SL_URI: (200, "application/statuslist+jwt", token)})
    seen: list[tuple[str | None, str | None]] = []

    async def resolve(header: Mapping[str, Any], claims: Mapping[str, Any]) -> Any:
        seen.append((header.get("kid"), claims.get("iss")))
        return issuer_key

    clock = Clock(IAT + 100)
    checker = StatusChecker(fetcher, resolve, clock=clock)
    ref = lambda i: StatusReference("token_status_list", SL_URI, i)  # noqa: E731
    assert [await checker.check(ref(i)) for i in range(4)] == ["invalid", "valid", "valid",
                                                              "invalid"]
    assert fetcher.calls == [(SL_URI, ("application/statuslist+jwt",))]
    assert seen == [("12", "https://example.com")]
    assert await checker.check(ref(16)) == "unknown"  # out of range: rejected, never valid
    clock.t = IAT + 100 + 43199
    await checker.check(ref(0))
    assert len(fetcher.calls) == 1  # still within ttl
    clock.t = IAT + 100 + 43201
    assert await checker.check(ref(0)) == "invalid"
    assert len(fetcher.calls) == 2  # ttl passed: fetched again


async def test_checker_cache_honours_exp() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    lst = base64.urlsafe_b64encode(zlib.compress(b"\x02")).decode()
    token = _sign_token({"sub": SL_URI, "iat": IAT, "exp": IAT + 50, "ttl": 3600,
                         "status_list": {"bits": 1, "lst": lst}}, key).encode()
    fetcher = FakeFetcher({SL_URI: (200, "application/statuslist+jwt", token)})
    clock = Clock(IAT)
    checker = StatusChecker(fetcher, lambda h, c: key.public_key(), clock=clock)
    ref = StatusReference("token_status_list", SL_URI, 1)
    assert await checker.check(ref) == "invalid"
    clock.t = IAT + 49
    assert await checker.check(ref) == "invalid" and len(fetcher.calls) == 1
    clock.t = IAT + 51  # exp passed: fetched again (the token is still inside the 60 s leeway)
    assert await checker.check(ref) == "invalid" and len(fetcher.calls) == 2
    clock.t = IAT + 200  # now the expired token is refused -> unknown, never the stale answer
    assert await checker.check(ref) == "unknown" and len(fetcher.calls) == 3


async def test_checker_fails_closed(vectors: Path, issuer_key: Any) -> None:
    token = (vectors / "status-list" / "status_list_jwt_raw.md").read_text().encode()
    other = "https://example.com/statuslists/2"
    fetcher = FakeFetcher({
        SL_URI: (200, "application/statuslist+jwt", token),
        other: (200, "application/statuslist+jwt", token),  # sub does not match this uri
        "https://example.com/404": (404, "application/json", b"{}"),
        "https://example.com/garbage": (200, "application/statuslist+jwt", b"not a jwt"),
    })
    clock = Clock(IAT + 100)
    wrong_key = ec.generate_private_key(ec.SECP256R1()).public_key()

    def ok(h: Any, c: Any) -> Any:
        return issuer_key

    for resolver, uri in ((ok, other), (ok, "https://example.com/404"),
                          (ok, "https://example.com/garbage"), (ok, "https://down.example/x"),
                          (lambda h, c: wrong_key, SL_URI)):
        checker = StatusChecker(fetcher, resolver, clock=clock)
        assert await checker.check(StatusReference("token_status_list", uri, 0)) == "unknown"

    def refuses(h: Any, c: Any) -> Any:
        raise InvalidJws("no key for this issuer")

    checker = StatusChecker(fetcher, refuses, clock=clock)
    assert await checker.check(StatusReference("token_status_list", SL_URI, 1)) == "unknown"


async def test_checker_bitstring(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    vc = bitstring_vc([0, 1], subject={"ttl": 120_000})
    jwt_uri, json_uri = "https://issuer.example/status/jwt", "https://issuer.example/status/ld"
    fetcher = FakeFetcher({
        jwt_uri: (200, "application/vc+jwt", sign_compact({"typ": "vc+jwt"}, vc, key).encode()),
        json_uri: (200, "application/vc+ld+json", json.dumps(vc).encode()),
    })
    clock = Clock(NOW)
    checker = StatusChecker(fetcher, lambda h, c: key.public_key(), clock=clock)
    ref = StatusReference("bitstring_status_list", jwt_uri, 1, "revocation")
    assert await checker.check(ref) == "invalid"
    assert await checker.check(StatusReference("bitstring_status_list", jwt_uri, 0,
                                               "revocation")) == "valid"
    assert await checker.check(StatusReference("bitstring_status_list", jwt_uri, 0,
                                               "suspension")) == "unknown"  # purpose mismatch
    assert await checker.check(StatusReference("bitstring_status_list", jwt_uri, 0)) == "unknown"
    assert "application/vc+jwt" in fetcher.calls[0][1]
    clock.t = NOW + 119
    await checker.check(ref)
    assert len(fetcher.calls) == 1  # ttl is in milliseconds: 120 s
    clock.t = NOW + 121
    await checker.check(ref)
    assert len(fetcher.calls) == 2
    # an unsigned/unchecked JSON-LD list is never trusted without a Data Integrity verifier
    json_ref = StatusReference("bitstring_status_list", json_uri, 1, "revocation")
    assert await checker.check(json_ref) == "unknown"
    verified: list[str] = []

    async def ld_ok(doc: Mapping[str, Any]) -> str:
        verified.append(doc["id"])
        return "did:example:12345"  # the identifier the proof's key is bound to

    checker2 = StatusChecker(fetcher, lambda h, c: key.public_key(), clock=clock,
                             ld_verifier=ld_ok)
    assert await checker2.check(json_ref, issuer="did:example:12345") == "invalid"
    assert verified == [vc["id"]]
    checker3 = StatusChecker(fetcher, lambda h, c: key.public_key(), clock=clock,
                             ld_verifier=lambda d: None)
    assert await checker3.check(json_ref) == "unknown"


async def test_checker_bitstring_signer_is_the_key_not_the_claim() -> None:
    """A list counts for the issuer its key is bound to, whatever issuer it names itself."""
    key = ec.generate_private_key(ec.SECP256R1())
    vc = bitstring_vc([0, 1])  # names did:example:12345 as its issuer
    ld_uri, jwt_uri = "https://issuer.example/status/ld", "https://issuer.example/status/jwt"
    fetcher = FakeFetcher({
        ld_uri: (200, "application/vc+ld+json", json.dumps(vc).encode()),
        # VC-JWT 1.1: the key is resolved from iss (another party), the vc names the victim
        jwt_uri: (200, "application/vc+jwt", sign_compact(
            {"typ": "JWT"}, {"iss": "did:example:forger", "vc": vc}, key).encode()),
    })
    checker = StatusChecker(fetcher, lambda h, c: key.public_key(), clock=Clock(NOW),
                            ld_verifier=lambda d: "did:example:forger")
    for uri in (ld_uri, jwt_uri):
        ref = StatusReference("bitstring_status_list", uri, 1, "revocation")
        outcome = await checker.check_entry(ref, issuer="did:example:12345")
        assert (outcome.state, outcome.problem) == ("unknown", "status_list_not_from_issuer")
    # the same JWT list read for the party that signed it is not the victim's either: its
    # credential names another issuer, so it is refused for everyone
    ref = StatusReference("bitstring_status_list", jwt_uri, 1, "revocation")
    assert await checker.check(ref, issuer="did:example:forger") == "unknown"


async def test_checker_cache_is_bounded() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    lst = base64.urlsafe_b64encode(zlib.compress(b"\x01")).decode()
    uris = [f"https://example.com/statuslists/{i}" for i in range(3)]
    fetcher = FakeFetcher({u: (200, "application/statuslist+jwt", _sign_token(
        {"sub": u, "iat": IAT, "ttl": 3600, "status_list": {"bits": 1, "lst": lst}}, key).encode())
        for u in uris})
    checker = StatusChecker(fetcher, lambda h, c: key.public_key(), clock=Clock(IAT),
                            cache_size=2)
    for u in uris + uris[1:]:
        assert await checker.check(StatusReference("token_status_list", u, 0)) == "invalid"
    assert len(fetcher.calls) == 3  # 1 and 2 stayed cached
    await checker.check(StatusReference("token_status_list", uris[0], 0))
    assert len(fetcher.calls) == 4  # 0 had been evicted
    checker.invalidate(uris[0])
    await checker.check(StatusReference("token_status_list", uris[0], 0))
    assert len(fetcher.calls) == 5


async def test_concurrent_checks_fetch_once() -> None:
    import asyncio

    key = ec.generate_private_key(ec.SECP256R1())
    lst = base64.urlsafe_b64encode(zlib.compress(b"\x05")).decode()
    token = _sign_token({"sub": SL_URI, "iat": IAT, "status_list": {"bits": 1, "lst": lst}}, key)
    fetcher = FakeFetcher({SL_URI: (200, "application/statuslist+jwt", token.encode())})
    checker = StatusChecker(fetcher, lambda h, c: key.public_key(), clock=Clock(IAT))
    states = await asyncio.gather(*(checker.check(StatusReference("token_status_list", SL_URI,
                                                                  i % 4)) for i in range(20)))
    assert states[:4] == ["invalid", "valid", "invalid", "valid"]
    assert len(fetcher.calls) == 1
