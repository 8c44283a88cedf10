"""The learner's credentials: list, read, delete."""

from __future__ import annotations

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.auth import learner_session
from holder_api.http import json_ok, read_json
from holder_api.openapi import Op, Param
from holder_api.schemas import (
    CREDENTIAL_DETAIL,
    CREDENTIAL_IMPORT,
    CREDENTIAL_LIST,
    CURSOR,
    PORTFOLIO,
)
from wallet.credentials import detail
from wallet.errors import BadInput
from wallet.microcred import accept_languages


def languages(request: web.Request) -> tuple[str, ...]:
    return accept_languages(request.headers.get("Accept-Language"))


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise BadInput("limit must be a positive integer")
    return int(raw)


async def list_credentials(request: web.Request) -> web.Response:
    session = await learner_session(request)
    q = request.query
    page = await request.app[SERVICES].credentials.list(
        session.learner_id, session.dek, q=q.get("q"), type=q.get("type"),
        issuer=q.get("issuer"), format=q.get("format"), limit=_limit(request),
        cursor=q.get("cursor"))
    return json_ok({"items": page.items, "next_cursor": page.next_cursor})


async def get_credential(request: web.Request) -> web.Response:
    session = await learner_session(request)
    body = await request.app[SERVICES].credentials.get(
        session.learner_id, session.dek, request.match_info["id"], languages=languages(request))
    return json_ok(body)


async def import_credential(request: web.Request) -> web.Response:
    session = await learner_session(request)
    body = await read_json(request, CREDENTIAL_IMPORT)
    stored = await request.app[SERVICES].credentials.import_credential(
        session.learner_id, session.dek, body["raw"], languages=languages(request))
    return json_ok(detail(stored), status=201)


async def portfolio(request: web.Request) -> web.Response:
    session = await learner_session(request)
    return json_ok(await request.app[SERVICES].credentials.portfolio(
        session.learner_id, session.dek, languages=languages(request)))


async def delete_credential(request: web.Request) -> web.Response:
    session = await learner_session(request)
    await request.app[SERVICES].credentials.delete(
        session.learner_id, session.dek, request.match_info["id"])
    return web.Response(status=204)


_ID = Param("id", "path", description="credential id")
OPS = [
    Op("GET", "/v1/credentials", list_credentials, "List credentials (summaries)", "credentials",
       params=(Param("q", description="search titles, learning outcomes, skills"),
               Param("type"), Param("issuer"), Param("format"),
               Param("limit", schema={"type": "integer", "minimum": 1, "maximum": 200}),
               Param("cursor", schema=CURSOR)),
       responses={200: ("A page of summaries", CREDENTIAL_LIST)}),
    Op("POST", "/v1/credentials", import_credential,
       "Import a credential the learner holds (SD-JWT VC, VC-JWT, JSON-LD) after verification",
       "credentials", body=CREDENTIAL_IMPORT,
       responses={201: ("Verified and stored", CREDENTIAL_DETAIL),
                  422: ("The credential did not verify (bad proof, expired, ...)", None),
                  502: ("An issuer's metadata or key could not be fetched", None)}),
    Op("GET", "/v1/portfolio", portfolio, "Micro-credential portfolio: ECTS, EQF levels, stacks",
       "credentials", responses={200: ("The portfolio", PORTFOLIO)}),
    Op("GET", "/v1/credentials/{id}", get_credential, "One credential with claims and checks",
       "credentials", params=(_ID,), responses={200: ("The credential", CREDENTIAL_DETAIL)}),
    Op("DELETE", "/v1/credentials/{id}", delete_credential, "Delete a credential", "credentials",
       params=(_ID,), responses={204: ("Deleted", None)}),
]
