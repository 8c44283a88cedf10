"""What every web page shares: the request context, the page decorator, rendering.

A handler is ``async def handler(ctx: Ctx) -> web.StreamResponse``; :func:`page` gives it the
learner's session (or sends the browser to the start page), the language, the CSRF check on every
POST, HTML error pages for the services' typed errors, and the security headers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web
from multidict import MultiDictProxy

from consent.rights import MAX_BUNDLE_BYTES, ImportAdmission
from holder_api.appkeys import SETTINGS
from holder_api.http import read_form, too_large
from holder_api.languages import accept_languages
from holder_api.web import data
from holder_api.web.flash import open_flash
from holder_api.web.i18n import LANGUAGES, N_, Gettext, gettext_for, pick_language
from holder_api.web.problems import Refused, problem_text
from holder_api.web.security import (
    check_post,
    clear_cookie,
    cookies_for,
    csrf_token,
    new_pre_session,
    page_headers,
    pre_session_of,
    set_cookie,
)
from wallet.accounts.service import LearnerSession
from wallet.errors import (
    BadInput,
    NotFound,
    RateLimited,
    SatchelError,
    Unauthorized,
    Unavailable,
)
from wallet.jsontext import unicode_text

__all__ = ["Ctx", "Handler", "error_detail", "get_page_for", "on_item", "page", "redirect", "render",
           "session_binding", "status_pages", "template_page", "to_start_page"]

Form = MultiDictProxy[Any]


@dataclass
class Ctx:
    request: web.Request
    lang: str
    _: Gettext
    csrf: str
    session: LearnerSession | None = None
    form: Form | None = None
    #: a GET page standing for this request (a POST's own URL cannot be reloaded or revisited)
    back: str = "/"
    #: what this request's CSRF token (and any flash) is bound to: the session or pre-session
    bound: str = ""
    #: cookies to set on whatever response the handler returns: name -> (value, max_age)
    set_cookies: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    #: the import form: its import's admission, taken before the body was read
    admission: ImportAdmission | None = None

    @property
    def s(self) -> LearnerSession:
        if self.session is None:  # only pages declared auth=False have no session
            raise Unauthorized("unlock the wallet first")
        return self.session

    @property
    def languages(self) -> tuple[str, ...]:
        """For multilingual credential values: the page language first, then the browser's."""
        rest = accept_languages(self.request.headers.get("Accept-Language"))
        return (self.lang, *[t for t in rest if t.split("-")[0] != self.lang])

    def field(self, name: str, *, max_len: int = 4096, default: str = "") -> str:
        value = self.form.get(name, default) if self.form is not None else default
        if not isinstance(value, str):
            raise Refused(N_("A field of the form must be text."))
        if len(value) > max_len:
            raise Refused(N_("A field of the form is too long."))
        return value

    def query(self, name: str, *, max_len: int = 512) -> str:
        value = self.request.query.get(name, "")
        if len(value) > max_len:
            raise Refused(N_("The address of this page is too long."))
        return value


Handler = Callable[[Ctx], Awaitable[web.StreamResponse]]


def redirect(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location})


async def get_page_for(request: web.Request) -> str:
    """The GET page a request stands for: itself for a GET; for a POST, the nearest enclosing
    path that answers GET (``/requests/x/share`` -> ``/requests/x``, ``/signup`` -> ``/``)."""
    if request.method in ("GET", "HEAD"):
        return request.path_qs
    path = request.path
    while path not in ("", "/"):
        match = await request.app.router.resolve(request.clone(method="GET", rel_url=path))
        if match.http_exception is None and match.route.resource is not None and \
                not match.route.resource.canonical.startswith("/v1"):
            return path
        path = path.rsplit("/", 1)[0]
    return "/"


def session_binding(session: LearnerSession) -> str:
    """What CSRF tokens and flashes are bound to: the session, not one token of it (renewal
    changes the token; open tabs keep working)."""
    return "sid:" + session.session_id


