"""Account pages: start (unlock / create), the one-time recovery code, lock, recover, passphrase."""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from holder_api.appkeys import SETTINGS
from holder_api.web import data
from holder_api.web.flash import KINDS, cookie_name, open_flash, seal_flash
from holder_api.web.i18n import LANG_COOKIE, LANGUAGES, N_
from holder_api.web.pages import (
    Ctx,
    error_detail,
    page,
    redirect,
    refused_form,
    render,
    session_binding,
    template_page,
)
from holder_api.web.problems import Refused, check_new_passphrase
from holder_api.web.routing import Page
from holder_api.web.security import clear_cookie, cookies_for
from wallet.errors import BadInput, Conflict, NotFound, RateLimited, SatchelError, Unauthorized


def _next(raw: str, default: str = "/credentials") -> str:
    """Only a path on this site (never ``//host``, ``/\\host`` or a scheme): no open redirect.

    Control characters and backslashes are refused anywhere: ``urlsplit`` drops CR/LF/tab
    before parsing, and a header with them in it is refused by aiohttp after the handler ran.
    """
    if any(ord(ch) < 0x20 or ch in "\x7f\\" for ch in raw):
        return default
    parts = urlsplit(raw)
    if not raw.startswith("/") or raw.startswith("//") or parts.scheme or parts.netloc:
        return default
    return raw


def _show_recovery_code(ctx: Ctx, code: str, *, bound: str, welcome: bool,
                        unlocked: bool, notice: str | None = None) -> web.Response:
    """Post/Redirect/Get: the code waits in a sealed flash for ``GET /welcome`` (reload and
    the language switch show it again) until the learner says it is saved."""
    shown: dict[str, object] = {"code": code, "welcome": welcome, "unlocked": unlocked}
    if notice is not None:
        shown["notice"] = notice
    ctx.set_cookies[cookie_name(ctx.request, "recovery")] = (
        seal_flash(ctx.request, "recovery", bound, shown), KINDS["recovery"])
    return redirect("/welcome")


#: the fields an account error concerns (marked invalid on the page that answers it)
_NEW_PASSPHRASE = ["new_passphrase", "confirm_passphrase"]
_FIELDS_AT_FAULT = {"username_taken": ["username"], "invalid_username": ["username"],
                    "weak_passphrase": ["passphrase"],
                    # too many attempts: no field is wrong, the form is just refused for now
                    "rate_limited": [], "contended": []}
_WAITING = {code for code, fields in _FIELDS_AT_FAULT.items() if not fields}


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
        check_new_passphrase(passphrase)
        created = await data.sign_up(ctx.request, username, passphrase)
    except (BadInput, Conflict, RateLimited) as err:
        return refused_form(ctx, "start.html", err, username=username, next="/credentials",
                            signing_up=True,
                            bad=_FIELDS_AT_FAULT.get(err.code, ["username", "passphrase"]))
    code = created["recovery_code"]
    # The wallet exists from here on: whatever the unlock does (a per-address limit reached
    # on a campus network, a store hiccup), the one-time code must reach the learner.
    try:
        token = await data.unlock(ctx.request, username, passphrase)
        session = await data.authenticate(ctx.request, token["access_token"])
    except SatchelError:
        return _show_recovery_code(ctx, code, bound=ctx.bound, welcome=True, unlocked=False)
    _signed_in(ctx, token["access_token"], token["expires_in"])
    return _show_recovery_code(ctx, code, bound=session_binding(session), welcome=True,
                               unlocked=True)


def _recovery_file(ctx: Ctx, code: str) -> str:
    """The text of the downloaded recovery code: what it is, where it is used, keep it private
    (a file holding only the code means nothing a year later)."""
    recover = ctx.request.app[SETTINGS].public_url.rstrip("/") + "/recover"
    return "\n\n".join((
        ctx._("Satchel recovery code: %(code)s", code=code),
        ctx._("If you forget your passphrase, open %(url)s and enter your username, this code "
              "and a new passphrase.", url=recover),
        ctx._("Keep this file private: with your username, this code opens your wallet."),
    )) + "\n"


@page(auth=False)
async def welcome_page(ctx: Ctx) -> web.StreamResponse:
    shown = open_flash(ctx.request, "recovery", ctx.bound)
    if shown is None:  # acknowledged, expired, or never made here
        return redirect("/credentials" if ctx.session is not None else "/")
    return render(ctx, "recovery.html", recovery_code=shown["code"],
                  recovery_file=_recovery_file(ctx, str(shown["code"])),
                  welcome=bool(shown.get("welcome")),
                  not_unlocked=ctx.session is None and bool(shown.get("welcome")),
                  notice=shown.get("notice"))


@page(auth=False)
async def welcome(ctx: Ctx) -> web.StreamResponse:
    if ctx.field("saved") != "yes":
        raise Refused(N_("Tick the box once the recovery code is kept somewhere safe."))
    shown = open_flash(ctx.request, "recovery", ctx.bound)
    if ctx.session is None:
        to = "/?notice=created" if shown is None or shown.get("welcome") else \
            "/?notice=passphrase_changed"
    elif shown is not None and not shown.get("welcome"):
        to = "/account?notice=code_saved"
    else:
        to = "/credentials?notice=welcome"
    resp = redirect(to)
    clear_cookie(resp, ctx.request, cookie_name(ctx.request, "recovery"))
    return resp


