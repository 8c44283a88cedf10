"""Share links for W3C credentials (``jwt_vc_json``, ``ldp_vc``), shared whole, on both backends.

Real public samples (tests/vectors/microcredentials, see its README): the 1EdTech CLR 2.0 VC-JWT
(issuer key in the header), the 1EdTech OB 3.0 VC-JWT without any key, the 1EdTech OB 3.0
Data Integrity credential signed with a ``did:key``, the ELM micro-credential sealed with JAdES,
the walt.id OB 3.0 VC-JWT (bound to a ``did:key`` subject this vault does not hold) and the
MyNextID unsigned OB 3.0 credential (for hostile claim values). Imports run at a pinned time
inside every sample's validity window; the links themselves run on the real clock, since none of
the shared samples expires. The VP is checked with PyJWT — not ``wallet.jose`` — and the
``did:jwk`` holder key decoded here.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import jwt as pyjwt
import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.isolation import ID_ROUTES, assert_isolated
from tests.holder_api.present_support import ledger_details
from tests.support.apps import app_clock
from tests.support.http_api import assert_problem, auth, login, sign_up
from tests.support.vectors import VECTORS

MC = VECTORS / "microcredentials"
PIN = datetime(2025, 1, 1, tzinfo=UTC)  # inside every sample's window (vectors README)
CLR_JWT = "1edtech/clr20/simple.jwt"  # jwt_vc_json, header jwk: re-verified at each view
OB_JWT_NO_KEY = "1edtech/ob30/simple.jwt"  # jwt_vc_json, no key anywhere: the import result
OB_DID_KEY = "1edtech/ob30/simple-did-key-method.json"  # ldp_vc, Data Integrity + did:key
ELM_JADES = "elm/Sample-MC-Annex1-signed.jsonld"  # ldp_vc, EDC sealed with JAdES (x5c)
WALTID_JWT = "waltid/openbadgecredential_sample.signed.json"  # jwt_vc_json, subject did:key
UNSIGNED_OB = "mynextid/open-badge-mc-example.json"  # ldp_vc without proof


def _raw(name: str) -> str:
    return (MC / name).read_text(encoding="utf-8")


def _path(url: str) -> str:
    return url.split("http://satchel.test", 1)[1]


async def _learner(app: TestClient[Any, Any], name: str = "ada") -> str:
    await sign_up(app, name)
    app_clock(app).set(PIN)
    return await login(app, name)


async def _import(app: TestClient[Any, Any], token: str, raw: str) -> dict[str, Any]:
    r = await app.post("/v1/credentials", json={"raw": raw}, headers=auth(token))
    assert r.status == 201, await r.text()
    return dict(await r.json())


async def _share(app: TestClient[Any, Any], token: str, cid: str, **extra: Any) -> Any:
    return await app.post("/v1/share-links", headers=auth(token),
                          json={"credential_id": cid, "claims": [[]], **extra})


def _did_jwk_key(kid: str) -> Any:
    """The public key a ``did:jwk:<base64url JWK>#0`` names, decoded without wallet code."""
    did, _, fragment = kid.partition("#")
    assert did.startswith("did:jwk:") and fragment == "0"
    encoded = did.removeprefix("did:jwk:")
    jwk = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    assert "d" not in jwk
    return pyjwt.PyJWK(jwk).key


def _independent_vp(presentation: str, url: str, now: datetime) -> dict[str, Any]:
    """The VP's claims, checked by PyJWT at ``now`` (the app's time: the samples' window)."""
    header = pyjwt.get_unverified_header(presentation)
    assert header["typ"] == "JWT"
    claims = pyjwt.decode(presentation, _did_jwk_key(header["kid"]), algorithms=["ES256", "EdDSA"],
                          audience=url, options={"require": ["iss", "aud", "nonce", "iat", "exp"],
                                                 "verify_exp": False, "verify_iat": False})
    assert claims["iat"] <= now.timestamp() < claims["exp"]
    assert claims["iss"] == header["kid"].split("#")[0] == claims["vp"]["holder"]
    return dict(claims)