async def to_start_page(request: web.Request) -> web.HTTPSeeOther:
    to = web.HTTPSeeOther("/?next=" + quote(await get_page_for(request), safe="/"))
    names = cookies_for(request)
    if names.session in request.cookies:  # only a cookie that was sent and failed
        clear_cookie(to, request, names.session)
    return to


#: Forms that carry a file, and the body each may have: a phone photo of a QR code is
#: several MB, an export bundle tens, a credential file as much as a signed PDF the API takes
#: (SATCHEL_MAX_PDF_BYTES, :func:`upload_limit`); every other form keeps the API's body limit.
_UPLOAD_LIMITS = {"/scan": 10 * 1024 * 1024, "/my-data/import": MAX_BUNDLE_BYTES}
_CREDENTIAL_FILE = "/credentials/import"
#: what a multipart form adds around its file: boundaries, part headers, the CSRF token
_FORM_OVERHEAD = 64 * 1024


def upload_limit(request: web.Request) -> int | None:
    """The body the form at ``request.path`` may have, None: the API's body limit."""
    if request.path == _CREDENTIAL_FILE:
        return request.app[SETTINGS].max_pdf_bytes + _FORM_OVERHEAD
    return _UPLOAD_LIMITS.get(request.path)


#: Forms admitted before their body is read, held until the page is answered: a bundle import
#: (an import slot), a credential file or a QR photo (an upload slot: wallet.large_bodies)
ADMITTED_UPLOADS: dict[str, Callable[[web.Request, LearnerSession], AbstractAsyncContextManager[
    ImportAdmission | None]]] = {"/my-data/import": data.admitted_import,
                                 _CREDENTIAL_FILE: data.admitted_upload,
                                 "/scan": data.admitted_upload}
_HELD = web.RequestKey("satchel_web_held", AsyncExitStack)


async def _read_form(request: web.Request, *, admitted: bool) -> Form:
    """The posted form, under the body deadline every body has (holder_api.http.read_form:
    408 ``request_timeout`` on a form that trickles or stalls, 413 past its limit); a file
    form its gate ``admitted`` is read with its admission slot given back meanwhile."""
    limit = upload_limit(request) or request.client_max_size
    return await read_form(request, limit, what="the form", aside=admitted)


async def _context(request: web.Request, *, auth: bool) -> Ctx:
    lang = pick_language(request)
    names = cookies_for(request)
    token = request.cookies.get(names.session)
    session = None
    if token:
        try:
            session = await data.authenticate(request, token)
        except Unauthorized:
            if auth:
                raise await to_start_page(request) from None
    elif auth:
        raise await to_start_page(request)
    ctx = Ctx(request, lang, gettext_for(lang), "", session)
    ctx.back = await get_page_for(request)
    if session is not None:
        renewed = await data.renew(request, session)
        if renewed is not None:  # still active: the idle lock starts again
            ctx.set_cookies[names.session] = (renewed["access_token"], renewed["expires_in"])
    bound = session_binding(session) if session is not None else pre_session_of(request)
    if request.method == "POST":
        limit, admit = upload_limit(request), ADMITTED_UPLOADS.get(request.path)
        if limit is not None:  # declared too large: 413 before anything is read or admitted
            too_large(request, limit, what="the file")
        held = request.get(_HELD)
        gated = session is not None and held is not None and admit is not None
        if session is not None and held is not None and admit is not None:
            # before the body is read: a replica's slot and the learner's budget
            admitted = await held.enter_async_context(admit(request, session))
            if isinstance(admitted, ImportAdmission):
                ctx.admission = admitted
        ctx.form = await _read_form(request, admitted=gated)
        check_post(request, ctx.form.get("csrf"), bound)
    if bound is None:
        bound = new_pre_session()
        ctx.set_cookies[names.pre] = (bound, None)
    ctx.bound = bound
    ctx.csrf = csrf_token(request, bound)
    return ctx


#: language code -> the Jinja2 environment of that language (see :mod:`.templating`)
TEMPLATE_ENVIRONMENTS: web.AppKey[dict[str, jinja2.Environment]] = web.AppKey(
    "web_templates", dict)


