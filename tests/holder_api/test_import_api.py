"""POST /v1/credentials: every format, verified against peers and samples we did not write.

SD-JWT VCs are issued by the reference ``sd-jwt`` package; their issuer metadata and Token Status
List are served over HTTPS (trustme) on 127.0.0.1 and reached through the guarded fetcher. The
W3C and JSON-LD samples are the public ones in tests/vectors/microcredentials.
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from cryptography.hazmat.primitives.asymmetric import ec
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.issuer import SDJWTIssuer

from tests.holder_api.peers import https_peer
from tests.support.http_api import assert_problem, auth, login, sign_up
from tests.support.vectors import VECTORS
from wallet import jose

MC = VECTORS / "microcredentials"


class Issuer:
    """An SD-JWT VC issuer: reference library for the credential, HTTPS for metadata + status."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.jwk = {**jose.public_jwk(self.key), "kid": "k1", "alg": "ES256"}
        self.base = ""
        self.revoked: set[int] = set()
        self.metadata_hits = 0

    @property
    def iss(self) -> str:
        return f"{self.base}/issuer"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/.well-known/jwt-vc-issuer/issuer", self._metadata)
        app.router.add_get("/status/1", self._status)
        return app

    async def _metadata(self, _r: web.Request) -> web.Response:
        self.metadata_hits += 1
        return web.json_response({"issuer": self.iss, "jwks": {"keys": [self.jwk]}})

    async def _status(self, _r: web.Request) -> web.Response:
        bits = bytearray(16)
        for i in self.revoked:
            bits[i // 8] |= 1 << (i % 8)  # LSB first
        lst = jose.b64url_encode(zlib.compress(bytes(bits)))
        token = jose.sign_compact(
            {"typ": "statuslist+jwt", "kid": "k1", "alg": "ES256"},
            {"iss": self.iss, "sub": f"{self.base}/status/1", "iat": int(time.time()),
             "ttl": 60, "status_list": {"bits": 1, "lst": lst}}, self.key)
        return web.Response(text=token, content_type="application/statuslist+jwt")

    def issue(self, holder_jwk: dict[str, Any], *, index: int = 0, key: Any = None,
              typ: str = "dc+sd-jwt", **claims: Any) -> str:
        from cryptography.hazmat.primitives import serialization

        pem = (key or self.key).private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption())
        body: dict[Any, Any] = {
            "iss": self.iss, "iat": int(time.time()), "exp": int(time.time()) + 86400 * 365,
            "vct": "https://credentials.example/learning",
            "status": {"status_list": {"idx": index, "uri": f"{self.base}/status/1"}},
            SDObj("achievement_title"): "Data Literacy Fundamentals",
            SDObj("learning_outcomes"): ["interpret descriptive statistics"],
            SDObj("ects"): 5, SDObj("eqf_level"): 6,
            SDObj("address"): {SDObj("locality"): "Ghent", "country": "BE"},
        }
        body.update({SDObj(k): v for k, v in claims.items()})
        return str(SDJWTIssuer(body, JWK.from_pem(pem), holder_key=JWK(**holder_jwk),
                               sign_alg="ES256",
                               extra_header_parameters={"typ": typ, "kid": "k1"})
                   .sd_jwt_issuance)


@pytest.fixture
async def sd_jwt_issuer(tmp_path: Path) -> AsyncIterator[tuple[Issuer, Path]]:
    iss = Issuer()
    async with https_peer(iss.app(), tmp_path) as (base, ca):
        iss.base = base
        yield iss, ca


async def _client(make_client: Any, ca: Path, **env: str) -> tuple[TestClient[Any, Any], str,
                                                                     dict[str, Any]]:
    client = await make_client(SATCHEL_FETCH_ALLOW_HOSTS="localhost",
                               SATCHEL_EXTRA_CA_FILE=str(ca), **env)
    await sign_up(client, "importer")
    token = await login(client, "importer")
    keys = (await (await client.get("/v1/keys", headers=auth(token))).json())["items"]
    es256 = next(k for k in keys if k["alg"] == "ES256")["jwk"]
    return client, token, {k: es256[k] for k in ("kty", "crv", "x", "y")}


async def _import(client: TestClient[Any, Any], token: str, raw: str) -> Any:
    return await client.post("/v1/credentials", json={"raw": raw}, headers=auth(token))


