"""Operator endpoints and the OpenAPI document kept equal to the router."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient
from aiohttp.web_urldispatcher import DynamicResource, PlainResource

from holder_api.openapi import DESCRIBED
from tests.support.http_api import assert_problem


async def test_health_ready_metrics(client: TestClient[Any, Any]) -> None:
    assert (await (await client.get("/healthz")).json()) == {"status": "ok"}
    r = await client.get("/readyz")
    assert r.status == 200 and (await r.json())["status"] == "ready"
    await client.get("/v1/keys")
    text = await (await client.get("/metrics")).text()
    assert "satchel_http_requests_total" in text
    assert 'route="/v1/keys"' in text
    assert "satchel_unlocks_waiting" in text


async def test_openapi_matches_router(client: TestClient[Any, Any]) -> None:
    doc = await (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    documented = {(m.upper(), p) for p, item in doc["paths"].items() for m in item}
    routed, pages = set(), set()
    for route in client.app.router.routes():
        if route.method == "HEAD":
            continue
        res = route.resource
        assert isinstance(res, PlainResource | DynamicResource)
        # the web wallet's pages are HTML for people, not operations of the JSON API document
        is_page = getattr(route.handler, "__module__", "").startswith("holder_api.web")
        (pages if is_page else routed).add((route.method, res.canonical))
    assert routed == documented
    assert ("GET", "/") in pages
    assert not any(path.startswith(("/v1/", "/s/", "/i/")) for _, path in pages)
    for item in doc["paths"].values():
        for op in item.values():
            assert op["responses"], op
            assert any(s.startswith("2") for s in op["responses"]), op


async def test_every_described_operation_exists(client: TestClient[Any, Any]) -> None:
    """holder_api/operations.md holds no prose for an operation that is gone or renamed."""
    doc = await (await client.get("/openapi.json")).json()
    documented = {f"{m.upper()} {p}" for p, item in doc["paths"].items() for m in item}
    assert DESCRIBED and sorted(set(DESCRIBED) - documented) == []
    share = doc["paths"]["/v1/share-links"]["post"]["description"]
    assert share == DESCRIBED["POST /v1/share-links"] and "whole_credential_only" in share


async def test_unknown_route_and_method_are_problems(client: TestClient[Any, Any]) -> None:
    await assert_problem(await client.get("/v1/nothing-here"), 404)
    await assert_problem(await client.put("/v1/keys"), 405)


async def test_access_log_policy(make_sqlite_client: Any, caplog: Any) -> None:
    """By default only errors (and slow requests) leave an access line; every one with 'all'."""
    import logging

    for policy, expect_ok_line in (("errors", False), ("all", True)):
        client = await make_sqlite_client(SATCHEL_ACCESS_LOG=policy)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="satchel.http"):
            await client.get("/healthz")
            await client.get("/v1/keys")  # 401
        lines = [(r.route, r.status) for r in caplog.records if r.getMessage() == "request"]
        assert ("/v1/keys", 401) in lines
        assert (("/healthz", 200) in lines) is expect_ok_line