#: the main navigation's entries, and the first path segments that are part of each
_SECTIONS = {"credentials": "credentials", "inbox": "inbox", "inbox-links": "inbox",
             "offers": "inbox", "requests": "inbox", "shares": "shares", "history": "history",
             "my-data": "my-data", "account": "account"}


def _recovery_pending(ctx: Ctx, template: str) -> bool:
    """A recovery code this session was shown and has not said it kept (left by the navigation):
    every other page leads back to it."""
    return (ctx.session is not None and template != "recovery.html"
            and open_flash(ctx.request, "recovery", ctx.bound) is not None)


def render(ctx: Ctx, template: str, status: int = 200, **values: Any) -> web.Response:
    env = ctx.request.config_dict[TEMPLATE_ENVIRONMENTS][ctx.lang]
    path = ctx.request.path
    html = env.get_template(template).render({
        **values, "_": ctx._, "ngettext": ctx._.ngettext, "lang": ctx.lang, "csrf": ctx.csrf,
        "languages": LANGUAGES,
        "unlocked": ctx.session is not None, "here": ctx.back,
        "recovery_pending": _recovery_pending(ctx, template),
        "page_name": template.removesuffix(".html"), "path": path,
        "section": _SECTIONS.get(path.split("/", 2)[1])})
    try:
        body = html.encode("utf-8")
    except UnicodeEncodeError:  # text kept before lone surrogates were refused (an inbox item's
        body = unicode_text(html).encode("utf-8")  # claimed issuer): shown as U+FFFD
    return web.Response(body=body, status=status, content_type="text/html", charset="utf-8")


_STATUS_WORDS = {400: N_("That did not work"), 401: N_("Not allowed"), 403: N_("Refused"),
                 404: N_("Not found"), 409: N_("Not possible right now"), 410: N_("Expired"),
                 413: N_("Too large"), 415: N_("Not a supported kind of file"),
                 422: N_("That did not verify"), 429: N_("Too many attempts"),
                 502: N_("The other side did not answer properly"), 503: N_("Unavailable")}


#: a title of its own where the status's would mislead ("right now": waiting will not help)
_CODE_TITLES = {"account_not_empty": N_("Import into a new wallet")}


def error_detail(ctx: Ctx, err: SatchelError) -> str:
    """The error in the page's language (never the service's English detail)."""
    return problem_text(ctx._, err)


def _wait(err: SatchelError) -> int | None:
    """The seconds a refusal asks the learner to wait (429, 503), None when waiting is not it."""
    return err.retry_after if isinstance(err, RateLimited | Unavailable) else None


def _waits(resp: web.Response, err: SatchelError) -> web.Response:
    """As the API's answers: clients back off (``Retry-After``)."""
    wait = _wait(err)
    if wait is not None:
        resp.headers["Retry-After"] = str(wait)
    return resp


def refused_form(ctx: Ctx, template: str, err: SatchelError, detail: str | None = None,
                 **values: Any) -> web.Response:
    """A form shown again with its refusal's message (``detail``, or the error's catalogue
    message); a refusal that asks to wait says for how long, in words and in ``Retry-After``."""
    words = detail if detail is not None else error_detail(ctx, err)
    wait = _wait(err)
    if wait is not None:
        words += " " + ctx._.ngettext("Try again in %(n)s second.", "Try again in %(n)s seconds.",
                                      wait)
    return _waits(render(ctx, template, status=err.status, error=words, **values), err)


def error_page(ctx: Ctx, err: SatchelError) -> web.Response:
    title = _CODE_TITLES.get(err.code) or _STATUS_WORDS.get(err.status,
                                                            N_("Something went wrong"))
    # a refused form: the page it came from, to try again (a GET answers its own address; a
    # thing that is not there, or no longer, has no form to try again: and a 404 stays the same
    # page whoever's id was asked for)
    retry = ctx.back if ctx.request.method == "POST" and err.status not in (404, 410) \
        and ctx.back not in ("/", "/credentials") else None
    resp = render(ctx, "error.html", status=err.status, title=ctx._(title),
                  detail=error_detail(ctx, err), retry=retry,
                  code=err.code,
                  retry_after=err.retry_after if isinstance(err, RateLimited) else None)
    return _waits(resp, err)