async def test_sd_jwt_vc_import_verify_status_elements(make_client: Any,
                                                      sd_jwt_issuer: tuple[Issuer, Path],
                                                      tmp_path: Path) -> None:
    iss, ca = sd_jwt_issuer
    trust = tmp_path / "trust.json"
    client, token, holder = await _client(make_client, ca)
    iss.revoked.add(3)  # before the first fetch: the list is then cached for its ttl
    raw = iss.issue(holder, index=2)
    trust.write_text(json.dumps({"issuers": [{"id": iss.iss, "name": "Test University"}]}))
    r = await _import(client, token, raw)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["raw"] == raw and body["format"] == "dc+sd-jwt"
    assert body["claims"]["achievement_title"] == "Data Literacy Fundamentals"
    assert body["claims"]["address"] == {"locality": "Ghent", "country": "BE"}
    assert ["achievement_title"] in body["disclosable"]
    assert ["address", "locality"] in body["disclosable"]
    assert ["iss"] not in body["disclosable"] and ["vct"] not in body["disclosable"]
    v = body["verification"]
    assert (v["signature"], v["status"], v["issuer_trusted"]) == ("valid", "valid", False)
    assert body["elements"]["title"]["value"] == "Data Literacy Fundamentals"
    assert body["elements"]["workload"]["value"]["ects"] == 5
    assert iss.metadata_hits >= 1

    # revoked in the issuer's status list: shown as such (the learner keeps their record)
    r = await _import(client, token, iss.issue(holder, index=3))
    assert r.status == 201
    assert (await r.json())["verification"]["status"] == "invalid"

    # the same issuer, named in a trust list, is shown as trusted
    second = tmp_path / "second"
    trusted_client, t2, h2 = await _client(
        make_client, ca, SATCHEL_TRUST_LIST=str(trust), SATCHEL_DATA_DIR=str(second),
        SATCHEL_VAULT_URI=f"sqlite://{second}/vault.db",
        SATCHEL_DATABASE_URL=f"sqlite+aiosqlite:///{second}/satchel.db",
        SATCHEL_KEYRING_URI=str(second / "keyring"))
    r = await _import(trusted_client, t2, iss.issue(h2))
    assert (await r.json())["verification"]["issuer_trusted"] is True

    listed = await (await client.get("/v1/credentials?q=fundamentals",
                                     headers=auth(token))).json()
    assert len(listed["items"]) == 2
    pf = await (await client.get("/v1/portfolio", headers=auth(token))).json()
    assert pf["total_ects"] == 10


async def test_legacy_vc_sd_jwt_typ_only_behind_the_setting(make_client: Any,
                                                             sd_jwt_issuer: tuple[Issuer, Path],
                                                             tmp_path: Path) -> None:
    iss, ca = sd_jwt_issuer
    client, token, holder = await _client(make_client, ca)
    legacy = iss.issue(holder, typ="vc+sd-jwt")
    await assert_problem(await _import(client, token, legacy), 422, "invalid_typ")
    assert (await (await client.get("/v1/credentials", headers=auth(token))).json())["items"] == []

    d = tmp_path / "legacy"
    allowing, t2, h2 = await _client(
        make_client, ca, SATCHEL_ACCEPT_LEGACY_SD_JWT_VC="1", SATCHEL_DATA_DIR=str(d),
        SATCHEL_VAULT_URI=f"sqlite://{d}/vault.db",
        SATCHEL_DATABASE_URL=f"sqlite+aiosqlite:///{d}/satchel.db",
        SATCHEL_KEYRING_URI=str(d / "keyring"))
    legacy = iss.issue(h2, typ="vc+sd-jwt")
    r = await _import(allowing, t2, legacy)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert (body["format"], body["raw"]) == ("vc+sd-jwt", legacy)
    assert (body["verification"]["signature"], body["verification"]["status"]) == ("valid",
                                                                                   "valid")
    stored = await (await allowing.get(f"/v1/credentials/{body['id']}", headers=auth(t2))).json()
    assert stored["format"] == "vc+sd-jwt"
    # the current typ is still accepted with the setting on
    r = await _import(allowing, t2, iss.issue(h2))
    assert r.status == 201 and (await r.json())["format"] == "dc+sd-jwt"


