"""OpenID4VCI 1.0 through the API, end to end over HTTPS against the ``openid4vci`` issuer.

Satchel uses its real GuardedFetcher; the issuer is tests/wallet/oid4vci_support.py. Each flow
checks what the issuer saw (proofs, PKCE, encryption, notifications), what the learner sees
(``GET /v1/credentials``) and what the ledger recorded.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from jwcrypto import jwk as jwcrypto_jwk

from tests.holder_api.receive_support import holder_thumbprints, ledger, stored
from tests.support.http_api import assert_problem, auth, learner
from tests.wallet.oid4vci_support import DEFERRED, MICRO, Issuer
from wallet.receive import offers


def _part(jwt: str, i: int) -> dict[str, Any]:
    seg = jwt.split(".")[i]
    return dict(json.loads(base64.urlsafe_b64decode(seg + "=" * (-len(seg) % 4))))


def _cnf_thumbprint(raw: str) -> str:
    claims = _part(raw.split("~", 1)[0], 1)
    return str(jwcrypto_jwk.JWK(**claims["cnf"]["jwk"]).thumbprint())


async def _offer(client: TestClient[Any, Any], token: str, offer: Any) -> dict[str, Any]:
    r = await client.post("/v1/offers", json={"offer": offer}, headers=auth(token))
    assert r.status == 201, await r.text()
    return dict(await r.json())


async def _accept(client: TestClient[Any, Any], token: str, offer_id: str,
                  **body: Any) -> aiohttp.ClientResponse:
    return await client.post(f"/v1/offers/{offer_id}/accept", json=body, headers=auth(token))


async def test_pre_authorized_without_tx_code(app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    summary = await _offer(app, token, issuer.make_pre_authorized_offer())
    assert summary["issuer"] == {"id": issuer.credential_issuer, "name": "Test University",
                                 "trusted": False}
    assert summary["credentials"] == [{"configuration_id": MICRO, "format": "dc+sd-jwt",
                                       "name": "MicroCredential (test)"}]
    assert "tx_code" not in summary
    r = await _accept(app, token, summary["id"])
    assert r.status == 200, await r.text()
    creds = (await r.json())["credentials"]
    assert len(creds) == 1 and creds[0]["claims"]["given_name"] == "Ada"
    assert creds[0]["verification"]["signature"] == "valid"
    # the credential is bound to one of the learner's keys (thumbprint computed by jwcrypto)
    assert _cnf_thumbprint(creds[0]["raw"]) in await holder_thumbprints(app, token)
    listed = await stored(app, token)
    assert [c["id"] for c in listed] == [creds[0]["id"]]
    detail = await (await app.get(f"/v1/credentials/{creds[0]['id']}", headers=auth(token))).json()
    assert detail["claims"]["achievement"] == "Data literacy (5 ECTS)"
    assert detail["elements"]["learner"]["value"]["name"] == "Ada"  # Annex I mapping stored
    # the proof was signed for this issuer with an alg it supports
    proof = issuer.requests[-1][1]["proofs"]["jwt"][0]
    header = _part(proof, 0)
    assert header["typ"] == "openid4vci-proof+jwt" and header["alg"] == "ES256"
    assert [n.event for n in issuer.notifications] == ["credential_accepted"]
    assert ("credential_accepted", issuer.credential_issuer) in await ledger(app, token)
    # the offer is consumed
    await assert_problem(await _accept(app, token, summary["id"]), 404)


async def test_pre_authorized_with_tx_code(app: TestClient[Any, Any], issuer: Issuer,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = await learner(app)
    offer = issuer.make_pre_authorized_offer(tx_code="493536")
    code = offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"][
        "pre-authorized_code"]
    uri = "openid-credential-offer://?" + urlencode({"credential_offer": json.dumps(offer)})
    summary = await _offer(app, token, uri)
    assert summary["tx_code"]["input_mode"] == "numeric"
    assert summary["tx_code"]["description"] == "Code from the e-mail"
    await assert_problem(await _accept(app, token, summary["id"]), 400)
    await assert_problem(await _accept(app, token, summary["id"], tx_code="000000"), 400,
                         "invalid_grant")
    assert await stored(app, token) == []
    sent = [b for route, b in issuer.requests if route == "token"]
    assert sent and sent[-1]["tx_code"] == "000000"
    summary = await _offer(app, token, uri)
    r = await _accept(app, token, summary["id"], tx_code="493536")
    assert r.status == 200, await r.text()
    assert len(await stored(app, token)) == 1
    token_requests = [b for route, b in issuer.requests if route == "token"]
    assert caplog.records  # something was logged (fetches, requests) ...
    for rec in caplog.records:  # ... but never the pre-authorized code or the tx_code
        text = rec.getMessage() + json.dumps(vars(rec), default=str)
        assert "493536" not in text and code not in text, rec
    assert len(token_requests) == 2  # a missing tx_code is refused before any request


async def test_authorization_code_flow(app: TestClient[Any, Any], issuer: Issuer,
                                       ca_file: Path) -> None:
    token = await learner(app)
    uri = issuer.publish_offer(issuer.make_authorization_code_offer())
    summary = await _offer(app, token, uri)  # an https offer URI, fetched through the guard
    r = await _accept(app, token, summary["id"], redirect_uri="https://app.example/cb")
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["status"] == "authorization_required"
    url = body["authorization_url"]
    q = parse_qs(urlsplit(url).query)
    assert q["code_challenge_method"] == ["S256"] and "issuer_state" in q
    assert json.loads(q["authorization_details"][0])[0]["type"] == "openid_credential"
    # the learner's browser: sign in at the AS, get redirected with the code
    ctx = ssl.create_default_context(cafile=str(ca_file))
    async with aiohttp.ClientSession() as browser, browser.get(
            url, ssl=ctx, allow_redirects=False) as resp:
        assert resp.status == 302
        callback = resp.headers["Location"]
    assert callback.startswith("https://app.example/cb?")
    forged = callback.replace("state=", "state=x")
    await assert_problem(await app.post(f"/v1/offers/{summary['id']}/authorization",
                                        json={"callback_url": forged}, headers=auth(token)), 400)
    r = await app.post(f"/v1/offers/{summary['id']}/authorization",
                       json={"callback_url": callback}, headers=auth(token))
    assert r.status == 200, await r.text()
    creds = (await r.json())["credentials"]
    assert len(creds) == 1
    token_req = [b for route, b in issuer.requests if route == "token"][-1]
    assert token_req["grant_type"] == "authorization_code" and token_req["code_verifier"]
    assert [n.event for n in issuer.notifications] == ["credential_accepted"]


async def test_deferred_polls_no_faster_than_interval(app: TestClient[Any, Any],
                                                      issuer: Issuer) -> None:
    token = await learner(app)
    clock = issuer.clock  # Satchel's too (the app fixture)
    summary = await _offer(app, token, issuer.make_pre_authorized_offer((DEFERRED,)))
    r = await _accept(app, token, summary["id"])
    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["status"] == "deferred" and body["retry_after"] == 5
    # too early: Satchel does not call the issuer at all
    r = await _accept(app, token, summary["id"])
    assert r.status == 202 and issuer.deferred_polls == []
    got = await (await app.get(f"/v1/offers/{summary['id']}", headers=auth(token))).json()
    assert got["status"] == "deferred"
    clock.advance(5)
    r = await _accept(app, token, summary["id"])  # issuer: not ready yet (needs 12 s)
    assert r.status == 202 and len(issuer.deferred_polls) == 1
    r = await _accept(app, token, summary["id"])
    assert r.status == 202 and len(issuer.deferred_polls) == 1  # interval respected again
    clock.advance(10)
    r = await _accept(app, token, summary["id"])
    assert r.status == 200, await r.text()
    assert len((await r.json())["credentials"]) == 1 and len(await stored(app, token)) == 1
    assert [n.event for n in issuer.notifications] == ["credential_accepted"]
    await assert_problem(await app.get(f"/v1/offers/{summary['id']}", headers=auth(token)), 404)


async def test_batch_with_encrypted_request_and_response(app: TestClient[Any, Any],
                                                         issuer: Issuer) -> None:
    issuer.knobs.require_encryption = True
    issuer.knobs.request_encryption = True
    token = await learner(app)
    summary = await _offer(app, token, issuer.make_pre_authorized_offer())
    await assert_problem(await _accept(app, token, summary["id"], copies=5), 400)
    r = await _accept(app, token, summary["id"], copies=3)
    assert r.status == 200, await r.text()
    creds = (await r.json())["credentials"]
    assert len(creds) == 3
    keys = await holder_thumbprints(app, token)
    bound = {_cnf_thumbprint(c["raw"]) for c in creds}
    assert len(bound) == 3 and bound <= keys  # one fresh key per copy: unlinkable
    assert issuer.encrypted_requests >= 1
    req = [b for route, b in issuer.requests if route == "credential"][-1]
    assert "credential_response_encryption" in req and len(req["proofs"]["jwt"]) == 3
    assert len(await stored(app, token)) == 3


async def test_decline_records_ledger(app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    summary = await _offer(app, token, issuer.make_pre_authorized_offer())
    listed = await (await app.get("/v1/offers", headers=auth(token))).json()
    assert [o["id"] for o in listed["items"]] == [summary["id"]]
    r = await app.post(f"/v1/offers/{summary['id']}/decline", headers=auth(token))
    assert r.status == 204
    assert ("credential_declined", issuer.credential_issuer) in await ledger(app, token)
    await assert_problem(await _accept(app, token, summary["id"]), 404)
    assert not [r for r, _ in issuer.requests if r == "token"]


async def test_trust_list_names_and_trusts_the_issuer(make_client: Any, issuer: Issuer,
                                                      ca_file: Path, tmp_path: Path) -> None:
    trust = tmp_path / "trust.json"
    trust.write_text(json.dumps({"issuers": [{"id": issuer.credential_issuer,
                                              "name": "Trusted University"}]}))
    client = await make_client(SATCHEL_FETCH_ALLOW_HOSTS="127.0.0.1",
                               SATCHEL_EXTRA_CA_FILE=str(ca_file), SATCHEL_TRUST_LIST=str(trust))
    token = await learner(client)
    summary = await _offer(client, token, issuer.make_pre_authorized_offer())
    assert summary["issuer"] == {"id": issuer.credential_issuer, "name": "Trusted University",
                                 "trusted": True}
    r = await _accept(client, token, summary["id"])
    assert r.status == 200, await r.text()
    assert (await r.json())["credentials"][0]["verification"]["issuer_trusted"] is True


async def test_nested_array_recursive_disclosures_from_the_reference_issuer(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    """The reference sd-jwt package mints nested, array and recursive disclosures with decoys."""
    issuer.knobs.nested_shapes = True
    token = await learner(app)
    summary = await _offer(app, token, issuer.make_pre_authorized_offer())
    r = await _accept(app, token, summary["id"])
    assert r.status == 200, await r.text()
    [cred] = (await r.json())["credentials"]
    claims = cred["claims"]
    assert claims["address"] == {"locality": "Ghent", "country": "BE"}
    assert claims["learning_outcomes"] == ["statistics", "visualisation", "ethics"]
    assert claims["assessment"] == {"grade": "A", "method": "exam"}
    paths = {tuple(p) for p in cred["disclosable"]}
    assert {("address", "locality"), ("learning_outcomes",), ("learning_outcomes", 0),
            ("learning_outcomes", 2), ("assessment",), ("assessment", "grade")} <= paths
    assert ("learning_outcomes", 1) not in paths and ("address", "country") not in paths
    assert [n.event for n in issuer.notifications] == ["credential_accepted"]


async def test_copies_are_capped_at_what_one_ledger_entry_names(
        app: TestClient[Any, Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    # the issuer allows 4; the ledger's bound (64 ids, stood in for by 2) is lower: a clear
    # 400 before anything is fetched or stored, never credentials without their entry
    monkeypatch.setattr(offers, "MAX_COPIES", 2)
    token = await learner(app)
    summary = await _offer(app, token, issuer.make_pre_authorized_offer())
    r = await _accept(app, token, summary["id"], copies=3)
    await assert_problem(r, 400)
    assert "between 1 and 2" in (await r.json())["detail"]
    r = await _accept(app, token, summary["id"], copies=2)
    assert r.status == 200, await r.text()
    assert len((await r.json())["credentials"]) == 2


async def test_an_offer_is_parsed_once_per_request(app: TestClient[Any, Any], issuer: Issuer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolving an offer parses its metadata; the answer reuses that, and reading it back parses
    the stored record once: both answers show the same offer."""
    token = await learner(app)
    parsed: list[str] = []
    from_json = offers.ResolvedOffer.from_json

    def counting(data: Any) -> Any:
        parsed.append(str(data["issuer"]["credential_issuer"]))
        return from_json(data)

    monkeypatch.setattr(offers.ResolvedOffer, "from_json", counting)
    created = await _offer(app, token, issuer.make_pre_authorized_offer(tx_code="493536"))
    assert parsed == []
    r = await app.get(f"/v1/offers/{created['id']}", headers=auth(token))
    assert r.status == 200, await r.text()
    assert parsed == [issuer.credential_issuer]
    assert await r.json() == created and created["tx_code"]  # the same offer, its tx_code too