#: sample, format, signature, signature_checked, whose key signed (``verified.issuer_key``) and
#: the problem that says so. None of these samples is signed by a key bound to its issuer (see
#: test_present_share_issuer.py for those), so none may be shown as "Verified".
SHARED = [
    pytest.param(CLR_JWT, "jwt_vc_json", "valid", "now", "self_asserted",
                 "issuer_key_self_asserted", id="clr20-vc-jwt"),
    pytest.param(OB_JWT_NO_KEY, "jwt_vc_json", "no_key", "at_import", "unknown", "no_issuer_key",
                 id="ob30-vc-jwt-no-key"),
    pytest.param(OB_DID_KEY, "ldp_vc", "valid", "now", "not_issuer",
                 "verification_method_not_issuer", id="ob30-data-integrity-did-key"),
    # the seal's certificate came with the credential; only a certificate pin vouches for it
    pytest.param(ELM_JADES, "ldp_vc", "valid", "now", "self_asserted",
                 "issuer_key_self_asserted", id="elm-jades"),
]
#: How the page says who signed, for each ``issuer_key``.
SAID = {
    "self_asserted": "signed with a key the credential itself supplies, so the issuer is not "
                     "confirmed",
    "not_issuer": "signed with a key that is not shown to be the issuer&#x27;s, so the issuer is "
                  "not confirmed",
    "unknown": "the issuer is not confirmed",
}


