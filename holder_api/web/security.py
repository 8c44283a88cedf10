"""The web wallet's session cookie, CSRF protection and response headers.

The cookie carries the very access token ``POST /v1/sessions`` issues (sealed, revocable): the
web and the API share one session model, so ``Lock`` revokes it like ``DELETE
/v1/sessions/current`` and its lifetime is the token TTL (the idle lock). Browsers accept a
``__Host-`` cookie only with ``Secure``, so the prefix is used when the public URL is https; on
plain http (a laptop, the test suite) the cookie is ``satchel_session`` — still HttpOnly,
SameSite=Strict, Path=/.

CSRF: every state-changing form carries a synchroniser token, an HMAC of the session cookie's
value under a key derived from ``SATCHEL_SESSION_KEY`` (nothing stored server-side); before
unlocking, a random pre-session cookie plays the session's part. Independently, a POST whose
``Sec-Fetch-Site`` says cross-site or whose ``Origin`` is foreign is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from aiohttp import web

from holder_api.appkeys import SETTINGS
from holder_api.web.config import WEB_CONFIG
from wallet.crypto import same_text
from wallet.errors import Forbidden

__all__ = ["CSP", "Cookies", "check_post", "cookies_for", "csrf_token", "page_headers",
           "pre_session_of"]

#: No inline script or style anywhere; images only from here (and inline SVG QR codes).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

_PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin: our own form posts carry a real Origin; no URL (share links, offers) leaks
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


class CsrfRefused(Forbidden):
    code, title = "csrf_refused", "Form refused"


@dataclass(frozen=True, slots=True)
class Cookies:
    session: str
    pre: str
    secure: bool


def cookies_for(request: web.Request) -> Cookies:
    if request.app[WEB_CONFIG].secure_cookies:
        return Cookies("__Host-satchel", "__Host-satchel-pre", True)
    return Cookies("satchel_session", "satchel_pre", False)


def csrf_token(request: web.Request, bound_to: str) -> str:
    """The form token for the session (or pre-session) cookie value ``bound_to``."""
    return hmac.new(request.app[WEB_CONFIG].csrf_key, bound_to.encode(), hashlib.sha256).hexdigest()


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


#: what :func:`new_pre_session` makes: 24 random bytes, URL-safe base64
_PRE_SESSION = re.compile(r"[A-Za-z0-9_-]{32}")


def pre_session_of(request: web.Request) -> str | None:
    """The request's pre-session cookie, if it is one this wallet could have made. Anything else
    is absent (a new one is issued): a cookie of bytes that are not text (aiohttp keeps them as
    lone surrogates) could not even be encoded to bind a form token to."""
    value = request.cookies.get(cookies_for(request).pre)
    return value if value is not None and _PRE_SESSION.fullmatch(value) else None


def _origin_ok(request: web.Request) -> bool:
    # Sec-Fetch-Site is set by the browser itself (a page cannot forge it): when present, it
    # decides. Otherwise a foreign (or opaque) Origin is refused; no Origin at all is an old
    # browser or a non-browser client, for which the synchroniser token alone decides.
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    allowed = {f"{request.scheme}://{request.host}",
               request.app[SETTINGS].public_url.rstrip("/")}
    return origin in allowed


def check_post(request: web.Request, form_token: object, bound_to: str | None) -> None:
    """Refuse a cross-site or token-less state change (403, nothing done)."""
    if not _origin_ok(request):
        raise CsrfRefused("this form was sent from another site")
    if bound_to is None or not same_text(form_token, csrf_token(request, bound_to)):
        raise CsrfRefused("the form is out of date or did not come from this wallet: "
                          "reload the page and try again")


def page_headers(response: web.StreamResponse, request: web.Request) -> web.StreamResponse:
    response.headers.update(_PAGE_HEADERS)
    if cookies_for(request).secure:  # served over https: browsers keep to it for a year
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


def set_cookie(response: web.StreamResponse, request: web.Request, name: str, value: str, *,
               max_age: int | None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="Strict", secure=cookies_for(request).secure)


def clear_cookie(response: web.StreamResponse, request: web.Request, name: str) -> None:
    response.del_cookie(name, path="/", secure=cookies_for(request).secure, httponly=True,
                        samesite="Strict")
