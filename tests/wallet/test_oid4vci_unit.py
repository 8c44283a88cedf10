"""Unit tests for wallet.oid4vci: spec vectors, negative offers, proofs, encryption, error mapping.

Vectors: tests/vectors/oid4vci (OpenID4VCI 1.0 examples). ``.txt`` files are whole HTTP messages
whose JSON strings are line-wrapped (see the vectors README's parsing notes).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jwcrypto import jwk as jwcrypto_jwk
from openid4vci.crypto.encryption import encrypt_credential_response
from openid4vci.crypto.proofs import validate_jwt_proof
from openid4vci.models.credential import (
    CredentialResponse,
    IssuedCredential,
    RequestedCredentialResponseEncryption,
)
from sd_jwt.verifier import SDJWTVerifier

from tests.wallet.oid4vci_support import FakeClock, HolderKey
from wallet.errors import BadInput, SatchelError, UpstreamError, UpstreamUnavailable
from wallet.jose import parse_compact, public_key_from_jwk, verify_compact
from wallet.oid4vci import (
    Deferred,
    IssuanceClient,
    IssuedCredentials,
    ResolvedOffer,
    TokenSet,
    TxCode,
    build_proof_jwt,
    parse_as_metadata,
    parse_issuer_metadata,
    parse_offer,
    parse_offer_input,
    well_known_url,
)
from wallet.oid4vci.client import MAX_EXPIRES_IN, _raise_for_error
from wallet.oid4vci.encryption import encrypt_request, new_response_encryption
from wallet.oid4vci.errors import (
    CredentialRequestDenied,
    ExpiredToken,
    InvalidCredentialOffer,
    InvalidCredentialResponse,
    InvalidEncryptionParameters,
    InvalidGrant,
    InvalidIssuerMetadata,
    InvalidToken,
    InvalidTransactionId,
    IssuerProtocolError,
    UnsupportedProofAlgorithm,
    error_for_code,
)
from wallet.oid4vci.metadata import RequestEncryption, ResponseEncryption
from wallet.oid4vci.offer import OfferReference, load_offer
from wallet.ports import FetchResponse

ISSUER = "https://credential-issuer.example.com"


# --------------------------------------------------------------------------- helpers
def http_message(path: Path) -> tuple[int, dict[str, str], str]:
    """(status, headers, body) of a vector .txt HTTP message, line-wrapped strings rejoined."""
    lines = path.read_text().lstrip("\n").splitlines()
    status = int(lines[0].split()[1])
    headers: dict[str, str] = {}
    i = 1
    while i < len(lines) and lines[i].strip():
        name, _, value = lines[i].partition(":")
        headers[name.strip().lower()] = value.strip()
        i += 1
    return status, headers, unwrap_json("\n".join(lines[i + 1:]))


def unwrap_json(text: str) -> str:
    """Drop line breaks (and the indentation after them) that occur inside JSON strings."""
    out, in_str, esc, skip_ws = [], False, False, False
    for ch in text:
        if skip_ws:
            if ch in " \t":
                continue
            skip_ws = False
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            elif ch == "\n":
                skip_ws = True
                continue
        elif ch == '"':
            in_str = True
        out.append(ch)
    return "".join(out)


def vector_json(vectors: Path, name: str) -> Any:
    path = vectors / "oid4vci" / name
    if name.endswith(".txt"):
        return json.loads(http_message(path)[2])
    return json.loads(path.read_text())


def issuer_doc(configs: Mapping[str, Any], **extra: Any) -> dict[str, Any]:
    return {"credential_issuer": ISSUER, "credential_endpoint": ISSUER + "/credential",
            "credential_configurations_supported": dict(configs), **extra}


AS_DOC = {"issuer": "https://server.example.com",
          "authorization_endpoint": "https://server.example.com/authorize",
          "token_endpoint": "https://server.example.com/token"}


class MemoryFetcher:
    """In-memory Fetcher: url -> queued responses; records (method, url, body)."""

    def __init__(self) -> None:
        self.routes: dict[str, list[FetchResponse]] = {}
        self.sent: list[tuple[str, str, Any]] = []

    def add(self, url: str, status: int = 200, body: Any = None, *,
            content_type: str = "application/json", raw: bytes | None = None,
            headers: Mapping[str, str] | None = None) -> None:
        data = raw if raw is not None else json.dumps(body).encode()
        self.routes.setdefault(url, []).append(
            FetchResponse(url, status, content_type, data, dict(headers or {})))

    def _answer(self, method: str, url: str, body: Any) -> FetchResponse:
        self.sent.append((method, url, body))
        queue = self.routes.get(url)
        if not queue:
            return FetchResponse(url, 404, "application/json", b'{"error":"not_found"}')
        return queue.pop(0) if len(queue) > 1 else queue[0]

    async def get(self, url: str, *, accept: Sequence[str] = ("application/json",),
                  headers: Mapping[str, str] | None = None,
                  max_bytes: int | None = None) -> FetchResponse:
        return self._answer("GET", url, None)

    async def post_form(self, url: str, data: Mapping[str, str], *,
                        accept: Sequence[str] = ("application/json",),
                        headers: Mapping[str, str] | None = None,
                        max_bytes: int | None = None) -> FetchResponse:
        return self._answer("POST", url, dict(data))

    async def post_json(self, url: str, body: Any, *,
                        accept: Sequence[str] = ("application/json",),
                        headers: Mapping[str, str] | None = None,
                        max_bytes: int | None = None) -> FetchResponse:
        return self._answer("POST", url, body)

    async def post_bytes(self, url: str, body: bytes, *, content_type: str,
                         accept: Sequence[str] = ("application/json",),
                         headers: Mapping[str, str] | None = None,
                         max_bytes: int | None = None) -> FetchResponse:
        return self._answer("POST " + content_type, url, body)


def resolved_from(vectors: Path, offer: Mapping[str, Any] | None = None,
                  **meta_extra: Any) -> ResolvedOffer:
    configs = vector_json(vectors, "credential_metadata_sd_jwt_vc.json")[
        "credential_configurations_supported"]
    meta = issuer_doc(configs, nonce_endpoint=ISSUER + "/nonce",
                      deferred_credential_endpoint=ISSUER + "/deferred",
                      notification_endpoint=ISSUER + "/notification", **meta_extra)
    offer = offer or {"credential_issuer": ISSUER,
                      "credential_configuration_ids": ["SD_JWT_VC_example_in_OpenID4VCI"],
                      "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {
                          "pre-authorized_code": "secret-pre-auth-code"}}}
    return ResolvedOffer(parse_offer(offer), parse_issuer_metadata(meta, ISSUER),
                         parse_as_metadata(AS_DOC, AS_DOC["issuer"]))


TOKEN = TokenSet("secret-access-token", "Bearer", None)


# --------------------------------------------------------------------------- offers
OFFER_VECTORS = ["credential_offer_authz_code.txt", "credential_offer_by_reference.json",
                 "credential_offer_multiple_credentials.json",
                 "credential_offer_pre-authz_code.json"]


@pytest.mark.parametrize("name", OFFER_VECTORS)
def test_offer_vectors_parse_as_json_and_as_uri(vectors: Path, name: str) -> None:
    data = vector_json(vectors, name)
    offer = parse_offer(data)
    assert offer.credential_issuer == ISSUER
    assert list(offer.credential_configuration_ids) == data["credential_configuration_ids"]
    by_value = parse_offer_input("openid-credential-offer://?credential_offer="
                                 + quote(json.dumps(data)))
    assert by_value == offer
    assert parse_offer_input(json.dumps(data)) == offer
    assert parse_offer(offer.to_json()) == offer


def test_offer_vector_details(vectors: Path) -> None:
    multi = parse_offer(vector_json(vectors, "credential_offer_multiple_credentials.json"))
    assert multi.pre_authorized_code is not None and multi.pre_authorized_code.tx_code
    assert multi.pre_authorized_code.tx_code == TxCode(
        "numeric", 4, "Please provide the one-time code that was sent via e-mail")
    by_ref = parse_offer(vector_json(vectors, "credential_offer_by_reference.json"))
    assert by_ref.pre_authorized_code and by_ref.pre_authorized_code.tx_code is not None
    authz = parse_offer(vector_json(vectors, "credential_offer_authz_code.txt"))
    assert authz.authorization_code and authz.authorization_code.issuer_state
    assert authz.pre_authorized_code is None
    assert "adhjhdjajkdkhjhdj" not in repr(by_ref)  # the code never shows in logs


def test_offer_by_reference_is_a_reference() -> None:
    ref = parse_offer_input("openid-credential-offer://?credential_offer_uri="
                            + quote("https://server.example.com/credential-offer/GkurKxf5T0Y"))
    assert ref == OfferReference("https://server.example.com/credential-offer/GkurKxf5T0Y")
    assert parse_offer_input("https://issuer.example/offer/1") == OfferReference(
        "https://issuer.example/offer/1")


GOOD = {"credential_issuer": ISSUER, "credential_configuration_ids": ["A"]}


@pytest.mark.parametrize("offer_input", [
    "openid-credential-offer://?credential_offer=" + quote(json.dumps(GOOD))
    + "&credential_offer_uri=" + quote("https://x.example/o"),
    "openid-credential-offer://?foo=bar",
    "openid-credential-offer://?credential_offer_uri=" + quote("http://x.example/o"),
    "openid-credential-offer://?credential_offer=%7Bnot-json",
    "openid-credential-offer://?credential_offer=" + quote(json.dumps(GOOD))
    + "&credential_offer=" + quote(json.dumps(GOOD)),
    "http://issuer.example/offer",
    json.dumps({**GOOD, "credential_issuer": "http://credential-issuer.example.com"}),
    json.dumps({**GOOD, "credential_issuer": ISSUER + "?tenant=1"}),
    json.dumps({**GOOD, "credential_issuer": ISSUER + "#frag"}),
    json.dumps({**GOOD, "credential_issuer": "https://user@evil.example"}),
    json.dumps({"credential_configuration_ids": ["A"]}),
    json.dumps({**GOOD, "credential_configuration_ids": []}),
    json.dumps({**GOOD, "credential_configuration_ids": ["A", "A"]}),
    json.dumps({**GOOD, "credential_configuration_ids": [1]}),
    json.dumps({**GOOD, "credential_configuration_ids": "A"}),
    json.dumps({**GOOD, "credential_configuration_ids": [f"id{i}" for i in range(65)]}),
    json.dumps({**GOOD, "credential_configuration_ids": ["x" * 5000]}),
    json.dumps({**GOOD, "pad": "x" * 20000}),
    json.dumps({**GOOD, "grants": []}),
    json.dumps({**GOOD, "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {}}}),
    json.dumps({**GOOD, "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {
        "pre-authorized_code": "c", "tx_code": {"input_mode": "emoji"}}}}),
    json.dumps({**GOOD, "grants": {"urn:ietf:params:oauth:grant-type:pre-authorized_code": {
        "pre-authorized_code": "c", "tx_code": {"length": 0}}}}),
    json.dumps({**GOOD, "grants": {"authorization_code": {
        "authorization_server": "http://as.example"}}}),
    "[1, 2]",
    "x" * 100_000,
])
def test_bad_offers_are_refused(offer_input: str) -> None:
    with pytest.raises(InvalidCredentialOffer) as err:
        parse_offer_input(offer_input)
    assert err.value.status == 400


async def test_offer_by_reference_is_fetched_and_checked() -> None:
    f = MemoryFetcher()
    f.add("https://issuer.example/o1", body=GOOD)
    f.add("https://issuer.example/o2", raw=b"<html>", content_type="text/html")
    f.add("https://issuer.example/o3", 500, {"error": "x"})
    f.add("https://issuer.example/o4", raw=json.dumps({**GOOD, "p": "x" * 20000}).encode())
    offer = await load_offer(f, "openid-credential-offer://?credential_offer_uri="
                             + quote("https://issuer.example/o1"))
    assert offer.credential_configuration_ids == ("A",)
    for n in (2, 3, 4):
        with pytest.raises(InvalidCredentialOffer):
            await load_offer(f, f"https://issuer.example/o{n}")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_offer_parser_never_escapes_untyped(text: str) -> None:
    for candidate in (text, "openid-credential-offer://?credential_offer=" + quote(text),
                      "openid-credential-offer://?" + text):
        try:
            parse_offer_input(candidate)
        except SatchelError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                max_size=4),
    max_leaves=8)


@settings(max_examples=150, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "credential_issuer": st.sampled_from([ISSUER, "http://x", "", 3]) | st.text(max_size=30),
    "credential_configuration_ids": json_values,
    "grants": json_values | st.fixed_dictionaries({}, optional={
        "authorization_code": json_values,
        "urn:ietf:params:oauth:grant-type:pre-authorized_code": json_values})}))
def test_offer_object_parser_is_total(data: dict[str, Any]) -> None:
    try:
        offer = parse_offer(data)
    except InvalidCredentialOffer:
        return
    assert offer.credential_issuer.startswith("https://")
    assert len(set(offer.credential_configuration_ids)) == len(offer.credential_configuration_ids)


# --------------------------------------------------------------------------- metadata
def test_well_known_url_inserts_between_host_and_path() -> None:
    assert well_known_url("https://issuer.example.com", "/.well-known/openid-credential-issuer") \
        == "https://issuer.example.com/.well-known/openid-credential-issuer"
    assert well_known_url("https://issuer.example.com/tenant/1",
                          "/.well-known/openid-credential-issuer") \
        == "https://issuer.example.com/.well-known/openid-credential-issuer/tenant/1"
    assert well_known_url("https://as.example.com:8443/t/",
                          "/.well-known/oauth-authorization-server") \
        == "https://as.example.com:8443/.well-known/oauth-authorization-server/t"


def test_issuer_metadata_vector(vectors: Path) -> None:
    meta = parse_issuer_metadata(
        vector_json(vectors, "credential_issuer_metadata_sd_jwt_long.json"), ISSUER)
    assert meta.authorization_servers == ("https://server.example.com",)
    assert meta.nonce_endpoint == ISSUER + "/nonce"
    assert meta.deferred_credential_endpoint == ISSUER + "/deferred_credential"
    assert meta.notification_endpoint == ISSUER + "/notification"
    assert meta.batch_size == 10
    assert meta.response_encryption == ResponseEncryption(("ECDH-ES",), ("A128GCM",), ("DEF",),
                                                          True)
    assert meta.name("fr-FR") == "Example Université" and meta.name() == "Example University"
    conf = meta.configurations["SD_JWT_VC_example_in_OpenID4VCI"]
    assert (conf.format, conf.vct, conf.proof_signing_algs) == (
        "dc+sd-jwt", "SD_JWT_VC_example_in_OpenID4VCI", ("ES256",))
    assert conf.name("en-US") == "IdentityCredential"
    assert type(meta).from_json(meta.to_json()) == meta


def test_signed_issuer_metadata_vector_payload_parses(vectors: Path) -> None:
    token = "".join((vectors / "oid4vci" / "credential_issuer_metadata_sd_jwt_jwt.txt")
                    .read_text().split())
    parts = parse_compact(token)
    assert parts.header["typ"] == "openidvci-issuer-metadata+jwt"
    meta = parse_issuer_metadata(parts.claims(), ISSUER)
    assert meta.credential_endpoint == ISSUER + "/credential"


@pytest.mark.parametrize("name,cid,check", [
    ("credential_metadata_sd_jwt_vc.json", "SD_JWT_VC_example_in_OpenID4VCI",
     lambda c: c.vct == "SD_JWT_VC_example_in_OpenID4VCI"),
    ("credential_metadata_jwt_vc_json.json", "UniversityDegreeCredential",
     lambda c: c.credential_definition_types == ("VerifiableCredential",
                                                 "UniversityDegreeCredential")),
    ("credential_metadata_ldp_vc.json", "UniversityDegree_LDP_VC",
     lambda c: c.format == "ldp_vc"),
    ("credential_metadata_mso_mdoc.json", "org.iso.18013.5.1.mDL",
     lambda c: c.doctype == "org.iso.18013.5.1.mDL" and c.name() == "Mobile Driving License"),
])
def test_credential_metadata_vectors(vectors: Path, name: str, cid: str, check: Any) -> None:
    configs = vector_json(vectors, name)["credential_configurations_supported"]
    meta = parse_issuer_metadata(issuer_doc(configs), ISSUER)
    assert check(meta.configurations[cid])


@pytest.mark.parametrize("mutate", [
    lambda d: d.update(credential_issuer=ISSUER + "/"),
    lambda d: d.update(credential_issuer="https://CREDENTIAL-issuer.example.com"),
    lambda d: d.update(credential_endpoint="http://credential-issuer.example.com/credential"),
    lambda d: d.update(nonce_endpoint="http://credential-issuer.example.com/nonce"),
    lambda d: d.update(notification_endpoint="javascript:alert(1)"),
    lambda d: d.update(credential_configurations_supported={}),
    lambda d: d.update(authorization_servers=[]),
    lambda d: d.update(authorization_servers=["http://as.example"]),
    lambda d: d.update(batch_credential_issuance={"batch_size": 1}),
    lambda d: d.update(credential_response_encryption={"alg_values_supported": ["ECDH-ES"]}),
    lambda d: d["credential_configurations_supported"]["X"].pop("format"),
    lambda d: d["credential_configurations_supported"]["X"].update(
        proof_types_supported={"jwt": {"proof_signing_alg_values_supported": []}}),
    lambda d: d.pop("credential_endpoint"),
])
def test_bad_issuer_metadata_is_refused(mutate: Any) -> None:
    doc = issuer_doc({"X": {"format": "dc+sd-jwt", "vct": "v"}})
    mutate(doc)
    with pytest.raises(InvalidIssuerMetadata):
        parse_issuer_metadata(doc, ISSUER)


def test_as_metadata_checks() -> None:
    meta = parse_as_metadata(AS_DOC, "https://server.example.com")
    assert meta.token_endpoint == "https://server.example.com/token"
    with pytest.raises(InvalidIssuerMetadata):
        parse_as_metadata(AS_DOC, "https://server.example.com/other")
    with pytest.raises(InvalidIssuerMetadata):
        parse_as_metadata({**AS_DOC, "token_endpoint": "http://server.example.com/token"},
                          "https://server.example.com")


async def test_as_metadata_falls_back_to_openid_configuration(vectors: Path) -> None:
    f = MemoryFetcher()
    f.add("https://credential-issuer.example.com/.well-known/openid-credential-issuer",
          body=issuer_doc({"A": {"format": "dc+sd-jwt"}}))
    f.add("https://credential-issuer.example.com/.well-known/openid-configuration",
          body={**AS_DOC, "issuer": ISSUER})
    client = IssuanceClient(f, clock=FakeClock())
    resolved = await client.resolve_offer(GOOD)
    assert resolved.auth_server.issuer == ISSUER
    assert [u for _, u, _ in f.sent] == [
        ISSUER + "/.well-known/openid-credential-issuer",
        ISSUER + "/.well-known/oauth-authorization-server",
        ISSUER + "/.well-known/openid-configuration"]
    with pytest.raises(InvalidCredentialOffer):  # offered id the issuer does not describe
        await client.resolve_offer({**GOOD, "credential_configuration_ids": ["B"]})


# --------------------------------------------------------------------------- authorization
@pytest.mark.parametrize("with_as,vector", [(False, "authorization_details.json"),
                                            (True, "authorization_details_with_as.json")])
def test_authorization_details_match_the_spec_examples(vectors: Path, with_as: bool,
                                                       vector: str) -> None:
    configs = vector_json(vectors, "credential_metadata_jwt_vc_json.json")[
        "credential_configurations_supported"]
    extra = {"authorization_servers": ["https://server.example.com"]} if with_as else {}
    offer = parse_offer(vector_json(vectors, "credential_offer_authz_code.txt"))
    resolved = ResolvedOffer(offer, parse_issuer_metadata(issuer_doc(configs, **extra), ISSUER),
                             parse_as_metadata(AS_DOC, AS_DOC["issuer"]))
    start = IssuanceClient(MemoryFetcher()).start_authorization(
        resolved, redirect_uri="https://wallet.example/cb", client_id="s6BhdRkqt3")
    q = parse_qs(urlsplit(start.url).query)
    assert json.loads(q["authorization_details"][0]) == vector_json(vectors, vector)
    assert q["issuer_state"] == ["eyJhbGciOiJSU0Et...FYUaBy"]
    assert q["code_challenge_method"] == ["S256"]
    import base64
    import hashlib
    assert q["code_challenge"] == [base64.urlsafe_b64encode(hashlib.sha256(
        start.code_verifier.encode()).digest()).rstrip(b"=").decode()]
    assert q["state"] == [start.state]
    assert "s6BhdRkqt3" in repr(start) and start.state not in repr(start)
    assert type(start).from_json(start.to_json()) == start


def test_authorization_details_for_a_multi_credential_offer(vectors: Path) -> None:
    configs = {**vector_json(vectors, "credential_metadata_jwt_vc_json.json")[
        "credential_configurations_supported"],
        **vector_json(vectors, "credential_metadata_mso_mdoc.json")[
        "credential_configurations_supported"]}
    offer = parse_offer(vector_json(vectors, "credential_offer_multiple_credentials.json"))
    resolved = ResolvedOffer(offer, parse_issuer_metadata(issuer_doc(configs), ISSUER),
                             parse_as_metadata(AS_DOC, AS_DOC["issuer"]))
    start = IssuanceClient(MemoryFetcher()).start_authorization(
        resolved, redirect_uri="https://wallet.example/cb", client_id="c")
    details = json.loads(parse_qs(urlsplit(start.url).query)["authorization_details"][0])
    assert details == vector_json(vectors, "authorization_details_multiple_credentials.json")
    assert "issuer_state" not in parse_qs(urlsplit(start.url).query)
    with pytest.raises(BadInput):  # not offered
        IssuanceClient(MemoryFetcher()).start_authorization(
            resolved, redirect_uri="https://wallet.example/cb", client_id="c",
            configuration_ids=["PID_SD_JWT_VC"])


async def test_pushed_authorization_request(vectors: Path) -> None:
    configs = vector_json(vectors, "credential_metadata_jwt_vc_json.json")[
        "credential_configurations_supported"]
    as_doc = {**AS_DOC, "pushed_authorization_request_endpoint": "https://server.example.com/par",
              "require_pushed_authorization_requests": True}
    resolved = ResolvedOffer(parse_offer(vector_json(vectors, "credential_offer_authz_code.txt")),
                             parse_issuer_metadata(issuer_doc(configs), ISSUER),
                             parse_as_metadata(as_doc, AS_DOC["issuer"]))
    f = MemoryFetcher()
    f.add("https://server.example.com/par", 201,
          {"request_uri": "urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c",
           "expires_in": 60})
    client = IssuanceClient(f)
    with pytest.raises(InvalidIssuerMetadata):  # the AS demands PAR
        client.start_authorization(resolved, redirect_uri="https://wallet.example/cb",
                                   client_id="s6BhdRkqt3")
    start = await client.start_authorization_pushed(
        resolved, redirect_uri="https://wallet.example/cb", client_id="s6BhdRkqt3")
    assert parse_qs(urlsplit(start.url).query) == {
        "client_id": ["s6BhdRkqt3"],
        "request_uri": ["urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c"]}
    pushed = f.sent[0][2]
    assert pushed["state"] == start.state and pushed["code_challenge_method"] == "S256"
    assert pushed["issuer_state"] == "eyJhbGciOiJSU0Et...FYUaBy"


@pytest.mark.parametrize("name", [
    "authorization_details.json", "authorization_details_jwt_vc_json.json",
    "authorization_details_ldp_vc.json", "authorization_details_mso_doc.json",
    "authorization_details_multiple_credentials.json", "authorization_details_sd_jwt_vc.json",
    "authorization_details_with_as.json"])
async def test_token_response_with_authorization_details_vectors(vectors: Path,
                                                                 name: str) -> None:
    details = vector_json(vectors, name)
    for i, d in enumerate(details):
        d["credential_identifiers"] = [f"dataset-{i}-a", f"dataset-{i}-b"]
    f = MemoryFetcher()
    f.add(AS_DOC["token_endpoint"], 200, {"access_token": "at", "token_type": "Bearer",
                                          "expires_in": 86400, "authorization_details": details})
    clock = FakeClock()
    token = await IssuanceClient(f, clock=clock).token_pre_authorized(resolved_from(vectors))
    assert token.expires_at == clock.now + 86400
    for i, d in enumerate(details):
        assert token.identifiers_for(d["credential_configuration_id"]) == (
            f"dataset-{i}-a", f"dataset-{i}-b")


# --------------------------------------------------------------------------- token
async def test_token_errors_are_typed_and_secret_free(vectors: Path) -> None:
    resolved = resolved_from(vectors)
    f = MemoryFetcher()
    client = IssuanceClient(f, clock=FakeClock())
    for code, cls in [("invalid_grant", InvalidGrant), ("expired_token", ExpiredToken),
                      ("invalid_client", IssuerProtocolError), ("weird", IssuerProtocolError)]:
        f.routes.clear()
        f.add(AS_DOC["token_endpoint"], 400, {"error": code,
                                              "error_description": "secret-pre-auth-code"})
        with pytest.raises(cls) as err:
            await client.token_pre_authorized(resolved)
        assert "secret-pre-auth-code" not in str(err.value) + repr(err.value.extra)
    for body in [{"token_type": "Bearer"}, {"access_token": "t", "token_type": "MAC"},
                 {"access_token": "t", "token_type": "Bearer", "authorization_details": {}}]:
        f.routes.clear()
        f.add(AS_DOC["token_endpoint"], 200, body)
        with pytest.raises(InvalidCredentialResponse):
            await client.token_pre_authorized(resolved)
    sent = f.sent[-1][2]
    assert sent == {"grant_type": "urn:ietf:params:oauth:grant-type:pre-authorized_code",
                    "pre-authorized_code": "secret-pre-auth-code"}


def test_token_set_round_trip_and_repr() -> None:
    token = TokenSet("secret-access-token", "Bearer", 12.0, "secret-refresh",
                     {"A": ("a1", "a2")}, "client")
    assert TokenSet.from_json(json.loads(json.dumps(token.to_json()))) == token
    assert "secret" not in repr(token)
    assert token.authorization_header() == {"Authorization": "Bearer secret-access-token"}
    with pytest.raises(BadInput):
        TokenSet.from_json({"token_type": "Bearer"})
    with pytest.raises(BadInput):
        Deferred.from_json({"transaction_id": "t"})


# --------------------------------------------------------------------------- proofs
def test_proof_jwt_is_accepted_by_the_independent_validator() -> None:
    holder = HolderKey()
    proof = build_proof_jwt(signer=holder, aud=ISSUER, nonce="n-1", iat=1_750_000_000,
                            iss="client-1", supported_algs=["ES256"])
    result = validate_jwt_proof(proof, credential_issuer=ISSUER, c_nonce="n-1",
                                supported_algorithms=["ES256"], client_id="client-1",
                                now=1_750_000_000)
    assert result.bound_key["x"] == holder.public_jwk["x"]
    parts = verify_compact(proof, lambda h: public_key_from_jwk(holder.public_jwk),
                           allowed_algs={"ES256"}, expected_typ={"openid4vci-proof+jwt"})
    assert parts.claims() == {"aud": ISSUER, "iat": 1_750_000_000, "nonce": "n-1",
                              "iss": "client-1"}


def test_proof_key_reference_variants() -> None:
    holder = HolderKey()
    by_kid = parse_compact(build_proof_jwt(signer=holder, aud=ISSUER, nonce=None, iat=1,
                                           kid="did:example:ebfeb1f712ebc6f1c276e12ec21#keys-1"))
    assert "kid" in by_kid.header and "jwk" not in by_kid.header
    assert "nonce" not in by_kid.claims() and "iss" not in by_kid.claims()
    by_x5c = parse_compact(build_proof_jwt(signer=holder, aud=ISSUER, nonce="n", iat=1,
                                           x5c=["MIIB"]))
    assert by_x5c.header["x5c"] == ["MIIB"] and "jwk" not in by_x5c.header
    with pytest.raises(BadInput):
        build_proof_jwt(signer=holder, aud=ISSUER, nonce="n", iat=1, kid="k",
                        jwk=holder.public_jwk)
    with pytest.raises(BadInput):
        build_proof_jwt(signer=holder, aud=ISSUER, nonce="n", iat=1,
                        jwk={**holder.public_jwk, "d": "secret"})
    with pytest.raises(UnsupportedProofAlgorithm):
        build_proof_jwt(signer=holder, aud=ISSUER, nonce="n", iat=1, supported_algs=["EdDSA"])
    with pytest.raises(UnsupportedProofAlgorithm):
        build_proof_jwt(signer=holder, aud=ISSUER, nonce="n", iat=1, alg="ES384")


# --------------------------------------------------------------------------- credential responses
CREDENTIAL_RESPONSES = ["credential_response_sd_jwt_vc.txt", "credential_response_jwt_vc_json.txt",
                        "credential_response_ldp_vc.txt", "credential_response_mso_mdoc.txt"]


@pytest.mark.parametrize("name", CREDENTIAL_RESPONSES)
async def test_credential_response_vectors(vectors: Path, name: str) -> None:
    status, headers, body = http_message(vectors / "oid4vci" / name)
    f = MemoryFetcher()
    f.add(ISSUER + "/credential", status, raw=body.encode(),
          content_type=headers["content-type"])
    client = IssuanceClient(f, clock=FakeClock())
    result = await client.request_credential(
        resolved_from(vectors), TOKEN, configuration_id="SD_JWT_VC_example_in_OpenID4VCI",
        proofs=["p"])
    assert isinstance(result, IssuedCredentials)
    assert list(result.credentials) == [c["credential"] for c in json.loads(body)["credentials"]]
    method, url, sent = f.sent[0]
    assert sent == {"credential_configuration_id": "SD_JWT_VC_example_in_OpenID4VCI",
                    "proofs": {"jwt": ["p"]}}
    # The iso_mdl request example uses the same proofs shape we send.
    example = vector_json(vectors, "credential_request_iso_mdl.json")
    assert set(example["proofs"]) == set(sent["proofs"]) == {"jwt"}


def test_sd_jwt_vc_response_vector_verifies_with_the_reference_verifier(vectors: Path) -> None:
    body = json.loads(http_message(vectors / "oid4vci" / "credential_response_sd_jwt_vc.txt")[2])
    credential = body["credentials"][0]["credential"]
    key = jwcrypto_jwk.JWK(kty="EC", crv="P-256",
                           x="b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
                           y="Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8")
    claims = SDJWTVerifier(credential, lambda iss, h: key).get_verified_payload()
    assert claims["vct"] == "https://credentials.example.com/identity_credential"


def test_jwt_vc_json_response_vector_verifies_with_issuer_jwks(vectors: Path) -> None:
    jwks_text = (vectors / "oid4vci" / "issuer_jwks.json").read_text()
    jwks = json.loads(unwrap_json(jwks_text))  # the kid is line-wrapped in the vector
    key = jwks["jwks"]["keys"][0]
    body = json.loads(http_message(vectors / "oid4vci" /
                                   "credential_response_jwt_vc_json.txt")[2])
    parts = verify_compact(body["credentials"][0]["credential"],
                           lambda h: public_key_from_jwk(key), allowed_algs={"ES256"})
    assert parts.header["kid"] == key["kid"]
    assert "UniversityDegreeCredential" in parts.claims()["vc"]["type"]


async def test_credential_request_rules(vectors: Path) -> None:
    f = MemoryFetcher()
    f.add(ISSUER + "/credential", 200, {"credentials": [{"credential": "c"}]})
    client = IssuanceClient(f, clock=FakeClock())
    resolved = resolved_from(vectors)
    with pytest.raises(BadInput):
        await client.request_credential(resolved, TOKEN, configuration_id="x",
                                        credential_identifier="y")
    with pytest.raises(BadInput):
        await client.request_credential(resolved, TOKEN)
    with pytest.raises(BadInput):  # no batch_credential_issuance → one proof per request
        await client.request_credential(resolved, TOKEN,
                                        configuration_id="SD_JWT_VC_example_in_OpenID4VCI",
                                        proofs=["a", "b"])
    token = TokenSet("t", "Bearer", None, None,
                     {"SD_JWT_VC_example_in_OpenID4VCI": ("CivilEngineeringDegree-2023",)})
    await client.request_credential(resolved, token,
                                    configuration_id="SD_JWT_VC_example_in_OpenID4VCI",
                                    proofs=["a"])
    assert f.sent[-1][2] == {"credential_identifier": "CivilEngineeringDegree-2023",
                             "proofs": {"jwt": ["a"]}}
    assert f.sent == [f.sent[-1]]  # the refused calls sent nothing


@pytest.mark.parametrize("status,body,exc", [
    (400, {"error": "credential_request_denied"}, CredentialRequestDenied),
    (400, {"error": "invalid_proof"}, IssuerProtocolError),
    (401, None, InvalidToken),
    (200, {"credentials": []}, InvalidCredentialResponse),
    (200, {"credentials": [{"credential": ""}]}, InvalidCredentialResponse),
    (200, {"credentials": [{"c": 1}], "transaction_id": "t"}, InvalidCredentialResponse),
    (202, {"transaction_id": "t"}, InvalidCredentialResponse),
    (202, {"transaction_id": "t", "interval": 0}, InvalidCredentialResponse),
    (200, {}, InvalidCredentialResponse),
    (503, {"error": "x"}, UpstreamUnavailable),  # 5xx/429: an outage, whatever the body says
    (500, None, UpstreamUnavailable),
    (429, {"error": "invalid_request"}, UpstreamUnavailable),
])
async def test_credential_error_responses(vectors: Path, status: int, body: Any,
                                          exc: type[Exception]) -> None:
    f = MemoryFetcher()
    f.add(ISSUER + "/credential", status, body,
          headers={"WWW-Authenticate": 'Bearer error="invalid_token"'} if status == 401 else {})
    with pytest.raises(exc) as err:
        await IssuanceClient(f, clock=FakeClock()).request_credential(
            resolved_from(vectors), TOKEN, configuration_id="SD_JWT_VC_example_in_OpenID4VCI")
    assert "secret-access-token" not in str(err.value)


@pytest.mark.parametrize(("header", "expected"), [
    ("30", 30), (" 7 ", 7), ("0", 1), ("999999999", 24 * 3600),  # bounded by MAX_INTERVAL
    ("Wed, 21 Oct 2015 07:28:00 GMT", None), ("-5", None), ("1e3", None), ("\u0661", None),
])
def test_retry_after_of_an_outage(header: str, expected: int | None) -> None:
    resp = FetchResponse(ISSUER + "/deferred", 503, "text/html", b"<h1>down</h1>",
                         {"retry-after": header})
    with pytest.raises(UpstreamUnavailable) as err:
        _raise_for_error(resp, "deferred credential endpoint")
    assert err.value.retry_after == expected


@pytest.mark.parametrize("status", [400, 403, 404, 410, 302])
def test_an_error_status_without_a_spec_code_is_not_an_outage(status: int) -> None:
    resp = FetchResponse(ISSUER + "/deferred", status, "text/html", b"<h1>no</h1>", {})
    with pytest.raises(UpstreamError, match=f"HTTP {status}") as err:
        _raise_for_error(resp, "deferred credential endpoint")
    assert not isinstance(err.value, UpstreamUnavailable)


# --------------------------------------------------------------------------- deferred
async def test_deferred_pre_1_0_issuance_pending_and_invalid_transaction(vectors: Path) -> None:
    clock = FakeClock()
    f = MemoryFetcher()
    f.add(ISSUER + "/deferred", 400, {"error": "issuance_pending", "interval": 7})
    f.add(ISSUER + "/deferred", 400, {"error": "invalid_transaction_id"})
    client = IssuanceClient(f, clock=clock, sleep=clock.sleep)
    resolved = resolved_from(vectors)
    start = clock.now
    pending = Deferred("tx-1", 3, start + 3)
    again = await client.poll_deferred(resolved, TOKEN, pending)
    assert isinstance(again, Deferred) and again.interval == 7
    assert again.not_before == start + 3 + 7 and clock.sleeps == [3]
    with pytest.raises(InvalidTransactionId):
        await client.poll_deferred(resolved, TOKEN, again)
    assert clock.sleeps == [3, 7]
    assert [b for _, _, b in f.sent] == [{"transaction_id": "tx-1"}] * 2


# --------------------------------------------------------------------------- encryption
def _encrypted(request_param: Mapping[str, Any], payload: CredentialResponse,
               zip_: str | None = None) -> str:
    return encrypt_credential_response(payload, RequestedCredentialResponseEncryption(
        jwk=dict(request_param["jwk"]), enc=request_param["enc"], zip=zip_))


def test_response_encryption_with_the_independent_encrypter() -> None:
    key = new_response_encryption(ResponseEncryption(("ECDH-ES",), ("A128GCM",), (), True))
    param = key.request_param
    assert param["enc"] == "A128GCM" and param["jwk"]["alg"] == "ECDH-ES"
    assert "d" not in param["jwk"]
    resp = CredentialResponse(credentials=[IssuedCredential(credential="abc")],
                              notification_id="n")
    assert key.decrypt(_encrypted(param, resp)) == {"credentials": [{"credential": "abc"}],
                                                    "notification_id": "n"}
    with pytest.raises(InvalidCredentialResponse):  # compression is refused, never inflated
        key.decrypt(_encrypted(param, resp, zip_="DEF"))
    other = new_response_encryption(ResponseEncryption(("ECDH-ES",), ("A128GCM",), (), True))
    with pytest.raises(InvalidCredentialResponse):
        key.decrypt(_encrypted(other.request_param, resp))
    with pytest.raises(InvalidCredentialResponse):
        key.decrypt("a.b.c.d.e" * 400_000)
    with pytest.raises(UpstreamError):
        new_response_encryption(ResponseEncryption(("RSA-OAEP",), ("A128GCM",), (), True))


async def test_required_encryption_refuses_plain_answers(vectors: Path) -> None:
    enc = {"alg_values_supported": ["ECDH-ES"], "enc_values_supported": ["A256GCM"],
           "encryption_required": True}
    resolved = resolved_from(vectors, credential_response_encryption=enc)
    f = MemoryFetcher()
    f.add(ISSUER + "/credential", 200, {"credentials": [{"credential": "c"}]})
    with pytest.raises(InvalidCredentialResponse):
        await IssuanceClient(f).request_credential(
            resolved, TOKEN, configuration_id="SD_JWT_VC_example_in_OpenID4VCI")
    assert f.sent[0][2]["credential_response_encryption"]["enc"] == "A256GCM"


async def test_required_request_encryption_sends_a_jwe(vectors: Path) -> None:
    meta = vector_json(vectors, "credential_issuer_metadata_sd_jwt_long.json")
    resolved = ResolvedOffer(parse_offer({**GOOD, "credential_configuration_ids": [
        "SD_JWT_VC_example_in_OpenID4VCI"]}), parse_issuer_metadata(meta, ISSUER),
        parse_as_metadata(AS_DOC, AS_DOC["issuer"]))
    assert resolved.issuer.request_encryption is not None
    assert resolved.issuer.request_encryption.keys[0]["kid"] == "ac"
    f = MemoryFetcher()
    with pytest.raises(IssuerProtocolError):  # the in-memory issuer answers 404
        await IssuanceClient(f).request_credential(
            resolved, TOKEN, configuration_id="SD_JWT_VC_example_in_OpenID4VCI", proofs=["p"])
    [(method, _url, body)] = f.sent
    assert method == "POST application/jwt"  # never the plain JSON the issuer requires encrypted
    assert parse_compact_header(body.decode("ascii"))["kid"] == "ac"


def test_request_encryption_to_the_issuer_key_decrypts_with_the_package() -> None:
    from joserfc.jwk import ECKey
    from openid4vci.crypto.encryption import decrypt_credential_request

    issuer_key = ECKey.generate_key("P-256", parameters={"alg": "ECDH-ES", "kid": "k1"},
                                    private=True)
    meta = RequestEncryption((issuer_key.as_dict(private=False),), ("A256GCM",), (), True)
    token = encrypt_request(meta, {"credential_configuration_id": "A"})
    assert parse_compact_header(token) == {"alg": "ECDH-ES", "enc": "A256GCM", "kid": "k1"}
    assert decrypt_credential_request(token, issuer_key) == {"credential_configuration_id": "A"}
    with pytest.raises(InvalidEncryptionParameters):
        encrypt_request(RequestEncryption(({"kty": "RSA", "kid": "r", "alg": "RSA-OAEP"},),
                                          ("A256GCM",), (), True), {})


def parse_compact_header(token: str) -> dict[str, Any]:
    import base64
    seg = token.split(".")[0]
    header = json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4)))
    return {k: header[k] for k in ("alg", "enc", "kid")}


# --------------------------------------------------------------------------- notification
async def test_notification(vectors: Path) -> None:
    f = MemoryFetcher()
    f.add(ISSUER + "/notification", 204, raw=b"", content_type="")
    client = IssuanceClient(f)
    assert await client.notify(resolved_from(vectors), TOKEN, "nid", "credential_failure",
                               "signature did not verify")
    assert f.sent[0][2] == {"notification_id": "nid", "event": "credential_failure",
                            "event_description": "signature did not verify"}
    with pytest.raises(BadInput):
        await client.notify(resolved_from(vectors), TOKEN, "nid", "exploded")  # type: ignore
    for bad in ('say "hi"', "back\\slash", "caf\u00e9", "line\nbreak"):
        with pytest.raises(BadInput):
            await client.notify(resolved_from(vectors), TOKEN, "nid", "credential_failure", bad)
    f.routes.clear()
    f.add(ISSUER + "/notification", 400, {"error": "invalid_notification_id"})
    with pytest.raises(IssuerProtocolError) as err:
        await client.notify(resolved_from(vectors), TOKEN, "nid", "credential_deleted")
    assert err.value.code == "invalid_notification_id"


def test_error_for_code_tree() -> None:
    assert isinstance(error_for_code("invalid_grant", "x"), BadInput)
    assert isinstance(error_for_code("credential_request_denied", "x"), CredentialRequestDenied)
    assert isinstance(error_for_code("invalid_nonce", "x"), UpstreamError)
    unknown = error_for_code("made_up", "x")
    assert type(unknown) is IssuerProtocolError and "made_up" not in str(unknown)
    assert error_for_code("issuance_pending", "x").code == "issuance_pending"  # type: ignore


@given(expires_in=st.one_of(
    st.integers(min_value=-10**500, max_value=10**500), st.booleans(),
    st.floats(allow_nan=True, allow_infinity=True), st.just(10**400), st.just(-(10**400)),
    st.just(MAX_EXPIRES_IN), st.just(MAX_EXPIRES_IN + 1), st.just(0)))
@settings(max_examples=60, deadline=None)
async def test_an_issuers_expires_in_is_bounded(vectors: Path, expires_in: Any) -> None:
    """Whatever number the token endpoint sends as expires_in (10**400 once made accepting the
    offer a 500: an OverflowError, audit F11), the token is used and its expiry is absent or
    within MAX_EXPIRES_IN of now (a bool, NaN, infinity, zero or negative one is absent)."""
    f = MemoryFetcher()
    f.add(AS_DOC["token_endpoint"], 200, {"access_token": "at", "token_type": "Bearer",
                                          "expires_in": expires_in})
    clock = FakeClock()
    token = await IssuanceClient(f, clock=clock).token_pre_authorized(resolved_from(vectors))
    valid = type(expires_in) in (int, float) and 0 < expires_in <= MAX_EXPIRES_IN  # NaN: False
    assert token.expires_at == (clock.now + expires_in if valid else None)
    assert TokenSet.from_json(token.to_json()).expires_at == token.expires_at
