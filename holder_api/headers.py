"""Caching and sniffing headers on every response, error or not, in one place.

Why: sign-up answers carry the recovery code, unlock the access token (RFC 6749 §5.1 requires
``no-store`` for it), credential reads the claims, exports the whole vault. A shared cache or a
browser's disk cache must keep none of them, so every response is ``no-store`` unless it is
public and the same for everyone:

- ``/openapi.json``: the API description, identical for every caller; cacheable for a short while
  (it changes with a deployment).
- static files (the web wallet's scripts and styles, :mod:`holder_api.web.static`): public and
  ``immutable`` for a year, set by their handler (a file's URL names its content's hash).

Every response also gets ``X-Content-Type-Options: nosniff``. Share-link (``/s/…``) and inbox-link
(``/i/…``) pages carry their secret in the URL: they get ``Referrer-Policy: no-referrer`` (the URL
must not leak to any page they link to or load) and a strict Content-Security-Policy.

It runs as an ``on_response_prepare`` hook rather than a handler middleware, so responses made by
aiohttp itself (404/405 outside any route, a refused body) get the same headers. A header a
handler already set is kept: a page with its own CSP (the share page, the web wallet) keeps it.
"""

from __future__ import annotations

from aiohttp import web

__all__ = ["PUBLIC_DOCUMENT_CACHE", "SECRET_URL_CSP", "STATIC_CACHE", "install",
           "security_headers"]

#: ``/openapi.json``: the same for every caller, changes only with a deployment.
PUBLIC_DOCUMENT_CACHE = "public, max-age=300"
#: Static files of the web wallet (content-hashed names: a new release has new URLs).
STATIC_CACHE = "public, max-age=31536000, immutable"
#: Pages whose URL is the secret: nothing loads, nothing frames them, no form posts elsewhere.
SECRET_URL_CSP = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                  "form-action 'none'; frame-ancestors 'none'")
_PUBLIC_DOCUMENTS = frozenset({"/openapi.json"})
_SECRET_URL_PREFIXES = ("/s/", "/i/")


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["X-Content-Type-Options"] = "nosniff"
    path = request.path
    if path.startswith(_SECRET_URL_PREFIXES):
        headers["Cache-Control"] = "no-store"
        headers["Referrer-Policy"] = "no-referrer"
        headers.setdefault("Content-Security-Policy", SECRET_URL_CSP)
        return
    if "Cache-Control" in headers:
        return
    public = response.status < 400 and request.method in ("GET", "HEAD")
    if public and path in _PUBLIC_DOCUMENTS:
        headers["Cache-Control"] = PUBLIC_DOCUMENT_CACHE
    else:
        headers["Cache-Control"] = "no-store"


def install(app: web.Application) -> None:
    app.on_response_prepare.append(security_headers)