@pytest.mark.parametrize(("name", "fmt", "signature", "checked", "issuer_key", "problem"), SHARED)
async def test_whole_credential_link(client: TestClient[Any, Any], name: str, fmt: str,
                                     signature: str, checked: str, issuer_key: str,
                                     problem: str) -> None:
    token = await _learner(client)
    raw = _raw(name)
    stored = await _import(client, token, raw)
    assert stored["format"] == fmt and stored["verification"]["signature"] == signature
    r = await _share(client, token, stored["id"], expires_in=3600, max_views=2)
    assert r.status == 201, await r.text()
    link = await r.json()
    other = await (await _share(client, token, stored["id"], max_views=1)).json()

    # a machine gets JSON: the VP, its check, the claims, the original bytes
    r = await client.get(_path(link["url"]), headers={"Accept": "application/json"})
    assert r.status == 200, await r.text()
    assert r.headers["Cache-Control"] == "no-store"
    body = await r.json()
    v = body["verified"]
    assert (v["signature"], v["signature_checked"]) == (signature, checked)
    assert v["key_binding"] == "valid" and v["validity"] == "valid"
    assert v["holder_bound"] is False and v["whole_credential"] is True
    # whose key signed: what intake recorded agrees with what the view re-derives
    assert v["issuer_key"] == issuer_key and problem in v["problems"]
    assert problem in stored["verification"]["problems"] or issuer_key == "self_asserted"
    assert v["key_source"] == stored["verification"]["key_source"]
    assert v["issuer_trusted"] is False and v["issuer_confirmed"] is False
    assert body["credential"]["whole_credential"] is True
    assert body["credential"]["format"] == fmt
    assert body["raw"] == raw  # byte for byte: a JAdES seal is checked over these exact bytes
    shown = {k: val for k, val in stored["claims"].items() if k != "cnf"}
    assert body["claims"] == shown  # as GET /v1/credentials/{id} shows them

    # an independent verifier agrees: signed by the learner's first holder key, bound to this
    # very link, carrying the credential as issued
    vp = _independent_vp(body["presentation"], link["url"], app_clock(client)())
    keys = (await (await client.get("/v1/keys", headers=auth(token))).json())["items"]
    assert vp["iss"] == keys[0]["did"]
    assert vp["aud"] == link["url"]
    [carried] = vp["vp"]["verifiableCredential"]
    assert carried == (raw if fmt == "jwt_vc_json" else json.loads(raw))
    assert vp["exp"] - vp["iat"] == 3600  # the VP lives as long as the link
    # a fresh nonce per link, and the view's key_binding "valid" checked it against the sealed one
    other_body = await (await client.get(_path(other["url"]))).json()
    other_vp = _independent_vp(other_body["presentation"], other["url"], app_clock(client)())
    assert len(vp["nonce"]) >= 16 and vp["nonce"] != other_vp["nonce"]
    with pytest.raises(pyjwt.InvalidAudienceError):  # bound to its link, not to another
        pyjwt.decode(body["presentation"], _did_jwk_key(pyjwt.get_unverified_header(
            body["presentation"])["kid"]), algorithms=["ES256", "EdDSA"], audience=other["url"],
            options={"verify_exp": False})

    # a person gets HTML
    r = await client.get(_path(link["url"]), headers={"Accept": "text/html,*/*"})
    assert r.status == 200 and r.content_type == "text/html"
    page = await r.text()
    assert "The whole credential is shared" in page
    # a valid signature by a key that is not shown to be the issuer's verifies nothing about
    # the issuer the credential names: the page says so, and never "Issued by"
    assert "<b>Verified</b>" not in page and "<b>NOT verified</b>" in page
    assert body["verdict"]["verified"] is False and body["verdict"]["issuer_confirmed"] is False
    assert SAID[issuer_key] in page and "Issued by" not in page
    assert "(not confirmed)" in page

    # the view limit holds; the ledger has the creation and each view, whole, without paths
    await assert_problem(await client.get(_path(link["url"])), 404)
    items = (await (await client.get("/v1/share-links", headers=auth(token))).json())["items"]
    item = next(i for i in items if i["id"] == link["id"])
    assert (item["views"], item["state"]) == (2, "exhausted")
    assert item["claims"] == [[]] and item["whole_credential"] is True
    created = [e for e in await ledger_details(client, token, "share_link_created")
               if e["details"]["link_id"] == link["id"]]
    viewed = [e for e in await ledger_details(client, token, "share_link_viewed")
              if e["details"]["link_id"] == link["id"]]
    assert len(created) == 1 and len(viewed) == 2
    for e in created + viewed:
        assert e["details"]["whole_credential"] is True
        assert e["claims"] == [] and e["credential_ids"] == [stored["id"]]
        assert e["data_categories"] == ["whole_credential"]  # what GET /v1/consent/events shows
    # ... and the consent receipt names it, instead of an empty list of claims
    r = await client.get(f"/v1/consent/receipts/{created[0]['id']}", headers=auth(token))
    assert r.status == 200, await r.text()
    receipt = pyjwt.decode(await r.text(), options={"verify_signature": False})
    assert receipt["services"][0]["purposes"][0]["piiCategory"] == ["whole_credential"]


async def test_only_the_whole_credential_can_be_chosen(client: TestClient[Any, Any]) -> None:
    token = await _learner(client)
    for name in (CLR_JWT, OB_DID_KEY):
        cid = (await _import(client, token, _raw(name)))["id"]
        for claims in ([["credentialSubject"]], [["issuer", "name"]], [[], ["issuer"]],
                       [["credentialSubject"], []]):
            body = await assert_problem(await client.post("/v1/share-links", headers=auth(token),
                                                          json={"credential_id": cid,
                                                                "claims": claims}),
                                        400, "whole_credential_only")
            assert "[[]]" in body["detail"]
        # an empty choice is refused by the schema: it never means "everything"
        await assert_problem(await client.post("/v1/share-links", headers=auth(token), json={
            "credential_id": cid, "claims": []}), 400)
    # bound to a did:key this vault does not hold: signing with another key would fake a binding
    cid = (await _import(client, token, _raw(WALTID_JWT)))["id"]
    await assert_problem(await _share(client, token, cid), 400, "presentation_not_supported")
    # nothing was shared, nothing recorded
    assert (await (await client.get("/v1/share-links", headers=auth(token))).json())["items"] == []
    assert await ledger_details(client, token, "share_link_created") == []


