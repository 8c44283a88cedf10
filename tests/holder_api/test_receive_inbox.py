"""Inbox links: pushes accepted while the learner is locked, sealed at rest, accepted after login.

The pushed offers come from the ``openid4vci`` issuer over HTTPS (tests/wallet/oid4vci_support.py);
the pushed credential is one it minted for the learner's holder key.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.api_support import encoded_forms, grep_tree
from tests.holder_api.isolation import ID_ROUTES, assert_isolated
from tests.holder_api.receive_support import inbox_link, ledger, stored
from tests.support.apps import AppFactory
from tests.support.backends import PG_BASE, Backend
from tests.support.http_api import assert_problem, auth, learner, login
from tests.wallet.oid4vci_support import Issuer


async def _lock(client: TestClient[Any, Any], token: str) -> None:
    assert (await client.delete("/v1/sessions/current", headers=auth(token))).status == 204
    await assert_problem(await client.get("/v1/inbox", headers=auth(token)), 401)


async def _holder_jwk(client: TestClient[Any, Any], token: str) -> dict[str, Any]:
    keys = (await (await client.get("/v1/keys", headers=auth(token))).json())["items"]
    jwk = next(k["jwk"] for k in keys if k["alg"] == "ES256")
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}


async def test_push_while_locked_then_accept_after_login(app: TestClient[Any, Any],
                                                         issuer: Issuer) -> None:
    token = await learner(app, "ada")
    link_id, path = await inbox_link(app, token)
    minted = issuer._mint(await _holder_jwk(app, token))
    await _lock(app, token)
    # three pushes without any learner token: offer by value (GET query), offer by reference
    # (form POST), an issued credential (JSON POST)
    r = await app.get(path, params={"credential_offer": json.dumps(
        issuer.make_pre_authorized_offer())})
    assert r.status == 202, await r.text()
    assert (await r.json()) == {"status": "accepted"}
    uri = issuer.publish_offer(issuer.make_pre_authorized_offer())
    r = await app.post(path, data={"credential_offer_uri": uri})
    assert r.status == 202, await r.text()
    r = await app.post(path, json={"credential": minted})
    assert r.status == 202, await r.text()
    assert not [r for r, _ in issuer.requests if r in ("token", "credential")]  # nothing ran yet

    token = await login(app, "ada")
    items = (await (await app.get("/v1/inbox", headers=auth(token))).json())["items"]
    assert sorted(i["kind"] for i in items) == ["credential", "offer", "offer"]
    assert {i["from"] for i in items} == {"Test University"}
    by_kind: dict[str, list[str]] = {}
    for i in items:
        by_kind.setdefault(i["kind"], []).append(i["id"])
    r = await app.post(f"/v1/inbox/{by_kind['offer'][0]}/accept", json={}, headers=auth(token))
    assert r.status == 200, await r.text()
    assert (await r.json())["credentials"][0]["claims"]["given_name"] == "Ada"
    r = await app.post(f"/v1/inbox/{by_kind['credential'][0]}/accept", json={},
                       headers=auth(token))
    assert r.status == 200, await r.text()
    r = await app.post(f"/v1/inbox/{by_kind['offer'][1]}/decline", headers=auth(token))
    assert r.status == 204
    assert (await (await app.get("/v1/inbox", headers=auth(token))).json())["items"] == []
    assert len(await stored(app, token)) == 2
    kinds = [k for k, _ in await ledger(app, token)]
    for k in ("inbox_link_created", "credential_accepted", "credential_received",
              "credential_declined"):
        assert k in kinds, (k, kinds)
    assert [n.event for n in issuer.notifications] == ["credential_accepted"]

    # revoking stops the URL (same 404 as a never-issued one)
    assert (await app.delete(f"/v1/inbox-links/{link_id}", headers=auth(token))).status == 204
    gone = await assert_problem(await app.post(path, json={"credential": minted}), 404)
    never = await assert_problem(await app.post("/i/" + "A" * 43, json={"credential": "x"}), 404)
    assert gone == never
    await assert_problem(await app.delete(f"/v1/inbox-links/{link_id}", headers=auth(token)),
                         404)
    assert "inbox_link_revoked" in [k for k, _ in await ledger(app, token)]


async def test_pushed_offer_with_wrong_tx_code_stays_in_inbox(app: TestClient[Any, Any],
                                                              issuer: Issuer) -> None:
    token = await learner(app)
    _, path = await inbox_link(app, token)
    offer = issuer.make_pre_authorized_offer(tx_code="2468")
    assert (await app.post(path, data={"credential_offer": json.dumps(offer)})).status == 202
    item = (await (await app.get("/v1/inbox", headers=auth(token))).json())["items"][0]["id"]
    await assert_problem(await app.post(f"/v1/inbox/{item}/accept", json={"tx_code": "1"},
                                        headers=auth(token)), 400, "invalid_grant")
    assert len((await (await app.get("/v1/inbox", headers=auth(token))).json())["items"]) == 1
    assert (await (await app.get("/v1/offers", headers=auth(token))).json())["items"] == []
    assert await stored(app, token) == []


async def test_public_endpoint_limits(make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_INBOX_LINK_LIMIT="3/60",
                               SATCHEL_INBOX_CLIENT_LIMIT="8/60")
    token = await learner(client)
    _, path = await inbox_link(client, token)
    offer = {"credential_issuer": "https://uni.example/issuer",
             "credential_configuration_ids": ["x"]}
    await assert_problem(await client.post(path, data=b"x" * 300_000,
                                           headers={"Content-Type": "text/plain"}), 413)
    await assert_problem(await client.get(path), 400)  # nothing pushed
    await assert_problem(await client.get(path, params={
        "credential_offer": json.dumps(offer), "credential_offer_uri": "https://a.example/o"}),
        400)
    await assert_problem(await client.post(path, data=b"hello",
                                           headers={"Content-Type": "text/plain"}), 400)
    for _ in range(3):  # per-link limit: 3 accepted a minute (refused pushes do not count)
        r = await client.get(path, params={"credential_offer": json.dumps(offer)})
        assert r.status == 202, await r.text()
    await assert_problem(await client.get(path, params={"credential_offer": json.dumps(offer)}),
                         429)
    # per-client limit (8 a minute, counted before the link is even looked up)
    statuses = [(await client.post("/i/" + "B" * 43, json={"credential": "x"})).status
                for _ in range(4)]
    assert statuses[-1] == 429 and 404 in statuses
    items = (await (await client.get("/v1/inbox", headers=auth(token))).json())["items"]
    assert len(items) == 3


CANARIES = ("CANARY-pushed-claim-93be1", "canary-push.issuer.example", "CANARY-link-label-7c0d")


async def test_inbox_items_unreadable_at_rest(app: TestClient[Any, Any],
                                              backend: Backend) -> None:
    token = await learner(app, "canary")
    _, path = await inbox_link(app, token, label=CANARIES[2])
    await _lock(app, token)
    cred = {"@context": ["https://www.w3.org/ns/credentials/v2"],
            "type": ["VerifiableCredential"], "issuer": f"https://{CANARIES[1]}",
            "credentialSubject": {"name": CANARIES[0]}}
    assert (await app.post(path, json={"credential": cred})).status == 202
    offer = {"credential_issuer": f"https://{CANARIES[1]}/issuer",
             "credential_configuration_ids": [CANARIES[0]]}
    assert (await app.get(path, params={"credential_offer": json.dumps(offer)})).status == 202
    token = await login(app, "canary")
    listed = await (await app.get("/v1/inbox", headers=auth(token))).text()
    assert CANARIES[2] in listed and CANARIES[1] in listed  # readable to the learner only
    await app.close()
    needles = [f for c in (*CANARIES, path.rsplit("/", 1)[1]) for f in encoded_forms(c)]
    assert grep_tree(backend.data_dir, needles) == []
    if backend.kind == "postgres":
        dumps = [(await asyncio.to_thread(subprocess.run, ["pg_dump", f"{PG_BASE}/{db}"],
                                          capture_output=True, check=True, timeout=60)).stdout
                 for db in backend.pg_databases]
        assert any(b"COPY public.inbox_items" in d for d in dumps)  # the rows are there ...
        for dump in dumps:  # ... sealed
            assert [n for n in needles if n in dump] == []


async def test_receive_isolation(app: TestClient[Any, Any], issuer: Issuer) -> None:
    a = await learner(app, "kim")
    b = await learner(app, "lou")
    # A: one credential, one pending offer, one inbox item, one inbox link
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(a))
    oid = (await r.json())["id"]
    assert (await app.post(f"/v1/offers/{oid}/accept", json={}, headers=auth(a))).status == 200
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(a))
    assert r.status == 201
    _, path = await inbox_link(app, a)
    assert (await app.get(path, params={"credential_offer": json.dumps(
        issuer.make_pre_authorized_offer())})).status == 202
    kinds = {"credential", "offer", "inbox item", "inbox link"}
    assert await assert_isolated(app, a, b, routes=[r for r in ID_ROUTES if r.kind in kinds]) >= 8
    # B's attempts consumed nothing at the issuer beyond A's own accept
    assert len([r for r, _ in issuer.requests if r == "token"]) == 1
