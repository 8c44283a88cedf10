"""Presenting end to end through the API, on both backends: OpenID4VP requests against a verifier
of ours built on the reference ``sd-jwt`` package (``redirect_uri:``, ``x509_san_dns:``), the
negative matrix (each refused with nothing posted), replay, fail closed, and the ledger."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from sqlalchemy import text

from holder_api.appkeys import WIRING
from tests.holder_api.present_support import Peer, dcql, degree_request, holder, import_vc, intake, ledger
from tests.support.apps import AppFactory, app_clock
from tests.support.backends import Backend
from tests.support.http_api import assert_problem, auth
from wallet.db import create_engine

#: The peers answer as ``localhost``: 127.0.0.1 itself stays a blocked address (see _cases).
PEER_HOST = "localhost"


# --- end to end ---------------------------------------------------------------------------------

async def test_x509_san_dns_request_uri_post_encrypted(app: TestClient[Any, Any],
                                                       peer: Peer) -> None:
    token, jwk = await holder(app)
    cid = await import_vc(app, token, peer.issue(jwk))
    await import_vc(app, token, peer.issue(jwk, {"given_name": "Ada"}, vct="urn:other"))
    client_id = "x509_san_dns:localhost"

    def make(form: dict[str, str]) -> str:
        return peer.sign(peer.encrypted(peer.claims(client_id, dcql("given_name", "degree"),
                                                    wallet_nonce=form.get("wallet_nonce"))))

    r = await intake(app, token, peer.serve_request(make, client_id=client_id, method="post"))
    assert r.status == 201, await r.text()
    req = await r.json()
    assert req["verifier"]["client_id"] == client_id and req["verifier"]["authenticated"]
    assert req["verifier"]["trusted"] is False  # no trust list configured
    assert req["verifier"]["name"] == "Acme <Hiring>" and req["verifier"]["name_source"] == "verifier"
    assert req["satisfiable"] is True
    [q] = req["queries"]
    assert q["id"] == "degree" and q["required"] is True
    [opt] = q["options"]  # the other vct does not match
    assert opt["credential_id"] == cid
    assert opt["claims"] == [{"path": ["given_name"], "value": "Ada"},
                             {"path": ["degree"], "value": "BSc Computing"}]
    assert peer.posts == []  # intake sends nothing

    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"degree": cid}}, headers=auth(token))
    assert r.status == 200, await r.text()
    answered = await r.json()
    [got] = peer.posts
    assert "response" in got.form and set(got.form) == {"response"}  # encrypted JWE only
    assert got.errors == []
    [disclosed] = got.disclosed["degree"]
    assert disclosed["given_name"] == "Ada" and disclosed["degree"] == "BSc Computing"
    assert "family_name" not in disclosed  # exactly the chosen claims
    # the ledger has the paths and ids, never values
    [event] = await ledger(app, token, "presentation_sent")
    assert event["counterparty"] == client_id and event["credential_ids"] == [cid]
    assert sorted(event["claims"]) == [["degree"], ["given_name"]]
    assert "Ada" not in repr(event)
    # the answer names its entry (its receipt's id)
    assert answered == {"status": "sent", "redirect_uri": f"{peer.base}/done",
                        "event_id": event["id"]}


async def test_redirect_uri_by_value_and_withhold(app: TestClient[Any, Any], peer: Peer) -> None:
    token, jwk = await holder(app)
    cid = await import_vc(app, token, peer.issue(jwk))
    client_id = f"redirect_uri:{peer.base}/cb"
    query = {"credentials": [{
        "id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [peer_vct()]},
        "claims": [{"id": "a", "path": ["given_name"]}, {"id": "b", "path": ["family_name"]}],
        "claim_sets": [["a", "b"], ["a"]]}]}
    claims = peer.claims(client_id, query, response_uri=f"{peer.base}/cb")
    for k in ("aud", "iat", "exp"):
        claims.pop(k)
    r = await intake(app, token, peer.by_value(claims))
    assert r.status == 201, await r.text()
    req = await r.json()
    assert req["verifier"]["authenticated"] is False and req["verifier"]["prefix"] == "redirect_uri"
    assert [c["path"] for c in req["queries"][0]["options"][0]["claims"]] == [
        ["given_name"], ["family_name"]]
    # withholding a claim the second claim set does not need
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond", headers=auth(token),
                       json={"choices": {"pid": cid}, "withhold": {cid: [["family_name"]]}})
    assert r.status == 200, await r.text()
    [got] = peer.posts
    assert got.errors == []
    [disclosed] = got.disclosed["pid"]
    assert disclosed["given_name"] == "Ada" and "family_name" not in disclosed
    assert "degree" not in disclosed


def peer_vct() -> str:
    from tests.holder_api.present_support import VCT
    return VCT


async def test_withholding_a_required_claim_is_refused(app: TestClient[Any, Any],
                                                        peer: Peer) -> None:
    token, jwk = await holder(app)
    cid = await import_vc(app, token, peer.issue(jwk))
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda f: peer.sign(peer.claims(client_id, dcql("given_name"))),
                              client_id=client_id)
    req = await (await intake(app, token, link)).json()
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond", headers=auth(token),
                       json={"choices": {"degree": cid}, "withhold": {cid: [["given_name"]]}})
    await assert_problem(r, 400)
    assert peer.posts == []
    # the request is still pending: the learner can answer properly
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond", headers=auth(token),
                       json={"choices": {"degree": cid}})
    assert r.status == 200 and len(peer.posts) == 1


async def test_decline_and_no_match_look_the_same(app: TestClient[Any, Any], peer: Peer) -> None:
    token, jwk = await holder(app)
    await import_vc(app, token, peer.issue(jwk))
    client_id = "x509_san_dns:localhost"
    forms, answers = [], []
    for query in (dcql("given_name"), dcql("given_name", vct="urn:not-held")):
        link = peer.serve_request(lambda f, q=query: peer.sign(peer.claims(client_id, q)),
                                  client_id=client_id)
        req = await (await intake(app, token, link)).json()
        assert req["satisfiable"] is (query["credentials"][0]["meta"]["vct_values"] != ["urn:not-held"])
        r = await app.post(f"/v1/presentation-requests/{req['id']}/decline", headers=auth(token))
        assert r.status == 200 and (await r.json())["status"] == "declined"
        answers.append((await r.json())["event_id"])
        forms.append({k: v for k, v in peer.posts[-1].form.items() if k != "state"})
    assert forms[0] == forms[1] == {"error": "access_denied"}
    assert [e["id"] for e in await ledger(app, token, "presentation_declined")] == answers[::-1]


async def test_replayed_answer_is_refused(app: TestClient[Any, Any], peer: Peer) -> None:
    token, cid, req = await degree_request(app, peer)
    url = f"/v1/presentation-requests/{req['id']}"
    assert (await app.post(url + "/respond", json={"choices": {"degree": cid}},
                           headers=auth(token))).status == 200
    await assert_problem(await app.post(url + "/respond", json={"choices": {"degree": cid}},
                                        headers=auth(token)), 409, "request_already_answered")
    await assert_problem(await app.post(url + "/decline", headers=auth(token)), 409)
    assert len(peer.posts) == 1
    listed = (await (await app.get("/v1/presentation-requests", headers=auth(token))).json())
    assert [i["state"] for i in listed["items"]] == ["sent"]
    assert (await (await app.get(url, headers=auth(token))).json())["state"] == "sent"


async def test_expired_request_refuses(app: TestClient[Any, Any], peer: Peer) -> None:
    token, cid, req = await degree_request(app, peer)
    app_clock(app).advance(11 * 60)  # past the request (held 10 min), not the access token
    await assert_problem(await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                                        json={"choices": {"degree": cid}},
                                        headers=auth(token)), 410, "request_expired")
    assert peer.posts == []


# --- negative matrix: refused at intake, nothing posted --------------------------------------------

def _cases(peer: Peer) -> dict[str, str]:
    san = "x509_san_dns:localhost"
    q = dcql("given_name")
    s = peer.serve_request
    return {
        "object typ wrong": s(lambda f: peer.sign(peer.claims(san, q), typ="JWT"), client_id=san),
        "client_id mismatch URL/object": s(
            lambda f: peer.sign(peer.claims("x509_san_dns:localhost.", q)), client_id=san),
        "SAN mismatch": s(lambda f: peer.sign(peer.claims("x509_san_dns:other.example", q)),
                          client_id="x509_san_dns:other.example"),
        "response_uri host mismatch": s(lambda f: peer.sign(peer.claims(
            san, q, response_uri=f"https://127.0.0.1:{peer.port}/post")), client_id=san),
        "unsigned with x509 prefix": s(lambda f: peer.unsigned(peer.claims(san, q)),
                                       client_id=san),
        "origin prefix": s(lambda f: peer.unsigned(peer.claims(f"origin:{peer.base}", q)),
                           client_id=f"origin:{peer.base}"),
        "unknown transaction_data": s(lambda f: peer.sign(peer.claims(
            san, q, transaction_data=["eyJ0eXBlIjoicGF5bWVudCJ9"])), client_id=san),
        "missing nonce": s(lambda f: peer.sign(peer.claims(san, q, nonce=None)), client_id=san),
        "request_uri on a private address": "openid4vp://?client_id=x509_san_dns%3Alocalhost"
                                            "&request_uri=https%3A%2F%2F10.0.0.1%2Freq",
        "wallet_nonce ignored": s(lambda f: peer.sign(peer.claims(san, q)), client_id=san,
                                  method="post"),
        **{f"response_uri {where}": peer.by_value(peer.claims(
            f"redirect_uri:{uri}", q, response_uri=uri)) for where, uri in _REFUSED_RESPONSE_URIS},
    }


#: response_uris the network guard refuses (the app allows the host ``localhost`` only)
_REFUSED_RESPONSE_URIS = (("on loopback", "https://127.0.0.1:4443/cb"),
                          ("on a private address", "https://10.0.0.1/cb"),
                          ("on a link-local address", "https://169.254.169.254/cb"),
                          ("over plain http", "http://localhost:4443/cb"))


async def test_negative_matrix(app: TestClient[Any, Any], peer: Peer) -> None:
    token, jwk = await holder(app)
    await import_vc(app, token, peer.issue(jwk))
    codes = {}
    for name, link in _cases(peer).items():
        r = await intake(app, token, link)
        assert 400 <= r.status < 500, (name, r.status, await r.text())
        codes[name] = (await assert_problem(r, r.status))["code"]
    assert peer.posts == []  # nothing posted to the verifier, ever
    assert codes["object typ wrong"] == "invalid_request_object"
    assert codes["unknown transaction_data"] == "invalid_transaction_data"
    assert codes["request_uri on a private address"] == "fetch_refused"
    for where in ("on loopback", "on a private address", "on a link-local address"):
        assert codes[f"response_uri {where}"] == "fetch_refused"  # the network guard's policy
    assert codes["response_uri over plain http"] == "invalid_request"  # https only (OpenID4VP)
    assert codes["origin prefix"] == "invalid_request"
    r = await app.get("/v1/presentation-requests", headers=auth(token))
    assert (await r.json())["items"] == []  # nothing was kept either


# --- fail closed --------------------------------------------------------------------------------

async def test_ledger_unwritable_means_nothing_is_sent(app: TestClient[Any, Any], peer: Peer,
                                                       backend: Backend) -> None:
    token, cid, req = await degree_request(app, peer)
    engine = create_engine(backend.database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE ledger_entries RENAME TO ledger_entries_off"))
        r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                           json={"choices": {"degree": cid}}, headers=auth(token))
        await assert_problem(r, 503)
        assert peer.posts == []
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE ledger_entries_off RENAME TO ledger_entries"))
    finally:
        await engine.dispose()
    # nothing was sent, so the learner may answer once the ledger is back
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"degree": cid}}, headers=auth(token))
    assert r.status == 200, await r.text()
    assert len(peer.posts) == 1 and len(await ledger(app, token, "presentation_sent")) == 1


async def test_verifier_refusal_is_recorded_as_failed(app: TestClient[Any, Any],
                                                      peer: Peer) -> None:
    token, jwk = await holder(app)
    cid = await import_vc(app, token, peer.issue(jwk))
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda f: peer.sign(peer.claims(
        client_id, dcql("degree"), response_uri=f"{peer.base}/nowhere")), client_id=client_id)
    req = await (await intake(app, token, link)).json()
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"degree": cid}}, headers=auth(token))
    await assert_problem(r, 502)
    assert len(await ledger(app, token, "presentation_failed")) == 1
    listed = (await (await app.get("/v1/presentation-requests", headers=auth(token))).json())
    assert [i["state"] for i in listed["items"]] == ["failed"]
    await assert_problem(await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                                        json={"choices": {"degree": cid}},
                                        headers=auth(token)), 409)


# --- decentralized_identifier verifier, jwt_vc_json credential -------------------------------------

async def test_did_verifier_gets_a_jwt_vp(app: TestClient[Any, Any], peer: Peer) -> None:
    import json
    import uuid
    from datetime import UTC, datetime

    import jwt as pyjwt
    from cryptography.hazmat.primitives.asymmetric import ec

    from wallet.jose import b64url_encode, public_jwk, sign_compact
    from wallet.vault import StoredCredential

    token, jwk = await holder(app)
    services = app.app[WIRING]
    session = await services.accounts.service.authenticate(token)
    issuer_key = ec.generate_private_key(ec.SECP256R1())
    issuer_did = "did:jwk:" + b64url_encode(json.dumps(public_jwk(issuer_key)).encode())
    vc = {"@context": ["https://www.w3.org/2018/credentials/v1"],
          "type": ["VerifiableCredential", "OpenBadgeCredential"], "issuer": issuer_did,
          "credentialSubject": {"name": "Ada Lovelace", "achievement": "Analytical Engines"}}
    raw = sign_compact({"alg": "ES256", "typ": "JWT", "kid": issuer_did + "#0"},
                       {"iss": issuer_did, "vc": vc}, issuer_key)
    cid = str(uuid.uuid4())
    await services.stores.vault.for_learner(session.learner_id, session.dek).credentials.put(
        StoredCredential(id=cid, format="jwt_vc_json", raw=raw, types=tuple(vc["type"]),
                         issuer=issuer_did, title="Badge", issued_at=None, expires_at=None,
                         status="none", added_at=datetime.now(UTC),
                         data={"claims": vc, "disclosable": [], "holder_jwk": jwk}))
    vkey = ec.generate_private_key(ec.SECP256R1())
    vdid = "did:jwk:" + b64url_encode(json.dumps(public_jwk(vkey)).encode())
    client_id = f"decentralized_identifier:{vdid}"
    query = {"credentials": [{"id": "badge", "format": "jwt_vc_json",
                              "meta": {"type_values": [["OpenBadgeCredential"]]},
                              "claims": [{"path": ["credentialSubject", "name"]}]}]}
    link = peer.serve_request(lambda f: sign_compact(
        {"typ": "oauth-authz-req+jwt", "alg": "ES256", "kid": vdid + "#0"},
        peer.claims(client_id, query), vkey), client_id=client_id)
    r = await intake(app, token, link)
    assert r.status == 201, await r.text()
    req = await r.json()
    assert req["verifier"]["authenticated"] is True and req["verifier"]["prefix"] == \
        "decentralized_identifier"
    [opt] = req["queries"][0]["options"]
    assert opt["full_credential"] is True  # no selective disclosure: the learner is told
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond",
                       json={"choices": {"badge": cid}}, headers=auth(token))
    assert r.status == 200, await r.text()
    [got] = peer.posts
    [vp] = got.jwt_vps
    header = pyjwt.get_unverified_header(vp)
    claims = pyjwt.decode(vp, pyjwt.PyJWK(dict(jwk, alg="ES256")).key, algorithms=["ES256"],
                          audience=client_id)
    assert header["typ"] == "JWT" and claims["nonce"] == peer.expect["nonce"]
    assert claims["vp"]["verifiableCredential"] == [raw]
    # a DID verifier signing with another key is refused, nothing posted
    other = ec.generate_private_key(ec.SECP256R1())
    link = peer.serve_request(lambda f: sign_compact(
        {"typ": "oauth-authz-req+jwt", "alg": "ES256", "kid": vdid + "#0"},
        peer.claims(client_id, query), other), client_id=client_id)
    await assert_problem(await intake(app, token, link), 400, "invalid_request_object")
    assert len(peer.posts) == 1


async def test_two_racing_answers_send_once(app: TestClient[Any, Any], peer: Peer) -> None:
    import asyncio

    token, cid, req = await degree_request(app, peer)
    url = f"/v1/presentation-requests/{req['id']}"
    answers = await asyncio.gather(
        app.post(url + "/respond", json={"choices": {"degree": cid}}, headers=auth(token)),
        app.post(url + "/respond", json={"choices": {"degree": cid}}, headers=auth(token)),
        app.post(url + "/decline", headers=auth(token)))
    bodies = [await r.text() for r in answers]
    assert sorted(r.status for r in answers) == [200, 409, 409], bodies
    assert len(peer.posts) == 1


async def test_trust_list_names_the_verifier_and_request_by_value(
        make_client: AppFactory, ca_file: Path, peer: Peer, tmp_path: Path) -> None:
    import hashlib
    import json
    from urllib.parse import urlencode

    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"verifiers": [
        {"client_id": "x509_san_dns:localhost", "name": "Acme Corp",
         "x509_sha256": hashlib.sha256(peer.leaf_der).hexdigest()},
        {"client_id": "x509_san_dns:pinned.example", "name": "Wrong pin",
         "x509_sha256": "00" * 32}]}))
    app = await make_client(SATCHEL_FETCH_ALLOW_HOSTS="localhost",
                            SATCHEL_EXTRA_CA_FILE=str(ca_file),
                            SATCHEL_X5C_ANCHORS_FILE=str(ca_file), SATCHEL_TRUST_LIST=str(trust))
    token, jwk = await holder(app)
    await import_vc(app, token, peer.issue(jwk))
    client_id = "x509_san_dns:localhost"
    # the signed request object passed by value (request=), not fetched
    link = "openid4vp://?" + urlencode({"client_id": client_id, "request": peer.sign(
        peer.claims(client_id, dcql("degree")))})
    req = await (await intake(app, token, link)).json()
    assert req["verifier"]["trusted"] is True
    assert req["verifier"]["name"] == "Acme Corp" and req["verifier"]["name_source"] == "trust_list"
    # the same client_id claimed without a signature is neither authenticated nor trusted
    redirect = f"redirect_uri:{peer.base}/cb"
    claims = peer.claims(redirect, dcql("degree"), response_uri=f"{peer.base}/cb")
    req = await (await intake(app, token, peer.by_value(claims))).json()
    assert req["verifier"]["trusted"] is False and req["verifier"]["authenticated"] is False
    assert peer.posts == []


async def test_only_the_requested_sibling_leaves_the_vault(app: TestClient[Any, Any],
                                                          peer: Peer) -> None:
    """Found in review: asking for address.street must not also disclose address.locality."""
    import json

    from sd_jwt.common import SDObj

    from tests.holder_api.present_support import VCT

    token, jwk = await holder(app)
    cid = await import_vc(app, token, peer.issue(jwk, {
        "given_name": "Ada",
        "address": {SDObj("street"): "1 Main", SDObj("locality"): "SECRETTOWN"}}))
    client_id = f"redirect_uri:{peer.base}/cb"
    query = {"credentials": [{
        "id": "pid", "format": "dc+sd-jwt", "meta": {"vct_values": [VCT]},
        "claims": [{"id": "a", "path": ["address", "street"]}]}]}
    claims = peer.claims(client_id, query, response_uri=f"{peer.base}/cb")
    for k in ("aud", "iat", "exp"):
        claims.pop(k)
    req = await (await intake(app, token, peer.by_value(claims))).json()
    r = await app.post(f"/v1/presentation-requests/{req['id']}/respond", headers=auth(token),
                       json={"choices": {"pid": cid}})
    assert r.status == 200, await r.text()
    [post] = peer.posts
    text = json.dumps(post.disclosed)
    assert "1 Main" in text and "SECRETTOWN" not in text
