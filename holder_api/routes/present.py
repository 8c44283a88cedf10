"""Presenting: OpenID4VP requests (intake, respond, decline) and share links (create, list,
revoke, and the public ``/s/{token}`` page). docs/presenting.md."""

from __future__ import annotations

import html
import json
from typing import Any

from aiohttp import web

from holder_api.appkeys import SERVICES, SETTINGS
from holder_api.auth import learner_session
from holder_api.http import client_address, json_ok, read_json
from holder_api.openapi import Op, Param
from holder_api.schemas import (
    DECLINED,
    PRESENTATION_REQUEST,
    PRESENTATION_REQUEST_IN,
    PRESENTATION_REQUEST_LIST,
    RESPOND,
    RESPONDED,
    SHARE_LINK,
    SHARE_LINK_IN,
    SHARE_LINK_LIST,
    SHARE_VIEW,
)
from sharing.present import RespondOptions
from sharing.share_links import ShareView

__all__ = ["OPS"]

_PAGE_HEADERS = {
    "Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


async def create_request(request: web.Request) -> web.Response:
    session = await learner_session(request)
    body = await read_json(request, PRESENTATION_REQUEST_IN)
    out = await request.app[SERVICES].presentations.intake(
        session.learner_id, session.dek, body["request"])
    return json_ok(out, status=201)


async def list_requests(request: web.Request) -> web.Response:
    session = await learner_session(request)
    items = await request.app[SERVICES].presentations.list(session.learner_id, session.dek)
    return json_ok({"items": items, "next_cursor": None})


async def get_request(request: web.Request) -> web.Response:
    session = await learner_session(request)
    return json_ok(await request.app[SERVICES].presentations.get(
        session.learner_id, session.dek, request.match_info["id"]))


async def respond(request: web.Request) -> web.Response:
    session = await learner_session(request)
    body = await read_json(request, RESPOND)
    options = RespondOptions(choices=body["choices"], withhold=body.get("withhold"),
                             drop_optional=bool(body.get("drop_optional", False)))
    return json_ok(await request.app[SERVICES].presentations.respond(
        session.learner_id, session.dek, request.match_info["id"], options))


async def decline(request: web.Request) -> web.Response:
    session = await learner_session(request)
    return json_ok(await request.app[SERVICES].presentations.decline(
        session.learner_id, session.dek, request.match_info["id"]))


async def create_share_link(request: web.Request) -> web.Response:
    session = await learner_session(request)
    body = await read_json(request, SHARE_LINK_IN)
    out = await request.app[SERVICES].share_links.create(
        session.learner_id, session.dek, body["credential_id"],
        [tuple(p) for p in body["claims"]], expires_in=body.get("expires_in", 7 * 24 * 3600),
        max_views=body.get("max_views", 10))
    return json_ok(out, status=201)


async def list_share_links(request: web.Request) -> web.Response:
    session = await learner_session(request)
    items = await request.app[SERVICES].share_links.list(session.learner_id, session.dek)
    return json_ok({"items": items, "next_cursor": None})


async def revoke_share_link(request: web.Request) -> web.Response:
    session = await learner_session(request)
    await request.app[SERVICES].share_links.revoke(session.learner_id, session.dek,
                                                   request.match_info["id"])
    return web.Response(status=204)


def _wants_html(request: web.Request) -> bool:
    accept = request.headers.get("Accept", "")
    return "text/html" in accept and "application/json" not in accept.split(",")[0]


def _label(path: list[Any]) -> str:
    out = ""
    for p in path:
        out += ("." if out and isinstance(p, str) else "") + (
            p if isinstance(p, str) else "[]" if p is None else f"[{p}]")
    return out


_MAX_CELL = 600  # a data: URI image of an EDC is no reading matter; the JSON view has it whole


def _rows(claims: Any, prefix: list[Any]) -> list[tuple[str, str]]:
    """One row per leaf claim, nested objects and arrays flattened into dotted/indexed labels."""
    if isinstance(claims, dict) and claims:
        return [r for k, v in claims.items() for r in _rows(v, [*prefix, k])]
    if isinstance(claims, list) and claims:
        return [r for i, v in enumerate(claims) for r in _rows(v, [*prefix, i])]
    text = claims if isinstance(claims, str) else json.dumps(claims, ensure_ascii=False)
    if len(text) > _MAX_CELL:
        text = f"{text[:_MAX_CELL]}… ({len(text)} characters; the JSON view has all of them)"
    return [(_label(prefix), text)]


#: Whose key signed a whole credential (``verified.issuer_key``, sharing.issuer_keys), in words.
_KEY_WORDS = {
    "issuer": "signed with the issuer's own key",
    "self_asserted": "signed with a key the credential itself supplies",
    "not_issuer": "signed with a key that is not shown to be the issuer's",
    "unknown": "no issuer key could be established",
}


def _issuer_words(checks: dict[str, Any]) -> str:
    """Who signed, said plainly: a valid signature by a key the credential brought along proves
    nothing about the issuer it names, unless the trust list pins that key."""
    key = checks.get("issuer_key")
    said = _KEY_WORDS.get(key if isinstance(key, str) else "unknown", _KEY_WORDS["unknown"])
    if checks.get("signature") != "valid":
        return "the issuer is not confirmed"
    if checks.get("issuer_confirmed") is True:
        return {"issuer": said, "self_asserted": f"{said}, which the trust list pins for this "
                "issuer"}.get(str(key), "the trust list vouches for the issuer")
    return said + (", so the issuer is not confirmed: anyone can sign a credential that names "
                   "any issuer this way" if key == "self_asserted"
                   else ", so the issuer is not confirmed")


def _checks(checks: dict[str, Any], whole: bool) -> tuple[bool, str]:
    """The verdict and its explanation (plain text; escaped by the caller)."""
    if not whole:
        ok = checks.get("signature") == "valid" and checks.get("key_binding") in ("valid", "none")
        return ok, (f"issuer signature {checks.get('signature')}, holder binding "
                    f"{checks.get('key_binding')} (checked {checks.get('checked_at')})")
    ok = (checks.get("issuer_confirmed") is True and checks.get("signature") == "valid"
          and checks.get("key_binding") == "valid" and checks.get("validity") == "valid")
    when = ("checked now" if checks.get("signature_checked") == "now"
            else "as checked when the learner imported it")
    holder = ("signed by the key the credential names" if checks.get("holder_bound")
              else "the credential names no holder key")
    return ok, (f"{_issuer_words(checks)}; credential signature {checks.get('signature')} "
                f"({when}), validity {checks.get('validity')}, presentation signature "
                f"{checks.get('key_binding')} ({holder}; checked {checks.get('checked_at')})")


def _issued_by(view: ShareView, whole: bool) -> str:
    """"Issued by" only where the issuer is confirmed; otherwise the issuer is only named."""
    e = html.escape
    issuer = e(str(view.credential.get("issuer")))
    if whole and view.verified.get("issuer_confirmed") is not True:
        return f"<p>Names <b>{issuer}</b> as its issuer (not confirmed).</p>"
    trusted = " (trusted issuer)" if view.verified.get("issuer_trusted") else ""
    return f"<p>Issued by <b>{issuer}</b>{trusted}.</p>"


def _page(view: ShareView) -> str:
    e = html.escape
    cred = view.credential
    whole = cred.get("whole_credential") is True
    ok, explained = _checks(view.verified, whole)
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _rows(view.claims, []))
    scope = ("<p>The whole credential is shared: this format cannot disclose claims "
             "selectively.</p>" if whole else "")
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width">'
        f"<title>{e(str(cred.get('title') or 'Shared credential'))}</title>"
        "<style>body{font-family:sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}"
        "th{text-align:left;padding-right:1rem;vertical-align:top}"
        "td{overflow-wrap:anywhere}</style>"
        f"<h1>{e(str(cred.get('title') or 'Shared credential'))}</h1>"
        f"{_issued_by(view, whole)}"
        f"<p><b>{'Verified' if ok else 'NOT verified'}</b>: {e(explained)}.</p>{scope}"
        f"<table>{rows}</table>"
        f"<p>This link expires {e(view.expires_at)}; {view.views_left} view(s) left.</p></html>")


