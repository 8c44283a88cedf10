"""Input at the edges of what /openapi.json says, on both backends: the server takes exactly what
the document allows, judged by the validator schemathesis uses (jsonschema_rs, ECMA-262 regexes
and checked formats), and an id or filter with a NUL character is bad input (404 for a path id,
400 for a field or a query), never PostgreSQL's encoding error read as an outage (503)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any, cast
from unittest import mock

import jsonschema_rs
import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from holder_api.app import all_operations
from holder_api.openapi import build_document
from tests.support.backends import PG_BASE, require_postgres
from tests.support.http_api import assert_problem, auth, learner
from wallet.db import create_engine, failing_as
from wallet.errors import BadInput, Unavailable

DOCUMENT = build_document(all_operations(), version="test", server_url="http://satchel.test")


def _operation(method: str, path: str) -> Mapping[str, Any]:
    return cast(Mapping[str, Any], DOCUMENT["paths"][path][method.lower()])


def _document_allows(schema: Mapping[str, Any], value: Any) -> bool:
    return bool(jsonschema_rs.validator_for(dict(schema), validate_formats=True).is_valid(value))


def _param(method: str, path: str, name: str) -> Mapping[str, Any]:
    return next(p["schema"] for p in _operation(method, path)["parameters"] if p["name"] == name)


def _body(method: str, path: str) -> Mapping[str, Any]:
    return cast(Mapping[str, Any],
                _operation(method, path)["requestBody"]["content"]["application/json"]["schema"])


async def test_a_nul_in_an_id_is_not_found_or_a_400_never_an_outage(
        client: TestClient[Any, Any]) -> None:
    token = await learner(client)
    for method, path in (("GET", "/v1/consent/receipts/a%00b"),
                         ("POST", "/v1/inbox/a%00b/accept"), ("POST", "/v1/inbox/a%00b/decline"),
                         ("DELETE", "/v1/share-links/a%00b"), ("DELETE", "/v1/inbox-links/a%00b"),
                         ("POST", "/v1/offers/a%00b/decline"),
                         ("GET", "/v1/presentation-requests/a%00b"),
                         ("GET", f"/v1/consent/receipts/{uuid.uuid4()}%00")):
        r = await client.request(method, path, json={} if method == "POST" else None,
                                 headers=auth(token))
        await assert_problem(r, 404, "not_found")
    r = await client.post("/v1/consent/withdrawals", json={"kind": "share_link", "id": "a\0b"},
                          headers=auth(token))
    assert (await assert_problem(r, 400, "invalid_request"))["pointer"] == "/id"
    for query in ("counterparty=a%00b", "kind=export%00", "since=2026-01-01T00:00:00Z%00"):
        r = await client.get(f"/v1/consent/events?{query}", headers=auth(token))
        await assert_problem(r, 400, "invalid_request")
    # and a well-formed id that names nothing is still a plain 404
    r = await client.delete(f"/v1/share-links/{uuid.uuid4()}", headers=auth(token))
    await assert_problem(r, 404, "not_found")


def test_no_parameter_of_the_document_admits_a_nul() -> None:
    # the error middleware refuses %00 in any path (404) or query (400) before a handler runs:
    # a parameter whose schema admitted it would be looser than the server
    checked = 0
    for path, item in DOCUMENT["paths"].items():
        for method, op in item.items():
            for param in op.get("parameters", ()):
                schema = param["schema"]
                sample = ["a\0b"] if schema.get("type") == "array" else "a\0b"
                assert not _document_allows(schema, sample), (method, path, param["name"])
                checked += 1
    assert checked > 20


async def test_a_nul_in_a_free_text_filter_is_a_400(client: TestClient[Any, Any]) -> None:
    token = await learner(client)
    for query in ("format=%00", "q=a%00", "issuer=%00x", "type=%00"):
        r = await client.get(f"/v1/credentials?{query}", headers=auth(token))
        await assert_problem(r, 400, "invalid_request")


def test_the_document_says_which_ids_exist() -> None:
    for method, path, where in (("GET", "/v1/consent/receipts/{id}", "id"),
                                ("POST", "/v1/inbox/{id}/accept", "id"),
                                ("DELETE", "/v1/share-links/{id}", "id")):
        schema = _param(method, path, where)
        assert _document_allows(schema, str(uuid.uuid4()))
        assert not _document_allows(schema, "a\0b") and not _document_allows(schema, "x")
    withdrawal = _body("POST", "/v1/consent/withdrawals")
    assert not _document_allows(withdrawal, {"kind": "share_link", "id": "a\0b"})


async def test_postgresql_refusing_a_nul_is_bad_input_not_unavailable() -> None:
    """The store's last line: text with a NUL that got past the edge reads as the client's."""
    require_postgres()
    engine = create_engine(PG_BASE.replace("postgres://", "postgresql+asyncpg://") + "/postgres")
    try:
        with pytest.raises(BadInput):
            with failing_as("the store is unavailable"):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT :v = 'x'"), {"v": "a\0b"})
        with pytest.raises(Unavailable):  # any other database failure is still an outage
            with failing_as("the store is unavailable"):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT * FROM no_such_table"))
    finally:
        await engine.dispose()


def test_a_driver_error_without_a_state_is_unavailable() -> None:
    with pytest.raises(Unavailable), failing_as("down"):
        raise DBAPIError("SELECT 1", None, mock.Mock(spec=[]))


USERNAMES = ["nlname\n", "nlname", "ada\r", "\nada", "a" * 64, "a" * 65, "ad", "ada\u0660"]


@pytest.mark.parametrize("username", USERNAMES)
async def test_a_username_is_taken_exactly_when_the_document_allows_it(
        client: TestClient[Any, Any], username: str) -> None:
    allowed = _document_allows(_body("POST", "/v1/learners"),
                               {"username": username, "passphrase": "violet harbour lantern"})
    r = await client.post("/v1/learners", json={"username": username,
                                                "passphrase": "violet harbour lantern"})
    assert (r.status == 201) == allowed, (username, r.status, await r.text())


LABELS = [" ", "\t\n", "\u3000", "\ufeff", "\x1c", "\x85", "\u00a0 ", " Uni ", "x"]


async def test_an_inbox_link_label_is_taken_exactly_when_the_document_allows_it(
        client: TestClient[Any, Any]) -> None:
    token = await learner(client)
    for label in LABELS:
        allowed = _document_allows(_body("POST", "/v1/inbox-links"), {"label": label})
        r = await client.post("/v1/inbox-links", json={"label": label}, headers=auth(token))
        assert (r.status == 201) == allowed, (label, r.status, await r.text())
    # a label of white space alone is refused by the document itself
    assert not _document_allows(_body("POST", "/v1/inbox-links"), {"label": " "})


TIMES = ["2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "2026-01-01T00:00:00",
         "2026-01-01 00:00:00Z", "2026-01-01", "1998-12-31T23:59:60Z", "1998-12-31T22:59:60Z",
         "1998-12-31T15:59:60.123-08:00", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00+01:60",
         "0000-01-01T00:00:00Z", "0000-02-30T00:00:00Z", "2026-01-01T00:00:00.5+01:00", ""]
KINDS = ["export", "export,import", "", "export,", "nope", "export,nope"]
LIMITS = ["1", "200", "0", "201", "\u00b2", "\u0661", "1e2", "+5", " 5", "5 "]


async def test_event_filters_are_taken_exactly_when_the_document_allows_them(
        client: TestClient[Any, Any]) -> None:
    token = await learner(client)
    since = _param("GET", "/v1/consent/events", "since")
    kinds = _param("GET", "/v1/consent/events", "kind")
    cases = [({"since": t}, _document_allows(since, t)) for t in TIMES]
    cases += [({"kind": k}, _document_allows(kinds, [k])) for k in KINDS]
    limit = _param("GET", "/v1/consent/events", "limit")
    cases += [({"limit": n}, n.isascii() and n.isdigit() and _document_allows(limit, int(n)))
              for n in LIMITS]
    for query, allowed in cases:
        r = await client.get("/v1/consent/events", params=query, headers=auth(token))
        assert r.status in (200, 400), await r.text()
        assert (r.status == 200) == allowed, (query, r.status, await r.text())
    # what the document takes is a real choice: some of each
    assert {a for _, a in cases} == {True, False}


def test_the_share_page_declares_both_of_its_answers() -> None:
    content = _operation("GET", "/s/{token}")["responses"]["200"]["content"]
    assert set(content) == {"application/json", "text/html"}
