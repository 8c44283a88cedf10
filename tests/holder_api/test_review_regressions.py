"""Bad input found in review on public and learner endpoints: 4xx problem+json, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from tests.support.http_api import assert_problem, auth, login, sign_up


async def test_deep_json_on_the_public_inbox_is_a_400(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "inboxer")
    token = await login(client, "inboxer")
    r = await client.post("/v1/inbox-links", json={"label": "Uni"}, headers=auth(token))
    path = urlsplit((await r.json())["url"]).path
    deep = b"[" * 100_000 + b"]" * 100_000
    await assert_problem(await client.post(path, data=deep,
                                           headers={"Content-Type": "application/json"}), 400)
    nested = b'{"credential": ' + b"[" * 50_000 + b"]" * 50_000 + b"}"
    r = await client.post(path, data=nested, headers={"Content-Type": "application/json"})
    assert 400 <= r.status < 500 and r.content_type == "application/problem+json"
    offer = "{" + '"grants":' + "[" * 3000 + "]" * 3000 + "}"
    r = await client.post(path, data={"credential_offer": offer})
    assert 400 <= r.status < 500 and r.content_type == "application/problem+json"


async def test_times_at_the_edges_of_rfc_3339_are_answered_never_a_500(
        client: TestClient[Any, Any]) -> None:
    """Valid RFC 3339 date-times (what the schema's ``format`` allows) that lie outside what
    Python's datetime holds once made UTC, a leap second, or a long fraction: the filter clamps
    (the earliest / latest instant) instead of failing; a malformed one is a 400."""
    await sign_up(client, "timer")
    token = await login(client, "timer")
    for q in ("since=0001-01-01T00:00:00%2B14:00", "until=9999-12-31T23:59:59-14:00",
              "since=2016-12-31T23:59:60Z", "until=2030-01-01T00:00:00.1234567890123Z",
              "since=0000-01-01T00:00:00Z"):
        r = await client.get(f"/v1/consent/events?{q}", headers=auth(token))
        assert r.status == 200, (q, await r.text())
    for q in ("since=2024-02-30T00:00:00Z", "until=yesterday", "since=2024-01-01T24:00:00Z"):
        await assert_problem(await client.get(f"/v1/consent/events?{q}", headers=auth(token)),
                             400)


async def test_a_pushed_credential_accepted_twice_at_once_is_stored_once(
        client: TestClient[Any, Any]) -> None:
    import asyncio

    from tests.support.vectors import VECTORS

    await sign_up(client, "twice")
    token = await login(client, "twice")
    r = await client.post("/v1/inbox-links", json={"label": "Uni"}, headers=auth(token))
    path = urlsplit((await r.json())["url"]).path
    raw = (VECTORS / "microcredentials/waltid/openbadgecredential_sample.signed.json"
           ).read_text(encoding="utf-8")
    assert (await client.post(path, json={"credential": raw})).status == 202
    [item] = (await (await client.get("/v1/inbox", headers=auth(token))).json())["items"]
    answers = await asyncio.gather(*(client.post(f"/v1/inbox/{item['id']}/accept", json={},
                                                 headers=auth(token)) for _ in range(2)))
    assert sorted(a.status for a in answers) == [200, 404]
    listed = (await (await client.get("/v1/credentials", headers=auth(token))).json())["items"]
    assert len(listed) == 1
