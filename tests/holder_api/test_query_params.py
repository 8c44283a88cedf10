"""Every typed query parameter is held to the schema ``/openapi.json`` gives it, by the app,
before the handler runs (holder_api/query.py): out of bounds, not a number, not in the enum —
400 ``invalid_request`` naming the parameter, on every operation that declares one."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, make_mocked_request

from holder_api.app import all_operations
from holder_api.openapi import Op, Param
from holder_api.query import PAGE_LIMIT, query_int
from tests.support.http_api import assert_problem, auth, learner


def _bad_values(param: Param) -> list[str]:
    """Values ``param``'s schema refuses, each a different way to be wrong."""
    schema = param.schema
    if schema.get("type") == "integer":
        return [str(schema["minimum"] - 1), str(schema["maximum"] + 1), "ten", "²", "-1",
                "1" * 19, "1.5", ""]
    if "enum" in schema:
        return ["nope", schema["enum"][0].upper()]
    return ["nope", ""]  # an array of named values (the ledger's kinds)


def _typed(op: Op) -> list[Param]:
    return [p for p in op.params if p.where == "query"
            and (p.schema.get("type") in ("integer", "array") or "enum" in p.schema)]


_CASES = [(op, param, bad) for op in all_operations() for param in _typed(op)
          for bad in _bad_values(param)]


def test_the_walk_finds_the_typed_parameters() -> None:
    """The operations below declare typed query parameters: the walk must see each of them."""
    found = {(op.method, op.path, param.name) for op, param, _ in _CASES}
    assert {("GET", "/v1/credentials", "limit"), ("GET", "/v1/consent/events", "limit"),
            ("GET", "/v1/consent/events", "kind"), ("POST", "/v1/credentials", "unsigned"),
            ("GET", "/v1/credentials/{id}/pdf", "expires_in"),
            ("GET", "/v1/credentials/{id}/pdf", "max_views")} <= found


async def test_every_typed_query_parameter_is_checked(app: TestClient[Any, Any]) -> None:
    token = await learner(app)
    for op, param, bad in _CASES:
        path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), op.path)
        r = await app.request(op.method, path, params={param.name: bad}, headers=auth(token))
        body = await assert_problem(r, 400, "invalid_request")
        assert body["detail"].startswith(param.name + " "), (op.path, param.name, bad, body)


async def test_a_value_in_bounds_reaches_the_handler(app: TestClient[Any, Any]) -> None:
    """The bounds themselves are accepted, and the default is the schema's."""
    token = await learner(app)
    for limit in ("1", "200"):
        r = await app.get("/v1/credentials", params={"limit": limit}, headers=auth(token))
        assert r.status == 200, await r.text()
    r = await app.get("/v1/consent/events", params={"kind": "credential_received,"
                                                             "presentation_sent"},
                      headers=auth(token))
    assert r.status == 200, await r.text()


@pytest.mark.parametrize(("query", "expected"), [("", 50), ("limit=7", 7), ("limit=200", 200)])
def test_query_int_reads_the_declared_default_and_value(query: str, expected: int) -> None:
    request = make_mocked_request("GET", f"/v1/credentials?{query}")
    assert query_int(request, PAGE_LIMIT) == expected


async def test_a_scalar_parameter_sent_twice_is_refused(app: TestClient[Any, Any]) -> None:
    """Audit F10: ``?limit=1&limit=abc`` was 200 (the first read) and ``?limit=abc&limit=1``
    400: which of two values counts is nobody's guess, so neither does. An array parameter may
    repeat (``kind`` is one)."""
    token = await learner(app)
    for query in ("limit=1&limit=abc", "limit=abc&limit=1", "limit=5&limit=5"):
        body = await assert_problem(await app.get(f"/v1/credentials?{query}",
                                                  headers=auth(token)), 400, "invalid_request")
        assert body["detail"] == "limit must be sent once", (query, body)
    r = await app.get("/v1/consent/events?kind=credential_received&kind=presentation_sent",
                      headers=auth(token))
    assert r.status == 200, await r.text()
