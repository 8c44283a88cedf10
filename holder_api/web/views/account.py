"""Account pages: start (unlock / create), the one-time recovery code, lock, recover, passphrase."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from holder_api.web import data
from holder_api.web.i18n import LANG_COOKIE, LANGUAGES
from holder_api.web.pages import Ctx, page, redirect, render
from holder_api.web.security import clear_cookie, cookies_for, csrf_token
from wallet.errors import BadInput, Conflict, RateLimited, SatchelError, Unauthorized


def _next(raw: str, default: str = "/credentials") -> str:
    """Only a path on this site (never ``//host``, ``/\\host`` or a scheme): no open redirect."""
    parts = urlsplit(raw)
    if (not raw.startswith("/") or raw.startswith(("//", "/\\")) or parts.scheme
            or parts.netloc):
        return default
    return raw


@page(auth=False)
async def start(ctx: Ctx) -> web.StreamResponse:
    if ctx.session is not None:
        return redirect("/credentials")
    return render(ctx, "start.html", next=_next(ctx.query("next") or "/credentials"),
                  notice=ctx.query("notice"))


def _signed_in(ctx: Ctx, token: str, expires_in: int) -> None:
    names = cookies_for(ctx.request)
    ctx.set_cookies[names.session] = (token, expires_in)


@page(auth=False)
async def sign_up(ctx: Ctx) -> web.StreamResponse:
    username = ctx.field("username", max_len=64).strip()
    passphrase = ctx.field("passphrase", max_len=1024)
    try:
        created = await data.sign_up(ctx.request, username, passphrase)
        token = await data.unlock(ctx.request, username, passphrase)
    except (BadInput, Conflict, RateLimited) as err:
        return render(ctx, "start.html", status=err.status, error=err.detail,
                      username=username, next="/credentials")
    _signed_in(ctx, token["access_token"], token["expires_in"])
    ctx.session = await data.authenticate(ctx.request, token["access_token"])
    ctx.csrf = csrf_token(ctx.request, token["access_token"])
    return render(ctx, "recovery.html", recovery_code=created["recovery_code"],
                  holder_did=created["holder_did"], welcome=True)


@page()
async def welcome(ctx: Ctx) -> web.StreamResponse:
    if ctx.field("saved") != "yes":
        raise BadInput("tick the box once the recovery code is kept somewhere safe")
    return redirect("/credentials?notice=welcome")


@page(auth=False)
async def unlock(ctx: Ctx) -> web.StreamResponse:
    username = ctx.field("username", max_len=256).strip()
    passphrase = ctx.field("passphrase", max_len=1024)
    target = _next(ctx.field("next", max_len=2048) or "/credentials")
    try:
        token = await data.unlock(ctx.request, username, passphrase)
    except (Unauthorized, BadInput, RateLimited) as err:
        detail = (ctx._("Wrong username or passphrase.") if isinstance(err, Unauthorized)
                  else err.detail)
        return render(ctx, "start.html", status=err.status, error=detail, username=username,
                      next=target)
    _signed_in(ctx, token["access_token"], token["expires_in"])
    return redirect(target)


@page()
async def lock(ctx: Ctx) -> web.StreamResponse:
    await data.lock(ctx.request, ctx.s)  # if the revocation fails, the learner is told so
    resp = redirect("/?notice=locked")
    clear_cookie(resp, ctx.request, cookies_for(ctx.request).session)
    return resp


@page(auth=False)
async def recover_form(ctx: Ctx) -> web.StreamResponse:
    return render(ctx, "recover.html")


@page(auth=False)
async def recover(ctx: Ctx) -> web.StreamResponse:
    username = ctx.field("username", max_len=256).strip()
    try:
        await data.change_passphrase(
            ctx.request, None, username=username, current=None,
            recovery_code=ctx.field("recovery_code", max_len=128).strip(),
            new=ctx.field("new_passphrase", max_len=1024))
    except SatchelError as err:
        detail = (ctx._("Wrong username or recovery code.") if isinstance(err, Unauthorized)
                  else err.detail)
        return render(ctx, "recover.html", status=err.status, error=detail, username=username)
    return redirect("/?notice=recovered")


@page()
async def account(ctx: Ctx) -> web.StreamResponse:
    return render(ctx, "account.html", notice=ctx.query("notice"))


@page()
async def change_passphrase(ctx: Ctx) -> web.StreamResponse:
    new = ctx.field("new_passphrase", max_len=1024)
    if new != ctx.field("confirm_passphrase", max_len=1024):
        return render(ctx, "account.html", status=400,
                      error=ctx._("The two new passphrases differ."))
    try:
        await data.change_passphrase(ctx.request, ctx.s, username=None,
                                     current=ctx.field("current_passphrase", max_len=1024),
                                     recovery_code=None, new=new)
    except Unauthorized:
        return render(ctx, "account.html", status=401,
                      error=ctx._("The current passphrase is wrong."))
    # every token is revoked by the change: unlock again with the new passphrase
    resp = redirect("/?notice=passphrase_changed")
    clear_cookie(resp, ctx.request, cookies_for(ctx.request).session)
    return resp


@page()
async def new_recovery_code(ctx: Ctx) -> web.StreamResponse:
    try:
        out = await data.new_recovery_code(ctx.request, ctx.s,
                                           ctx.field("passphrase", max_len=1024))
    except Unauthorized:
        return render(ctx, "account.html", status=401,
                      error=ctx._("The current passphrase is wrong."))
    return render(ctx, "recovery.html", recovery_code=out["recovery_code"], welcome=False)


@page(auth=False)
async def language(ctx: Ctx) -> web.StreamResponse:
    code = ctx.request.match_info["code"]
    if code not in LANGUAGES:
        raise web.HTTPNotFound()
    resp = redirect(_next(ctx.query("next", max_len=2048), default="/"))
    ctx.set_cookies[LANG_COOKIE] = (code, 365 * 24 * 3600)
    return resp
