"""Receiving credentials: OpenID4VCI offers, inbox links, the public inbox URL, inbox items.

docs/receiving.md; OpenID4VCI 1.0. Authorization code flow: ``POST /v1/offers/{id}/accept``
answers ``{status: "authorization_required", authorization_url}``; the learner's browser signs
in at the issuer and is redirected to ``redirect_uri`` (default ``<public url>/oid4vci/callback``,
or the one the app passed to accept); the app then posts the full redirect URL to
``POST /v1/offers/{id}/authorization {callback_url}``. A deferred issuance answers 202; the app
polls with ``POST /v1/offers/{id}/accept`` again (no faster than ``retry_after``) or reads
``GET /v1/offers/{id}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from holder_api.appkeys import SERVICES
from holder_api.http import client_of, json_ok, read_bytes, read_json
from holder_api.languages import languages
from holder_api.openapi import Op, Param
from holder_api.schemas import (
    ACCEPT_DEFERRED,
    ACCEPTED,
    INBOX_LINK,
    INBOX_LINK_CREATE,
    INBOX_LINK_LIST,
    INBOX_LIST,
    OFFER,
    OFFER_ACCEPT,
    OFFER_AUTHORIZATION,
    OFFER_CREATE,
    OFFER_LIST,
    PUSH,
    PUSH_ACCEPTED,
    UUID_ID,
)
from holder_api.serialise.receive import (
    accept_outcome,
    inbox_item,
    inbox_link,
    new_inbox_link,
    offer,
)
from wallet.accounts.service import LearnerSession
from wallet.errors import PayloadTooLarge
from wallet.receive import MAX_PUSH_BYTES, AcceptOutcome, ReceiveService

__all__ = ["OPS"]


def _svc(request: web.Request) -> ReceiveService:
    return request.app[SERVICES].receive


def _outcome(outcome: AcceptOutcome) -> web.Response:
    return json_ok(accept_outcome(outcome), status=202 if outcome.status == "deferred" else 200)


async def create_offer(request: web.Request, s: LearnerSession) -> web.Response:
    body = await read_json(request, OFFER_CREATE)
    return json_ok(offer(await _svc(request).create_offer(
        s.learner_id, s.dek, body["offer"], languages=languages(request))), status=201)


async def list_offers(request: web.Request, s: LearnerSession) -> web.Response:
    offers = await _svc(request).list_offers(s.learner_id, s.dek, languages=languages(request))
    return json_ok({"items": [offer(o) for o in offers]})


async def get_offer(request: web.Request, s: LearnerSession) -> web.Response:
    return json_ok(offer(await _svc(request).get_offer(
        s.learner_id, s.dek, request.match_info["id"], languages=languages(request))))


async def _accept(request: web.Request, s: LearnerSession,
                  accept: Callable[..., Awaitable[AcceptOutcome]]) -> web.Response:
    """An offer or an inbox item accepted: the same body, the same answer."""
    body = await read_json(request, OFFER_ACCEPT)
    return _outcome(await accept(
        s.learner_id, s.dek, request.match_info["id"], tx_code=body.get("tx_code"),
        copies=body.get("copies", 1), redirect_uri=body.get("redirect_uri"),
        languages=languages(request)))


async def accept_offer(request: web.Request, s: LearnerSession) -> web.Response:
    return await _accept(request, s, _svc(request).accept_offer)


async def authorize_offer(request: web.Request, s: LearnerSession) -> web.Response:
    body = await read_json(request, OFFER_AUTHORIZATION)
    return _outcome(await _svc(request).authorize_offer(
        s.learner_id, s.dek, request.match_info["id"], body["callback_url"],
        languages=languages(request)))


async def decline_offer(request: web.Request, s: LearnerSession) -> web.Response:
    await _svc(request).decline_offer(s.learner_id, s.dek, request.match_info["id"])
    return web.Response(status=204)


async def create_link(request: web.Request, s: LearnerSession) -> web.Response:
    body = await read_json(request, INBOX_LINK_CREATE)
    return json_ok(new_inbox_link(await _svc(request).create_link(s.learner_id, s.dek,
                                                                  body["label"])), status=201)


async def list_links(request: web.Request, s: LearnerSession) -> web.Response:
    links = await _svc(request).list_links(s.learner_id, s.dek)
    return json_ok({"items": [inbox_link(link) for link in links]})


async def revoke_link(request: web.Request, s: LearnerSession) -> web.Response:
    await _svc(request).revoke_link(s.learner_id, s.dek, request.match_info["id"])
    return web.Response(status=204)


async def push(request: web.Request) -> web.Response:
    """The public inbox URL (no learner token): an offer or a credential, sealed on arrival."""
    if (request.content_length or 0) > MAX_PUSH_BYTES:
        raise PayloadTooLarge("the push is too large")
    body = b""
    if request.method == "POST" and request.body_exists:  # its deadline: SATCHEL_BODY_TIMEOUT
        body = await read_bytes(request, MAX_PUSH_BYTES, what="the push")
    client = client_of(request)
    query = {k: request.query.getall(k) for k in request.query}
    await _svc(request).push(request.match_info["token"], client, query,
                             request.content_type, body)
    return json_ok({"status": "accepted"}, status=202)


async def list_inbox(request: web.Request, s: LearnerSession) -> web.Response:
    items = await _svc(request).list_inbox(s.learner_id, s.dek)
    return json_ok({"items": [inbox_item(item) for item in items]})


async def accept_item(request: web.Request, s: LearnerSession) -> web.Response:
    return await _accept(request, s, _svc(request).accept_item)


async def decline_item(request: web.Request, s: LearnerSession) -> web.Response:
    await _svc(request).decline_item(s.learner_id, s.dek, request.match_info["id"])
    return web.Response(status=204)


_ID = Param("id", "path", UUID_ID, description="offer id")
_ITEM = Param("id", "path", UUID_ID, description="inbox item id")
_LINK = Param("id", "path", UUID_ID, description="inbox link id")
_TOKEN = Param("token", "path", description="the inbox link's capability token")
_REFUSED = {403: ("The issuer denied the request", None),
            409: ("The offer is not in a state that allows this", None),
            422: ("The issuer failed, or the credential did not verify / is not bound to "
                  "your key (nothing stored)", None)}
_OFFER_GONE = {410: ("The offer expired (SATCHEL_INBOX_TTL) and was deleted: offer_expired",
                    None)}
_ITEM_GONE = {410: ("The item expired (SATCHEL_INBOX_TTL) and was deleted: inbox_item_expired",
                    None)}
_PUSH_REFUSED = {404: ("No such link: never issued, revoked, or its learner erased", None),
                 429: ("Too many pushes from this client or through this link, or the inbox is "
                       "full (Retry-After)", None)}
_PUSH_PARAMS = (Param("credential_offer", description="the offer JSON, by value"),
                Param("credential_offer_uri", description="https URL of the offer"))
OPS = [
    Op("POST", "/v1/offers", create_offer,
       "Resolve an OpenID4VCI credential offer (URI, https offer URL or JSON)", "receiving",
       body=OFFER_CREATE, responses={201: ("The resolved offer", OFFER),
                                     422: ("The issuer or its metadata failed", None)}),
    Op("GET", "/v1/offers", list_offers, "Pending offers", "receiving",
       responses={200: ("Offers", OFFER_LIST)}),
    Op("GET", "/v1/offers/{id}", get_offer, "One offer and its state", "receiving",
       params=(_ID,), responses={200: ("The offer", OFFER), **_OFFER_GONE,
                                 409: ("Its stored record cannot be read (record_unreadable)",
                                       None)}),
    Op("POST", "/v1/offers/{id}/accept", accept_offer,
       "Accept: redeem the code, send proofs, verify and store (or poll a deferred issuance)",
       "receiving", params=(_ID,), body=OFFER_ACCEPT,
       responses={200: ("Stored credentials, or the authorization URL to open", ACCEPTED),
                  202: ("Deferred: poll again after retry_after seconds", ACCEPT_DEFERRED),
                  **_REFUSED, **_OFFER_GONE}),
    Op("POST", "/v1/offers/{id}/authorization", authorize_offer,
       "Finish the authorization code flow with the redirect URL the browser came back to",
       "receiving", params=(_ID,), body=OFFER_AUTHORIZATION,
       responses={200: ("Stored credentials", ACCEPTED),
                  202: ("Deferred", ACCEPT_DEFERRED), **_REFUSED, **_OFFER_GONE}),
    Op("POST", "/v1/offers/{id}/decline", decline_offer, "Decline an offer", "receiving",
       params=(_ID,), responses={204: ("Declined", None), **_OFFER_GONE}),
    Op("POST", "/v1/inbox-links", create_link, "Create an inbox link for one institution",
       "receiving", body=INBOX_LINK_CREATE,
       responses={201: ("The link; its URL is shown only now", INBOX_LINK)}),
    Op("GET", "/v1/inbox-links", list_links, "Live inbox links (labels, never URLs)",
       "receiving", responses={200: ("Links", INBOX_LINK_LIST)}),
    Op("DELETE", "/v1/inbox-links/{id}", revoke_link, "Revoke an inbox link", "receiving",
       params=(_LINK,), responses={204: ("Revoked: the URL stops accepting", None)}),
    Op("GET", "/i/{token}", push, "Public inbox: push an offer by query (no learner token)",
       "receiving", auth=False, params=(_TOKEN, *_PUSH_PARAMS),
       responses={202: ("Sealed and kept for the learner", PUSH_ACCEPTED), **_PUSH_REFUSED}),
    Op("POST", "/i/{token}", push,
       "Public inbox: push an offer (form or query) or an issued credential (JSON)", "receiving",
       auth=False, params=(_TOKEN, *_PUSH_PARAMS), body=PUSH,
       body_media=("application/json", "application/x-www-form-urlencoded"),
       responses={202: ("Sealed and kept for the learner", PUSH_ACCEPTED), **_PUSH_REFUSED}),
    Op("GET", "/v1/inbox", list_inbox, "Inbox items (opened with the learner's inbox key)",
       "receiving", responses={200: ("Items", INBOX_LIST)}),
    Op("POST", "/v1/inbox/{id}/accept", accept_item,
       "Accept an inbox item: run the offer flow or import the pushed credential", "receiving",
       params=(_ITEM,), body=OFFER_ACCEPT,
       responses={200: ("Stored credentials, or the authorization URL to open", ACCEPTED),
                  202: ("Deferred: continue at /v1/offers/{offer_id}", ACCEPT_DEFERRED),
                  **_REFUSED, **_ITEM_GONE}),
    Op("POST", "/v1/inbox/{id}/decline", decline_item, "Decline an inbox item", "receiving",
       params=(_ITEM,), responses={204: ("Declined and deleted", None), **_ITEM_GONE}),
]
