"""SD-JWT VC (draft-ietf-oauth-sd-jwt-vc-18): signed vectors, VC rules, issuer key discovery."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer

from tests.wallet.sd_jwt_support import VECTORS, cases, reference_issue, sd_paths, strip_sd
from wallet.errors import SatchelError
from wallet.formats.model import StatusReference
from wallet.formats.sd_jwt import (
    DisclosedProtectedClaim,
    InvalidKeyBinding,
    InvalidSdJwtVc,
    IssuerKeyNotFound,
    KeyBindingNotAllowed,
    UnverifiedSdJwt,
    build_presentation,
    static_key,
    verify_key_binding,
    verify_sd_jwt,
)
from wallet.formats.sd_jwt_vc import (
    JwtVcIssuerKeyResolver,
    StaticIssuerKey,
    check_sd_jwt_vc,
    metadata_url,
)
from wallet.jose import private_key_from_jwk, public_key_from_jwk
from wallet.ports import FetchResponse

SETTINGS_KEYS = {
    "issuer": {"kty": "EC", "crv": "P-256", "d": "Ur2bNKuBPOrAaxsRnbSH6hIhmNTxSGXshDSUD1a1y7g",
               "x": "b28d4MwZMjw8-00CG4xfnn9SLMVMM19SlqZpVb_uNtQ",
               "y": "Xv5zWwuoaTgdS6hV43yI6gBwTnjukmFQQnJ_kCxzqk8"},
    "holder": {"kty": "EC", "crv": "P-256", "d": "5K5SCos8zf9zRemGGUl6yfok-_NiiryNZsvANWMhF-I",
               "x": "TCAER19Zvu3OHF4j4W4vfSVoHIP1ILilDls7vCeGemc",
               "y": "ZxjiWWbZMQGHVWKVQ4hbSIirsVfuecCE6t4jT9F2HZQ"},
}
ISSUER_PUBLIC = {k: v for k, v in SETTINGS_KEYS["issuer"].items() if k != "d"}
HOLDER_PUBLIC = {k: v for k, v in SETTINGS_KEYS["holder"].items() if k != "d"}
NOW = datetime(2025, 4, 15, 19, 0, tzinfo=UTC)
VCLD = VECTORS / "oid4vp" / "sd_jwt_vcld" / "01"


def _nows(path: Path) -> str:
    return re.sub(r"\s+", "", path.read_text())


class FakeFetcher:
    """An in-memory :class:`wallet.ports.Fetcher`: URL → (status, JSON body)."""

    def __init__(self, routes: Mapping[str, tuple[int, Any]] | None = None) -> None:
        self.routes = dict(routes or {})
        self.calls: list[str] = []

    async def get(self, url: str, *, accept: Sequence[str] = ("application/json",),
                  headers: Mapping[str, str] | None = None,
                  max_bytes: int | None = None) -> FetchResponse:
        self.calls.append(url)
        status, body = self.routes.get(url, (404, {"error": "not_found"}))
        return FetchResponse(url, status, "application/json", json.dumps(body).encode())

    async def post_form(self, url: str, data: Mapping[str, str], **kw: Any) -> FetchResponse:
        raise AssertionError("no POST expected")

    async def post_json(self, url: str, body: Any, **kw: Any) -> FetchResponse:
        raise AssertionError("no POST expected")


def issue(claims: dict[Any, Any], *, header: dict[str, Any] | None = None,
          key: JWK | None = None, holder: bool = True) -> str:
    """The reference implementation issues an SD-JWT VC."""
    return SDJWTIssuer(
        claims, key or JWK(**SETTINGS_KEYS["issuer"]),
        holder_key=JWK(**SETTINGS_KEYS["holder"]) if holder else None,
        extra_header_parameters={"typ": "dc+sd-jwt", **(header or {})},
    ).sd_jwt_issuance


BASE = {"iss": "https://issuer.example.com", "iat": 1683000000, "exp": 1883000000,
        "vct": "https://credentials.example.com/micro", SDObj("achievement_title"): "Data 101",
        SDObj("credits"): 5}


# ---------------------------------------------------------------- the real signed vectors


async def test_oid4vp_vcld_issuance_and_presentation_verify() -> None:
    issuance, presentation = _nows(VCLD / "sd_jwt_issuance.txt"), _nows(
        VCLD / "sd_jwt_presentation.txt")
    checked = await check_sd_jwt_vc(
        issuance, resolver=StaticIssuerKey(public_key_from_jwk(ISSUER_PUBLIC)), now=NOW)
    assert checked.signature == "valid" and checked.format == "dc+sd-jwt"
    assert checked.types == ("https://credentials.example.com/example_credential",)
    assert checked.claims["ld"]["credentialSubject"] == {
        "givenName": "John", "familyName": "Doe", "birthDate": "1978-07-17"}
    assert set(checked.disclosable) == {("ld", "credentialSubject", n)
                                        for n in ("givenName", "familyName", "birthDate")}
    assert checked.holder_jwk == HOLDER_PUBLIC
    assert checked.issued_at == datetime.fromtimestamp(1683000000, UTC)

    # the vector's presentation: same claims as its verified_contents.json, KB-JWT verifies
    shown = verify_sd_jwt(UnverifiedSdJwt.parse(presentation),
                          issuer_key_resolver=static_key(public_key_from_jwk(ISSUER_PUBLIC)),
                          now=NOW)
    assert shown.claims == json.loads((VCLD / "verified_contents.json").read_text())
    kb_time = datetime.fromtimestamp(1744743394, UTC)
    kb = verify_key_binding(shown, expected_aud="https://verifier.example.org",
                            expected_nonce="1234567890", now=kb_time)
    assert kb == json.loads((VCLD / "kb_jwt_payload.json").read_text())
    with pytest.raises(InvalidKeyBinding):
        verify_key_binding(shown, expected_aud="https://evil.example", expected_nonce="1234567890",
                           now=kb_time)
    with pytest.raises(InvalidKeyBinding):  # replayed long after
        verify_key_binding(shown, expected_aud="https://verifier.example.org",
                           expected_nonce="1234567890", now=kb_time + timedelta(hours=1))
    with pytest.raises(KeyBindingNotAllowed):  # an issuer never sends a KB-JWT
        await check_sd_jwt_vc(presentation, resolver=StaticIssuerKey(
            public_key_from_jwk(ISSUER_PUBLIC)), now=NOW)

    # ours, choosing the same claim, sends exactly the vector's disclosures, and its sd_hash is
    # the vector's (the KB-JWT itself differs only by its ECDSA signature)
    verified = verify_sd_jwt(UnverifiedSdJwt.parse(issuance, reject_kb=True),
                             issuer_key_resolver=static_key(public_key_from_jwk(ISSUER_PUBLIC)),
                             now=NOW)
    ours = build_presentation(verified, [("ld", "credentialSubject", "givenName")],
                              holder_key=private_key_from_jwk(SETTINGS_KEYS["holder"]),
                              aud="https://verifier.example.org", nonce="1234567890",
                              iat=1744743394)
    assert ours.rsplit("~", 1)[0] == presentation.rsplit("~", 1)[0]
    again = verify_sd_jwt(UnverifiedSdJwt.parse(ours),
                          issuer_key_resolver=static_key(public_key_from_jwk(ISSUER_PUBLIC)),
                          now=NOW)
    assert verify_key_binding(again, expected_aud="https://verifier.example.org",
                              expected_nonce="1234567890", now=kb_time) == kb


def _credential_from_http_message() -> str:
    message = (VECTORS / "oid4vci" / "credential_response_sd_jwt_vc.txt").read_text()
    status_line, _, rest = message.partition("\n")
    assert status_line.startswith("HTTP/1.1 200")
    body = rest.split("\n\n", 1)[1]
    return str(json.loads(re.sub(r"\s+", "", body))["credentials"][0]["credential"])


async def test_oid4vci_credential_response_via_issuer_metadata() -> None:
    raw = _credential_from_http_message()
    jwk = {**ISSUER_PUBLIC, "kid": "doc-signer-05-25-2022"}
    fetcher = FakeFetcher({
        "https://example.com/.well-known/jwt-vc-issuer/issuer": (
            200, {"issuer": "https://example.com/issuer", "jwks": {"keys": [jwk]}}),
    })
    checked = await check_sd_jwt_vc(raw, resolver=JwtVcIssuerKeyResolver(fetcher), now=NOW)
    assert fetcher.calls == ["https://example.com/.well-known/jwt-vc-issuer/issuer"]
    assert checked.key_source == "jwt_vc_issuer_metadata" and checked.issuer_jwk == jwk
    assert checked.issuer == "https://example.com/issuer"
    assert checked.types == ("https://credentials.example.com/identity_credential",)
    assert len(checked.disclosable) == 9 == raw.count("~") - 1
    assert checked.claims["given_name"] == "John" and checked.holder_jwk == HOLDER_PUBLIC


# ---------------------------------------------------------------- the sd-jwt-vc vector folder


@pytest.mark.parametrize("case", [c for c in cases() if c.id.startswith("sd-jwt-vc/")],
                         ids=lambda c: c.id)
async def test_sd_jwt_vc_vectors(case: Any) -> None:
    raw = reference_issue(case)
    checked = await check_sd_jwt_vc(
        raw, resolver=StaticIssuerKey(public_key_from_jwk(case.issuer_jwk)), now=NOW)
    assert checked.claims == {**strip_sd(case.user_claims), "cnf": {"jwk": HOLDER_PUBLIC}}
    assert sorted(map(repr, checked.disclosable)) == sorted(map(repr, sd_paths(case.user_claims)))
    assert checked.types == (case.spec["user_claims"]["vct"],)
    assert checked.key_source == "configured" and checked.raw == raw


# ---------------------------------------------------------------- SD-JWT VC rules


async def _check(raw: str, **kw: Any) -> Any:
    return await check_sd_jwt_vc(
        raw, resolver=StaticIssuerKey(public_key_from_jwk(ISSUER_PUBLIC)), now=NOW, **kw)


async def test_title_status_and_types() -> None:
    claims = {**BASE, "aka_vcts": ["urn:old:micro"],
              "status": {"status_list": {"idx": 412, "uri": "https://example.com/statuslists/1"}}}
    checked = await _check(issue(claims))
    assert checked.title == "Data 101" and checked.claims["credits"] == 5
    assert checked.types == ("https://credentials.example.com/micro", "urn:old:micro")
    assert checked.status == StatusReference("token_status_list",
                                             "https://example.com/statuslists/1", 412)
    assert checked.problems == ()
    unbound = await _check(issue(BASE, holder=False))
    assert unbound.holder_jwk is None and unbound.problems


@pytest.mark.parametrize("name", ["iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"])
async def test_never_disclosable_claims_are_rejected_when_disclosed(name: str) -> None:
    claims = {k: v for k, v in BASE.items() if k != name}
    value: Any = {"jwk": HOLDER_PUBLIC} if name == "cnf" else (
        1883000000 if name in ("nbf", "exp") else "https://issuer.example.com")
    if name == "nbf":
        value = 1683000000
    if name == "status":
        value = {"status_list": {"idx": 1, "uri": "https://example.com/sl"}}
    claims[SDObj(name)] = value
    with pytest.raises(DisclosedProtectedClaim):
        await _check(issue(claims, holder=name != "cnf"))


@pytest.mark.parametrize("typ, legacy, ok", [
    ("dc+sd-jwt", False, True), ("vc+sd-jwt", False, False), ("vc+sd-jwt", True, True),
    ("example+sd-jwt", True, False), ("JWT", False, False)])
async def test_typ(typ: str, legacy: bool, ok: bool) -> None:
    raw = issue(BASE, header={"typ": typ})
    if ok:
        checked = await _check(raw, accept_legacy_typ=legacy)
        assert checked.format == typ
    else:
        with pytest.raises(InvalidSdJwtVc):
            await _check(raw, accept_legacy_typ=legacy)


@pytest.mark.parametrize("drop", ["vct", "iss"])
async def test_vct_and_iss_required(drop: str) -> None:
    with pytest.raises(InvalidSdJwtVc):
        await _check(issue({k: v for k, v in BASE.items() if k != drop}))


@pytest.mark.parametrize("status", [
    "revoked", {"status_list": {"idx": -1, "uri": "https://x"}},
    {"status_list": {"idx": "1", "uri": "https://x"}}, {"status_list": {"idx": 1}}])
async def test_malformed_status_rejected(status: Any) -> None:
    with pytest.raises(InvalidSdJwtVc):
        await _check(issue({**BASE, "status": status}))


# ---------------------------------------------------------------- issuer key discovery


def test_metadata_url_inserts_well_known_between_host_and_path() -> None:
    assert metadata_url("https://issuer.example.com") == (
        "https://issuer.example.com/.well-known/jwt-vc-issuer")
    assert metadata_url("https://example.com:8443/tenant/1234/") == (
        "https://example.com:8443/.well-known/jwt-vc-issuer/tenant/1234")
    for bad in ("http://example.com", "https://example.com/?q=1", "did:web:example.com", "x",
                "https://user@example.com/", "https://example.com/#f", "https://[::1"):
        with pytest.raises(IssuerKeyNotFound):
            metadata_url(bad)


KID = {"kid": "key-1"}
META_URL = "https://issuer.example.com/.well-known/jwt-vc-issuer"


async def _resolve_with(meta: Any, *, header: dict[str, Any] | None = None,
                        extra: dict[str, tuple[int, Any]] | None = None,
                        claims: dict[Any, Any] | None = None) -> Any:
    fetcher = FakeFetcher({META_URL: (200, meta), **(extra or {})})
    raw = issue(claims or BASE, header=KID if header is None else header)
    return await check_sd_jwt_vc(raw, resolver=JwtVcIssuerKeyResolver(fetcher), now=NOW)


async def test_metadata_jwks_and_jwks_uri() -> None:
    jwks = {"keys": [{**ISSUER_PUBLIC, "kid": "other"}, {**ISSUER_PUBLIC, "kid": "key-1"}]}
    checked = await _resolve_with({"issuer": "https://issuer.example.com", "jwks": jwks})
    assert checked.issuer_jwk["kid"] == "key-1"
    leaked = {"keys": [{**SETTINGS_KEYS["issuer"], "kid": "key-1", "use": "sig"}]}
    checked = await _resolve_with({"issuer": "https://issuer.example.com", "jwks": leaked})
    assert "d" not in checked.issuer_jwk and checked.issuer_jwk["x"] == ISSUER_PUBLIC["x"]
    checked = await _resolve_with(
        {"issuer": "https://issuer.example.com", "jwks_uri": "https://issuer.example.com/jwks"},
        extra={"https://issuer.example.com/jwks": (200, jwks)})
    assert checked.key_source == "jwt_vc_issuer_metadata"


@pytest.mark.parametrize("meta, header", [
    ({"issuer": "https://issuer.example.com/", "jwks": {"keys": [{**ISSUER_PUBLIC, **KID}]}}, None),
    ({"issuer": "https://evil.example", "jwks": {"keys": [{**ISSUER_PUBLIC, **KID}]}}, None),
    ({"issuer": "https://issuer.example.com", "jwks": {"keys": [{**ISSUER_PUBLIC, **KID}]},
      "jwks_uri": "https://issuer.example.com/jwks"}, None),
    ({"issuer": "https://issuer.example.com"}, None),
    ({"issuer": "https://issuer.example.com", "jwks": {"keys": [ISSUER_PUBLIC]}}, None),
    ({"issuer": "https://issuer.example.com", "jwks": {"keys": [{**ISSUER_PUBLIC, **KID}]}}, {}),
    ({"issuer": "https://issuer.example.com",
      "jwks": {"keys": [{**ISSUER_PUBLIC, **KID}, {**ISSUER_PUBLIC, **KID}]}}, None),
    ({"issuer": "https://issuer.example.com", "jwks_uri": "http://issuer.example.com/j"}, None),
    ({"issuer": "https://issuer.example.com",
      "jwks": {"keys": [{**ISSUER_PUBLIC, **KID, "use": "enc"}]}}, None),
    (["not", "an", "object"], None),
], ids=["trailing-slash", "issuer-mismatch", "both-jwks-and-uri", "no-jwks", "key-without-kid",
        "header-without-kid", "kid-twice", "jwks-uri-http", "enc-key", "not-an-object"])
async def test_metadata_rejections(meta: Any, header: dict[str, Any] | None) -> None:
    with pytest.raises(IssuerKeyNotFound):
        await _resolve_with(meta, header=header)


async def test_metadata_with_the_wrong_key_fails_the_signature() -> None:
    wrong = {"kty": "EC", "crv": "P-256", **KID,
             "x": HOLDER_PUBLIC["x"], "y": HOLDER_PUBLIC["y"]}
    with pytest.raises(SatchelError) as info:
        await _resolve_with({"issuer": "https://issuer.example.com", "jwks": {"keys": [wrong]}})
    assert info.value.code == "invalid_jws" or "signature" in info.value.detail


async def test_metadata_not_found_and_non_https_issuer() -> None:
    with pytest.raises(IssuerKeyNotFound):
        await check_sd_jwt_vc(issue(BASE, header=KID), now=NOW,
                              resolver=JwtVcIssuerKeyResolver(FakeFetcher()))
    with pytest.raises(IssuerKeyNotFound):
        await check_sd_jwt_vc(issue({**BASE, "iss": "did:example:123"}, header=KID), now=NOW,
                              resolver=JwtVcIssuerKeyResolver(FakeFetcher()))


# ---------------------------------------------------------------- x5c


def _x5c_issue(leaf: trustme.LeafCert, claims: dict[Any, Any] | None = None,
               chain: list[bytes] | None = None, **header: Any) -> str:
    import base64

    key = JWK.from_pem(leaf.private_key_pem.bytes())
    ders = chain or [x509.load_pem_x509_certificate(b.bytes()).public_bytes(Encoding.DER)
                     for b in leaf.cert_chain_pems]
    x5c = [base64.b64encode(d).decode() for d in ders]
    return issue(claims or BASE, header={"x5c": x5c, **header}, key=key)


def _anchor(ca: trustme.CA) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes())


async def test_x5c_to_configured_anchor(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("issuer.example.com")
    fetcher = FakeFetcher()
    checked = await check_sd_jwt_vc(_x5c_issue(leaf), now=NOW,
                                    resolver=JwtVcIssuerKeyResolver(fetcher, [_anchor(ca)]))
    assert checked.key_source == "x5c" and fetcher.calls == []
    leaf_der = x509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).public_bytes(
        Encoding.DER)
    assert checked.issuer_cert_der == leaf_der

    child = ca.create_child_ca()  # leaf → intermediate → configured root
    via = child.issue_cert("issuer.example.com")
    assert len(via.cert_chain_pems) == 2
    checked = await check_sd_jwt_vc(_x5c_issue(via), now=NOW,
                                    resolver=JwtVcIssuerKeyResolver(FakeFetcher(), [_anchor(ca)]))
    assert checked.key_source == "x5c"


async def test_x5c_rejections(ca: trustme.CA) -> None:
    other = trustme.CA()
    leaf = ca.issue_cert("issuer.example.com")
    with pytest.raises(IssuerKeyNotFound):  # unknown anchor
        await check_sd_jwt_vc(_x5c_issue(leaf), now=NOW,
                              resolver=JwtVcIssuerKeyResolver(FakeFetcher(), [_anchor(other)]))
    expired = ca.issue_cert("issuer.example.com", not_before=NOW - timedelta(days=30),
                            not_after=NOW - timedelta(days=1))
    with pytest.raises(IssuerKeyNotFound) as info:  # expired at the validation time
        await check_sd_jwt_vc(_x5c_issue(expired), now=NOW,
                              resolver=JwtVcIssuerKeyResolver(FakeFetcher(), [_anchor(ca)]))
    assert info.value.code == "certificate_expired"
    stranger = ca.issue_cert("somebody-else.example")
    with pytest.raises(IssuerKeyNotFound):  # the leaf does not name iss
        await check_sd_jwt_vc(_x5c_issue(stranger), now=NOW,
                              resolver=JwtVcIssuerKeyResolver(FakeFetcher(), [_anchor(ca)]))
    with pytest.raises(IssuerKeyNotFound):  # garbage x5c
        await check_sd_jwt_vc(_x5c_issue(leaf, chain=[b"not a certificate"]), now=NOW,
                              resolver=JwtVcIssuerKeyResolver(FakeFetcher(), [_anchor(ca)]))


async def test_x5c_cannot_choose_the_mechanism_without_anchors(ca: trustme.CA) -> None:
    """No anchors configured: the x5c is ignored and the https iss goes to metadata, which
    does not know this key, so the credential fails."""
    leaf = ca.issue_cert("issuer.example.com")
    fetcher = FakeFetcher({META_URL: (200, {"issuer": "https://issuer.example.com",
                                            "jwks": {"keys": [{**ISSUER_PUBLIC, **KID}]}})})
    with pytest.raises(SatchelError) as info:
        await check_sd_jwt_vc(_x5c_issue(leaf, kid="key-1"), now=NOW,
                              resolver=JwtVcIssuerKeyResolver(fetcher))
    assert fetcher.calls == [META_URL]  # metadata was asked, not the x5c
    assert info.value.code == "invalid_jws"  # and its key does not verify the leaf's signature


# ---------------------------------------------------------------- robustness and hygiene

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from wallet.jose import sign_compact  # noqa: E402

_any_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12)
    | st.sampled_from(["https://issuer.example.com", "https://[::1", "https://a:99999/x",
                       "dns:issuer.example.com", "MIIB", "key-1"]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(
        st.sampled_from(["keys", "kid", "kty", "crv", "x", "y", "jwks", "jwks_uri", "issuer",
                         "status_list", "idx", "uri", "jwk"]) | st.text(max_size=3), c,
        max_size=4),
    max_leaves=10)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.dictionaries(st.sampled_from(["kid", "x5c", "typ", "jwk", "jku", "x5u", "crit"]),
                              _any_json, max_size=3),
       claims=st.dictionaries(st.sampled_from(["iss", "vct", "cnf", "status", "exp", "nbf", "iat",
                                               "aka_vcts", "title"]), _any_json, max_size=6),
       meta=_any_json, with_anchor=st.booleans())
async def test_only_typed_errors_escape_check_sd_jwt_vc(
        header: dict[str, Any], claims: dict[str, Any], meta: Any, with_anchor: bool) -> None:
    from wallet.jose import private_key_from_jwk as load

    jwt = sign_compact({"alg": "ES256", "typ": "dc+sd-jwt", **header}, claims,
                       load(SETTINGS_KEYS["issuer"]))
    fetcher = FakeFetcher({META_URL: (200, meta), "https://issuer.example.com/jwks": (200, meta)})
    anchors = [_anchor(trustme.CA())] if with_anchor else []
    for resolver in (JwtVcIssuerKeyResolver(fetcher, anchors),
                     StaticIssuerKey(public_key_from_jwk(ISSUER_PUBLIC))):
        try:
            checked = await check_sd_jwt_vc(jwt + "~", resolver=resolver, now=NOW)
        except SatchelError:
            continue
        assert checked.signature == "valid" and isinstance(checked.types[0], str)


def test_public_names_exist_and_modules_stay_pure() -> None:
    import ast
    import importlib

    import wallet.formats.sd_jwt as pkg

    for name in pkg.__all__:
        assert hasattr(pkg, name), name
    root = Path(__file__).resolve().parents[2]
    files = [*sorted((root / "wallet/formats/sd_jwt").glob("*.py")),
             root / "wallet/formats/sd_jwt_vc.py", root / "wallet/x509.py"]
    for path in files:
        tree = ast.parse(path.read_text())
        imported = {n.name.split(".")[0] for node in ast.walk(tree)
                    if isinstance(node, ast.Import) for n in node.names}
        imported |= {(node.module or "").split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom)}
        assert not imported & {"aiohttp", "aries_askar", "sqlalchemy", "requests", "httpx",
                               "socket", "urllib3"}, path
        module = importlib.import_module(
            str(path.relative_to(root).with_suffix("")).replace("/", ".").removesuffix(
                ".__init__"))
        assert isinstance(module.__all__, list) and module.__doc__
