"""Bad input found in review on public and learner endpoints: 4xx problem+json, never a 500."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from aiohttp.test_utils import TestClient

from tests.holder_api.conftest import assert_problem, auth, login, sign_up


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


async def test_out_of_range_times_are_a_400(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "timer")
    token = await login(client, "timer")
    for q in ("since=0001-01-01T00:00:00%2B14:00", "until=9999-12-31T23:59:59-14:00"):
        await assert_problem(await client.get(f"/v1/consent/events?{q}", headers=auth(token)),
                             400)