async def view_share_link(request: web.Request) -> web.Response:
    client = client_address(request, trust_forwarded=request.app[SETTINGS].trust_forwarded)
    view = await request.app[SERVICES].share_links.view(request.match_info["token"],
                                                        client=client)
    if _wants_html(request):
        return web.Response(text=_page(view), content_type="text/html", charset="utf-8",
                            headers=_PAGE_HEADERS)
    resp = json_ok(view.to_json())
    resp.headers.update({k: v for k, v in _PAGE_HEADERS.items()
                         if k != "Content-Security-Policy"})
    return resp


_ID = Param("id", "path", description="presentation request id")
_LINK = Param("id", "path", description="share link id")
OPS = [
    Op("POST", "/v1/presentation-requests", create_request,
       "Take an OpenID4VP request (openid4vp:// link): validate, match, show what would be sent",
       "presenting", body=PRESENTATION_REQUEST_IN,
       responses={201: ("What the verifier asks for, and what would be disclosed",
                        PRESENTATION_REQUEST),
                  502: ("The verifier's request_uri did not answer properly", None)},
       description=(
           "Formats: `dc+sd-jwt` (only the selected disclosures, with a KB-JWT), `jwt_vc_json` "
           "(a JWT VP) and `ldp_vc` (a W3C VP secured with Data Integrity `eddsa-rdfc-2022`, "
           "signed by the learner's EdDSA holder key, `challenge` = the request nonce, `domain` "
           "= the verifier's client_id). The W3C formats cannot disclose selectively: their "
           "options carry `whole_credential: true`, `claims` lists what the query asked for, "
           "and answering sends the whole credential (the ledger records `whole_credential`).")),
    Op("GET", "/v1/presentation-requests", list_requests, "The learner's presentation requests",
       "presenting", responses={200: ("Requests", PRESENTATION_REQUEST_LIST)}),
    Op("GET", "/v1/presentation-requests/{id}", get_request,
       "One presentation request, matched against the vault as it is now", "presenting",
       params=(_ID,), responses={200: ("The request", PRESENTATION_REQUEST)}),
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
       "presenting", body=SHARE_LINK_IN, responses={201: ("The link (shown once)", SHARE_LINK)},
       description=(
           "SD-JWT VC (`dc+sd-jwt`, `vc+sd-jwt`): only the chosen selectively disclosable "
           "claims, with a KB-JWT whose `aud` is the link. W3C credentials (`jwt_vc_json`, "
           "`ldp_vc`) cannot disclose selectively, so they are shared **whole**: `claims` must "
           "be exactly `[[]]` (the empty path, the credential's root) — anything else is a 400 "
           "`whole_credential_only` problem, so a link never shares more than the learner "
           "chose. The link then serves a JWT VP signed by the learner's holder key (the key "
           "the credential is bound to, else the learner's first key; `aud` = the link URL, a "
           "fresh `nonce`) carrying the credential as issued, plus its original text (`raw`). "
           "The ledger records the creation and each view with `whole_credential: true` and "
           "no claim paths.")),
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
       description=(
           "`verified` is checked offline at each view (nothing is fetched). SD-JWT: issuer "
           "`signature` and `key_binding` (KB-JWT). Whole credentials (`credential."
           "whole_credential`): `key_binding` is the JWT VP (holder DID key, `aud`, `nonce`, "
           "lifetime), `holder_bound` whether the credential names that key, `signature` the "
           "credential's own proof with `signature_checked` `now` (Data Integrity with did:key "
           "or a multibase key, JAdES with its x5c, VC-JWT with a did:key/did:jwk, its header "
           "`jwk` or a key the issuer published) or `at_import` (a key only the network could "
           "give), `validity` its time window; `raw` holds the credential's original text. "
           "Whose key that was: `key_source`, `issuer_key` (`issuer`: bound to the issuer by "
           "DID resolution, issuer metadata or an anchored x5c; `self_asserted`: supplied by the "
           "credential itself — a header `jwk`, a multibase fragment, an EDC seal's own "
           "certificate; `not_issuer`; `unknown`), `problems` (e.g. `issuer_key_self_asserted`; "
           "both formats), `issuer_trusted` (the trust list vouches for the issuer, with a pin "
           "for a self-asserted key) and `issuer_confirmed` (a valid signature by the issuer's "
           "own key, or a trusted one). The HTML says \"Verified\" only when the issuer is "
           "confirmed and every check passed.")),
]
