"""Receiving: the Link box, offer pages (accept with a transaction code, decline, deferred,
the authorization code flow), the inbox and inbox links."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from holder_api.appkeys import SETTINGS
from holder_api.web import data
from holder_api.web.flash import KINDS, cookie_name, open_flash, seal_flash
from holder_api.web.i18n import N_
from holder_api.web.links import classify
from holder_api.web.pages import (
    Ctx,
    error_detail,
    on_item,
    page,
    redirect,
    render,
    template_page,
    to_start_page,
)
from holder_api.web.problems import Refused
from holder_api.web.qr import qr_svg
from holder_api.web.routing import Page
from holder_api.web.scan import MAX_IMAGE_BYTES, read_qr
from holder_api.web.security import clear_cookie
from wallet.errors import Conflict, SatchelError

_MAX_LINK = 65_536


class OfferNotWaiting(Conflict):
    code, title = "offer_not_waiting", "No offer is waiting for this sign-in"


@page()
async def open_link(ctx: Ctx) -> web.StreamResponse:
    return await _open(ctx, ctx.field("link", max_len=_MAX_LINK))


async def _open(ctx: Ctx, link: str) -> web.Response:
    link = link.strip()
    kind = classify(link) if link else "unknown"
    if kind == "offer":
        offer = await data.create_offer(ctx.request, ctx.s, link, ctx.languages)
        return redirect(f"/offers/{offer['id']}")
    if kind == "request":
        req = await data.intake_request(ctx.request, ctx.s, link)
        return redirect(f"/requests/{req['id']}")
    raise Refused(N_("This is neither a credential offer nor a presentation request."))


def _callback(ctx: Ctx, offer_id: str) -> str:
    return f"{ctx.request.app[SETTINGS].public_url}/offers/{offer_id}/callback"


async def _offer(ctx: Ctx, offer_id: str, status: int = 200, **extra: Any) -> web.Response:
    offer = await data.get_offer(ctx.request, ctx.s, offer_id, ctx.languages)
    return render(ctx, "offer.html", status=status, offer=offer, notice=ctx.query("notice"),
                  **extra)


@page()
async def offer_page(ctx: Ctx) -> web.StreamResponse:
    return await _offer(ctx, ctx.request.match_info["id"])


#: the issuer refused the transaction code (or it was missing): the offer page asks again
_TX_CODE_REFUSED = ("invalid_grant", "tx_code_required")


def _after_accept(ctx: Ctx, offer_id: str | None, out: dict[str, Any]) -> web.Response:
    if out.get("status") == "authorization_required":
        # a link, not a redirect: CSP form-action keeps form posts on this origin
        return render(ctx, "authorize.html", url=out["authorization_url"])
    if out.get("status") == "deferred":
        return redirect(f"/offers/{out.get('offer_id') or offer_id}?notice=deferred")
    stored = out.get("credentials") or []
    if out.get("problem"):  # part of the issuer's answer was refused: say so, not "all well"
        return redirect("/credentials?notice=received_partly")
    if len(stored) == 1:
        return redirect(f"/credentials/{stored[0]['id']}?notice=received")
    return redirect("/credentials?notice=received")


@page()
async def accept_offer(ctx: Ctx) -> web.StreamResponse:
    offer_id = ctx.request.match_info["id"]
    tx_code = ctx.field("tx_code", max_len=64).strip() or None
    try:
        out = await data.accept_offer(ctx.request, ctx.s, offer_id, tx_code=tx_code,
                                      redirect_uri=_callback(ctx, offer_id),
                                      languages=ctx.languages)
    except SatchelError as err:
        if err.code not in _TX_CODE_REFUSED:
            raise
        return await _offer(ctx, offer_id, status=err.status, error=error_detail(ctx, err),
                            bad=["tx_code"])
    return _after_accept(ctx, offer_id, out)


async def _back_from_issuer(ctx: Ctx) -> web.Response | None:
    """The issuer's redirect back here is a cross-site navigation, and the browser sends no
    SameSite=Strict cookie with it: an unlocked learner looks locked. A page of this origin
    that moves on to the same URL (meta refresh, and a link without it) is a same-site
    navigation that carries the session. Only if it is still missing then is the start page
    the answer (with this URL as ``next``)."""
    if ctx.session is not None:
        return None
    if ctx.request.query.get("bounced") != "1":
        again = urlencode([*_issuer_params(ctx), ("bounced", "1")])
        return render(ctx, "bounce.html", url=f"{ctx.request.path}?{again}")
    raise await to_start_page(ctx.request)


def _issuer_params(ctx: Ctx) -> list[tuple[str, str]]:
    return [(k, v) for k, v in ctx.request.query.items() if k != "bounced"]


@page(auth=False)
async def offer_callback(ctx: Ctx) -> web.StreamResponse:
    bounce = await _back_from_issuer(ctx)
    if bounce is not None:
        return bounce
    offer_id = ctx.request.match_info["id"]
    callback = f"{_callback(ctx, offer_id)}?{urlencode(_issuer_params(ctx))}"
    out = await data.authorize_offer(ctx.request, ctx.s, offer_id, callback, ctx.languages)
    return _after_accept(ctx, offer_id, out)


@page(auth=False)
async def inbox_callback(ctx: Ctx) -> web.StreamResponse:
    """The service's own redirect URI (``/oid4vci/callback``), which inbox-pushed offers use:
    the offer it belongs to was left in a session-bound flash when the learner accepted."""
    bounce = await _back_from_issuer(ctx)
    if bounce is not None:
        return bounce
    waiting = open_flash(ctx.request, "authorize", ctx.bound)
    if waiting is None or not isinstance(waiting.get("offer"), str):
        raise OfferNotWaiting("no offer of this wallet is waiting for this sign-in: open it "
                              "from the inbox and accept it again")
    callback = f"{ctx.request.app[SETTINGS].public_url}/oid4vci/callback?" \
               f"{urlencode(_issuer_params(ctx))}"
    out = await data.authorize_offer(ctx.request, ctx.s, waiting["offer"], callback,
                                     ctx.languages)
    resp = _after_accept(ctx, waiting["offer"], out)
    clear_cookie(resp, ctx.request, cookie_name(ctx.request, "authorize"))
    return resp


decline_offer = on_item(data.decline_offer, "/inbox?notice=declined")


@page()
async def inbox(ctx: Ctx) -> web.StreamResponse:
    items = await data.list_inbox(ctx.request, ctx.s)
    offers = await data.list_offers(ctx.request, ctx.s, ctx.languages)
    links = await data.list_inbox_links(ctx.request, ctx.s)
    requests = await data.list_requests(ctx.request, ctx.s)
    return render(ctx, "inbox.html", items=items, offers=offers, links=links,
                  requests=requests, notice=ctx.query("notice"))


@page()
async def accept_item(ctx: Ctx) -> web.StreamResponse:
    item_id = ctx.request.match_info["id"]
    tx_code = ctx.field("tx_code", max_len=64).strip() or None
    # the offer is made from the item only now, so its id cannot be in the redirect URI: the
    # service's own callback path is, and a flash says which offer waits for it
    out = await data.accept_item(ctx.request, ctx.s, item_id, tx_code=tx_code,
                                 redirect_uri=f"{ctx.request.app[SETTINGS].public_url}"
                                              "/oid4vci/callback", languages=ctx.languages)
    if out.get("status") == "authorization_required" and out.get("offer_id"):
        ctx.set_cookies[cookie_name(ctx.request, "authorize")] = (seal_flash(
            ctx.request, "authorize", ctx.bound, {"offer": out["offer_id"]}), KINDS["authorize"])
    return _after_accept(ctx, out.get("offer_id"), out)


decline_item = on_item(data.decline_item, "/inbox?notice=declined")


@page()
async def create_inbox_link(ctx: Ctx) -> web.StreamResponse:
    label = ctx.field("label", max_len=200).strip()
    if not label:
        raise Refused(N_("Give the link a name (the institution it is for)."))
    link = await data.create_inbox_link(ctx.request, ctx.s, label)
    # Post/Redirect/Get, as for share links: shown by GET /inbox-links/created
    ctx.set_cookies[cookie_name(ctx.request, "inbox_link")] = (seal_flash(
        ctx.request, "inbox_link", ctx.bound, {"url": link["url"], "label": link.get("label")}),
        KINDS["inbox_link"])
    return redirect("/inbox-links/created")


@page()
async def inbox_link_page(ctx: Ctx) -> web.StreamResponse:
    shown = open_flash(ctx.request, "inbox_link", ctx.bound)
    if shown is None:
        return redirect("/inbox")
    return render(ctx, "inbox_link.html", link=shown,
                  qr=qr_svg(shown["url"], ctx._("QR code of the inbox link")))


revoke_inbox_link = on_item(data.revoke_inbox_link, "/inbox?notice=link_deleted")


scan_page = template_page("scan.html")


@page()
async def scan_image(ctx: Ctx) -> web.StreamResponse:
    """Decode the uploaded picture, then continue exactly as if the text was pasted."""
    upload = ctx.form.get("image") if ctx.form is not None else None
    if not isinstance(upload, web.FileField) or not upload.filename:
        return render(ctx, "scan.html", status=400, error=ctx._("Choose a picture."),
                      bad=["image"])
    picture = upload.file.read(MAX_IMAGE_BYTES + 1)
    # decoding a photo takes a while: not on the event loop every other learner shares
    link = await asyncio.get_running_loop().run_in_executor(None, read_qr, picture)
    return await _open(ctx, link)


#: this module's page routes, in registration order (holder_api.web.routing)
PAGES = [
    Page("POST", "/open", open_link,
         "open a credential offer or presentation request (the Link box)"),
    Page("GET", "/scan", scan_page, "read a QR code with the camera or from a picture"),
    Page("POST", "/scan", scan_image, "open the link in a picture of a QR code"),
    Page("GET", "/offers/{id}", offer_page,
         "an offer: its issuer, what it offers, accept or decline"),
    Page("POST", "/offers/{id}/accept", accept_offer, "accept the offer"),
    Page("POST", "/offers/{id}/decline", decline_offer, "decline the offer"),
    Page("GET", "/offers/{id}/callback", offer_callback, "back from the issuer's sign-in"),
    Page("GET", "/oid4vci/callback", inbox_callback,
         "back from the issuer's sign-in for an offer pushed to the inbox"),
    Page("GET", "/inbox", inbox,
         "pushed credentials and offers, pending offers, requests, inbox links"),
    Page("POST", "/inbox/{id}/accept", accept_item, "accept a pushed item"),
    Page("POST", "/inbox/{id}/decline", decline_item, "refuse a pushed item"),
    Page("POST", "/inbox-links", create_inbox_link, "make an inbox link"),
    Page("GET", "/inbox-links/created", inbox_link_page, "the new inbox link with its QR code"),
    Page("POST", "/inbox-links/{id}/delete", revoke_inbox_link, "delete an inbox link"),
]
