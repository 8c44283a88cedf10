"""Query parameters, read as their operation declares them (docs/http-api.md).

An operation's ``Param(where="query")`` schemas are what ``/openapi.json`` promises. The typed
ones (an integer, an enum, an array of values) are held to their schema by
:func:`query_check`, which :func:`holder_api.auth.guarded` runs for every operation before its
handler, and a handler reads an integer through :func:`query_int`, which takes the bounds and the
default from the same ``Param``. One reading of the rules, so no route writes its own parser and
what the document promises is what the server enforces: an out-of-bounds value is 400
``invalid_request`` before any store is asked.

A free string parameter (a search text, a cursor, a time) is left to the service it goes to:
its refusals carry codes of their own (``invalid_cursor``), which a schema check would hide.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import web

from holder_api.http import is_valid
from holder_api.openapi import Op, Param
from wallet.errors import BadInput

__all__ = ["PAGE_LIMIT", "query_check", "query_int"]

#: ``limit`` of a paged list (``GET /v1/credentials``, ``GET /v1/consent/events``)
PAGE_LIMIT = Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 200,
                                    "default": 50},
                   description="items per page")

_MAX_DIGITS = 18  # an integer parameter longer than this is no bound Satchel declares


def _typed(param: Param) -> bool:
    return param.where == "query" and (
        param.schema.get("type") in ("integer", "array") or "enum" in param.schema)


def _rule(param: Param) -> str:
    """What the parameter must be, in words (never echoing the value sent)."""
    schema = param.schema
    if schema.get("type") == "integer":
        return (f"an integer between {schema.get('minimum', 0)} and "
                f"{schema.get('maximum', 10 ** _MAX_DIGITS - 1)}")
    if "enum" in schema:
        return "one of " + ", ".join(map(str, schema["enum"]))
    return "as /openapi.json describes it"


def _read(param: Param, request: web.Request) -> Any:
    """The parameter as its schema types it: ``None`` when absent. An integer is ASCII digits
    only ("²" is a digit to ``str.isdigit`` and no number to ``int``)."""
    if param.schema.get("type") == "array":
        values: Sequence[str] = request.query.getall(param.name, [])
        return list(values) or None
    sent: Sequence[str] = request.query.getall(param.name, [])
    if len(sent) > 1:  # which of two values counts would be nobody's guess
        raise BadInput(f"{param.name} must be sent once")
    raw = sent[0] if sent else None
    if raw is None or param.schema.get("type") != "integer":
        return raw
    if not (raw.isascii() and raw.isdigit()) or len(raw) > _MAX_DIGITS:
        raise BadInput(f"{param.name} must be {_rule(param)}")
    return int(raw)


def _checked(param: Param, request: web.Request) -> Any:
    value = _read(param, request)
    if value is None:
        if param.required:
            raise BadInput(f"{param.name} is required")
        return None
    if not is_valid(value, param.schema):
        raise BadInput(f"{param.name} must be {_rule(param)}")
    return value


def query_check(op: Op) -> Callable[[web.Request], None] | None:
    """The check of ``op``'s typed query parameters against their schemas; ``None`` if it has
    none (nothing to run per request)."""
    typed = [p for p in op.params if _typed(p)]
    if not typed:
        return None

    def check(request: web.Request) -> None:
        for param in typed:
            _checked(param, request)

    return check


def query_int(request: web.Request, param: Param) -> int:
    """The integer ``param`` of ``request``, or its declared ``default``."""
    value = _checked(param, request)
    if value is None:
        return int(param.schema["default"])
    return int(value)
