"""The learner's credentials: list, read, import (text or signed PDF), print, delete."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from holder_api.appkeys import SERVICES, SETTINGS
from holder_api.http import json_ok, json_text_ok, read_bytes, read_json, too_large, validated
from holder_api.languages import languages
from holder_api.openapi import Op, Param
from holder_api.query import PAGE_LIMIT, query_int
from holder_api.schemas import (
    CREDENTIAL_DETAIL,
    CREDENTIAL_IMPORT,
    CREDENTIAL_LIST,
    CURSOR,
    PDF,
    PORTFOLIO,
    SHARE_LINK_IN,
)
from holder_api.serialise.credentials import credential_detail, credential_list
from holder_api.serialise.credentials import portfolio as portfolio_json
from sharing.printout import DEFAULT_EXPIRES_IN, DEFAULT_MAX_VIEWS
from wallet.accounts.service import LearnerSession
from wallet.credentials import CredentialDetail
from wallet.errors import BadInput
from wallet.jsontext import parse_json


async def list_credentials(request: web.Request, session: LearnerSession) -> web.Response:
    q = request.query
    page = await request.app[SERVICES].credentials.list(
        session.learner_id, session.dek, q=q.get("q"), type=q.get("type"),
        issuer=q.get("issuer"), format=q.get("format"), limit=query_int(request, PAGE_LIMIT),
        cursor=q.get("cursor"))
    return json_text_ok(credential_list(session.learner_id, page.items, page.next_cursor))


async def get_credential(request: web.Request, session: LearnerSession) -> web.Response:
    found = await request.app[SERVICES].credentials.get(
        session.learner_id, session.dek, request.match_info["id"], languages=languages(request))
    return json_ok(credential_detail(found))


async def import_credential(request: web.Request, session: LearnerSession) -> web.Response:
    if request.content_type == "application/pdf":
        return await _import_pdf(request, session)
    body = await read_json(request, CREDENTIAL_IMPORT)
    stored = await request.app[SERVICES].credentials.import_credential(
        session.learner_id, session.dek, body["raw"], languages=languages(request))
    return json_ok(credential_detail(CredentialDetail.of(stored)), status=201)


async def _import_pdf(request: web.Request, session: LearnerSession) -> web.Response:
    keep = request.query.get("unsigned", "refuse")  # one of them: guarded checked _UNSIGNED
    limit, services = request.app[SETTINGS].max_pdf_bytes, request.app[SERVICES]
    too_large(request, limit, what="the PDF")  # 413 before a slot is taken
    # admitted before the body (up to 10 MiB) is read: a replica slot and the learner's budget
    async with services.uploads.admitted(session.learner_id):
        data = await read_bytes(request, limit, what="the PDF", aside=True)
        stored = await services.credentials.import_pdf(
            session.learner_id, session.dek, data, languages=languages(request),
            keep_unsigned=keep == "keep")
    return json_ok(credential_detail(CredentialDetail.of(stored)), status=201)


def _claims_param(request: web.Request) -> list[tuple[Any, ...]] | None:
    raw = request.query.get("claims")
    if raw is None:
        return None
    # percent-encoded (up to 12 bytes a character), it must fit aiohttp's 8 KiB request line
    if len(raw) > 512:
        raise BadInput("claims is too long")
    paths = parse_json(raw, BadInput("claims must be a JSON array of claim paths"))
    validated(paths, SHARE_LINK_IN["properties"]["claims"])
    return [tuple(p) for p in paths]


async def credential_pdf(request: web.Request, session: LearnerSession) -> web.Response:
    printout = await request.app[SERVICES].printouts.render(
        session.learner_id, session.dek, request.match_info["id"],
        claims=_claims_param(request),
        expires_in=query_int(request, _EXPIRES_IN), max_views=query_int(request, _MAX_VIEWS),
        languages=languages(request))
    return web.Response(body=printout.pdf, content_type="application/pdf", headers={
        "Content-Disposition": 'inline; filename="credential.pdf"', "Cache-Control": "no-store",
        "Satchel-Share-Link": printout.link_id})


async def portfolio(request: web.Request, session: LearnerSession) -> web.Response:
    return json_ok(portfolio_json(await request.app[SERVICES].credentials.portfolio(
        session.learner_id, session.dek, languages=languages(request))))


async def delete_credential(request: web.Request, session: LearnerSession) -> web.Response:
    await request.app[SERVICES].credentials.delete(
        session.learner_id, session.dek, request.match_info["id"])
    return web.Response(status=204)


_ID = Param("id", "path", description="credential id")
_UNSIGNED = Param("unsigned", schema={"enum": ["keep", "refuse"]},
                  description="PDF only: keep a PDF that carries no signature (stored as "
                              "unsigned, never shown as verified); default refuse")
_EXPIRES_IN = Param("expires_in", schema={"type": "integer", "minimum": 60, "maximum": 7776000,
                                          "default": DEFAULT_EXPIRES_IN},
                    description="link lifetime in seconds")
_MAX_VIEWS = Param("max_views", schema={"type": "integer", "minimum": 1, "maximum": 1000,
                                        "default": DEFAULT_MAX_VIEWS},
                   description="views the link allows")
OPS = [
    Op("GET", "/v1/credentials", list_credentials, "List credentials (summaries)", "credentials",
       params=(Param("q", description="search titles, learning outcomes, skills"),
               Param("type"), Param("issuer"), Param("format"),
               PAGE_LIMIT, Param("cursor", schema=CURSOR)),
       responses={200: ("A page of summaries", CREDENTIAL_LIST)}),
    Op("POST", "/v1/credentials", import_credential,
       "Import a credential the learner holds (SD-JWT VC, VC-JWT, JSON-LD, signed PDF) after "
       "verification", "credentials", body=CREDENTIAL_IMPORT,
       body_media=("application/json", "application/pdf"), body_schemas={"application/pdf": PDF},
       gated_media=("application/pdf",),
       params=(_UNSIGNED,),
       responses={201: ("Verified and stored", CREDENTIAL_DETAIL),
                  422: ("The credential did not verify (bad proof, expired, a PDF signature "
                        "that fails or a PDF changed after signing, an unsigned PDF, ...)", None),
                  502: ("An issuer's metadata or key could not be fetched", None)}),
    Op("GET", "/v1/portfolio", portfolio, "Micro-credential portfolio: ECTS, EQF levels, stacks",
       "credentials", responses={200: ("The portfolio", PORTFOLIO)}),
    Op("GET", "/v1/credentials/{id}", get_credential, "One credential with claims and checks",
       "credentials", params=(_ID,), responses={200: ("The credential", CREDENTIAL_DETAIL)}),
    Op("GET", "/v1/credentials/{id}/pdf", credential_pdf,
       "A printable A4 PDF of the credential, with a QR code to a new share link", "credentials",
       params=(_ID,
               Param("claims", schema={
                   "type": "string", "minLength": 2, "maxLength": 512,
                   "contentMediaType": "application/json",
                   "contentSchema": SHARE_LINK_IN["properties"]["claims"]},
                     description="JSON array of claim paths the link discloses "
                                 "(as POST /v1/share-links `claims`)"),
               _EXPIRES_IN, _MAX_VIEWS),
       responses={200: ("The printout (header Satchel-Share-Link: the new link's id)", PDF)},
       response_media="application/pdf"),
    Op("DELETE", "/v1/credentials/{id}", delete_credential, "Delete a credential", "credentials",
       params=(_ID,), responses={204: ("Deleted", None)}),
]
