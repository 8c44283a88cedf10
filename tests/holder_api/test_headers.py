"""Caching and sniffing headers on every operation of the OpenAPI document, errors included."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from holder_api.headers import PUBLIC_DOCUMENT_CACHE, STATIC_CACHE
from tests.support.http_api import PASSPHRASE, auth, login, sign_up

_SECRET_URL = ("/s/", "/i/")


def _check(method: str, path: str, status: int, headers: Any) -> None:
    where = f"{method} {path} -> {status}"
    assert headers.get("X-Content-Type-Options") == "nosniff", where
    cache = headers.get("Cache-Control")
    if path == "/openapi.json" and status == 200:
        assert cache == PUBLIC_DOCUMENT_CACHE, where
    else:
        assert cache == "no-store", where
    if path.startswith(_SECRET_URL):
        assert headers.get("Referrer-Policy") == "no-referrer", where
        csp = headers.get("Content-Security-Policy", "")
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, where


async def test_every_operation_sends_no_store_and_nosniff(client: TestClient[Any, Any]) -> None:
    """Each documented operation, without a token and with one (so both the 401 and the
    handler's own answers, success or error, are seen)."""
    await sign_up(client, "headers")
    token = await login(client, "headers")
    doc = await (await client.get("/openapi.json")).json()
    seen_statuses: set[int] = set()
    for template, item in doc["paths"].items():
        path = re.sub(r"\{[^}]+\}", "no-such-thing", template)
        for method in item:
            for headers in ({}, dict(auth(token))):
                kwargs: dict[str, Any] = {"headers": headers}
                if method in ("post", "put", "patch"):
                    kwargs["json"] = {}
                r = await client.request(method.upper(), path, **kwargs)
                await r.read()
                seen_statuses.add(r.status)
                _check(method.upper(), path, r.status, r.headers)
    # the walk met successes and several kinds of error
    assert {200, 400, 401, 404} <= seen_statuses, seen_statuses


async def test_token_and_recovery_code_answers_are_not_cacheable(
        client: TestClient[Any, Any]) -> None:
    r = await client.post("/v1/learners", json={"username": "cache1", "passphrase": PASSPHRASE})
    assert r.status == 201 and "recovery_code" in await r.json()
    _check("POST", "/v1/learners", r.status, r.headers)
    r = await client.post("/v1/sessions", json={"username": "cache1", "passphrase": PASSPHRASE})
    assert r.status == 201 and "access_token" in await r.json()
    _check("POST", "/v1/sessions", r.status, r.headers)


async def test_responses_outside_any_route_get_the_headers(client: TestClient[Any, Any]) -> None:
    for method, path in (("GET", "/v1/nothing-here"), ("PUT", "/v1/keys"),
                         ("GET", "/s/unknown-token"), ("POST", "/i/unknown-token")):
        r = await client.request(method, path)
        assert r.status >= 400
        _check(method, path, r.status, r.headers)


async def test_static_files_and_the_readme_say_the_same_cache(
        client: TestClient[Any, Any]) -> None:
    """The one value (holder_api.headers.STATIC_CACHE) is what a static file gets and what the
    README promises; likewise the API description's."""
    page = await (await client.get("/")).text()
    css = re.search(r'href="(/static/app\.[0-9a-f]{12}\.css)"', page)
    assert css
    r = await client.get(css.group(1))
    assert r.status == 200 and r.headers["Cache-Control"] == STATIC_CACHE
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    said = " ".join(readme.split())
    assert f"(`{STATIC_CACHE}`" in said and f"(`{PUBLIC_DOCUMENT_CACHE}`)" in said
