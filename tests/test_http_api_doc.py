"""docs/http-api.md against the OpenAPI document the app serves at ``/openapi.json``.

The page must name every operation (method and path) of the document, and every operation or path
it names must be one of the document's; what it says about paging must be what the document
declares (which lists take ``cursor``, which answer a ``next_cursor``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from holder_api.app import all_operations
from holder_api.openapi import build_document

DOC = Path(__file__).resolve().parents[1] / "docs" / "http-api.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: `METHOD /path` in a code span (a query string after the path is allowed: `?limit=`)
OPERATION = re.compile(r"`(" + "|".join(METHODS) + r") (/[^`?\s]*)(?:\?[^`]*)?`")
#: a code span that is only a path: `/openapi.json`, `/v1/credentials/{id}`
PATH = re.compile(r"`(/[\w{}./-]*)`")
#: the Conventions' three kinds of list, each a bullet naming its operations
LIST_KINDS = {"paged": "Paged lists", "one_page": "Lists in one page",
              "items_only": "Lists without `next_cursor`"}


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return build_document(all_operations(), version="test", server_url="https://satchel.test")


def operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in doc["paths"].items() for method in item}


def named_operations(text: str) -> set[tuple[str, str]]:
    return {(m.group(1), m.group(2)) for m in OPERATION.finditer(text)}


def named_paths(text: str) -> set[str]:
    return set(PATH.findall(text))


def list_kinds(text: str) -> dict[str, set[tuple[str, str]]]:
    """The operations each list bullet of the Conventions names (a bullet runs until the next
    bullet or the end of its paragraph)."""
    out = {}
    for kind, opening in LIST_KINDS.items():
        start = text.index(f"- {opening}")
        bullet = re.split(r"\n\s*(?:- |\n)", text[start + 2:], maxsplit=1)[0]
        out[kind] = named_operations(bullet)
    return out


def declared_list_kinds(doc: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """The same three kinds, from the document: a list is an answer with ``items``."""
    out: dict[str, set[tuple[str, str]]] = {kind: set() for kind in LIST_KINDS}
    for path, item in doc["paths"].items():
        for method, op in item.items():
            schema = op["responses"].get("200", {}).get("content", {}).get(
                "application/json", {}).get("schema", {})
            members = schema.get("properties", {})
            if "items" not in members:
                continue
            params = {p["name"] for p in op.get("parameters", ())}
            kind = ("paged" if {"limit", "cursor"} <= params
                    else "one_page" if "next_cursor" in members else "items_only")
            out[kind].add((method.upper(), path))
    return out


def test_the_page_names_every_operation_of_the_document(openapi: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    assert len(operations(openapi)) > 40  # the document was built from the whole route table
    assert sorted(operations(openapi) - named_operations(text)) == []


def test_every_operation_the_page_names_exists(openapi: dict[str, Any]) -> None:
    assert sorted(named_operations(DOC.read_text(encoding="utf-8")) - operations(openapi)) == []


def test_every_path_the_page_names_exists(openapi: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    paths = named_paths(text) | {path for _, path in named_operations(text)}
    assert "/openapi.json" in paths
    assert sorted(paths - set(openapi["paths"])) == []


def test_what_the_page_says_of_lists_is_what_the_document_declares(
        openapi: dict[str, Any]) -> None:
    said, declared = list_kinds(DOC.read_text(encoding="utf-8")), declared_list_kinds(openapi)
    assert declared["paged"] == {("GET", "/v1/credentials"), ("GET", "/v1/consent/events")}
    assert said == declared
    for method, path in declared["paged"]:
        schema = openapi["paths"][path][method.lower()]["responses"]["200"]["content"][
            "application/json"]["schema"]
        assert "next_cursor" in schema["required"], path


# -- the checks fire ------------------------------------------------------------------------------

_SAMPLE = """
- Lists answer `{"items": [...]}`.
  - Paged lists: `GET /v1/a?limit=&cursor=`.
  - Lists in one page, whose `next_cursor` is always `null`: `GET /v1/b`.
  - Lists without `next_cursor`: `GET /v1/c`, `GET /v1/d`.

| `GET /v1/a/{id}`, `DELETE /v1/a/{id}` | see `/v1/e` and `/openapi.json`; not `GETX /v1/f` |
"""


def test_the_page_is_read_as_written() -> None:
    assert named_operations(_SAMPLE) == {("GET", "/v1/a"), ("GET", "/v1/b"), ("GET", "/v1/c"),
                                         ("GET", "/v1/d"), ("GET", "/v1/a/{id}"),
                                         ("DELETE", "/v1/a/{id}")}
    assert named_paths(_SAMPLE) == {"/v1/e", "/openapi.json"}
    assert list_kinds(_SAMPLE) == {"paged": {("GET", "/v1/a")}, "one_page": {("GET", "/v1/b")},
                                   "items_only": {("GET", "/v1/c"), ("GET", "/v1/d")}}


def test_a_missing_or_unknown_operation_is_seen(openapi: dict[str, Any]) -> None:
    text = DOC.read_text(encoding="utf-8")
    without = text.replace("`GET /v1/portfolio`", "the portfolio")
    assert operations(openapi) - named_operations(without) == {("GET", "/v1/portfolio")}
    wrong = text.replace("`GET /v1/consent/receipts/{id}`", "`GET /v1/consent/receipts/{event_id}`")
    assert named_operations(wrong) - operations(openapi) == {
        ("GET", "/v1/consent/receipts/{event_id}")}
    claimed = text.replace("`GET /v1/share-links`.", "`GET /v1/share-links`, `GET /v1/keys`.")
    assert list_kinds(claimed) != declared_list_kinds(openapi)
