"""W3C VCs as JWT (VCDM 1.1 / VC-JOSE-COSE / OB 3.0) and format detection."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import base58
import jwt as pyjwt
import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    PublicFormat,
    load_pem_private_key,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.wallet.fakes_w3c import FakeFetcher, oid4vci_issuer_jwks, oid4vci_vc_jwt
from wallet.errors import SatchelError, UnsupportedFormat
from wallet.formats.detect import detect_format
from wallet.formats.jsonld.errors import InvalidCredential
from wallet.formats.vc_jwt import check_vc_jwt
from wallet.jose import b64url_encode, public_jwk, sign_compact
from wallet.x509 import san_dns_names, validate_chain

PIN = datetime(2024, 1, 1, tzinfo=UTC)  # walt.id samples: see the vectors README
WALTID_DID = "did:key:z6Mkp7AVwvWxnsNDuSSbf19sgKzrx223WY95AqZyAGifFVyV"


def _waltid(vectors: Path, name: str) -> str:
    return (vectors / "microcredentials" / "waltid" /
            f"openbadgecredential_sample.{name}.json").read_text()


def _1edtech(vectors: Path, name: str) -> str:
    return (vectors / "microcredentials" / "1edtech" / name).read_text()


# --- walt.id OB 3.0 VC-JWTs (EdDSA, did:key) -------------------------------------------------

async def test_waltid_signed_verifies_with_did_key(vectors: Path) -> None:
    raw = _waltid(vectors, "signed")
    checked = await check_vc_jwt(raw, now=PIN, fetcher=None)
    assert checked.signature == "valid"
    assert checked.format == "jwt_vc_json" and checked.raw == raw
    assert checked.key_source == "did:key"
    assert checked.issuer == WALTID_DID  # VCDM 1.1 §6.3.1: iss is the issuer
    assert "vc_issuer_not_iss" in checked.problems  # the vc says did:example:123
    assert checked.types == ("VerifiableCredential", "OpenBadgeCredential")
    assert checked.title == "JFF x vc-edu PlugFest 3 Interoperability"
    assert checked.valid_from == datetime(2023, 7, 20, 7, 5, 44, tzinfo=UTC)
    assert checked.expires_at == datetime(2033, 7, 20, 7, 5, 44, tzinfo=UTC)
    assert not {"expired", "not_yet_valid"} & set(checked.problems)
    # sub is a did:key: the holder key is known offline
    assert checked.holder_jwk is not None and checked.holder_jwk["crv"] == "Ed25519"


async def test_waltid_signed_agrees_with_pyjwt(vectors: Path) -> None:
    # Independent peer: PyJWT verifies the same token with the key did:key resolves to.
    raw = _waltid(vectors, "signed").strip()
    checked = await check_vc_jwt(raw, now=PIN, fetcher=None)
    assert checked.issuer_jwk is not None
    key = pyjwt.PyJWK(dict(checked.issuer_jwk), algorithm="EdDSA")
    claims = pyjwt.decode(raw, key.key, algorithms=["EdDSA"], options={"verify_exp": False,
                                                                      "verify_nbf": False})
    assert claims["iss"] == WALTID_DID


async def test_waltid_bad_signature(vectors: Path) -> None:
    checked = await check_vc_jwt(_waltid(vectors, "signed.badsignature"), now=PIN, fetcher=None)
    assert checked.signature == "invalid" and "signature_mismatch" in checked.problems


async def test_waltid_expired(vectors: Path) -> None:
    checked = await check_vc_jwt(_waltid(vectors, "expired.signed"), now=PIN, fetcher=None)
    assert checked.signature == "valid" and "expired" in checked.problems
    assert checked.expires_at == datetime(2023, 7, 21, 7, 5, 44, tzinfo=UTC)


async def test_waltid_not_yet_valid(vectors: Path) -> None:
    checked = await check_vc_jwt(_waltid(vectors, "invalidnotbefore.signed"), now=PIN,
                                 fetcher=None)
    assert checked.signature == "valid" and "not_yet_valid" in checked.problems


async def test_waltid_signed_expires_in_2033(vectors: Path) -> None:
    later = datetime(2034, 1, 1, tzinfo=UTC)
    assert "expired" in (await check_vc_jwt(_waltid(vectors, "signed"), now=later,
                                            fetcher=None)).problems


async def test_tampered_payload_fails(vectors: Path) -> None:
    header, payload, signature = _waltid(vectors, "signed").strip().split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["vc"]["name"] = "Something else"
    forged = ".".join([header, b64url_encode(json.dumps(claims).encode()), signature])
    assert (await check_vc_jwt(forged, now=PIN, fetcher=None)).signature == "invalid"


# --- 1EdTech VC-JWTs -------------------------------------------------------------------------

async def test_1edtech_ob30_jwt_has_no_key(vectors: Path) -> None:
    checked = await check_vc_jwt(_1edtech(vectors, "ob30/simple.jwt"), now=PIN, fetcher=None)
    assert checked.signature == "no_key"
    assert checked.issuer == "https://example.edu/issuers/565049"
    assert checked.types == ("VerifiableCredential", "OpenBadgeCredential")
    assert checked.title == "Example University Degree"
    assert checked.valid_from == datetime(2010, 1, 1, tzinfo=UTC)
    assert checked.claims["id"] == "http://example.edu/credentials/3732"


async def test_1edtech_clr_jwt_self_asserted_header_jwk(vectors: Path) -> None:
    raw = _1edtech(vectors, "clr20/simple.jwt")
    checked = await check_vc_jwt(raw, now=PIN, fetcher=None)
    assert checked.signature == "valid"
    assert checked.key_source == "header_jwk"  # the trust list decides, not the token
    assert checked.problems == ("issuer_key_self_asserted",)  # and it says so
    header = json.loads(base64.urlsafe_b64decode(raw.split(".")[0] + "=="))
    assert checked.issuer_jwk == {k: header["jwk"][k] for k in ("e", "kty", "n")}
    assert checked.types == ("VerifiableCredential", "ClrCredential")


# --- OpenID4VCI example (ES256, key from the issuer's JWKS) ----------------------------------

async def test_oid4vci_vc_jwt_with_issuer_jwks(vectors: Path) -> None:
    token = oid4vci_vc_jwt(vectors)
    jwks = oid4vci_issuer_jwks(vectors)
    now = datetime(2025, 6, 1, tzinfo=UTC)
    checked = await check_vc_jwt(token, now=now, fetcher=None, issuer_jwks=jwks)
    assert checked.signature == "valid" and checked.key_source == "issuer_jwks"
    assert checked.issuer == "https://credential-issuer.example.com"
    assert checked.valid_from == datetime(2025, 1, 1, tzinfo=UTC)
    assert checked.holder_jwk is not None and checked.holder_jwk["kty"] == "EC"  # sub did:jwk
    assert (await check_vc_jwt(token, now=now, fetcher=None)).signature == "no_key"
    other = {"keys": [dict(public_jwk(ec.generate_private_key(ec.SECP256R1())),
                           kid=jwks["keys"][0]["kid"])]}
    wrong = await check_vc_jwt(token, now=now, fetcher=None, issuer_jwks=other)
    assert wrong.signature == "invalid"  # the thumbprint kid does not match that key
    assert "kid_thumbprint_mismatch" in wrong.problems


# --- our own tokens: each key source and rule -------------------------------------------------

def _vc2(issuer: str, **extra: Any) -> dict[str, Any]:
    return {"@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential", "OpenBadgeCredential"], "issuer": {"id": issuer},
            "validFrom": "2023-01-01T00:00:00Z", "validUntil": "2030-01-01T00:00:00Z",
            "credentialSubject": {"id": "did:example:learner",
                                  "achievement": {"name": {"en": "Welding", "de": "Schweißen"}}},
            **extra}


def _did_key(key: ed25519.Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "did:key:z" + base58.b58encode(b"\xed\x01" + raw).decode()


async def test_vc_jose_cose_with_did_jwk() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    did = "did:jwk:" + b64url_encode(json.dumps(public_jwk(key)).encode())
    status = {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
              "statusListIndex": "42", "statusListCredential": "https://iss.example/sl/1"}
    token = sign_compact({"typ": "vc+jwt", "kid": did + "#0"},
                         _vc2(did, credentialStatus=status), key)
    checked = await check_vc_jwt(token, now=PIN, fetcher=None)
    assert checked.signature == "valid" and checked.key_source == "did:jwk"
    assert checked.title == "Welding"  # language map, English preferred
    assert checked.status is not None and checked.status.index == 42
    assert checked.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert checked.problems == ()


async def test_did_web_kid_through_fetcher() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    did = "did:web:badges.example"
    doc = {"id": did, "verificationMethod": [{"id": f"{did}#k1", "type": "JsonWebKey2020",
                                              "controller": did,
                                              "publicKeyJwk": public_jwk(key)}],
           "assertionMethod": [f"{did}#k1"]}
    fetcher = FakeFetcher({"https://badges.example/.well-known/did.json": doc})
    token = sign_compact({"typ": "vc+jwt", "kid": f"{did}#k1"}, _vc2(did), key)
    checked = await check_vc_jwt(token, now=PIN, fetcher=fetcher)
    assert checked.signature == "valid" and checked.key_source == "did:web"
    relative = sign_compact({"typ": "vc+jwt", "kid": "#k1"}, _vc2(did), key)
    assert (await check_vc_jwt(relative, now=PIN, fetcher=fetcher)).signature == "valid"
    offline = await check_vc_jwt(token, now=PIN, fetcher=None)
    assert offline.signature == "no_key" and "did_unresolvable" in offline.problems


async def test_vcdm11_did_key_without_kid_uses_iss() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    did = _did_key(key)
    vc = {"@context": ["https://www.w3.org/2018/credentials/v1"],
          "type": ["VerifiableCredential"], "credentialSubject": {"degree": "BSc"}}
    token = sign_compact({"typ": "JWT"}, {"vc": vc, "iss": did, "nbf": 1_600_000_000,
                                          "exp": 1_900_000_000, "jti": "urn:uuid:1",
                                          "sub": "did:example:holder"}, key)
    checked = await check_vc_jwt(token, now=PIN, fetcher=None)
    assert checked.signature == "valid" and checked.issuer == did
    # VC-JWT 1.1 mapping of registered claims into the credential
    assert checked.claims["issuer"] == did and checked.claims["id"] == "urn:uuid:1"
    assert checked.claims["credentialSubject"]["id"] == "did:example:holder"
    assert checked.claims["issuanceDate"] == "2020-09-13T12:26:40Z"
    assert checked.expires_at == datetime.fromtimestamp(1_900_000_000, tz=UTC)
    assert checked.problems == ()


async def test_kid_of_another_did_is_refused() -> None:
    signer = ed25519.Ed25519PrivateKey.generate()
    victim = _did_key(ed25519.Ed25519PrivateKey.generate())
    token = sign_compact({"typ": "vc+jwt", "kid": _did_key(signer)}, _vc2(victim), signer)
    checked = await check_vc_jwt(token, now=PIN, fetcher=None)
    assert checked.signature == "invalid" and "kid_not_issuer" in checked.problems


@pytest.mark.parametrize("alg", ["none", "HS256"])
async def test_refused_algorithms(alg: str) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    did = _did_key(key)
    header = b64url_encode(json.dumps({"alg": alg, "kid": did}).encode())
    body = b64url_encode(json.dumps(_vc2(did)).encode())
    checked = await check_vc_jwt(f"{header}.{body}.", now=PIN, fetcher=None)
    assert checked.signature == "invalid" and "alg_not_allowed" in checked.problems


async def test_alg_allowlist_is_the_callers() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    did = _did_key(key)
    token = sign_compact({"kid": did}, _vc2(did), key)
    narrow = await check_vc_jwt(token, now=PIN, fetcher=None, allowed_algs={"ES256"})
    assert narrow.signature == "invalid"


async def test_unknown_crit_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    did = _did_key(key)
    token = sign_compact({"kid": did, "crit": ["urn:x"], "urn:x": 1}, _vc2(did), key)
    checked = await check_vc_jwt(token, now=PIN, fetcher=None)
    assert checked.signature == "invalid" and "crit_not_understood" in checked.problems


async def test_header_jwk_key_is_reported_as_self_asserted() -> None:
    """Anyone can sign with their own key and put it in the header: valid, but visibly so."""
    key = ec.generate_private_key(ec.SECP256R1())
    token = sign_compact({"typ": "vc+jwt", "jwk": public_jwk(key)},
                         _vc2("https://university.example"), key)
    checked = await check_vc_jwt(token, now=PIN, fetcher=None)
    assert (checked.signature, checked.key_source) == ("valid", "header_jwk")
    assert checked.problems == ("issuer_key_self_asserted",)
    # keys established for the issuer (its JWKS) win over the header, and are not self-asserted
    jwks = {"keys": [dict(public_jwk(key), kid="k1")]}
    token = sign_compact({"typ": "vc+jwt", "kid": "k1", "jwk": public_jwk(key)},
                         _vc2("https://university.example"), key)
    bound = await check_vc_jwt(token, now=PIN, fetcher=None, issuer_jwks=jwks)
    assert (bound.signature, bound.key_source, bound.problems) == ("valid", "issuer_jwks", ())


async def test_header_jwk_with_private_part_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = dict(public_jwk(key), d=b64url_encode(
        key.private_numbers().private_value.to_bytes(32, "big")))
    token = sign_compact({"jwk": jwk}, _vc2("https://iss.example"), key)
    assert (await check_vc_jwt(token, now=PIN, fetcher=None)).signature == "invalid"


async def test_wrong_typ_and_payload_shape_raise_typed() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    did = _did_key(key)
    with pytest.raises(UnsupportedFormat):
        await check_vc_jwt(sign_compact({"typ": "dc+sd-jwt"}, _vc2(did), key), now=PIN,
                           fetcher=None)
    with pytest.raises(UnsupportedFormat):
        await check_vc_jwt(sign_compact({}, {"iss": did, "vp": {}}, key), now=PIN,
                           fetcher=None)
    with pytest.raises(InvalidCredential):
        await check_vc_jwt("not.a.jwt", now=PIN, fetcher=None)
    with pytest.raises(InvalidCredential):
        await check_vc_jwt(sign_compact({}, {"vc": _vc2(did), "nbf": "soon"}, key), now=PIN,
                           fetcher=None)


# --- x5c ---------------------------------------------------------------------------------------

# The real validator (wallet.x509.validate_chain, cryptography's RFC 5280 path validation) with
# chains made by trustme: root → (intermediate →) leaf with a dNSName SAN.

def _x5c_token(leaf: trustme.LeafCert, issuer: str = "https://issuer.example") -> str:
    key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    chain = [base64.b64encode(x509.load_pem_x509_certificate(pem.bytes()).public_bytes(
        Encoding.DER)).decode() for pem in leaf.cert_chain_pems]  # leaf, then intermediates
    return sign_compact({"typ": "vc+jwt", "x5c": chain}, _vc2(issuer), key)


#: The leaves below are valid in 2026 only; the tests judge them at a pinned time.
X5C_NOW = datetime(2026, 6, 1, tzinfo=UTC)


def _leaf(ca: trustme.CA, name: str = "issuer.example") -> trustme.LeafCert:
    return ca.issue_cert(name, not_before=datetime(2026, 1, 1, tzinfo=UTC),
                         not_after=datetime(2027, 1, 1, tzinfo=UTC))


def _anchor(ca: trustme.CA) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes())


async def test_x5c_chain_to_anchor_with_the_real_validator() -> None:
    root = trustme.CA()
    now = X5C_NOW
    direct = await check_vc_jwt(_x5c_token(_leaf(root)), now=now,
                                fetcher=None, x5c_anchors=[_anchor(root)],
                                validate_chain=validate_chain)
    assert (direct.signature, direct.key_source, direct.problems) == ("valid", "x5c", ())
    leaf_cert = x509.load_der_x509_certificate(direct.issuer_cert_der or b"")
    assert "issuer.example" in san_dns_names(leaf_cert)
    # through an intermediate carried in x5c; and the default validator is the same function
    child = root.create_child_ca()
    via = _x5c_token(_leaf(child))
    assert len(json.loads(base64.urlsafe_b64decode(via.split(".")[0] + "=="))["x5c"]) == 2
    checked = await check_vc_jwt(via, now=now, fetcher=None, x5c_anchors=[_anchor(root)])
    assert (checked.signature, checked.key_source) == ("valid", "x5c")
    # the signing key with the whole chain it carries (OpenID4VP trusted_authorities "aki")
    [signer] = checked.signer_chains
    assert signer.jwk == checked.issuer_jwk and signer.chain_der is not None
    assert len(signer.chain_der) == 2 and signer.chain_der[0] == checked.issuer_cert_der
    assert len(checked.authority_key_ids()) == 2
    assert direct.signer_chains == ((direct.issuer_jwk, (direct.issuer_cert_der,)),)


async def test_x5c_chain_to_another_anchor_is_untrusted() -> None:
    root, stranger = trustme.CA(), trustme.CA()
    token = _x5c_token(_leaf(root))
    now = X5C_NOW
    untrusted = await check_vc_jwt(token, now=now, fetcher=None, x5c_anchors=[_anchor(stranger)],
                                   validate_chain=validate_chain)
    assert untrusted.signature == "no_key" and "x5c_chain_untrusted" in untrusted.problems
    # an intermediate of the right root is not an anchor by being in the chain
    child = root.create_child_ca()
    orphan = _x5c_token(_leaf(child))
    only_child = await check_vc_jwt(orphan, now=now, fetcher=None,
                                    x5c_anchors=[_anchor(stranger)],
                                    validate_chain=validate_chain)
    assert "x5c_chain_untrusted" in only_child.problems
    no_anchors = await check_vc_jwt(token, now=now, fetcher=None, validate_chain=validate_chain)
    assert no_anchors.signature == "no_key" and "x5c_no_anchors" in no_anchors.problems
    # outside the leaf's validity the same chain does not validate either
    late = await check_vc_jwt(token, now=datetime(2027, 6, 1, tzinfo=UTC), fetcher=None,
                              x5c_anchors=[_anchor(root)], validate_chain=validate_chain)
    assert late.signature == "no_key" and "x5c_chain_untrusted" in late.problems


async def test_x5c_leaf_must_name_the_issuer() -> None:
    """A certificate under a trusted anchor may sign only as the issuer its SAN names."""
    root = trustme.CA()
    now = X5C_NOW
    for issuer in ("https://other.example", "https://issuer.example.evil.example",
                   "did:web:issuer.example"):
        token = _x5c_token(_leaf(root), issuer=issuer)
        checked = await check_vc_jwt(token, now=now, fetcher=None, x5c_anchors=[_anchor(root)],
                                     validate_chain=validate_chain)
        if issuer.startswith("did:"):
            # a DID issuer is resolved as a DID, never through x5c
            assert checked.key_source != "x5c", issuer
            continue
        assert checked.signature == "invalid", issuer
        assert "x5c_not_issuer" in checked.problems, issuer
    # the same leaf signing as the issuer it names is fine
    ok = await check_vc_jwt(_x5c_token(_leaf(root)), now=now, fetcher=None,
                            x5c_anchors=[_anchor(root)], validate_chain=validate_chain)
    assert ok.signature == "valid" and ok.key_source == "x5c"


# --- format detection ---------------------------------------------------------------------------

def test_detect_format_on_vectors(vectors: Path) -> None:
    mc = vectors / "microcredentials"
    assert detect_format(_waltid(vectors, "signed")) == "jwt_vc_json"
    assert detect_format(_1edtech(vectors, "ob30/simple.jwt")) == "jwt_vc_json"
    assert detect_format(oid4vci_vc_jwt(vectors)) == "jwt_vc_json"
    assert detect_format(_1edtech(vectors, "ob30/simple.json")) == "ldp_vc"
    assert detect_format((mc / "elm" / "Sample-MC-Annex1-signed.jsonld").read_text()) == "ldp_vc"
    text = (vectors / "oid4vci" / "credential_response_sd_jwt_vc.txt").read_text()
    start = text.index('"credential": "') + len('"credential": "')
    sd_jwt = "".join(text[start:text.index('"', start)].split())
    assert detect_format(sd_jwt) == "dc+sd-jwt"


def test_detect_json_serialized_sd_jwt() -> None:
    protected = b64url_encode(json.dumps({"alg": "ES256", "typ": "dc+sd-jwt"}).encode())
    general = {"payload": b64url_encode(b'{"vct":"x"}'),
               "signatures": [{"protected": protected, "signature": "AA",
                               "header": {"disclosures": []}}]}
    assert detect_format(json.dumps(general)) == "dc+sd-jwt"
    flattened = {"payload": "e30", "protected": b64url_encode(b'{"alg":"ES256"}'),
                 "signature": "AA", "header": {"disclosures": ["WyJhIiwiYiIsMV0"]}}
    assert detect_format(json.dumps(flattened)) == "dc+sd-jwt"


@pytest.mark.parametrize("raw", ["", "hello", "{}", "[1,2]", '{"a": 1}', "a.b.c", "a.b",
                                 "eyJhbGciOiJFUzI1NiJ9.eyJhIjoxfQ.c2ln", "~~", "{not json"])
def test_detect_format_refuses(raw: str) -> None:
    with pytest.raises(UnsupportedFormat):
        detect_format(raw)


# --- hostile input --------------------------------------------------------------------------

_segment = st.one_of(
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_",
            max_size=40),
    st.dictionaries(st.sampled_from(["alg", "typ", "kid", "jwk", "x5c", "crit", "vc", "iss",
                                     "nbf", "exp", "@context", "issuer", "type", "sub"]),
                    st.none() | st.booleans() | st.integers() | st.text(max_size=30)
                    | st.dictionaries(st.sampled_from(["id", "type", "issuer", "kty", "crv"]),
                                      st.text(max_size=10), max_size=3)
                    | st.lists(st.text(max_size=10), max_size=3),
                    max_size=6).map(lambda d: b64url_encode(json.dumps(d).encode())),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_segment, min_size=1, max_size=4).map(".".join))
def test_jwt_shaped_garbage_only_raises_satchel_errors(token: str) -> None:
    try:
        checked = asyncio.run(check_vc_jwt(token, now=PIN, fetcher=FakeFetcher({})))
    except SatchelError:
        return
    assert checked.signature != "valid"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_detect_and_check_on_random_text(text: str) -> None:
    for call in (lambda: detect_format(text),
                 lambda: asyncio.run(check_vc_jwt(text, now=PIN, fetcher=None))):
        try:
            call()
        except SatchelError:
            pass


async def test_naive_now_is_utc_and_extreme_dates_are_typed(vectors: Path) -> None:
    naive = await check_vc_jwt(_waltid(vectors, "expired.signed"), now=datetime(2024, 1, 1),
                               fetcher=None)
    assert naive.signature == "valid" and "expired" in naive.problems
    key = ed25519.Ed25519PrivateKey.generate()
    did = _did_key(key)
    odd = sign_compact({"kid": did}, _vc2(did, validFrom="0001-01-01T00:00:00+14:00"), key)
    with pytest.raises(InvalidCredential):
        await check_vc_jwt(odd, now=PIN, fetcher=None)
    huge = sign_compact({"kid": did}, {"vc": _vc2(did), "iss": did, "exp": 10**20}, key)
    with pytest.raises(InvalidCredential):
        await check_vc_jwt(huge, now=PIN, fetcher=None)


@pytest.mark.parametrize("where", ["header", "payload", "vc"])
def test_absurd_nesting_is_a_typed_error(where: str) -> None:
    deep = "[" * 5000 + "]" * 5000
    header = deep if where == "header" else '{"alg":"EdDSA"}'
    payload = deep if where == "payload" else (
        '{"vc":{"type":"VerifiableCredential","issuer":"did:example:1","name":' + deep + "}}"
        if where == "vc" else "{}")
    token = ".".join([b64url_encode(header.encode()), b64url_encode(payload.encode()), "AA"])
    with pytest.raises(SatchelError):
        asyncio.run(check_vc_jwt(token, now=PIN, fetcher=None))
    with pytest.raises(SatchelError):
        detect_format(token)