async def test_sd_jwt_vc_refusals_store_nothing(make_client: Any,
                                               sd_jwt_issuer: tuple[Issuer, Path]) -> None:
    iss, ca = sd_jwt_issuer
    client, token, holder = await _client(make_client, ca)
    stranger = ec.generate_private_key(ec.SECP256R1())
    await assert_problem(await _import(client, token, iss.issue(holder, key=stranger)), 422)
    good = iss.issue(holder)
    jwt, *disclosures = good.split("~")
    h, p, s = jwt.split(".")
    forged_payload = jose.b64url_encode(
        json.dumps({**json.loads(jose.b64url_decode(p)), "vct": "x"}).encode())
    await assert_problem(await _import(client, token, "~".join(
        [f"{h}.{forged_payload}.{s}", *disclosures])), 422)
    await assert_problem(await _import(client, token, good + "extra~"), 422)
    for bad in ("", "   ", "not a credential", "a.b.c", "{}", "[]", '{"@context": 5}'):
        r = await _import(client, token, bad)
        assert 400 <= r.status < 500, (bad, r.status)
        assert r.content_type == "application/problem+json"
    await assert_problem(await client.post("/v1/credentials", json={"raw": 5},
                                           headers=auth(token)), 400)
    r = await client.get("/v1/credentials", headers=auth(token))
    assert (await r.json())["items"] == []


#: (file, format, signature, status). Only the MyNextID EDC names status lists (StatusList2021 at
#: app.velocert.com): offline they are unreachable, so its status is "unknown", never "valid".
SAMPLES_OK = [
    ("waltid/openbadgecredential_sample.signed.json", "jwt_vc_json", "valid", "none"),
    ("1edtech/ob30/simple.json", "ldp_vc", "valid", "none"),
    ("1edtech/ob30/complete.json", "ldp_vc", "valid", "none"),
    ("1edtech/clr20/simple.json", "ldp_vc", "valid", "none"),
    ("1edtech/clr20/simple.jwt", "jwt_vc_json", "valid", "none"),
    ("1edtech/ob30/simple.jwt", "jwt_vc_json", "no_key", "none"),
    ("elm/Sample-MC-Annex1-signed.jsonld", "ldp_vc", "valid", "none"),
    ("mynextid/substitute-degree-certificate/edc-dc-signed.jsonld", "ldp_vc", "valid", "unknown"),
    ("mynextid/open-badge-mc-example.json", "ldp_vc", "no_key", "none"),
]
#: The samples' validity windows (tests/vectors/README.md): walt.id's .signed expires in 2033 and
#: its not-yet-valid case turns valid in 2035; the VELOCERT seal is valid 2025-09 → 2028-09.
SAMPLES_NOW = datetime(2026, 6, 1, tzinfo=UTC)
SAMPLES_REFUSED = [
    ("waltid/openbadgecredential_sample.signed.badsignature.json", "invalid_proof"),
    ("waltid/openbadgecredential_sample.expired.signed.json", "credential_expired"),
    ("waltid/openbadgecredential_sample.invalidnotbefore.signed.json",
     "credential_not_yet_valid"),
    ("1edtech/ob30/simple-err-proof-value.json", "invalid_proof"),
    ("1edtech/ob30/simple-err-expired.json", "credential_expired"),
    ("1edtech/ob30/simple-err-issued.json", "credential_not_yet_valid"),
]


async def test_real_samples(make_client: Any, no_internet: list[str]) -> None:
    client = await make_client(clock=lambda: SAMPLES_NOW)
    await sign_up(client, "samples")
    token = await login(client, "samples")
    for name, fmt, signature, status in SAMPLES_OK:
        raw = (MC / name).read_text(encoding="utf-8")
        r = await _import(client, token, raw)
        assert r.status == 201, (name, await r.text())
        body = await r.json()
        v = body["verification"]
        assert (body["format"], v["signature"], v["status"]) == (fmt, signature, status), name
        assert v["checked_at"] == "2026-06-01T00:00:00Z", name  # judged at the pinned time
        assert body["raw"] == raw, name  # byte-for-byte
        assert body["elements"] is not None and "missing_mandatory" in body["elements"], name
    for name, code in SAMPLES_REFUSED:
        r = await _import(client, token, (MC / name).read_text(encoding="utf-8"))
        await assert_problem(r, 422, code)
    listed = await (await client.get("/v1/credentials?limit=50", headers=auth(token))).json()
    assert len(listed["items"]) == len(SAMPLES_OK)
    pf = await (await client.get("/v1/portfolio", headers=auth(token))).json()
    assert pf["total_ects"] > 0 and pf["by_eqf_level"]
    assert no_internet == []  # the status lists were answered locally, not fetched