async def test_expiry_and_revocation(client: TestClient[Any, Any]) -> None:
    token = await _learner(client)
    cid = (await _import(client, token, _raw(OB_DID_KEY)))["id"]
    a = await (await _share(client, token, cid, expires_in=60, max_views=5)).json()
    b = await (await _share(client, token, cid, expires_in=60, max_views=5)).json()
    assert (await client.get(_path(a["url"]))).status == 200
    assert (await client.delete(f"/v1/share-links/{a['id']}", headers=auth(token))).status == 204
    await assert_problem(await client.get(_path(a["url"])), 404)
    assert len(await ledger_details(client, token, "share_link_revoked")) == 1
    app_clock(client).advance(61)
    await assert_problem(await client.get(_path(b["url"])), 404)
    app_clock(client).advance(-61)
    await assert_problem(await client.get(_path(b["url"])), 404)  # wiped when found expired
    items = (await (await client.get("/v1/share-links", headers=auth(token))).json())["items"]
    assert {i["id"]: i["state"] for i in items}[a["id"]] == "revoked"
    [viewed] = await ledger_details(client, token, "share_link_viewed")
    assert viewed["details"]["link_id"] == a["id"] and viewed["details"]["whole_credential"]


async def test_html_escapes_claims_and_lays_out_nested_ones(client: TestClient[Any, Any]) -> None:
    doc = json.loads(_raw(UNSIGNED_OB))  # unsigned, so it may be edited and still imported
    doc["validFrom"] = "2020-01-01T00:00:00Z"  # the sample's 2026 window would age this test
    doc.pop("validUntil")
    doc["name"] = "<script>alert(1)</script> & co"
    doc["credentialSubject"]["achievement"]["tag"] = ["first <i>", {"deep": "<img src=x>"}]
    token = await _learner(client)
    cid = (await _import(client, token, json.dumps(doc)))["id"]
    link = await (await _share(client, token, cid)).json()
    r = await client.get(_path(link["url"]), headers={"Accept": "text/html"})
    assert r.status == 200, await r.text()
    page = await r.text()
    assert "<script>" not in page and "<img" not in page and "<i>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in page
    assert "<th>credentialSubject.achievement.tag[0]</th><td>first &lt;i&gt;</td>" in page
    assert "<th>credentialSubject.achievement.tag[1].deep</th><td>&lt;img src=x&gt;</td>" in page
    assert "<b>NOT verified</b>" in page  # unsigned: shown as exactly that
    body = await (await client.get(_path(link["url"]))).json()
    assert body["claims"]["name"] == "<script>alert(1)</script> & co"
    assert (body["verified"]["signature"], body["verified"]["signature_checked"]) == (
        "no_key", "at_import")


async def test_isolation(client: TestClient[Any, Any]) -> None:
    token_a = await _learner(client)
    cid = (await _import(client, token_a, _raw(CLR_JWT)))["id"]
    assert (await _share(client, token_a, cid)).status == 201
    await sign_up(client, "bob")
    token_b = await login(client, "bob")
    routes = [r for r in ID_ROUTES if r.kind in ("credential", "share_link")]
    assert any(m == "POST" and p == "/v1/share-links" for r in routes for m, p in r.routes)
    assert await assert_isolated(client, token_a, token_b, routes=routes) >= 5
    assert (await (await client.get("/v1/share-links", headers=auth(token_b))).json())[
        "items"] == []
    assert await ledger_details(client, token_b, "share_link_created") == []


async def test_openapi_documents_the_whole_credential_choice(client: TestClient[Any, Any]) -> None:
    doc = await (await client.get("/openapi.json")).json()
    op = doc["paths"]["/v1/share-links"]["post"]
    assert "`[[]]`" in op["description"] and "whole_credential_only" in op["description"]
    claims = op["requestBody"]["content"]["application/json"]["schema"]["properties"]["claims"]
    assert "[[]]" in claims["description"] and claims["items"]["minItems"] == 0
    view = doc["paths"]["/s/{token}"]["get"]
    assert "signature_checked" in view["description"]
    assert "raw" in view["responses"]["200"]["content"]["application/json"]["schema"][
        "properties"]