@page(auth=False)
async def unlock(ctx: Ctx) -> web.StreamResponse:
    username = ctx.field("username", max_len=256).strip()
    passphrase = ctx.field("passphrase", max_len=1024)
    target = _next(ctx.field("next", max_len=2048) or "/credentials")
    try:
        token = await data.unlock(ctx.request, username, passphrase)
    except (Unauthorized, BadInput, RateLimited) as err:
        detail = (ctx._("Wrong username or passphrase.") if isinstance(err, Unauthorized)
                  else error_detail(ctx, err))
        return refused_form(ctx, "start.html", err, detail, username=username, next=target,
                            bad=_FIELDS_AT_FAULT.get(err.code, ["username", "passphrase"]))
    _signed_in(ctx, token["access_token"], token["expires_in"])
    return redirect(target)


@page()
async def lock(ctx: Ctx) -> web.StreamResponse:
    await data.lock(ctx.request, ctx.s)  # if the revocation fails, the learner is told so
    resp = redirect("/?notice=locked")
    clear_cookie(resp, ctx.request, cookies_for(ctx.request).session)
    ctx.session = None
    return resp


recover_form = template_page("recover.html", auth=False)


@page(auth=False)
async def recover(ctx: Ctx) -> web.StreamResponse:
    username = ctx.field("username", max_len=256).strip()
    new = ctx.field("new_passphrase", max_len=1024)
    if new != ctx.field("confirm_passphrase", max_len=1024):
        return render(ctx, "recover.html", status=400, username=username,
                      error=ctx._("The two new passphrases differ."), bad=_NEW_PASSPHRASE)
    try:
        check_new_passphrase(new)
        recovered = await data.change_passphrase(
            ctx.request, None, username=username, current=None,
            recovery_code=ctx.field("recovery_code", max_len=128).strip(), new=new)
    except SatchelError as err:
        wrong_code = isinstance(err, Unauthorized)
        detail = (ctx._("Wrong username or recovery code.") if wrong_code
                  else error_detail(ctx, err))
        return refused_form(ctx, "recover.html", err, detail, username=username,
                            bad=(["username", "recovery_code"] if wrong_code
                                 else [] if err.code in _WAITING else _NEW_PASSPHRASE))
    assert recovered is not None  # a change by recovery code answers its replacement
    # The reset used the code up and answered its replacement with a session: both reach the
    # learner now (the new code is shown once, on /welcome).
    try:
        session = await data.authenticate(ctx.request, recovered["access_token"])
    except SatchelError:  # the account changed again meanwhile: the code is still shown
        return _show_recovery_code(ctx, recovered["recovery_code"], bound=ctx.bound,
                                   welcome=False, unlocked=False, notice="recovered_new_code")
    _signed_in(ctx, recovered["access_token"], recovered["expires_in"])
    return _show_recovery_code(ctx, recovered["recovery_code"], bound=session_binding(session),
                               welcome=False, unlocked=True, notice="recovered_new_code")


account = template_page("account.html")


#: the account page's forms, by the field that asks for the current passphrase: the id of the
#: card whose form was refused (its message stands there)
_ACCOUNT_FORMS = {"current_passphrase": "h-pass", "passphrase": "h-rc"}


def _wrong_passphrase(ctx: Ctx, field: str) -> web.Response:
    return render(ctx, "account.html", status=401, failed=_ACCOUNT_FORMS[field],
                  error=ctx._("The current passphrase is wrong."), bad=[field])


@page()
async def change_passphrase(ctx: Ctx) -> web.StreamResponse:
    new = ctx.field("new_passphrase", max_len=1024)
    if new != ctx.field("confirm_passphrase", max_len=1024):
        return render(ctx, "account.html", status=400, failed="h-pass",
                      error=ctx._("The two new passphrases differ."), bad=_NEW_PASSPHRASE)
    try:
        check_new_passphrase(new)
        await data.change_passphrase(ctx.request, ctx.s, username=None,
                                     current=ctx.field("current_passphrase", max_len=1024),
                                     recovery_code=None, new=new)
    except Unauthorized:
        return _wrong_passphrase(ctx, "current_passphrase")
    except BadInput as err:  # a new passphrase too weak
        return render(ctx, "account.html", status=err.status, error=error_detail(ctx, err),
                      failed="h-pass", bad=_NEW_PASSPHRASE)
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
        return _wrong_passphrase(ctx, "passphrase")
    return _show_recovery_code(ctx, out["recovery_code"], bound=ctx.bound, welcome=False,
                               unlocked=True)


@page(auth=False)
async def language(ctx: Ctx) -> web.StreamResponse:
    code = ctx.request.match_info["code"]
    if code not in LANGUAGES:
        raise NotFound("this wallet speaks no such language")
    resp = redirect(_next(ctx.query("next", max_len=2048), default="/"))
    ctx.set_cookies[LANG_COOKIE] = (code, 365 * 24 * 3600)
    return resp


#: this module's page routes, in registration order (holder_api.web.routing)
PAGES = [
    Page("GET", "/", start, "unlock or create a wallet"),
    Page("POST", "/signup", sign_up, "create a wallet, then see its recovery code"),
    Page("GET", "/welcome", welcome_page, "the one-time recovery code after sign-up"),
    Page("POST", "/welcome", welcome, "say the recovery code is saved"),
    Page("POST", "/unlock", unlock, "unlock the wallet"),
    Page("POST", "/lock", lock, "lock the wallet (the session is revoked)"),
    Page("GET", "/recover", recover_form, "set a new passphrase with the recovery code"),
    Page("POST", "/recover", recover,
         "recover: the new passphrase and the code that replaces the used one"),
    Page("GET", "/account", account, "change the passphrase, make a new recovery code"),
    Page("POST", "/account/passphrase", change_passphrase,
         "change the passphrase (locks every device)"),
    Page("POST", "/account/recovery-code", new_recovery_code, "make a new recovery code"),
    Page("GET", "/lang/{code}", language,
         "pick the page language, then back where the learner was"),
]