async def test_self_asserted_issuer_keys_are_visible(client: TestClient[Any, Any]) -> None:
    """Public samples whose key comes with the credential still import, and say so."""
    await sign_up(client, "selfasserted")
    token = await login(client, "selfasserted")
    expected = {
        "1edtech/clr20/simple.jwt": ("header_jwk", True),  # RSA key in the JWS header
        "1edtech/ob30/simple.json": ("multibase_fragment", True),  # https://…#z6Mk…
        "waltid/openbadgecredential_sample.signed.json": ("did:key", False),  # bound to issuer
    }
    for name, (key_source, self_asserted) in expected.items():
        r = await _import(client, token, (MC / name).read_text(encoding="utf-8"))
        assert r.status == 201, (name, await r.text())
        cid = (await r.json())["id"]
        v = (await (await client.get(f"/v1/credentials/{cid}", headers=auth(token))).json()
             )["verification"]
        assert (v["signature"], v["key_source"], v["issuer_trusted"]) == (
            "valid", key_source, False), name
        assert ("issuer_key_self_asserted" in v["problems"]) is self_asserted, (name, v)


async def test_status_refreshed_on_read_when_stale(make_client: Any, sd_jwt_issuer: tuple[Issuer, Path],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import timedelta

    import wallet.credentials
    from holder_api.appkeys import WIRING

    iss, ca = sd_jwt_issuer
    client, token, holder = await _client(make_client, ca)
    r = await _import(client, token, iss.issue(holder, index=5))
    cid = (await r.json())["id"]
    assert (await r.json())["verification"]["status"] == "valid"
    iss.revoked.add(5)  # the issuer revokes it later
    r = await client.get(f"/v1/credentials/{cid}", headers=auth(token))
    assert (await r.json())["verification"]["status"] == "valid"  # still fresh: not re-checked
    monkeypatch.setattr(wallet.credentials, "STATUS_FRESH", timedelta(0))
    client.app[WIRING].vault.intake.status.invalidate()  # the list's own ttl has passed, too
    r = await client.get(f"/v1/credentials/{cid}", headers=auth(token))
    assert (await r.json())["verification"]["status"] == "invalid"
    listed = await (await client.get("/v1/credentials", headers=auth(token))).json()
    assert listed["items"][0]["status"] == "invalid"  # the refreshed status was stored


async def test_edc_seal_trusted_only_by_certificate_pin(make_client: Any, tmp_path: Path) -> None:
    """A JAdES seal's certificate is not tied to the issuer id: only a certificate pin trusts it."""
    import hashlib

    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives.serialization import Encoding

    raw = (MC / "elm/Sample-MC-Annex1-signed.jsonld").read_text(encoding="utf-8")
    issuer = json.loads(json.loads(raw)["payload"])["issuer"]
    issuer_id = issuer["id"] if isinstance(issuer, dict) else issuer
    cert = cx509.load_pem_x509_certificate(
        (MC / "elm/Sample-signer-TEST-SEAL.x5c0.cert.pem").read_bytes())
    pin = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
    results = {}
    for name, entry in (("unpinned", {"id": issuer_id}),
                        ("pinned", {"id": issuer_id, "certificate_sha256": pin}),
                        ("wrong pin", {"id": issuer_id, "certificate_sha256": "00" * 32})):
        trust = tmp_path / f"{name}.json"
        trust.write_text(json.dumps({"issuers": [entry]}))
        d = tmp_path / name.replace(" ", "-")
        client = await make_client(SATCHEL_TRUST_LIST=str(trust), SATCHEL_DATA_DIR=str(d),
                                   SATCHEL_VAULT_URI=f"sqlite://{d}/vault.db",
                                   SATCHEL_DATABASE_URL=f"sqlite+aiosqlite:///{d}/satchel.db",
                                   SATCHEL_KEYRING_URI=str(d / "keyring"))
        await sign_up(client, "sealed")
        token = await login(client, "sealed")
        r = await _import(client, token, raw)
        assert r.status == 201, await r.text()
        v = (await r.json())["verification"]
        assert v["signature"] == "valid" and v["key_source"] == "x5c_seal"
        results[name] = v["issuer_trusted"]
    assert results == {"unpinned": False, "pinned": True, "wrong pin": False}


class ForeignStatusIssuer(Issuer):
    """Serves a status list signed by someone who is not the credential's issuer."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        self.mode = mode
        self.other = ec.generate_private_key(ec.SECP256R1())

    async def _metadata(self, r: web.Request) -> web.Response:
        if r.path.endswith("/other"):
            jwk = {**jose.public_jwk(self.other), "kid": "o1", "alg": "ES256"}
            return web.json_response({"issuer": f"{self.base}/other", "jwks": {"keys": [jwk]}})
        return await super()._metadata(r)

    def app(self) -> web.Application:
        app = super().app()
        app.router.add_get("/.well-known/jwt-vc-issuer/other", self._metadata)
        return app

    async def _status(self, _r: web.Request) -> web.Response:
        if self.mode == "hostile":
            return web.Response(text="[" * 50_000, content_type="application/statuslist+jwt")
        # revoked, but signed by another (valid) issuer: must not count either way
        lst = jose.b64url_encode(zlib.compress(bytes([0xFF] * 16)))
        token = jose.sign_compact(
            {"typ": "statuslist+jwt", "kid": "o1", "alg": "ES256"},
            {"iss": f"{self.base}/other", "sub": f"{self.base}/status/1",
             "iat": int(time.time()), "ttl": 10 ** 400 if self.mode == "overflow" else 60,
             "status_list": {"bits": 1, "lst": lst}}, self.other)
        return web.Response(text=token, content_type="application/statuslist+jwt")


@pytest.mark.parametrize("mode", ["foreign", "hostile", "overflow"])
async def test_status_list_must_come_from_the_issuer(make_client: Any, tmp_path: Path,
                                                    mode: str) -> None:
    iss = ForeignStatusIssuer(mode)
    async with https_peer(iss.app(), tmp_path) as (base, ca):
        iss.base = base
        client, token, holder = await _client(make_client, ca)
        r = await _import(client, token, iss.issue(holder, index=1))
        assert r.status == 201, await r.text()
        cid = (await r.json())["id"]
        assert (await r.json())["verification"]["status"] == "unknown"
        r = await client.get(f"/v1/credentials/{cid}", headers=auth(token))
        assert r.status == 200


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
async def test_absurd_numeric_date_is_a_422_not_a_500(make_client: Any, sd_jwt_issuer: tuple[Issuer, Path],
                                                     claim: str) -> None:
    """A validly signed credential whose exp/nbf/iat is 10**400 (JSON has no number bounds)."""
    from cryptography.hazmat.primitives import serialization

    iss, ca = sd_jwt_issuer
    client, token, holder = await _client(make_client, ca)
    pem = iss.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    body = {"iss": iss.iss, "iat": int(time.time()), "vct": "https://credentials.example/learning",
            claim: 10**400}
    raw = str(SDJWTIssuer(body, JWK.from_pem(pem), holder_key=JWK(**holder), sign_alg="ES256",
                          extra_header_parameters={"typ": "dc+sd-jwt", "kid": "k1"}).sd_jwt_issuance)
    r = await _import(client, token, raw)
    assert r.status == 422, await r.text()
    problem = await r.json()
    assert r.content_type == "application/problem+json"
    assert problem["code"] == "invalid_sd_jwt" and claim in problem["detail"], problem
    listed = await (await client.get("/v1/credentials", headers=auth(token))).json()
    assert listed["items"] == []  # nothing half-written


async def test_json_serialized_sd_jwt_vc_imports_and_presents_compact(
        make_client: Any, sd_jwt_issuer: tuple[Issuer, Path]) -> None:
    """RFC 9901 §8: the reference issuer's signature and Disclosures in the flattened JWS JSON
    Serialization import like the compact form, are kept byte-for-byte, and present as compact."""
    iss, ca = sd_jwt_issuer
    client, token, holder = await _client(make_client, ca)
    jwt, *disclosures, _ = iss.issue(holder).split("~")
    protected, payload, signature = jwt.split(".")
    raw = json.dumps({"payload": payload, "protected": protected, "signature": signature,
                      "header": {"disclosures": disclosures}}, indent=2)
    r = await _import(client, token, raw)
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["raw"] == raw and body["format"] == "dc+sd-jwt"
    assert body["claims"]["achievement_title"] == "Data Literacy Fundamentals"
    assert ["address", "locality"] in body["disclosable"]
    assert body["verification"]["signature"] == "valid"

    r = await client.post("/v1/share-links", headers=auth(token), json={
        "credential_id": body["id"], "claims": [["achievement_title"]], "expires_in": 3600,
        "max_views": 1})
    assert r.status == 201, await r.text()
    view = await (await client.get(
        "/s/" + (await r.json())["url"].rsplit("/", 1)[1],
        headers={"Accept": "application/json"})).json()
    assert view["presentation"].startswith(jwt + "~")  # compact, from the same signature
    assert view["verified"]["signature"] == "valid"
    assert view["verified"]["key_binding"] == "valid"
    assert view["claims"]["achievement_title"] == "Data Literacy Fundamentals"
    assert "ects" not in view["claims"]

    # a KB-JWT in what is imported is refused, and nothing is stored
    presented = json.loads(raw)
    presented["header"]["kb_jwt"] = "e30.e30.sig"
    r = await _import(client, token, json.dumps(presented))
    assert r.status == 422, await r.text()
    listed = await (await client.get("/v1/credentials", headers=auth(token))).json()
    assert [c["id"] for c in listed["items"]] == [body["id"]]


class BitstringListIssuer:
    """A W3C Bitstring Status List served over HTTPS, signed with Data Integrity by ``signer``."""

    def __init__(self) -> None:
        self.base = ""
        self.document: dict[str, Any] = {}

    @property
    def list_uri(self) -> str:
        return f"{self.base}/status/ld"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/status/ld", self._list)
        return app

    async def _list(self, _r: web.Request) -> web.Response:
        return web.json_response(self.document, content_type="application/vc+ld+json")


@pytest.mark.parametrize("mode", ["issuer did:key", "forged did:key", "forged fragment",
                                  "unpinned fragment", "pinned fragment"])
async def test_bitstring_status_list_must_come_from_the_issuer(make_client: Any, tmp_path: Path,
                                                              mode: str,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """The Bitstring side: a Data Integrity list counts only with a key bound to the issuer."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from tests.wallet.di_support import (
        credential_with_status,
        did_key,
        did_key_vm,
        multikey,
        sign_di,
        status_list_credential,
    )

    issuer_key, forger = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    https_issuer = "https://issuer.example/issuers/1"
    if mode in ("issuer did:key", "forged did:key"):
        issuer, vm = did_key(issuer_key), did_key_vm(issuer_key)
        list_key, list_vm = ((issuer_key, vm) if mode == "issuer did:key"
                             else (forger, did_key_vm(forger)))
    else:
        issuer, vm = https_issuer, f"{https_issuer}#{multikey(issuer_key)}"
        list_key = forger if mode == "forged fragment" else issuer_key
        list_vm = f"{https_issuer}#{multikey(list_key)}"
    env: dict[str, str] = {}
    if mode == "pinned fragment":
        trust = tmp_path / "trust.json"
        trust.write_text(json.dumps({"issuers": [{"id": https_issuer, "jwk_thumbprint":
                                                  jose.jwk_thumbprint(jose.public_jwk(
                                                      issuer_key.public_key()))}]}))
        env["SATCHEL_TRUST_LIST"] = str(trust)
    genuine = mode in ("issuer did:key", "pinned fragment")
    peer = BitstringListIssuer()
    async with https_peer(peer.app(), tmp_path) as (base, ca):
        peer.base = base
        # the forger sets every bit it wants; the issuer's list revokes index 1 only
        peer.document = sign_di(status_list_credential(
            peer.list_uri, issuer, revoked=[1] if genuine else [0, 1]), list_key, list_vm)
        client, token, _holder = await _client(make_client, ca, **env)
        seen, ids = [], []
        for index in (0, 1):
            raw = json.dumps(sign_di(credential_with_status(issuer, peer.list_uri, index),
                                     issuer_key, vm))
            r = await _import(client, token, raw)
            assert r.status == 201, await r.text()
            body = await r.json()
            assert body["verification"]["signature"] == "valid"
            detail = await (await client.get(f"/v1/credentials/{body['id']}",
                                             headers=auth(token))).json()
            seen.append((detail["verification"]["status"],
                         "status_list_not_from_issuer" in detail["verification"]["problems"]))
            ids.append(body["id"])
        if genuine:
            assert seen == [("valid", False), ("invalid", False)]
        else:
            assert seen == [("unknown", True), ("unknown", True)]

        # later the issuer itself publishes the list: a re-check on read replaces the verdict
        # and its problem (never both, never twice)
        import wallet.credentials
        from holder_api.appkeys import WIRING

        peer.document = sign_di(status_list_credential(peer.list_uri, issuer, revoked=[1]),
                                issuer_key, vm)
        monkeypatch.setattr(wallet.credentials, "STATUS_FRESH", timedelta(0))
        client.app[WIRING].vault.intake.status.invalidate()
        refreshed = []
        for cid in ids:
            v = (await (await client.get(f"/v1/credentials/{cid}", headers=auth(token))).json()
                 )["verification"]
            refreshed.append((v["status"], v["problems"].count("status_list_not_from_issuer")))
    if mode in ("issuer did:key", "forged did:key", "pinned fragment"):
        assert refreshed == [("valid", 0), ("invalid", 0)]
    else:  # an unpinned fragment key is nobody's, even the issuer's own
        assert refreshed == [("unknown", 1), ("unknown", 1)]


