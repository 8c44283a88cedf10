"""Mutations of valid SD-JWTs and JWTs: each is rejected with a typed error, and nothing but a
:class:`~wallet.errors.SatchelError` ever escapes parsing or verification (RFC 9901 §7, §9)."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from tests.wallet.sd_jwt_support import (
    BASE,
    ELEM,
    FAMILY,
    GIVEN,
    HEADER,
    HOLDER,
    HOLDER_JWK,
    ISSUER,
    ISSUER_JWK,
    ISSUER_PUB,
    NOW,
    T,
    dig,
    disclosure,
    make,
    revealed,
    sd_paths,
    strip_sd,
    verify,
)
from wallet.errors import SatchelError
from wallet.formats.sd_jwt import (
    ClaimNameCollision,
    DisclosedProtectedClaim,
    DuplicateDigest,
    DuplicateDisclosure,
    Expired,
    ForbiddenClaimName,
    InvalidDisclosure,
    InvalidIssuerJwt,
    InvalidKeyBinding,
    InvalidSdJwtVc,
    InvalidSdPayload,
    InvalidTimeClaim,
    KeyBindingNotAllowed,
    MalformedSdJwt,
    MisplacedDisclosure,
    NotYetValid,
    UnknownClaimPath,
    UnreferencedDisclosure,
    UnsupportedHashAlgorithm,
    UnverifiedSdJwt,
    WrongHolderKey,
    build_presentation,
    static_key,
    verify_key_binding,
    verify_sd_jwt,
)
from wallet.formats.sd_jwt_vc import ResolvedIssuerKey, verify_sd_jwt_vc
from wallet.jose import b64url_encode, private_key_from_jwk, public_jwk, sign_compact

B64URL_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def valid() -> str:
    return make(BASE, [GIVEN, FAMILY, ELEM])


def test_the_base_is_valid() -> None:
    v = verify(valid())
    assert v.claims["given_name"] == "Ada" and v.claims["nationalities"] == ["DE", "FR"]
    assert set(v.paths) == {("given_name",), ("family_name",), ("nationalities", 0)}
    assert "_sd" not in v.claims and "_sd_alg" not in v.claims


# ---------------------------------------------------------------- named mutations


@given(st.data())
def test_flipped_digest(data: st.DataObject) -> None:
    payload = json.loads(json.dumps(BASE))
    i = data.draw(st.integers(0, 1))  # a digest that has a disclosure
    real = sorted([dig(GIVEN), dig(FAMILY)])[i]
    pos = data.draw(st.integers(0, len(real) - 1))
    ch = data.draw(st.sampled_from(B64URL_ALPHABET))
    assume(real[pos] != ch)
    payload["_sd"] = [real[:pos] + ch + real[pos + 1:] if d == real else d for d in payload["_sd"]]
    with pytest.raises(UnreferencedDisclosure):
        verify(make(payload, [GIVEN, FAMILY, ELEM]))


def test_extra_unreferenced_disclosure() -> None:
    with pytest.raises(UnreferencedDisclosure):
        verify(make(BASE, [GIVEN, FAMILY, ELEM, disclosure("s", "email", "a@b.c")]))


def test_duplicate_disclosure() -> None:
    with pytest.raises(DuplicateDisclosure):
        verify(make(BASE, [GIVEN, FAMILY, GIVEN, ELEM]))


@pytest.mark.parametrize("where", ["same-_sd", "nested", "array"])
def test_duplicate_digest(where: str) -> None:
    payload = json.loads(json.dumps(BASE))
    if where == "same-_sd":
        payload["_sd"].append(dig(GIVEN))
    elif where == "nested":
        payload["address"] = {"_sd": [dig("decoy")]}
    else:
        payload["nationalities"].append({"...": dig(ELEM)})
    with pytest.raises(DuplicateDigest):
        verify(make(payload, [GIVEN, FAMILY, ELEM]))


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_forbidden_claim_names(name: str) -> None:
    bad = disclosure("s", name, "x")
    with pytest.raises(ForbiddenClaimName):
        verify(make({**BASE, "_sd": [*BASE["_sd"], dig(bad)]}, [GIVEN, FAMILY, ELEM, bad]))


@pytest.mark.parametrize("bad", [
    b64url_encode(b'["salt", "name", "value", "extra"]'), b64url_encode(b'["only"]'),
    b64url_encode(b'[1, "name", "v"]'), b64url_encode(b'["s", 7, "v"]'),
    b64url_encode(b'{"salt": "s"}'), b64url_encode(b'not json'), b64url_encode(b"[NaN, 1]"),
    "has+plus", "bad=padding", "", b64url_encode(b"\xff\xfe")])
def test_malformed_disclosures(bad: str) -> None:
    with pytest.raises(InvalidDisclosure):
        UnverifiedSdJwt.parse(make(BASE, [GIVEN, bad]))


def test_name_collision_and_misplaced_disclosures() -> None:
    clash = disclosure("s", "iss", "https://evil.example")
    with pytest.raises(ClaimNameCollision):
        verify(make({**BASE, "_sd": [*BASE["_sd"], dig(clash)]}, [GIVEN, FAMILY, ELEM, clash]))
    twice = disclosure("t", "given_name", "Eve")
    with pytest.raises(ClaimNameCollision):
        verify(make({**BASE, "_sd": [*BASE["_sd"], dig(twice)]}, [GIVEN, FAMILY, ELEM, twice]))
    with pytest.raises(MisplacedDisclosure):  # array element referenced from _sd
        verify(make({**BASE, "_sd": [*BASE["_sd"], dig(ELEM)], "nationalities": []},
                    [GIVEN, FAMILY, ELEM]))
    with pytest.raises(MisplacedDisclosure):  # object property referenced from an array
        verify(make({**BASE, "_sd": [dig(FAMILY)], "nationalities": [{"...": dig(GIVEN)}]},
                    [GIVEN, FAMILY]))


@pytest.mark.parametrize("payload_patch, error", [
    ({"_sd": "not-a-list"}, InvalidSdPayload),
    ({"_sd": [1, 2]}, InvalidSdPayload),
    ({"nationalities": [{"...": 5}]}, InvalidSdPayload),
    ({"address": {"_sd_alg": "sha-256"}}, InvalidSdPayload),
    ({"_sd_alg": "md5"}, UnsupportedHashAlgorithm),
    ({"_sd_alg": ["sha-256"]}, UnsupportedHashAlgorithm),
    ({"exp": "tomorrow"}, InvalidTimeClaim),
    ({"iat": True}, InvalidTimeClaim),
])
def test_payload_shape(payload_patch: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        verify(make({**BASE, **payload_patch}, [GIVEN, FAMILY, ELEM]
                    if "nationalities" not in payload_patch and "_sd" not in payload_patch
                    else []))


@pytest.mark.parametrize("alg", ["sha-384", "sha-512"])
def test_other_hash_algorithms(alg: str) -> None:
    h = "sha" + alg[4:]
    payload = {**BASE, "_sd_alg": alg, "_sd": [dig(GIVEN, h)],
               "nationalities": [{"...": dig(ELEM, h)}]}
    assert verify(make(payload, [GIVEN, ELEM])).claims["nationalities"] == ["DE"]
    with pytest.raises(UnreferencedDisclosure):  # the sha-256 digests do not match
        verify(make({**BASE, "_sd_alg": alg}, [GIVEN]))


def _jwt_parts(header: dict[str, Any], payload: dict[str, Any]) -> str:
    return (b64url_encode(json.dumps(header).encode()) + "."
            + b64url_encode(json.dumps(payload).encode()))


def test_alg_none() -> None:
    raw = _jwt_parts({"alg": "none", "typ": "dc+sd-jwt"}, BASE) + "." + "~" + GIVEN + "~"
    with pytest.raises(InvalidIssuerJwt) as info:
        verify(raw)
    assert info.value.code == "invalid_alg"


def test_hs256_with_the_public_key_as_secret() -> None:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    signing_input = _jwt_parts({"alg": "HS256", "typ": "dc+sd-jwt"}, BASE)
    for secret in (ISSUER_PUB.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
                   ISSUER_PUB.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)):
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidIssuerJwt):
            verify(signing_input + "." + b64url_encode(mac) + "~" + "~".join([GIVEN, FAMILY, ELEM])
                   + "~")


def test_unknown_crit() -> None:
    with pytest.raises(InvalidIssuerJwt):
        verify(make(BASE, [GIVEN, FAMILY, ELEM], header={**HEADER, "crit": ["exp"], "exp": 1}))


@pytest.mark.parametrize("typ", ["kb+jwt", "JWT", "vc+sd-jwt", None, ["dc+sd-jwt"], {"a": 1}])
def test_swapped_typ(typ: Any) -> None:
    header = {"alg": "ES256", **({"typ": typ} if typ else {})}
    raw = make(BASE, [GIVEN, FAMILY, ELEM], header=header)
    with pytest.raises(InvalidIssuerJwt):
        verify(raw, expected_typ={"dc+sd-jwt"})
    with pytest.raises(InvalidSdJwtVc):
        verify_sd_jwt_vc(UnverifiedSdJwt.parse(raw), ResolvedIssuerKey(ISSUER_PUB, "configured"),
                         now=NOW)


@pytest.mark.parametrize("name", ["cnf", "vct", "iss", "status", "exp", "nbf", "vct#integrity"])
def test_disclosed_protected_claims(name: str) -> None:
    value = BASE.get(name, 12345 if name in ("exp", "nbf") else {"x": 1})
    if name == "exp":
        value = T + 100
    if name == "nbf":
        value = T - 100
    if name == "status":
        value = {"status_list": {"idx": 0, "uri": "https://example.com/sl"}}
    hidden = disclosure("s", name, value)
    payload = {k: v for k, v in BASE.items() if k != name}
    payload["_sd"] = [*payload["_sd"], dig(hidden)]
    raw = make(payload, [GIVEN, FAMILY, ELEM, hidden])
    assert verify(raw).claims[name] == value  # plain SD-JWT allows it ...
    with pytest.raises(DisclosedProtectedClaim):  # ... SD-JWT VC does not
        verify_sd_jwt_vc(UnverifiedSdJwt.parse(raw), ResolvedIssuerKey(ISSUER_PUB, "configured"),
                         now=NOW)


@given(st.integers(-10**6, 10**6))
def test_exp_nbf_iat_with_skew(offset: int) -> None:
    skew = 60
    exp_raw = make({**BASE, "exp": T + offset}, [GIVEN, FAMILY, ELEM])
    nbf_raw = make({**BASE, "nbf": T + offset}, [GIVEN, FAMILY, ELEM])
    iat_raw = make({**BASE, "iat": T + offset}, [GIVEN, FAMILY, ELEM])
    if offset <= -skew:
        with pytest.raises(Expired):
            verify(exp_raw)
    else:
        assert verify(exp_raw).claims["exp"] == T + offset
    if offset > skew:
        with pytest.raises(NotYetValid):
            verify(nbf_raw)
        with pytest.raises(NotYetValid):
            verify(iat_raw)
    else:
        assert verify(nbf_raw).claims["nbf"] == T + offset
        assert verify(iat_raw).claims["iat"] == T + offset


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", ["1e400", "-1e400", str(10**400), str(-10**400)])
def test_absurd_numeric_dates_are_typed_errors(name: str, literal: str) -> None:
    """JSON has no number bounds: 1e400 parses to infinity and 10**400 overflows every float
    conversion. Either is an InvalidTimeClaim, never an OverflowError (a 500 at the API)."""
    text = json.dumps({**BASE, name: "__n__"}).replace('"__n__"', literal)
    raw = "~".join([sign_compact(HEADER, text.encode(), ISSUER), GIVEN, FAMILY, ELEM, ""])
    with pytest.raises(InvalidTimeClaim):
        verify(raw)
    with pytest.raises(InvalidTimeClaim):
        verify_sd_jwt_vc(UnverifiedSdJwt.parse(raw), ResolvedIssuerKey(ISSUER_PUB, "configured"),
                         now=NOW)


@pytest.mark.parametrize(("name", "member", "value"), [
    ("cnf", "jwk", public_jwk(HOLDER)),
    ("status", "status_list", {"idx": 0, "uri": "https://example.com/sl"}),
])
def test_never_disclosable_claims_cannot_hide_their_members(name: str, member: str,
                                                            value: Any) -> None:
    """``cnf`` or ``status`` in plain sight with its content in a Disclosure is still hidden:
    a verifier shown ``cnf: {}`` gets no holder binding, ``status: {}`` no revocation check."""
    hidden = disclosure("s", member, value)
    raw = make({**BASE, name: {"_sd": [dig(hidden)]}}, [GIVEN, FAMILY, ELEM, hidden])
    assert verify(raw).claims[name] == {member: value}  # plain SD-JWT allows it ...
    with pytest.raises(DisclosedProtectedClaim):  # ... SD-JWT VC does not
        verify_sd_jwt_vc(UnverifiedSdJwt.parse(raw), ResolvedIssuerKey(ISSUER_PUB, "configured"),
                         now=NOW)


def test_issued_form_must_not_carry_a_kb_jwt() -> None:
    v = verify(valid())
    presented = build_presentation(v, [("given_name",)], holder_key=HOLDER, aud="a", nonce="n",
                                   iat=T)
    with pytest.raises(KeyBindingNotAllowed):
        UnverifiedSdJwt.parse(presented, reject_kb=True)
    for bad in ("no-tilde-at-all", "a.b.c~" + "~" * 2000, "x" * (1 << 21)):
        with pytest.raises(MalformedSdJwt):  # no separator, too many disclosures, too large
            UnverifiedSdJwt.parse(bad, max_disclosures=1000)


# ---------------------------------------------------------------- presenting


def test_presentation_rules() -> None:
    inner = disclosure("s4", "street", "Main St 1")
    addr = disclosure("s5", "address", {"_sd": [dig(inner)], "country": "UK"})
    payload = {**BASE, "_sd": sorted([*BASE["_sd"], dig(addr)])}
    v = verify(make(payload, [GIVEN, FAMILY, ELEM, addr, inner]))
    assert {d.path: d.parents for d in v.disclosures}[("address", "street")] == (dig(addr),)

    def sent(paths: list[tuple[Any, ...]]) -> set[str]:
        p = build_presentation(v, paths, holder_key=HOLDER, aud="a", nonce="n", iat=T)
        return set(p.split("~")[1:-1])

    assert sent([("address", "street")]) == {addr, inner}  # the parent comes along
    assert sent([("address",)]) == {addr, inner}  # choosing a path selects all beneath it
    assert sent([("address", "country")]) == {addr}
    assert sent([("nationalities", None)]) == {ELEM}
    assert sent([("given_name",), ("given_name",), ("address", "street")]) == {GIVEN, addr, inner}
    assert sent([("iss",)]) == set()  # always visible, nothing to disclose
    with pytest.raises(UnknownClaimPath):
        sent([("no_such_claim",)])
    stranger = private_key_from_jwk({**HOLDER_JWK, "d": ISSUER_JWK["d"], "x": ISSUER_JWK["x"],
                                     "y": ISSUER_JWK["y"]})
    with pytest.raises(WrongHolderKey):
        build_presentation(v, [("given_name",)], holder_key=stranger, aud="a", nonce="n", iat=T)


@pytest.mark.parametrize("kind", ["Ed25519", "P-384", "RSA"])
def test_other_holder_key_types(kind: str) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    holder: Any = {"Ed25519": lambda: ed25519.Ed25519PrivateKey.generate(),
                   "P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
                   "RSA": lambda: rsa.generate_private_key(65537, 2048)}[kind]()
    v = verify(make({**BASE, "cnf": {"jwk": public_jwk(holder)}}, [GIVEN, FAMILY, ELEM]))
    p = build_presentation(v, [("family_name",)], holder_key=holder, aud="a", nonce="n", iat=T)
    assert verify_key_binding(verify(p), expected_aud="a", expected_nonce="n", now=NOW)
    other: Any = {"Ed25519": lambda: ed25519.Ed25519PrivateKey.generate(),
                  "P-384": lambda: ec.generate_private_key(ec.SECP384R1()),
                  "RSA": lambda: HOLDER}[kind]()
    with pytest.raises(WrongHolderKey):
        build_presentation(v, [("family_name",)], holder_key=other, aud="a", nonce="n", iat=T)


def test_key_binding_mutations() -> None:
    v = verify(valid())
    p = build_presentation(v, [("given_name",), ("family_name",)], holder_key=HOLDER,
                           aud="https://v.example", nonce="n-1", iat=T)

    def check(raw: str, **kw: Any) -> Any:
        args = {"expected_aud": "https://v.example", "expected_nonce": "n-1", "now": NOW, **kw}
        return verify_key_binding(verify(raw), **args)

    assert check(p)["sd_hash"]
    jwt, d1, d2, kb = p.split("~")
    for raw in (f"{jwt}~{d1}~{kb}", f"{jwt}~{d2}~{d1}~{kb}", f"{jwt}~{d1}~{d2}~{ELEM}~{kb}",
                f"{jwt}~{d1}~{d2}~"):
        with pytest.raises(InvalidKeyBinding):
            check(raw)
    with pytest.raises(InvalidKeyBinding):
        check(p, expected_nonce="n-2")
    forged = sign_compact({"alg": "ES256", "typ": "JWT"}, {"iat": T, "aud": "https://v.example",
                          "nonce": "n-1", "sd_hash": json.loads(
                              __import__("base64").urlsafe_b64decode(kb.split(".")[1] + "=="))[
                              "sd_hash"]}, HOLDER)
    with pytest.raises(InvalidKeyBinding):  # typ must be kb+jwt
        check(f"{jwt}~{d1}~{d2}~{forged}")
    by_issuer = sign_compact({"alg": "ES256", "typ": "kb+jwt"}, {"iat": T}, ISSUER)
    with pytest.raises(InvalidKeyBinding):
        check(f"{jwt}~{d1}~{d2}~{by_issuer}")


# ---------------------------------------------------------------- nothing else escapes


def _parse_and_verify(raw: str) -> None:
    try:
        v = verify(raw)
        verify_key_binding(v, expected_aud="a", expected_nonce="n", now=NOW)
    except SatchelError:
        pass


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_typed_errors(text: str) -> None:
    _parse_and_verify(text)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(10**300, 10**500)
    | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["_sd", "...", "_sd_alg", "a", "exp", "cnf"]) | st.text(max_size=4),
        children, max_size=4),
    max_leaves=12)


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_json, max_size=5), _json, st.booleans())
def test_signed_garbage_only_raises_typed_errors(discs: list[Any], body: Any, ref: bool) -> None:
    encoded = [b64url_encode(json.dumps(d).encode()) for d in discs]
    payload = body if isinstance(body, dict) else {"v": body}
    if ref:  # make the disclosures referenced, so processing goes deep
        payload = {**payload, "_sd": [dig(e) for e in encoded]}
    _parse_and_verify(make(payload, encoded))


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_character_mutations_of_a_valid_presentation(data: st.DataObject) -> None:
    v = verify(valid())
    raw = build_presentation(v, [("given_name",), ("nationalities", 0)], holder_key=HOLDER,
                             aud="a", nonce="n", iat=T)
    pos = data.draw(st.integers(0, len(raw) - 1))
    op = data.draw(st.sampled_from(["replace", "delete", "insert"]))
    ch = data.draw(st.sampled_from("A_-~.=0zé\x00"))
    mutated = {"replace": raw[:pos] + ch + raw[pos + 1:], "delete": raw[:pos] + raw[pos + 1:],
               "insert": raw[:pos] + ch + raw[pos:]}[op]
    assume(mutated != raw)
    try:
        out = verify(mutated)
        verify_key_binding(out, expected_aud="a", expected_nonce="n", now=NOW)
    except SatchelError:
        return
    # base64 has slack in its last character's low bits: such a mutation may still decode to the
    # same bytes; it must then reveal exactly the same claims
    assert out.claims == verify(raw).claims


def test_deep_nesting_is_a_typed_error() -> None:
    deep = b64url_encode(('["s", "d", ' + "[" * 5000 + '"x"' + "]" * 5000 + "]").encode())
    with pytest.raises(InvalidDisclosure):
        UnverifiedSdJwt.parse(make(BASE, [GIVEN, FAMILY, ELEM, deep]))
    nested = '{"a": ' * 900 + "1" + "}" * 900  # decodes; processing recurses deeply
    payload_deep = json.loads(nested)
    try:  # either it is processed faithfully or refused with a typed error
        assert verify(make({**BASE, "deep": payload_deep}, [GIVEN, FAMILY, ELEM])).claims[
            "deep"] == payload_deep
    except SatchelError:
        pass
    import sys

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)  # a smaller stack, so the walk itself runs out of it
    try:
        with pytest.raises(MalformedSdJwt):
            from wallet.formats.sd_jwt import process_payload

            process_payload({"deep": payload_deep}, ())
    finally:
        sys.setrecursionlimit(limit)
    with pytest.raises(SatchelError):
        UnverifiedSdJwt.parse(b64url_encode(b"[" * 100000) + ".e30.~")


# ---------------------------------------------------------------- random credentials, both ways


_names = st.text("abcdefghijklmnop", min_size=1, max_size=5).filter(
    lambda n: n not in ("cnf", "exp", "nbf", "iat"))
_leaf = st.none() | st.booleans() | st.integers(-5, 5) | st.text("xyz", max_size=3)


def _tagged(depth: int) -> st.SearchStrategy[Any]:
    if depth == 0:
        return _leaf
    child = _tagged(depth - 1)
    obj = st.dictionaries(_names, st.tuples(st.booleans(), child), max_size=3).map(
        lambda d: {SDObj(k) if sd else k: v for k, (sd, v) in d.items()})
    arr = st.lists(st.tuples(st.booleans(), child), max_size=3).map(
        lambda items: [SDObj(v) if sd else v for sd, v in items])
    return _leaf | obj | arr


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_names, st.tuples(st.booleans(), _tagged(2)), min_size=1, max_size=4),
       st.randoms(use_true_random=False), st.booleans())
def test_random_credentials_round_trip_with_the_reference(
        top: dict[str, Any], rnd: random.Random, decoys: bool) -> None:
    claims = {SDObj(k) if sd else k: v for k, (sd, v) in top.items()}
    issued = SDJWTIssuer(claims, JWK(**ISSUER_JWK), holder_key=JWK(**HOLDER_JWK),
                         add_decoy_claims=decoys).sd_jwt_issuance
    v = verify_sd_jwt(UnverifiedSdJwt.parse(issued, reject_kb=True),
                      issuer_key_resolver=static_key(ISSUER_PUB), now=NOW)
    cnf = {"jwk": {k: x for k, x in HOLDER_JWK.items() if k != "d"}}
    assert v.claims == {**strip_sd(claims), "cnf": cnf}
    assert sorted(map(repr, v.paths)) == sorted(map(repr, sd_paths(claims)))
    chosen = [p for p in v.paths if rnd.random() < 0.4]
    presentation = build_presentation(v, chosen, holder_key=HOLDER, aud="https://v", nonce="n",
                                      iat=T)
    seen = SDJWTVerifier(presentation, lambda iss, h: JWK(**{
        k: x for k, x in ISSUER_JWK.items() if k != "d"}), expected_aud="https://v",
        expected_nonce="n").get_verified_payload()
    assert seen == {**revealed(claims, chosen), "cnf": cnf}


def test_shifted_clock_is_respected() -> None:
    raw = make({**BASE, "exp": T + 30}, [GIVEN, FAMILY, ELEM])
    assert verify(raw).claims["exp"] == T + 30
    with pytest.raises(Expired):
        verify_sd_jwt(UnverifiedSdJwt.parse(raw), issuer_key_resolver=static_key(ISSUER_PUB),
                      now=NOW + timedelta(seconds=120))
    with pytest.raises(Expired):
        verify_sd_jwt(UnverifiedSdJwt.parse(raw), issuer_key_resolver=static_key(ISSUER_PUB),
                      now=NOW + timedelta(seconds=31), clock_skew=timedelta(0))
