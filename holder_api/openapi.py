"""The route table and the OpenAPI 3.1 document built from it.

Each routes module exports ``OPS``: every operation with its handler, request schema and answers.
The app factory registers exactly these routes and ``/openapi.json`` describes exactly these
operations; ``tests/holder_api/test_system.py`` checks the router against the document.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from aiohttp import web

from wallet.accounts.service import LearnerSession

__all__ = ["DESCRIBED", "Handler", "Op", "Param", "PublicHandler", "SessionHandler",
           "build_document"]

#: An operation anyone may call (``auth=False``).
PublicHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
#: An operation that needs a learner (``auth=True``): it is handed the session the app checked.
SessionHandler = Callable[[web.Request, LearnerSession], Awaitable[web.StreamResponse]]
#: An operation that works with or without a token (``optional_auth``): ``None`` without one.
MaybeSessionHandler = Callable[[web.Request, LearnerSession | None],
                               Awaitable[web.StreamResponse]]
Handler = PublicHandler | SessionHandler | MaybeSessionHandler

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
        "detail": {"type": "string"}, "code": {"type": "string"},
        "instance": {"type": "string"}, "pointer": {"type": "string"},
    },
}


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    where: str = "query"  # query | path
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    description: str = ""


@dataclass(frozen=True, slots=True)
class Op:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    body: Mapping[str, Any] | None = None
    responses: Mapping[int, tuple[str, Mapping[str, Any] | None]] = field(default_factory=dict)
    auth: bool = True
    optional_auth: bool = False  # works with or without a token (e.g. recovery by code)
    #: a genuine token of an erased account is answered 204, not 401 (a retried erasure: done)
    done_when_erased: bool = False
    params: tuple[Param, ...] = ()
    body_media: tuple[str, ...] = ("application/json",)
    #: a media type whose body is not ``body`` (e.g. a PDF file beside the JSON form)
    body_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    response_media: str = "application/json"
    #: the media types (of ``body_media``) whose body a large-bodies gate admits before a byte
    #: of it is read (wallet.large_bodies), so it is not read before admission
    #: (holder_api.http.EarlyBodies): its route reads it in its gate's slot; ``*``: any
    gated_media: tuple[str, ...] = ()
    #: further media types of the success answers (by the request's ``Accept``), with schemas
    response_alternatives: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: the operation's longer explanation (CommonMark), if it needs one: by default its section
    #: in ``operations.md``
    description: str = ""

    def __post_init__(self) -> None:
        # the app hands a session to exactly the handlers declared to need one: a handler that
        # does not take it (or takes it unasked) is a wiring mistake, refused at import
        wants = len(inspect.signature(self.handler).parameters) == 2
        if wants != (self.auth or self.optional_auth):
            raise TypeError(f"{self.method} {self.path}: the handler must take (request"
                            f"{', session' if self.auth or self.optional_auth else ''})")
        if self.auth and self.optional_auth:
            raise TypeError(f"{self.method} {self.path}: auth and optional_auth exclude "
                            "each other")


def _errors(op: Op) -> dict[str, Any]:
    codes = {400: "Invalid request", 404: "Not found", 413: "Body too large",
             415: "Unsupported media type", 429: "Rate limited",
             503: "Unavailable, or overloaded (code overloaded: shed at once by admission "
                  "control)"}
    if op.auth:
        codes[401] = "Missing, expired or revoked access token"
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    retry = {"Retry-After": {"description": "seconds to wait before trying again",
                             "schema": {"type": "integer", "minimum": 1}}}
    return {str(c): {"description": d, "content": problem,
                     **({"headers": retry} if c in (429, 503) else {})}
            for c, d in codes.items() if c not in op.responses}


def _described() -> dict[str, str]:
    """``operations.md``: "METHOD /path" -> its section (a paragraph's lines joined by spaces)."""
    text = resources.files(__package__).joinpath("operations.md").read_text(encoding="utf-8")
    sections: dict[str, str] = {}
    for section in text.split("\n## ")[1:]:
        name, _, body = section.partition("\n")
        sections[name.strip()] = "\n\n".join(" ".join(para.split("\n"))
                                             for para in body.strip().split("\n\n"))
    return sections


#: The longer descriptions, by "METHOD /path".
DESCRIBED = _described()


def _operation_id(op: Op) -> str:
    slug = op.path.strip("/")
    for old, new in (("/", "_"), ("{", ""), ("}", ""), ("-", "_"), (".", "_")):
        slug = slug.replace(old, new)
    return f"{op.method.lower()}_{slug or 'root'}"


#: No parameter holds a NUL: the error middleware refuses ``%00`` in the path (404) or the query
#: (400) before any handler, so a string parameter the document leaves unconstrained says so.
_NO_NUL = "^[^\\u0000]*$"


def _without_nul(schema: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(schema)
    if out.get("type") == "string" and "pattern" not in out and "enum" not in out:
        out["pattern"] = _NO_NUL
    elif out.get("type") == "array" and isinstance(out.get("items"), Mapping):
        out["items"] = _without_nul(out["items"])
    return out


def build_document(ops: Iterable[Op], *, version: str, server_url: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in ops:
        item: dict[str, Any] = {
            "summary": op.summary,
            "operationId": _operation_id(op),
            "tags": [op.tag],
            "responses": {},
        }
        description = op.description or DESCRIBED.get(f"{op.method} {op.path}")
        if description:
            item["description"] = description
        params = [{"name": p.name, "in": p.where, "required": p.required or p.where == "path",
                   "schema": _without_nul(p.schema),
                   **({"description": p.description} if p.description else {})}
                  for p in op.params]
        if params:
            item["parameters"] = params
        if op.body is not None:
            item["requestBody"] = {"required": True, "content": {
                m: {"schema": dict(op.body_schemas.get(m, op.body))} for m in op.body_media}}
        for status, (desc, schema) in sorted(op.responses.items()):
            resp: dict[str, Any] = {"description": desc}
            if schema is not None:
                resp["content"] = {op.response_media: {"schema": dict(schema)}}
                if status < 300:
                    resp["content"].update({m: {"schema": dict(alt)}
                                            for m, alt in op.response_alternatives.items()})
            item["responses"][str(status)] = resp
        item["responses"].update(_errors(op))
        item["security"] = ([{}, {"bearer": []}] if op.optional_auth
                            else [{"bearer": []}] if op.auth else [])
        paths.setdefault(op.path, {})[op.method.lower()] = item
    return {
        "openapi": "3.1.0",
        "info": {"title": "Satchel holder API", "version": version,
                 "description": "Learner-owned wallet backend for micro-credentials."},
        "servers": [{"url": server_url}],
        "paths": paths,
        "components": {
            "schemas": {"Problem": PROBLEM_SCHEMA},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
        },
    }
