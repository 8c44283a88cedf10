"""GET /v1/consent/*: history with filters, verification against raw-SQL tampering, receipts
checked by an independent JWT library, the public key set, withdrawals, isolation, and the canary
rule: no claim value in the ledger tables or the logs."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import jsonschema
import jwt
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from consent.events import EventKind
from holder_api.appkeys import WIRING
from tests.holder_api.api_support import VERIFIER, five_events, put_credential, record
from tests.holder_api.isolation import ID_ROUTES, assert_isolated
from tests.support.backends import Backend
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login, sign_up
from wallet.db import create_engine
from wallet.errors import NotFound
from wallet.personal_data import Withdrawn
from wallet.ports import Activity, ActivityKind

CANARY = "Canary-Zanzibar-4471"


@pytest.fixture
async def raw_db(backend: Backend) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(backend.database_url)
    yield engine
    await engine.dispose()


async def test_events_newest_first_with_filters_and_pages(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "ana")
    token = await login(client, "ana")
    ids = await five_events(client, token)
    r = await client.get("/v1/consent/events", headers=auth(token))
    assert r.status == 200
    items = (await r.json())["items"]
    assert [i["id"] for i in items] == ids[::-1]
    top = items[1]
    assert {"id", "at", "kind", "counterparty", "purpose", "claims", "credential_ids",
            "hash"} <= set(top)
    assert top["kind"] == "presentation_sent" and top["counterparty"] == VERIFIER
    assert top["claims"] == [["given_name"], ["degrees", None, "type"]]
    assert top["credential_ids"] == ["c1"] and len(top["hash"]) == 64

    r = await client.get("/v1/consent/events?kind=presentation_sent", headers=auth(token))
    assert [i["id"] for i in (await r.json())["items"]] == ids[3:0:-1]
    r = await client.get("/v1/consent/events?kind=credential_received,share_link_created",
                         headers=auth(token))
    assert [i["id"] for i in (await r.json())["items"]] == [ids[4], ids[0]]
    r = await client.get("/v1/consent/events", params={"counterparty": VERIFIER},
                         headers=auth(token))
    assert [i["id"] for i in (await r.json())["items"]] == ids[3:0:-1]
    r = await client.get("/v1/consent/events", params={"counterparty": "https://nobody.example"},
                         headers=auth(token))
    assert (await r.json())["items"] == []
    at = {i["id"]: i["at"] for i in items}
    r = await client.get("/v1/consent/events", params={"since": at[ids[2]], "until": at[ids[4]]},
                         headers=auth(token))
    assert [i["id"] for i in (await r.json())["items"]] == [ids[3], ids[2]]

    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = await (await client.get("/v1/consent/events", params=params,
                                       headers=auth(token))).json()
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids[::-1]

    for bad in ({"since": "yesterday"}, {"kind": "gossip"}, {"limit": "0"},
                {"cursor": "not-a-cursor"}):
        await assert_problem(await client.get("/v1/consent/events", params=bad,
                                              headers=auth(token)), 400)
    await assert_problem(await client.get("/v1/consent/events"), 401)


TAMPER = {
    # (SQL, the first bad seq the verifier must name)
    "change_body": ("UPDATE ledger_entries SET sealed_body = :junk WHERE learner_ref = :r "
                    "AND seq = 3", 3),
    "change_kind": ("UPDATE ledger_entries SET kind = 'presentation_declined' "
                    "WHERE learner_ref = :r AND seq = 3", 3),
    "reorder": ("UPDATE ledger_entries SET seq = CASE seq WHEN 2 THEN 3 ELSE 2 END "
                "WHERE learner_ref = :r AND seq IN (2, 3)", 2),
    "delete": ("DELETE FROM ledger_entries WHERE learner_ref = :r AND seq = 3", 3),
    "truncate": ("DELETE FROM ledger_entries WHERE learner_ref = :r AND seq >= 4", 4),
}


async def test_events_validate_against_the_served_schema_whose_kinds_are_the_enum(
        client: TestClient[Any, Any]) -> None:
    """A client generated from /openapi.json knows every kind an event can carry (the same list
    the filter takes), and the events the list returns are what the document says."""
    doc = await (await client.get("/openapi.json")).json()
    listing = doc["paths"]["/v1/consent/events"]["get"]
    page = listing["responses"]["200"]["content"]["application/json"]["schema"]
    kind = page["properties"]["items"]["items"]["properties"]["kind"]
    assert kind["enum"] == [k.value for k in EventKind]
    [param] = [p for p in listing["parameters"] if p["name"] == "kind"]
    assert param["schema"]["items"]["anyOf"][0]["enum"] == kind["enum"]
    await sign_up(client, "ana")
    token = await login(client, "ana")
    await five_events(client, token)
    events = await (await client.get("/v1/consent/events", headers=auth(token))).json()
    jsonschema.validate(events, page)
    assert {e["kind"] for e in events["items"]} >= {"presentation_sent", "credential_received"}


@pytest.mark.parametrize("how", sorted(TAMPER))
async def test_verify_names_the_first_bad_entry(client: TestClient[Any, Any],
                                                raw_db: AsyncEngine, how: str) -> None:
    learner = await sign_up(client, "ben")
    token = await login(client, "ben")
    await five_events(client, token)
    other = await sign_up(client, "bob")
    other_token = await login(client, "bob")
    await five_events(client, other_token)

    r = await client.get("/v1/consent/verify", headers=auth(token))
    good = await r.json()
    assert good["valid"] is True and good["length"] == 5 and len(good["head"]) == 64

    ref = client.app[WIRING].stores.keys.learner_ref(learner["learner_id"])
    sql, first_bad = TAMPER[how]
    async with raw_db.begin() as conn:
        if how == "reorder":  # through a free seq value, so the unique index never trips
            await conn.execute(text("UPDATE ledger_entries SET seq = -2 WHERE learner_ref = :r "
                                    "AND seq = 2"), {"r": ref})
            await conn.execute(text("UPDATE ledger_entries SET seq = 2 WHERE learner_ref = :r "
                                    "AND seq = 3"), {"r": ref})
            await conn.execute(text("UPDATE ledger_entries SET seq = 3 WHERE learner_ref = :r "
                                    "AND seq = -2"), {"r": ref})
        else:
            await conn.execute(text(sql), {"r": ref, "junk": b"\x00" * 64})
    report = await (await client.get("/v1/consent/verify", headers=auth(token))).json()
    assert report["valid"] is False
    assert report["first_bad_seq"] == first_bad == report["first_bad"]["seq"], report
    assert report["reason"]
    # the other learner's chain is untouched and still verifies
    other_report = await (await client.get("/v1/consent/verify",
                                           headers=auth(other_token))).json()
    assert other_report == {"valid": True, "length": 5, "head": other_report["head"],
                            "head_ok": True, "staged_pending": 0, "imports": [],
                            "learner_asserted_entries": 0}
    assert other["learner_id"] != learner["learner_id"]


async def test_receipt_verifies_with_the_published_key(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "cleo")
    token = await login(client, "cleo")
    ids = await five_events(client, token)
    keys = await client.get("/v1/consent/keys")  # public: no token
    assert keys.status == 200
    [jwk] = (await keys.json())["keys"]
    assert "d" not in jwk and jwk["use"] == "sig"

    r = await client.get(f"/v1/consent/receipts/{ids[1]}", headers=auth(token))
    assert r.status == 200 and r.content_type == "application/jwt"
    token_text = await r.text()
    # pyjwt, not our own JOSE code, checks the signature
    claims = jwt.decode(token_text, key=jwt.PyJWK(jwk).key, algorithms=["EdDSA"],
                        options={"verify_aud": False})
    assert jwt.get_unverified_header(token_text)["kid"] == jwk["kid"]
    events = (await (await client.get("/v1/consent/events", headers=auth(token))).json())["items"]
    entry = next(e for e in events if e["id"] == ids[1])
    flat = repr(claims)
    assert entry["hash"] in flat and VERIFIER in flat and "given_name" in flat

    await assert_problem(await client.get("/v1/consent/receipts/00000000-0000-0000-0000-"
                                          "000000000000", headers=auth(token)), 404)
    await assert_problem(await client.get(f"/v1/consent/receipts/{ids[1]}"), 401)


async def _event_ids(client: TestClient[Any, Any], token: str) -> list[str]:
    r = await client.get("/v1/consent/events", headers=auth(token))
    assert r.status == 200
    return [e["id"] for e in (await r.json())["items"]]


async def test_isolation_of_consent_events(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "dora")
    await sign_up(client, "dave")
    a, b = await login(client, "dora"), await login(client, "dave")
    await five_events(client, a)
    await put_credential(client, a, title="A's course")
    mine = [r for r in ID_ROUTES if r.kind in ("consent event", "credential")]
    assert {r.kind for r in mine} == {"consent event", "credential"}
    assert await assert_isolated(client, a, b, routes=mine) >= 5
    assert await _event_ids(client, b) == []
    assert (await (await client.get("/v1/consent/verify", headers=auth(b))).json())["length"] == 0


async def test_withdrawal_revokes_through_the_registry_and_is_recorded(
        client: TestClient[Any, Any]) -> None:
    learner = await sign_up(client, "emil")
    token = await login(client, "emil")
    revoked: list[tuple[str, str]] = []

    async def revoke_share_link(learner_id: str, dek: Any, link_id: str) -> Withdrawn:
        if link_id != "link-1" or learner_id != learner["learner_id"]:
            raise NotFound("no such share link")
        revoked.append((learner_id, link_id))
        return Withdrawn(counterparty="share-link:link-1", purpose="job application")

    client.app[WIRING].consent.personal_data.add_withdrawal("demo_link", revoke_share_link)
    r = await client.post("/v1/consent/withdrawals", json={"kind": "demo_link", "id": "link-1"},
                          headers=auth(token))
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["kind"] == "consent_withdrawn" and revoked == [(learner["learner_id"], "link-1")]
    [event] = (await (await client.get("/v1/consent/events?kind=consent_withdrawn",
                                       headers=auth(token))).json())["items"]
    assert event["id"] == body["event_id"] and event["counterparty"] == "share-link:link-1"
    for bad in ({"kind": "demo_link", "id": "link-2"}, {"kind": "inbox_link", "id": "x"},
                {"kind": "unknown_kind", "id": "x"}):
        await assert_problem(await client.post("/v1/consent/withdrawals", json=bad,
                                               headers=auth(token)), 404)
    await assert_problem(await client.post("/v1/consent/withdrawals", json={"kind": "demo_link"},
                                           headers=auth(token)), 400)
    assert len(revoked) == 1


async def test_no_claim_value_in_ledger_tables_or_logs(client: TestClient[Any, Any],
                                                       raw_db: AsyncEngine,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    await sign_up(client, "fay")
    token = await login(client, "fay")
    await put_credential(client, token, title="Course", raw=f'{{"given_name":"{CANARY}"}}',
                         claims={"given_name": CANARY})
    await five_events(client, token)
    # a value where a path belongs is refused, and nothing is written
    r = await client.get("/v1/consent/verify", headers=auth(token))
    before = (await r.json())["length"]
    with pytest.raises(Exception) as refused:
        await record(client, token, Activity(kind=ActivityKind.PRESENTATION_SENT, counterparty=VERIFIER,
                                             claims=((f"{CANARY} lives in Zanzibar",),)))
    assert getattr(refused.value, "status", None) == 400
    assert (await (await client.get("/v1/consent/verify", headers=auth(token))).json())[
        "length"] == before
    r = await client.post("/v1/me/export", json={"passphrase": PASSPHRASE + " export"},
                          headers=auth(token))
    assert r.status == 200
    assert CANARY in await r.text()  # the learner's own bundle carries it: the canary is real
    dump = []
    async with raw_db.connect() as conn:
        for table in ("ledger_entries", "ledger_heads"):
            rows = (await conn.execute(text(f"SELECT * FROM {table}"))).all()
            assert rows
            dump += [repr(tuple(row)) for row in rows]
    blob = "\n".join(dump)
    assert CANARY not in blob and CANARY.encode().hex() not in blob
    assert "given_name" not in blob  # even claim *paths* are sealed
    logged = "\n".join(rec.getMessage() + repr(rec.__dict__) for rec in caplog.records)
    assert CANARY not in logged and PASSPHRASE not in logged


async def test_withdrawing_a_real_inbox_link(client: TestClient[Any, Any]) -> None:
    """The inbox link registered by the receive feature: withdrawn, recorded, and it stops."""
    await sign_up(client, "wanda")
    token = await login(client, "wanda")
    r = await client.post("/v1/inbox-links", json={"label": "Uni"}, headers=auth(token))
    link = await r.json()
    path = "/" + link["url"].split("/", 3)[3]
    r = await client.post("/v1/consent/withdrawals", json={"kind": "inbox_link", "id": link["id"]},
                          headers=auth(token))
    assert r.status == 201, await r.text()
    kinds = [e["kind"] for e in (await (await client.get(
        "/v1/consent/events", headers=auth(token))).json())["items"]]
    assert kinds[:2] == ["consent_withdrawn", "inbox_link_revoked"]
    r = await client.post(path, json={"credential": "x.y.z"})
    assert r.status == 404
    assert (await (await client.get("/v1/consent/verify", headers=auth(token))).json())["valid"]
