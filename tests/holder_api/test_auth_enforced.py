"""Authentication is enforced where the route table declares it, for every operation.

The app wraps each handler from its ``Op``: an ``auth`` operation never runs without a valid
token, and an ``optional_auth`` one never treats a forged token as no token. Each request below
carries a well-formed empty JSON body, so the 401 cannot come from the handler's own checks.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from holder_api.app import all_operations
from holder_api.appkeys import SERVICES
from holder_api.openapi import Op
from tests.support.http_api import assert_problem, auth, login, sign_up
from wallet import jose
from wallet.accounts.service import LearnerSession
from wallet.accounts.tokens import ServiceKeys, TokenService

_GUARDED = [op for op in all_operations() if op.auth or op.optional_auth]


def _url(op: Op) -> str:
    return re.sub(r"\{[^}]+\}", "00000000-0000-4000-8000-000000000000", op.path)


async def _forged_tokens(client: TestClient[Any, Any]) -> list[str]:
    """A token of a real learner signed by another service's key, and a genuine token whose
    payload was altered under its old signature."""
    await sign_up(client, "mallory")
    good = await login(client, "mallory")
    claims = client.app[SERVICES].accounts._tokens.check(good)  # type: ignore[attr-defined]
    foreign = TokenService(ServiceKeys.from_secret("another-service-secret-of-32-bytes!!"),
                           ttl=600, issuer="http://satchel.test").mint(
        claims.learner_id, claims.dek, epoch=0).token
    h, p, s = good.split(".")
    payload = json.loads(jose.b64url_decode(p))
    payload["exp"] += 10_000
    altered = f"{h}.{jose.b64url_encode(json.dumps(payload).encode())}.{s}"
    return [foreign, altered]


def test_the_walk_covers_the_learner_api() -> None:
    paths = {op.path for op in _GUARDED}
    assert len(_GUARDED) >= 25
    assert {"/v1/credentials", "/v1/offers", "/v1/share-links", "/v1/consent/events",
            "/v1/me/export", "/v1/learners/me/passphrase"} <= paths
    assert not {"/v1/learners", "/v1/sessions", "/s/{token}", "/i/{token}", "/healthz"} & paths


async def test_every_declared_operation_refuses_a_missing_or_forged_token(
        client: TestClient[Any, Any]) -> None:
    forged = await _forged_tokens(client)
    for op in _GUARDED:
        url, body = _url(op), {"json": {}} if op.body is not None else {}
        if op.auth:  # no token at all
            resp = await client.request(op.method, url, **body)
            problem = await assert_problem(resp, 401, "unauthorized")
            assert problem["status"] == 401, (op.method, op.path)
        for token in forged:
            resp = await client.request(op.method, url, headers=auth(token), **body)
            await assert_problem(resp, 401, "unauthorized")


def test_a_handler_must_take_the_session_its_operation_declares() -> None:
    async def public(request: web.Request) -> web.Response:
        raise AssertionError("not called")

    async def private(request: web.Request, session: LearnerSession) -> web.Response:
        raise AssertionError("not called")

    with pytest.raises(TypeError, match="session"):
        Op("GET", "/v1/x", public, "x", "x")  # auth by default, but takes no session
    with pytest.raises(TypeError, match="request"):
        Op("GET", "/x", private, "x", "x", auth=False)
    Op("GET", "/v1/x", private, "x", "x")
    Op("GET", "/x", public, "x", "x", auth=False)
