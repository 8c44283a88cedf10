"""OpenID4VP 1.0 wallet side: links, request_uri fetching, request-object validation (client id
prefixes with trustme-made X.509 chains, DIDs, pre-registered and redirect_uri clients), and the
response (vp_token, direct_post, direct_post.jwt decrypted with the verifier key, access_denied)."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import base58
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
from joserfc import jwe
from joserfc.jwk import ECKey, OKPKey
from jwcrypto.jwe import JWE
from jwcrypto.jwk import JWK

from sharing.dcql import (
    Candidate,
    InvalidDcqlQuery,
    match_query,
    parse_dcql_query,
    select_for_response,
)
from sharing.oid4vp import (
    AuthorizationRequest,
    InvalidClient,
    InvalidRequest,
    InvalidRequestObject,
    InvalidRequestUri,
    InvalidRequestUriMethod,
    InvalidTransactionData,
    RegisteredClient,
    RequestObjectUnavailable,
    VpFormatsNotSupported,
    authorization_response,
    build_error_response,
    build_vp_token,
    decline_form,
    encrypt_response,
    fetch_request_object,
    parse_authorization_request_uri,
    parse_client_metadata,
    resolve_authorization_request,
    response_form,
    select_response_encryption,
    submit_response,
    validate_request_object,
    validate_request_parameters,
)
from tests.sharing._fetcher import Call, MemoryFetcher, jwt_response
from wallet.errors import UpstreamError
from wallet.jose import b64url_encode, public_jwk, sign_compact
from wallet.ports import FetchResponse

VEC = Path(__file__).parents[1] / "vectors" / "oid4vp"
NOW = datetime.now(UTC)
HOST = "client.example.org"
SAN_ID = f"x509_san_dns:{HOST}"
RESPONSE_URI = f"https://{HOST}/post"
DCQL = json.loads((VEC / "query_lang" / "simple.json").read_text())
# The verifier key of OpenID4VP 1.0 §8.3 (its private half is printed in the spec for examples).
SPEC_ENC_KEY = {"kty": "EC", "kid": "ac", "use": "enc", "crv": "P-256", "alg": "ECDH-ES",
                "x": "YO4epjifD-KWeq1sL2tNmm36BhXnkJ0He-WqMYrp9Fk",
                "y": "Hekpm0zfK7C-YccH5iBjcIXgf6YdUvNUac_0At55Okk",
                "d": "Et-3ce0omz8_TuZ96Df9lp0GAaaDoUnDe6X-CRO7Aww"}


class Verifier:
    """A verifier with a trustme certificate (through an intermediate CA)."""

    def __init__(self, name: str = HOST, root: trustme.CA | None = None) -> None:
        self.root = root or trustme.CA()
        leaf = self.root.create_child_ca().issue_cert(name)
        self.chain_der = [x509.load_pem_x509_certificate(p.bytes()).public_bytes(Encoding.DER)
                          for p in leaf.cert_chain_pems]
        self.key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
        assert isinstance(self.key, ec.EllipticCurvePrivateKey)
        self.anchor = x509.load_pem_x509_certificate(self.root.cert_pem.bytes())

    @property
    def x5c(self) -> list[str]:
        return [base64.b64encode(d).decode() for d in self.chain_der]

    @property
    def hash_id(self) -> str:
        return "x509_hash:" + b64url_encode(hashlib.sha256(self.chain_der[0]).digest())

    def sign(self, claims: dict[str, Any], **header: Any) -> str:
        hdr = {"typ": "oauth-authz-req+jwt", "alg": "ES256", "x5c": self.x5c, **header}
        hdr = {k: v for k, v in hdr.items() if v is not None}
        return sign_compact(hdr, claims, self.key)  # type: ignore[arg-type]


def claims(client_id: str = SAN_ID, **extra: Any) -> dict[str, Any]:
    base = {"client_id": client_id, "response_type": "vp_token", "response_mode": "direct_post",
            "response_uri": RESPONSE_URI, "nonce": "n-0S6_WzA2Mj", "state": "eyJhb-6-sVA",
            "dcql_query": DCQL, "aud": "https://self-issued.me/v2",
            "iat": int(NOW.timestamp()), "exp": int(NOW.timestamp()) + 300}
    base.update(extra)
    return {k: v for k, v in base.items() if v is not None}


def unsigned(payload: dict[str, Any]) -> str:
    hdr = b64url_encode(json.dumps({"typ": "oauth-authz-req+jwt", "alg": "none"}).encode())
    return f"{hdr}.{b64url_encode(json.dumps(payload).encode())}."


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier()


async def validate(token: str, v: Verifier, *, url_client_id: str = SAN_ID, **kw: Any
                   ) -> AuthorizationRequest:
    kw.setdefault("x509_anchors", [v.anchor])
    return await validate_request_object(token, url_client_id=url_client_id, now=NOW, **kw)


# --- links --------------------------------------------------------------------------------------

def test_links_by_reference() -> None:
    ref = parse_authorization_request_uri(
        "openid4vp://?client_id=x509_san_dns%3Aclient.example.org"
        "&request_uri=https%3A%2F%2Fclient.example.org%2F567545564&request_uri_method=post")
    assert ref.kind == "request_uri" and ref.request_uri_method == "post"
    assert ref.client_id == SAN_ID and ref.request_uri == "https://client.example.org/567545564"
    ref = parse_authorization_request_uri(
        "haip-vp://authorize?client_id=a&request_uri=https://v.example/r")
    assert ref.kind == "request_uri" and ref.request_uri_method == "get"
    ref = parse_authorization_request_uri("https://wallet.example.com?client_id=a&request=e30.e30.")
    assert ref.kind == "request" and ref.request == "e30.e30."


def test_link_by_value() -> None:
    link = "openid4vp://?" + urlencode({
        "response_type": "vp_token", "client_id": "redirect_uri:https://client.example.org/cb",
        "response_mode": "direct_post", "dcql_query": json.dumps(DCQL), "nonce": "n-0S6_WzA2Mj",
        "client_metadata": (VEC / "client_metadata/sd_jwt_vc_verifier_metadata.json").read_text(),
    })
    ref = parse_authorization_request_uri(link)
    assert ref.kind == "by_value"
    req = validate_request_parameters(ref.params)
    assert req.response_uri == "https://client.example.org/cb"  # the client id is the URI
    assert req.verifier.prefix == "redirect_uri" and not req.verifier.authenticated
    assert not req.signed and req.dcql_query.ids == ("my_credential",)
    assert req.client_metadata.vp_formats_supported is not None


def test_spec_by_value_example_lacks_response_mode() -> None:
    # §5.9.3's redirect_uri example carries no response_mode; 1.0 makes it REQUIRED (§5.2).
    params = {"response_type": "vp_token", "client_id": "redirect_uri:https://client.example.org/cb",
              "redirect_uri": "https://client.example.org/cb", "dcql_query": json.dumps(DCQL),
              "nonce": "n-0S6_WzA2Mj"}
    with pytest.raises(InvalidRequest, match="response_mode"):
        validate_request_parameters(params)
    params["response_mode"] = "direct_post"  # and then redirect_uri must not be there
    with pytest.raises(InvalidRequest, match="redirect_uri"):
        validate_request_parameters(params)


@pytest.mark.parametrize("link, error", [
    ("openid4vp://?client_id=a&client_id=b&request_uri=https://v.example/r", InvalidRequest),
    ("openid4vp://?client_id=a&request=x&request_uri=https://v.example/r", InvalidRequestUri),
    ("openid4vp://?client_id=a&request_uri=https://v.example/r&request_uri_method=PUT",
     InvalidRequestUriMethod),
    ("openid4vp://?client_id=a&request_uri_method=get&nonce=x", InvalidRequest),
    ("openid4vp://?client_id=a&request_uri=http://v.example/r", InvalidRequestUri),
    ("openid4vp://?request_uri=https://v.example/r", InvalidRequest),
    ("openid4vp://", InvalidRequest),
    ("no scheme at all", InvalidRequest),
])
def test_bad_links(link: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_authorization_request_uri(link)


def test_method_error_code() -> None:
    with pytest.raises(InvalidRequestUriMethod) as err:
        parse_authorization_request_uri("x://?client_id=a&request_uri=https://v.example/r"
                                        "&request_uri_method=Post")
    assert err.value.code == "invalid_request_uri_method"


# --- fetching the request object ----------------------------------------------------------------

async def test_fetch_get_and_post() -> None:
    url = "https://client.example.org/req"
    fetcher = MemoryFetcher({url: lambda c: jwt_response(c.url, " a.b.c\n")})
    ref = parse_authorization_request_uri(f"x://?client_id=a&request_uri={url}")
    assert await fetch_request_object(ref, fetcher) == "a.b.c"
    (call,) = fetcher.calls
    assert call.method == "GET" and call.accept == ("application/oauth-authz-req+jwt",)
    assert call.headers["Accept"] == "application/oauth-authz-req+jwt"
    ref = parse_authorization_request_uri(
        f"x://?client_id=a&request_uri={url}&request_uri_method=post")
    meta = {"vp_formats_supported": {"dc+sd-jwt": {}}}
    await fetch_request_object(ref, fetcher, wallet_nonce="qPmxiNFCR3QTm19POc8u",
                               wallet_metadata=meta)
    call = fetcher.calls[-1]
    assert call.method == "POST" and call.form is not None
    assert call.form["wallet_nonce"] == "qPmxiNFCR3QTm19POc8u"
    assert json.loads(call.form["wallet_metadata"]) == meta
    assert call.headers["Accept"] == "application/oauth-authz-req+jwt"
    # a redirect_uri client cannot sign, so the wallet must not offer signing algorithms (§5.10)
    ref = parse_authorization_request_uri(
        f"x://?client_id=redirect_uri:https://v.example/cb&request_uri={url}"
        "&request_uri_method=post")
    await fetch_request_object(ref, fetcher, wallet_metadata={
        **meta, "request_object_signing_alg_values_supported": ["ES256"]})
    assert json.loads(fetcher.calls[-1].form["wallet_metadata"]) == meta  # type: ignore[index]


@pytest.mark.parametrize("response", [
    FetchResponse("u", 302, "text/html", b"", {"Location": "https://evil.example/"}),
    FetchResponse("u", 404, "text/plain", b"nope"),
    FetchResponse("u", 500, "application/oauth-authz-req+jwt", b"a.b.c"),
    FetchResponse("u", 200, "application/json", b'{"a":1}'),
    FetchResponse("u", 200, "application/oauth-authz-req+jwt", b"a.b c"),
    FetchResponse("u", 200, "application/oauth-authz-req+jwt", b""),
])
async def test_fetch_errors_end_the_flow(response: FetchResponse) -> None:
    url = "https://client.example.org/req"
    fetcher = MemoryFetcher({url: lambda c: response})
    ref = parse_authorization_request_uri(f"x://?client_id=a&request_uri={url}")
    with pytest.raises(RequestObjectUnavailable):
        await fetch_request_object(ref, fetcher)
    assert len(fetcher.calls) == 1  # no retry, no redirect followed


async def test_request_by_value_is_not_fetched() -> None:
    fetcher = MemoryFetcher()
    ref = parse_authorization_request_uri("x://?client_id=a&request=h.p.s")
    assert await fetch_request_object(ref, fetcher) == "h.p.s" and fetcher.calls == []


# --- x509_san_dns / x509_hash -------------------------------------------------------------------

async def test_x509_san_dns_request(verifier: Verifier) -> None:
    req = await validate(verifier.sign(claims()), verifier)
    assert req.client_id == SAN_ID
    assert req.verifier.prefix == "x509_san_dns" and req.verifier.authenticated
    assert req.verifier.dns_names == (HOST,) and req.verifier.certificate is not None
    assert req.response_uri == RESPONSE_URI and req.response_mode == "direct_post"
    assert req.nonce == "n-0S6_WzA2Mj" and req.state == "eyJhb-6-sVA" and req.signed
    assert req.dcql_query.ids == ("my_credential",) and req.encryption is None


async def test_x509_hash_request(verifier: Verifier) -> None:
    cid = verifier.hash_id
    req = await validate(verifier.sign(claims(cid)), verifier, url_client_id=cid)
    assert req.verifier.prefix == "x509_hash" and req.verifier.authenticated
    wrong = "x509_hash:" + b64url_encode(hashlib.sha256(b"other").digest())
    with pytest.raises(InvalidRequestObject, match="hash"):
        await validate(verifier.sign(claims(wrong)), verifier, url_client_id=wrong)
    stranger = Verifier()  # a chain to another root is refused even with a matching hash
    cid = stranger.hash_id
    with pytest.raises(InvalidRequestObject, match="chain"):
        await validate(stranger.sign(claims(cid)), verifier, url_client_id=cid)


def _other_key_token(v: Verifier) -> str:
    other = ec.generate_private_key(ec.SECP256R1())
    return sign_compact({"typ": "oauth-authz-req+jwt", "alg": "ES256", "x5c": v.x5c},
                        claims(), other)


def _hs256(v: Verifier) -> str:
    token = v.sign(claims())
    h = b64url_encode(json.dumps({"typ": "oauth-authz-req+jwt", "alg": "HS256",
                                  "x5c": v.x5c}).encode())
    return h + token[token.index("."):]


NEGATIVE: list[tuple[str, Any, type[Exception], str]] = [
    ("wrong typ", lambda v: v.sign(claims(), typ="JWT"), InvalidRequestObject, "typ"),
    ("no typ", lambda v: v.sign(claims(), typ=None), InvalidRequestObject, "typ"),
    ("client_id mismatch",
     lambda v: v.sign(claims("x509_san_dns:other.example.org")), InvalidRequestObject,
     "client_id"),
    ("SAN mismatch", lambda v: v.sign(claims("x509_san_dns:other.example.org")),
     InvalidRequestObject, "dNSName"),
    ("response_uri host mismatch",
     lambda v: v.sign(claims(response_uri="https://evil.example/post")), InvalidRequest, "host"),
    ("unsigned with x509 prefix", lambda v: unsigned(claims()), InvalidRequestObject, "signed"),
    ("signature by another key", _other_key_token, InvalidRequestObject, "signature"),
    ("HS256", _hs256, InvalidRequestObject, "signature"),
    ("no x5c", lambda v: v.sign(claims(), x5c=None), InvalidRequestObject, "x5c"),
    ("origin prefix", lambda v: v.sign(claims("origin:https://client.example.org")),
     InvalidRequest, "origin"),
    ("transaction data", lambda v: v.sign(claims(transaction_data=["eyJ0eXBlIjoieCJ9"])),
     InvalidTransactionData, "transaction_data"),
    ("missing nonce", lambda v: v.sign(claims(nonce=None)), InvalidRequest, "nonce"),
    ("nonce not URL-safe", lambda v: v.sign(claims(nonce="a b")), InvalidRequest, "nonce"),
    ("missing response_mode", lambda v: v.sign(claims(response_mode=None)), InvalidRequest,
     "response_mode"),
    ("fragment response_mode", lambda v: v.sign(claims(response_mode="fragment")),
     InvalidRequest, "response_mode"),
    ("response_type code", lambda v: v.sign(claims(response_type="code")), InvalidRequest,
     "response_type"),
    ("redirect_uri next to direct_post",
     lambda v: v.sign(claims(redirect_uri=f"https://{HOST}/cb")), InvalidRequest, "redirect_uri"),
    ("response_uri with userinfo trick",
     lambda v: v.sign(claims(response_uri=f"https://{HOST}@evil.example/post")), InvalidRequest,
     "host"),
    ("x5c with a non-string", lambda v: v.sign(claims(), x5c=[*v.x5c, 7]),
     InvalidRequestObject, "x5c"),
    ("x5c not base64", lambda v: v.sign(claims(), x5c=["%%%"]), InvalidRequestObject, "x5c"),
    ("http response_uri", lambda v: v.sign(claims(response_uri=f"http://{HOST}/post")),
     InvalidRequest, "https"),
    ("no response_uri", lambda v: v.sign(claims(response_uri=None)), InvalidRequest,
     "response_uri"),
    ("no dcql_query", lambda v: v.sign(claims(dcql_query=None, scope="openid")), InvalidRequest,
     "dcql_query"),
    ("only mdoc", lambda v: v.sign(claims(dcql_query=json.loads(
        (VEC / "query_lang/simple_mdoc.json").read_text()))), VpFormatsNotSupported, "format"),
    ("expired", lambda v: v.sign(claims(exp=int(NOW.timestamp()) - 3600)),
     InvalidRequestObject, "expired"),
    ("issued in the future", lambda v: v.sign(claims(iat=int(NOW.timestamp()) + 3600)),
     InvalidRequestObject, "future"),
    ("not yet valid", lambda v: v.sign(claims(nbf=int(NOW.timestamp()) + 3600)),
     InvalidRequestObject, "not valid yet"),
    ("wrong aud", lambda v: v.sign(claims(aud="https://other-wallet.example")),
     InvalidRequestObject, "audience"),
    ("encrypted request object", lambda v: "a.b.c.d.e", InvalidRequestObject, "encrypted"),
    ("not a JWT", lambda v: "garbage", InvalidRequestObject, "compact"),
    ("direct_post.jwt without jwks",
     lambda v: v.sign(claims(response_mode="direct_post.jwt")), InvalidRequest, "key"),
    ("unsupported enc", lambda v: v.sign(claims(response_mode="direct_post.jwt", client_metadata={
        "jwks": {"keys": [SPEC_ENC_KEY]},
        "encrypted_response_enc_values_supported": ["XC20P"]})), InvalidRequest, "content"),
    ("jwk without kid", lambda v: v.sign(claims(client_metadata={"jwks": {"keys": [
        {k: x for k, x in SPEC_ENC_KEY.items() if k != "kid"}]}})), InvalidRequest, "kid"),
    ("verifier_attestation prefix", lambda v: v.sign(claims("verifier_attestation:v")),
     InvalidRequest, "not supported"),
    ("openid_federation prefix", lambda v: v.sign(claims("openid_federation:https://f.example")),
     InvalidRequest, "not supported"),
    ("unbound query without state", lambda v: v.sign(claims(state=None, dcql_query={
        "credentials": [{**DCQL["credentials"][0],
                         "require_cryptographic_holder_binding": False}]})),
     InvalidRequest, "state"),
]


@pytest.mark.parametrize("name, make, error, words", NEGATIVE, ids=[n[0] for n in NEGATIVE])
async def test_request_object_negative_matrix(verifier: Verifier, name: str, make: Any,
                                              error: type[Exception], words: str) -> None:
    token = make(verifier)
    url_client_id = SAN_ID
    if name.endswith("prefix") and name != "unsigned with x509 prefix":
        url_client_id = json.loads(base64.urlsafe_b64decode(
            token.split(".")[1] + "==="))["client_id"]
    if name == "SAN mismatch":
        url_client_id = "x509_san_dns:other.example.org"
    with pytest.raises(error) as err:
        await validate(token, verifier, url_client_id=url_client_id)
    assert words in err.value.detail  # type: ignore[attr-defined]
    assert err.value.code in {  # type: ignore[attr-defined]
        "invalid_request", "invalid_request_object", "invalid_transaction_data",
        "vp_formats_not_supported"}


async def test_error_codes_are_the_spec_ones(verifier: Verifier) -> None:
    with pytest.raises(InvalidTransactionData) as err:
        await validate(verifier.sign(claims(transaction_data=["e30"])), verifier)
    assert err.value.code == "invalid_transaction_data"
    with pytest.raises(InvalidDcqlQuery) as err2:
        await validate(verifier.sign(claims(dcql_query={"credentials": []})), verifier)
    assert err2.value.code == "invalid_request"


async def test_untrusted_chain_and_missing_anchors(verifier: Verifier) -> None:
    stranger = Verifier()
    with pytest.raises(InvalidRequestObject, match="chain"):
        await validate(stranger.sign(claims()), verifier)
    with pytest.raises(InvalidRequestObject):  # the leaf alone does not reach the anchor
        await validate(verifier.sign(claims(), x5c=verifier.x5c[:1]), verifier)
    with pytest.raises(InvalidClient):
        await validate(verifier.sign(claims()), verifier, x509_anchors=[])


async def test_validator_must_return_the_x5c_leaf(verifier: Verifier) -> None:
    other = Verifier()

    def lying_validator(chain_der: Any, anchors: Any, *, at: datetime) -> x509.Certificate:
        return x509.load_der_x509_certificate(other.chain_der[0])

    with pytest.raises(InvalidRequestObject, match="leaf"):
        await validate(verifier.sign(claims()), verifier, chain_validator=lying_validator)


async def test_wallet_nonce_must_come_back(verifier: Verifier) -> None:
    ok = await validate(verifier.sign(claims(wallet_nonce="qPmxiNFCR3QTm19POc8u")), verifier,
                        wallet_nonce="qPmxiNFCR3QTm19POc8u")
    assert ok.wallet_nonce == "qPmxiNFCR3QTm19POc8u"
    for sent_back in (None, "another"):
        with pytest.raises(InvalidRequestObject, match="wallet_nonce"):
            await validate(verifier.sign(claims(wallet_nonce=sent_back)), verifier,
                           wallet_nonce="qPmxiNFCR3QTm19POc8u")


async def test_aud_may_be_the_wallet_issuer(verifier: Verifier) -> None:
    token = verifier.sign(claims(aud="https://wallet.example"))
    req = await validate(token, verifier, wallet_issuer="https://wallet.example")
    assert req.verifier.authenticated
    req = await validate(verifier.sign(claims(aud=None)), verifier)  # aud is optional
    assert req.signed


# --- redirect_uri, DIDs, pre-registered clients -------------------------------------------------

async def test_redirect_uri_prefix(verifier: Verifier) -> None:
    cid = f"redirect_uri:{RESPONSE_URI}"
    req = await validate(unsigned(claims(cid)), verifier, url_client_id=cid)
    assert req.verifier.prefix == "redirect_uri" and not req.verifier.authenticated
    assert req.response_uri == RESPONSE_URI and not req.signed
    req = await validate(unsigned(claims(cid, response_uri=None)), verifier, url_client_id=cid)
    assert req.response_uri == RESPONSE_URI
    with pytest.raises(InvalidRequest, match="response_uri"):
        await validate(unsigned(claims(cid, response_uri=f"https://{HOST}/other")), verifier,
                       url_client_id=cid)
    with pytest.raises(InvalidRequestObject, match="cannot be signed"):
        await validate(verifier.sign(claims(cid)), verifier, url_client_id=cid)


def _did_doc(did: str, vm: dict[str, Any]) -> dict[str, Any]:
    return {"id": did, "verificationMethod": [{"controller": did, **vm}]}


async def test_decentralized_identifier_prefix(verifier: Verifier) -> None:
    did = "did:example:123"
    cid = f"decentralized_identifier:{did}"
    key = ec.generate_private_key(ec.SECP256R1())
    docs = {did: _did_doc(did, {"id": "#1", "type": "JsonWebKey2020",
                                "publicKeyJwk": public_jwk(key)})}
    resolved: list[str] = []

    async def resolver(d: str) -> dict[str, Any]:
        resolved.append(d)
        return docs[d]

    header = {"typ": "oauth-authz-req+jwt", "alg": "ES256", "kid": f"{did}#1"}
    token = sign_compact(header, claims(cid), key)
    req = await validate(token, verifier, url_client_id=cid, did_resolver=resolver)
    assert req.verifier.prefix == "decentralized_identifier" and req.verifier.authenticated
    assert req.verifier.key_id == f"{did}#1" and resolved == [did]
    for bad_kid in ("did:example:999#1", f"{did}#2", None):
        bad = sign_compact({**header, "kid": bad_kid} if bad_kid else
                           {k: v for k, v in header.items() if k != "kid"}, claims(cid), key)
        with pytest.raises(InvalidRequestObject, match="kid"):
            await validate(bad, verifier, url_client_id=cid, did_resolver=resolver)
    forged = sign_compact(header, claims(cid), ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(InvalidRequestObject, match="signature"):
        await validate(forged, verifier, url_client_id=cid, did_resolver=resolver)
    with pytest.raises(InvalidClient):
        await validate(token, verifier, url_client_id=cid)
    with pytest.raises(InvalidRequestObject):
        await validate(unsigned(claims(cid)), verifier, url_client_id=cid)


async def test_did_with_ed25519_multibase_key(verifier: Verifier) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    mb = "z" + base58.b58encode(b"\xed\x01" + raw).decode()
    did = f"did:key:{mb}"
    cid = f"decentralized_identifier:{did}"

    async def resolver(d: str) -> dict[str, Any]:
        return _did_doc(d, {"id": f"{d}#{mb}", "type": "Multikey", "publicKeyMultibase": mb})

    token = sign_compact({"typ": "oauth-authz-req+jwt", "alg": "EdDSA", "kid": f"#{mb}"},
                         claims(cid), key)
    req = await validate(token, verifier, url_client_id=cid, did_resolver=resolver)
    assert req.verifier.authenticated


async def test_pre_registered_clients(verifier: Verifier) -> None:
    # unknown plain client id: accepted, but unauthenticated (signed or not)
    req = await validate(unsigned(claims("my-verifier")), verifier, url_client_id="my-verifier")
    assert req.verifier.prefix == "pre-registered" and not req.verifier.authenticated
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = {**public_jwk(key), "kid": "k1"}
    reg = {"my-verifier": RegisteredClient(jwks=(jwk,), response_uris=(RESPONSE_URI,))}
    token = sign_compact({"typ": "oauth-authz-req+jwt", "alg": "ES256", "kid": "k1"},
                         claims("my-verifier"), key)
    req = await validate(token, verifier, url_client_id="my-verifier", registered_clients=reg)
    assert req.verifier.authenticated and req.verifier.registered is reg["my-verifier"]
    with pytest.raises(InvalidRequestObject, match="must sign"):
        await validate(unsigned(claims("my-verifier")), verifier, url_client_id="my-verifier",
                       registered_clients=reg)
    with_meta = sign_compact({"typ": "oauth-authz-req+jwt", "alg": "ES256", "kid": "k1"},
                             claims("my-verifier", client_metadata={}), key)
    with pytest.raises(InvalidClient) as err:
        await validate(with_meta, verifier, url_client_id="my-verifier", registered_clients=reg)
    assert err.value.code == "invalid_client"
    elsewhere = sign_compact({"typ": "oauth-authz-req+jwt", "alg": "ES256", "kid": "k1"},
                             claims("my-verifier", response_uri="https://evil.example/p"), key)
    with pytest.raises(InvalidRequest, match="registered"):
        await validate(elsewhere, verifier, url_client_id="my-verifier", registered_clients=reg)
    # an unknown prefix-like id is refused rather than guessed at
    with pytest.raises(InvalidRequest, match="not supported"):
        await validate(unsigned(claims("https://v.example")), verifier,
                       url_client_id="https://v.example")


# --- end to end through the fetcher -------------------------------------------------------------

async def test_resolve_with_request_uri_post(verifier: Verifier) -> None:
    url = f"https://{HOST}/request/567545564"

    def answer(call: Call) -> FetchResponse:
        assert call.form is not None and call.form["wallet_metadata"]
        token = verifier.sign(claims(wallet_nonce=call.form["wallet_nonce"]))
        return jwt_response(call.url, token)

    fetcher = MemoryFetcher({url: answer})
    link = "openid4vp://?" + urlencode({"client_id": SAN_ID, "request_uri": url,
                                        "request_uri_method": "post"})
    req = await resolve_authorization_request(
        link, fetcher, now=NOW, x509_anchors=[verifier.anchor],
        wallet_metadata={"vp_formats_supported": {"dc+sd-jwt": {}}})
    assert req.wallet_nonce == fetcher.calls[0].form["wallet_nonce"]  # type: ignore[index]
    assert req.verifier.authenticated and req.client_id == SAN_ID
    # a verifier that ignores our wallet_nonce is refused
    fetcher = MemoryFetcher({url: lambda c: jwt_response(c.url, verifier.sign(claims()))})
    with pytest.raises(InvalidRequestObject, match="wallet_nonce"):
        await resolve_authorization_request(link, fetcher, now=NOW,
                                            x509_anchors=[verifier.anchor])


async def test_resolve_by_value_link() -> None:
    link = "openid4vp://?" + urlencode({
        "response_type": "vp_token", "client_id": f"redirect_uri:{RESPONSE_URI}",
        "response_mode": "direct_post", "dcql_query": json.dumps(DCQL), "nonce": "abc",
        "state": "s1"})
    req = await resolve_authorization_request(link, MemoryFetcher(), now=NOW)
    assert req.response_uri == RESPONSE_URI and req.state == "s1"


# --- responses ----------------------------------------------------------------------------------

def _selection() -> Any:
    cand = Candidate("cred-1", "dc+sd-jwt",
                     frozenset({"https://credentials.example.com/identity_credential"}),
                     {"family_name": "D", "given_name": "J", "address": {"street_address": "S"}},
                     frozenset({("family_name",), ("given_name",), ("address",)}), True)
    result = match_query(parse_dcql_query(DCQL), [cand])
    return select_for_response(result, {"my_credential": "cred-1"})


def test_vp_token_shape_and_selection_guard() -> None:
    sel = _selection()
    token = build_vp_token({"my_credential": ["eyJhbGci...QMA~"]}, selection=sel)
    assert token == {"my_credential": ["eyJhbGci...QMA~"]}
    ldp = json.loads((VEC / "response/ldp_vc.json").read_text())
    assert build_vp_token({"example_ldp_vc": [ldp]})["example_ldp_vc"][0]["holder"] == \
        "did:example:holder"
    for bad in ({}, {"my_credential": []}, {"my_credential": "not-a-list"}, {"bad id": ["x"]},
                {"my_credential": [""]}, {"my_credential": [1]}):
        with pytest.raises(InvalidRequest):
            build_vp_token(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidRequest, match="selection"):  # an extra presentation
        build_vp_token({"my_credential": ["a", "b"]}, selection=sel)
    with pytest.raises(InvalidRequest, match="selection"):  # a query the learner did not approve
        build_vp_token({"my_credential": ["a"], "other": ["b"]}, selection=sel)


async def _request(v: Verifier, **extra: Any) -> AuthorizationRequest:
    return await validate(v.sign(claims(**extra)), v)


async def test_direct_post_form(verifier: Verifier) -> None:
    req = await _request(verifier)
    form = response_form(req, authorization_response({"my_credential": ["abc~"]}, req.state))
    assert form == {"vp_token": '{"my_credential":["abc~"]}', "state": "eyJhb-6-sVA"}
    assert json.loads(form["vp_token"]) == {"my_credential": ["abc~"]}


async def test_direct_post_jwt_encrypts_to_the_verifier_key(verifier: Verifier) -> None:
    sig_key = {**ECKey.generate_key("P-256").as_dict(private=False), "kid": "sig", "use": "sig",
               "alg": "ECDH-ES"}
    no_alg = {k: v for k, v in ECKey.generate_key("P-256").as_dict(private=False).items()}
    no_alg["kid"] = "noalg"
    public = {k: v for k, v in SPEC_ENC_KEY.items() if k != "d"}
    req = await _request(verifier, response_mode="direct_post.jwt", client_metadata={
        "jwks": {"keys": [sig_key, no_alg, public]},
        "encrypted_response_enc_values_supported": ["A256GCM", "A128GCM"]})
    assert req.encryption is not None and req.encryption.kid == "ac"
    payload = authorization_response({"my_credential": ["abc~"]}, req.state)
    form = response_form(req, payload)
    assert set(form) == {"response"} and form["response"].count(".") == 4
    header = json.loads(base64.urlsafe_b64decode(form["response"].split(".")[0] + "=="))
    assert header["alg"] == "ECDH-ES" and header["enc"] == "A256GCM" and header["kid"] == "ac"
    assert header["epk"]["crv"] == "P-256" and "d" not in header["epk"]
    private = ECKey.import_key(SPEC_ENC_KEY)
    plain = jwe.decrypt_compact(form["response"], private, algorithms=["ECDH-ES", "A256GCM"])
    assert json.loads(plain.plaintext) == {"vp_token": {"my_credential": ["abc~"]},
                                           "state": "eyJhb-6-sVA"}
    # and a second, independent JOSE implementation (jwcrypto) reads it the same way
    peer = JWE()
    peer.deserialize(form["response"], key=JWK(**SPEC_ENC_KEY))
    assert json.loads(peer.payload) == json.loads(plain.plaintext)


def test_default_enc_and_x25519() -> None:
    okp = OKPKey.generate_key("X25519")
    md = parse_client_metadata({"jwks": {"keys": [{**okp.as_dict(private=False), "kid": "x",
                                                   "alg": "ECDH-ES"}]}})
    enc = select_response_encryption(md)
    assert (enc.alg, enc.enc, enc.kid) == ("ECDH-ES", "A128GCM", "x")
    token = encrypt_response({"error": "access_denied"}, enc)
    out = jwe.decrypt_compact(token, okp, algorithms=["ECDH-ES", "A128GCM"])
    assert out.protected["enc"] == "A128GCM" and json.loads(out.plaintext) == {
        "error": "access_denied"}


async def test_decline_looks_like_no_match(verifier: Verifier) -> None:
    req = await _request(verifier)
    assert build_error_response(req.state) == {"error": "access_denied", "state": "eyJhb-6-sVA"}
    assert build_error_response(None) == {"error": "access_denied"}
    declined = decline_form(req)
    no_match = response_form(req, build_error_response(req.state))
    assert declined == no_match == {"error": "access_denied", "state": "eyJhb-6-sVA"}
    req = await _request(verifier, response_mode="direct_post.jwt",
                         client_metadata={"jwks": {"keys": [SPEC_ENC_KEY]}})
    form = decline_form(req)
    plain = jwe.decrypt_compact(form["response"], ECKey.import_key(SPEC_ENC_KEY),
                                algorithms=["ECDH-ES", "A128GCM"])
    assert json.loads(plain.plaintext) == {"error": "access_denied", "state": "eyJhb-6-sVA"}


async def test_submit_response(verifier: Verifier) -> None:
    req = await _request(verifier)
    cont = "https://client.example.org/cb#response_code=091535f699ea575c7937fa5f0f454aee"
    fetcher = MemoryFetcher({RESPONSE_URI: lambda c: FetchResponse(
        c.url, 200, "application/json", json.dumps({"redirect_uri": cont}).encode())})
    assert await submit_response(req, {"error": "access_denied"}, fetcher) == cont
    assert fetcher.calls[0].form == {"error": "access_denied"}
    fetcher = MemoryFetcher({RESPONSE_URI: lambda c: FetchResponse(
        c.url, 200, "application/json", b'{"redirect_uri": "javascript:alert(1)"}')})
    assert await submit_response(req, {"error": "access_denied"}, fetcher) is None
    fetcher = MemoryFetcher({RESPONSE_URI: lambda c: FetchResponse(c.url, 200,
                                                                     "application/json", b"")})
    assert await submit_response(req, {"error": "access_denied"}, fetcher) is None
    fetcher = MemoryFetcher({RESPONSE_URI: lambda c: FetchResponse(
        c.url, 307, "text/plain", b"", {"Location": "https://evil.example/"})})
    with pytest.raises(UpstreamError):
        await submit_response(req, {"error": "access_denied"}, fetcher)
    assert len(fetcher.calls) == 1


@settings(max_examples=150, deadline=None)
@given(st.one_of(
    st.text(max_size=200),
    st.builds(lambda scheme, pairs: f"{scheme}://?" + urlencode(pairs),
              st.sampled_from(["openid4vp", "haip-vp", "https", "x"]),
              st.lists(st.tuples(st.sampled_from(
                  ["client_id", "request", "request_uri", "request_uri_method", "response_type",
                   "response_mode", "nonce", "state", "dcql_query", "client_metadata",
                   "response_uri", "redirect_uri", "transaction_data"]),
                  st.text(max_size=40) | st.sampled_from(
                      ["get", "post", "vp_token", "direct_post", "direct_post.jwt",
                       "https://v.example/r", "redirect_uri:https://v.example/r", "{}",
                       json.dumps(DCQL), "x509_san_dns:v.example", "origin:x"])),
                  max_size=8))))
def test_links_raise_only_typed_errors(link: str) -> None:
    try:
        ref = parse_authorization_request_uri(link)
        if ref.kind == "by_value":
            req = validate_request_parameters(ref.params)
            assert req.nonce and req.response_uri.startswith("https://")
    except InvalidRequest as exc:
        assert exc.code.startswith("invalid_") or exc.code == "vp_formats_not_supported"


def test_pure_modules_import_no_io_libraries() -> None:
    code = ("import sys, sharing.dcql, sharing.oid4vp; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('aiohttp', 'aries_askar', 'sqlalchemy')]; print(bad); assert not bad")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stdout + out.stderr


def test_exported_members_exist() -> None:
    import importlib
    import pkgutil

    import sharing.dcql
    import sharing.oid4vp

    for pkg in (sharing.dcql, sharing.oid4vp):
        names = [pkg.__name__] + [f"{pkg.__name__}.{m.name}"
                                  for m in pkgutil.iter_modules(pkg.__path__)]
        for name in names:
            mod = importlib.import_module(name)
            assert mod.__doc__ and "https://" in mod.__doc__, name
            exported = mod.__all__
            assert len(set(exported)) == len(exported), name
            for attr in exported:
                assert hasattr(mod, attr), f"{name}.{attr}"


@pytest.mark.parametrize("name", ["exp", "nbf", "iat"])
@given(value=st.one_of(st.integers(min_value=10**309, max_value=10**500),
                       st.integers(max_value=-10**309, min_value=-10**500),
                       st.sampled_from([float("inf"), float("-inf"), float("nan"), True, False])))
@settings(max_examples=20, deadline=None)
async def test_a_verifiers_time_claim_past_the_float_range_is_refused_typed(
        verifier: Verifier, name: str, value: Any) -> None:
    """A verifier's exp/nbf/iat of 10**400 once reached float() (an OverflowError: a 500, audit
    F11); inf, NaN and booleans are no NumericDate either: all are invalid_request_object."""
    with pytest.raises(InvalidRequestObject, match="finite number"):
        await validate(verifier.sign(claims(**{name: value})), verifier)
