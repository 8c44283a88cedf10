"""The learner's credentials: list, read, delete."""

from __future__ import annotations

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.http import json_ok, read_json
from holder_api.languages import languages
from holder_api.openapi import Op, Param
from holder_api.schemas import (
    CREDENTIAL_DETAIL,
    CREDENTIAL_IMPORT,
    CREDENTIAL_LIST,
    CURSOR,
    PORTFOLIO,
)
from holder_api.serialise.credentials import credential_detail, credential_summary
from holder_api.serialise.credentials import portfolio as portfolio_json
from wallet.accounts.service import LearnerSession
from wallet.credentials import CredentialDetail
from wallet.errors import BadInput


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 6:
        raise BadInput("limit must be a positive integer")
    return int(raw)


async def list_credentials(request: web.Request, session: LearnerSession) -> web.Response:
    q = request.query
    page = await request.app[SERVICES].credentials.list(
        session.learner_id, session.dek, q=q.get("q"), type=q.get("type"),
        issuer=q.get("issuer"), format=q.get("format"), limit=_limit(request),
        cursor=q.get("cursor"))
    return json_ok({"items": [credential_summary(c) for c in page.items],
                    "next_cursor": page.next_cursor})


async def get_credential(request: web.Request, session: LearnerSession) -> web.Response:
    found = await request.app[SERVICES].credentials.get(
        session.learner_id, session.dek, request.match_info["id"], languages=languages(request))
    return json_ok(credential_detail(found))


async def import_credential(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, CREDENTIAL_IMPORT)
    stored = await request.app[SERVICES].credentials.import_credential(
        session.learner_id, session.dek, body["raw"], languages=languages(request))
    return json_ok(credential_detail(CredentialDetail.of(stored)), status=201)


async def portfolio(request: web.Request, session: LearnerSession) -> web.Response:
    return json_ok(portfolio_json(await request.app[SERVICES].credentials.portfolio(
        session.learner_id, session.dek, languages=languages(request))))


async def delete_credential(request: web.Request, session: LearnerSession) -> web.Response:
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
