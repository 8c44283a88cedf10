"""What every API test does through the HTTP client: sign up, log in, the bearer header, the
problem+json check."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp.test_utils import TestClient

PASSPHRASE = "correct horse battery staple"


async def sign_up(client: TestClient[Any, Any], username: str,
                  passphrase: str = PASSPHRASE) -> dict[str, Any]:
    r = await client.post("/v1/learners", json={"username": username, "passphrase": passphrase})
    assert r.status == 201, await r.text()
    return dict(await r.json())


async def login(client: TestClient[Any, Any], username: str,
                passphrase: str = PASSPHRASE) -> str:
    r = await client.post("/v1/sessions", json={"username": username, "passphrase": passphrase})
    assert r.status == 201, await r.text()
    body = await r.json()
    assert body["token_type"] == "Bearer"
    return str(body["access_token"])


def auth(token: str) -> Mapping[str, str]:
    return {"Authorization": f"Bearer {token}"}


#: asks a recovery by code for its result (RFC 7240): the replacement code and a session
PREFER_RESULT: Mapping[str, str] = {"Prefer": "return=representation"}


async def assert_problem(resp: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert resp.status == status, await resp.text()
    assert resp.content_type == "application/problem+json"
    body = await resp.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    if code is not None:
        assert body["code"] == code, body
    return dict(body)


async def learner(client: TestClient[Any, Any], name: str = "ada") -> str:
    await sign_up(client, name)
    return await login(client, name)
