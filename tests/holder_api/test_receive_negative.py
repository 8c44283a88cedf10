"""Receiving must fail closed: each failure is a clear 4xx problem and nothing is stored.

Against the ``openid4vci`` issuer over HTTPS (tests/wallet/oid4vci_support.py fault knobs).
"""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.receive_support import stored
from tests.support.http_api import assert_problem, auth, learner
from tests.wallet.oid4vci_support import Issuer


async def _offer_id(client: TestClient[Any, Any], token: str, issuer: Issuer) -> str:
    r = await client.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                          headers=auth(token))
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def _nothing_kept(client: TestClient[Any, Any], token: str) -> None:
    assert await stored(client, token) == []


async def test_metadata_naming_another_issuer(app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    issuer.knobs.metadata_issuer = "https://evil.example/issuer"
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    body = await assert_problem(r, 422)
    assert body["code"] != "issuer_failed" or "credential_issuer" in body["detail"]
    listed = await (await app.get("/v1/offers", headers=auth(token))).json()
    assert listed["items"] == []
    await _nothing_kept(app, token)


@pytest.mark.parametrize("uri", [
    "https://10.0.0.1/offers/1",
    "https://169.254.169.254/latest/meta-data",
    "https://[::1]/offers/1",
    "http://127.0.0.1/offers/1",
    "openid-credential-offer://?credential_offer_uri=https%3A%2F%2F192.168.1.5%2Fo",
])
async def test_offer_uri_on_a_private_address(app: TestClient[Any, Any], uri: str) -> None:
    token = await learner(app)
    r = await app.post("/v1/offers", json={"offer": uri}, headers=auth(token))
    assert 400 <= r.status < 500, await r.text()
    await assert_problem(r, r.status)
    await _nothing_kept(app, token)


async def test_wrong_tx_code(app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    r = await app.post("/v1/offers", json={
        "offer": issuer.make_pre_authorized_offer(tx_code="1234")}, headers=auth(token))
    oid = (await r.json())["id"]
    await assert_problem(await app.post(f"/v1/offers/{oid}/accept", json={"tx_code": "9999"},
                                        headers=auth(token)), 400, "invalid_grant")
    await _nothing_kept(app, token)


@pytest.mark.parametrize(("knob", "code"), [
    ("bind_to_other_key", "holder_binding_failed"),  # bound to a key that is not the learner's
    ("mint_with_other_key", "invalid_jws"),  # signed by a key the issuer does not publish
])
async def test_credential_with_the_wrong_key(app: TestClient[Any, Any], issuer: Issuer,
                                            knob: str, code: str) -> None:
    token = await learner(app)
    setattr(issuer.knobs, knob, True)
    oid = await _offer_id(app, token, issuer)
    await assert_problem(await app.post(f"/v1/offers/{oid}/accept", json={},
                                        headers=auth(token)), 422, code)
    await _nothing_kept(app, token)
    assert [n.event for n in issuer.notifications] == ["credential_failure"]


@pytest.mark.parametrize(("kind", "route"), [
    ("status", "token"), ("status", "credential"), ("status", "nonce"),
    ("garbage", "credential"), ("garbage", "token"),
    ("delay", "credential"), ("oversize", "credential"), ("oversize", "token"),
])
async def test_issuer_misbehaving_at_accept(app: TestClient[Any, Any], issuer: Issuer,
                                            kind: str, route: str) -> None:
    token = await learner(app)
    oid = await _offer_id(app, token, issuer)
    if kind == "status":
        issuer.knobs.status[route] = 500
    elif kind == "garbage":
        issuer.knobs.garbage.add(route)
    elif kind == "delay":
        issuer.knobs.delay[route] = 10.0  # Satchel's fetch timeout is 5 s here
    else:
        issuer.knobs.oversize.add(route)
    body = await assert_problem(await app.post(f"/v1/offers/{oid}/accept", json={},
                                               headers=auth(token)), 422)
    assert body["code"] != "internal_error"
    await _nothing_kept(app, token)


@pytest.mark.parametrize("kind", ["status", "garbage", "delay", "oversize"])
async def test_issuer_metadata_misbehaving(app: TestClient[Any, Any], issuer: Issuer,
                                           kind: str) -> None:
    token = await learner(app)
    if kind == "status":
        issuer.knobs.status["metadata"] = 500
    elif kind == "garbage":
        issuer.knobs.garbage.add("metadata")
    elif kind == "delay":
        issuer.knobs.delay["metadata"] = 10.0  # past the 5 s fetch timeout
    else:
        issuer.knobs.oversize.add("metadata")
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    await assert_problem(r, 422)
    listed = await (await app.get("/v1/offers", headers=auth(token))).json()
    assert listed["items"] == []


async def test_malformed_offers(app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    for offer in ({"credential_issuer": issuer.credential_issuer},
                  {"credential_issuer": "http://x.example", "credential_configuration_ids": ["a"]},
                  "not a uri", "openid-credential-offer://?credential_offer=%7Bbroken"):
        await assert_problem(await app.post("/v1/offers", json={"offer": offer},
                                            headers=auth(token)), 400)
    await assert_problem(await app.post("/v1/offers", json={"offer": "x"}), 401)


async def test_authorization_denied_or_failing(app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    uri = issuer.publish_offer(issuer.make_authorization_code_offer())
    oid = (await (await app.post("/v1/offers", json={"offer": uri},
                                 headers=auth(token))).json())["id"]
    r = await app.post(f"/v1/offers/{oid}/accept", json={}, headers=auth(token))
    assert (await r.json())["redirect_uri"] == "http://satchel.test/oid4vci/callback"
    denied = "http://satchel.test/oid4vci/callback?error=access_denied&state=x"
    await assert_problem(await app.post(f"/v1/offers/{oid}/authorization",
                                        json={"callback_url": denied}, headers=auth(token)), 403)
    # a code for a state we never issued, and a token endpoint answering 500
    issuer.knobs.status["token"] = 500
    await assert_problem(await app.post(f"/v1/offers/{oid}/authorization", json={
        "callback_url": "http://satchel.test/oid4vci/callback?code=c&state=nope"},
        headers=auth(token)), 400)
    url = (await (await app.post(f"/v1/offers/{oid}/accept", json={},
                                 headers=auth(token))).json())["authorization_url"]
    state = url.split("state=", 1)[1].split("&", 1)[0]
    await assert_problem(await app.post(f"/v1/offers/{oid}/authorization", json={
        "callback_url": f"http://satchel.test/oid4vci/callback?code=c&state={state}"},
        headers=auth(token)), 422, "issuer_failed")
    await _nothing_kept(app, token)
    # a finished-or-not-started flow refuses a callback
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    await assert_problem(await app.post(f"/v1/offers/{(await r.json())['id']}/authorization",
                                        json={"callback_url": denied}, headers=auth(token)),
                         409)
