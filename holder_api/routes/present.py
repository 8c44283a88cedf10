"""Presenting: OpenID4VP requests (intake, respond, decline) and share links (create, list,
revoke, and the public ``/s/{token}`` page). docs/presenting.md."""

from __future__ import annotations

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.headers import SECRET_URL_CSP
from holder_api.http import client_of, json_ok, read_json
from holder_api.openapi import Op, Param
from holder_api.schemas import (
    DECLINED,
    PDF,
    PRESENTATION_REQUEST,
    PRESENTATION_REQUEST_IN,
    PRESENTATION_REQUEST_LIST,
    RESPOND,
    RESPONDED,
    SHARE_LINK,
    SHARE_LINK_IN,
    SHARE_LINK_LIST,
    SHARE_VIEW,
    UUID_ID,
)
from holder_api.serialise.presentations import (
    declined,
    request_description,
    request_summary,
    sent,
)
from holder_api.serialise.share_links import share_link, share_link_state, share_page, share_view
from sharing.present import RespondOptions
from wallet.accounts.service import LearnerSession

__all__ = ["OPS"]

_PAGE_HEADERS = {
    "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
    "Content-Security-Policy": SECRET_URL_CSP,
    "X-Content-Type-Options": "nosniff",
}


async def create_request(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, PRESENTATION_REQUEST_IN)
    out = await request.app[SERVICES].presentations.intake(
        session.learner_id, session.dek, body["request"])
    return json_ok(request_description(out), status=201)


async def list_requests(request: web.Request, session: LearnerSession) -> web.Response:
    items = await request.app[SERVICES].presentations.list(session.learner_id, session.dek)
    return json_ok({"items": [request_summary(r) for r in items], "next_cursor": None})


async def get_request(request: web.Request, session: LearnerSession) -> web.Response:
    return json_ok(request_description(await request.app[SERVICES].presentations.get(
        session.learner_id, session.dek, request.match_info["id"])))


async def respond(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, RESPOND)
    options = RespondOptions(choices=body["choices"], withhold=body.get("withhold"),
                             drop_optional=bool(body.get("drop_optional", False)))
    return json_ok(sent(await request.app[SERVICES].presentations.respond(
        session.learner_id, session.dek, request.match_info["id"], options)))


async def decline(request: web.Request, session: LearnerSession) -> web.Response:
    return json_ok(declined(await request.app[SERVICES].presentations.decline(
        session.learner_id, session.dek, request.match_info["id"])))


async def create_share_link(request: web.Request, session: LearnerSession) -> web.Response:
    body = await read_json(request, SHARE_LINK_IN)
    out = await request.app[SERVICES].share_links.create(
        session.learner_id, session.dek, body["credential_id"],
        [tuple(p) for p in body["claims"]], expires_in=body.get("expires_in", 7 * 24 * 3600),
        max_views=body.get("max_views", 10))
    return json_ok(share_link(out), status=201)


async def list_share_links(request: web.Request, session: LearnerSession) -> web.Response:
    links = await request.app[SERVICES].share_links.list(session.learner_id, session.dek)
    return json_ok({"items": [share_link_state(link) for link in links], "next_cursor": None})


async def revoke_share_link(request: web.Request, session: LearnerSession) -> web.Response:
    await request.app[SERVICES].share_links.revoke(session.learner_id, session.dek,
                                                   request.match_info["id"])
    return web.Response(status=204)


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


async def view_share_link(request: web.Request) -> web.Response:
    client = client_of(request)
    view = await request.app[SERVICES].share_links.view(request.match_info["token"],
                                                        client=client)
    if _wants_html(request):
        return web.Response(text=share_page(view), content_type="text/html", charset="utf-8",
                            headers=_PAGE_HEADERS)
    resp = json_ok(share_view(view))
    resp.headers.update({k: v for k, v in _PAGE_HEADERS.items()
                         if k != "Content-Security-Policy"})
    return resp


async def share_link_document(request: web.Request) -> web.Response:
    client = client_of(request)
    data = await request.app[SERVICES].share_links.document(request.match_info["token"],
                                                            client=client)
    return web.Response(body=data, content_type="application/pdf", headers={
        **{k: v for k, v in _PAGE_HEADERS.items() if k != "Content-Security-Policy"},
        "Content-Disposition": 'inline; filename="credential.pdf"'})


_ID = Param("id", "path", UUID_ID, description="presentation request id")
_LINK = Param("id", "path", UUID_ID, description="share link id")
OPS = [
    Op("POST", "/v1/presentation-requests", create_request,
       "Take an OpenID4VP request (openid4vp:// link): validate, match, show what would be sent",
       "presenting", body=PRESENTATION_REQUEST_IN,
       responses={201: ("What the verifier asks for, and what would be disclosed",
                        PRESENTATION_REQUEST),
                  502: ("The verifier's request_uri did not answer properly", None)}),
    Op("GET", "/v1/presentation-requests", list_requests, "The learner's presentation requests",
       "presenting", responses={200: ("Requests", PRESENTATION_REQUEST_LIST)}),
    Op("GET", "/v1/presentation-requests/{id}", get_request,
       "One presentation request, matched against the vault as it is now", "presenting",
       params=(_ID,), responses={200: ("The request", PRESENTATION_REQUEST),
                                 409: ("Its stored record cannot be read (record_unreadable)",
                                       None)}),
    Op("POST", "/v1/presentation-requests/{id}/respond", respond,
       "Send the chosen credentials (consent recorded first; only the chosen claims)",
       "presenting", body=RESPOND, params=(_ID,),
       responses={200: ("Sent", RESPONDED), 409: ("Already answered", None),
                  410: ("Expired", None), 502: ("The verifier refused the response", None)}),
    Op("POST", "/v1/presentation-requests/{id}/decline", decline,
       "Decline: the verifier gets access_denied, the same as 'nothing matched'", "presenting",
       params=(_ID,), responses={200: ("Declined", DECLINED), 409: ("Already answered", None),
                                 410: ("Expired", None)}),
    Op("POST", "/v1/share-links", create_share_link,
       "Share a credential by a link (sealed under a key only the link holds)",
       "presenting", body=SHARE_LINK_IN, responses={201: ("The link (shown once)", SHARE_LINK)}),
    Op("GET", "/v1/share-links", list_share_links, "The learner's share links and their views",
       "presenting", responses={200: ("Share links", SHARE_LINK_LIST)}),
    Op("DELETE", "/v1/share-links/{id}", revoke_share_link, "Revoke a share link", "presenting",
       params=(_LINK,), responses={204: ("Revoked", None)}),
    Op("GET", "/s/{token}", view_share_link,
       "Public: the shared presentation (HTML for a person, JSON for a machine, by Accept)",
       "presenting", auth=False,
       params=(Param("token", "path", schema={"type": "string", "maxLength": 128}),),
       responses={200: ("The presentation, its verification and the disclosed claims",
                        SHARE_VIEW)},
       response_alternatives={"text/html": {"type": "string"}}),
    Op("GET", "/s/{token}/document.pdf", share_link_document,
       "Public: the original signed PDF of a PDF credential's share link (one view)",
       "presenting", auth=False,
       params=(Param("token", "path", schema={"type": "string", "maxLength": 128}),),
       responses={200: ("The PDF, byte for byte as the learner imported it", PDF)},
       response_media="application/pdf"),
]