async def test_tls_anchors_do_not_anchor_credential_x5c(make_client: Any, tmp_path: Path) -> None:
    """SATCHEL_X5C_ANCHORS_FILE=none keeps a TLS-only private CA from signing as an issuer;
    without it SATCHEL_EXTRA_CA_FILE anchors x5c too, as the HTTP contract has it."""
    import base64

    import trustme
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

    tls_ca, other_ca = trustme.CA(), trustme.CA()
    tls_pem, other_pem = tmp_path / "tls-ca.pem", tmp_path / "other-ca.pem"
    tls_ca.cert_pem.write_to_path(str(tls_pem))
    other_ca.cert_pem.write_to_path(str(other_pem))
    # a server certificate for issuer.example from the TLS CA, used to sign a credential as it
    leaf = tls_ca.issue_cert("issuer.example")
    key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    der = cx509.load_pem_x509_certificate(leaf.cert_chain_pems[0].bytes()).public_bytes(
        Encoding.DER)
    raw = jose.sign_compact(
        {"typ": "vc+jwt", "x5c": [base64.b64encode(der).decode()]},
        {"@context": ["https://www.w3.org/ns/credentials/v2"],
         "type": ["VerifiableCredential"], "issuer": "https://issuer.example",
         "validFrom": "2024-01-01T00:00:00Z", "name": "Signed with a TLS certificate",
         "credentialSubject": {"id": "did:example:learner"}}, key)
    cases = {
        "tls only": ({"SATCHEL_EXTRA_CA_FILE": str(tls_pem), "SATCHEL_X5C_ANCHORS_FILE": "none"},
                     ("no_key", "x5c_no_anchors")),
        "extra ca, the contract's default": ({"SATCHEL_EXTRA_CA_FILE": str(tls_pem)},
                                             ("valid", None)),
        "other x5c anchor": ({"SATCHEL_EXTRA_CA_FILE": str(tls_pem),
                              "SATCHEL_X5C_ANCHORS_FILE": str(other_pem)},
                             ("no_key", "x5c_chain_untrusted")),
        "x5c anchor": ({"SATCHEL_X5C_ANCHORS_FILE": str(tls_pem)}, ("valid", None)),
    }
    for name, (env, (signature, problem)) in cases.items():
        d = tmp_path / name.replace(" ", "-")
        client = await make_client(SATCHEL_DATA_DIR=str(d),
                                   SATCHEL_VAULT_URI=f"sqlite://{d}/vault.db",
                                   SATCHEL_DATABASE_URL=f"sqlite+aiosqlite:///{d}/satchel.db",
                                   SATCHEL_KEYRING_URI=str(d / "keyring"), **env)
        await sign_up(client, "x5c")
        token = await login(client, "x5c")
        r = await _import(client, token, raw)
        assert r.status == 201, (name, await r.text())
        v = (await r.json())["verification"]
        assert v["signature"] == signature and v["key_source"] == "x5c", (name, v)
        assert v["issuer_trusted"] is False, name
        if problem is not None:
            assert problem in v["problems"], (name, v)