async def _bare_context(request: web.Request) -> Ctx:
    """For an error page: the language, and the session when there is one (an unlocked
    learner keeps Lock, the navigation and the Link box), without reading any form."""
    lang = pick_language(request)
    ctx = Ctx(request, lang, gettext_for(lang), "")
    names = cookies_for(request)
    token = request.cookies.get(names.session)
    if token:
        try:
            ctx.session = await data.authenticate(request, token)
        except SatchelError:
            ctx.session = None
    bound = (session_binding(ctx.session) if ctx.session is not None
             else pre_session_of(request))
    if bound:
        ctx.bound, ctx.csrf = bound, csrf_token(request, bound)
    ctx.back = "/credentials" if ctx.session is not None else "/"
    return ctx


class _NoSuchPage(NotFound):
    code = "not_found"


class _WrongMethod(BadInput):
    status, code, title = 405, "method_not_allowed", "Method not allowed"


_API_PREFIXES = ("/v1/", "/s/", "/i/", "/.well-known/", "/openapi.json", "/metrics")


@web.middleware
async def status_pages(request: web.Request, handler: Callable[[web.Request], Awaitable[
        web.StreamResponse]]) -> web.StreamResponse:
    """aiohttp's own 404 and 405 (no such route, wrong method) as the web wallet's HTML page,
    with its headers, for a browser asking for a page; the API keeps problem+json."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status not in (404, 405) or request.path.startswith(_API_PREFIXES) \
                or "text/html" not in request.headers.get("Accept", ""):
            raise
        err: SatchelError = (_NoSuchPage("there is no such page") if exc.status == 404
                             else _WrongMethod("this address is not a page to open"))
        return page_headers(error_page(await _bare_context(request), err), request)


def page(*, auth: bool = True) -> Callable[[Handler], Callable[[web.Request], Awaitable[
        web.StreamResponse]]]:
    def wrap(fn: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            async with AsyncExitStack() as held:  # what _context admits, until answered
                request[_HELD] = held
                return await serve(request)

        async def serve(request: web.Request) -> web.StreamResponse:
            try:
                ctx = await _context(request, auth=auth)
            except SatchelError as err:  # a refused form: answer in the learner's language
                return page_headers(error_page(await _bare_context(request), err), request)
            try:
                resp = await fn(ctx)
            except Unauthorized:
                if ctx.session is None:
                    raise
                raise await to_start_page(request) from None  # locked meanwhile (another tab, expiry)
            except SatchelError as err:
                resp = error_page(ctx, err)
            for name, (value, max_age) in ctx.set_cookies.items():
                if name not in resp.cookies:  # the handler's own say (a deletion) wins
                    set_cookie(resp, request, name, value, max_age=max_age)
            return page_headers(resp, request)

        handler.__name__ = fn.__name__
        handler.__doc__ = fn.__doc__
        return handler

    return wrap


def template_page(template: str, *, auth: bool = True) -> Callable[[web.Request], Awaitable[
        web.StreamResponse]]:
    """A page that shows its template and nothing else (a form), with the notice its URL names."""
    @page(auth=auth)
    async def show(ctx: Ctx) -> web.StreamResponse:
        return render(ctx, template, notice=ctx.query("notice"))

    return show


def on_item(act: Callable[[web.Request, LearnerSession, str], Awaitable[Any]],
            then: str) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A form that does one thing to the item its URL names (``{id}``: delete, decline,
    revoke), then goes back to ``then`` (a list, with the notice that says it is done)."""
    @page()
    async def handler(ctx: Ctx) -> web.StreamResponse:
        await act(ctx.request, ctx.s, ctx.request.match_info["id"])
        return redirect(then)

    return handler


def form_paths(form: Mapping[str, Any] | None, name: str) -> list[str]:
    if form is None:
        return []
    getall = getattr(form, "getall", None)
    values = getall(name, []) if getall is not None else []
    return [v for v in values if isinstance(v, str)]
