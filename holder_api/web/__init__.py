"""The learner web wallet at ``/``: server-rendered pages over the same services as ``/v1``.

Jinja2 templates with autoescape (one environment per language: :mod:`.templating`), Babel
catalogues (English, Spanish), a cookie session holding the API's own access token, CSRF tokens
on every form, a strict CSP. The pages reach the services only through
:mod:`holder_api.web.data`. :func:`setup_web` adds it all to the application (one call from the
app factory).
"""

from __future__ import annotations

from aiohttp import web

from holder_api.web import i18n, pages
from holder_api.web.pages import TEMPLATE_ENVIRONMENTS
from holder_api.web.routing import Page
from holder_api.web.static import StaticFiles
from holder_api.web.templating import environments
from holder_api.web.views import account, credentials, presenting, receiving, rights

__all__ = ["all_pages", "setup_web"]


def all_pages() -> list[Page]:
    """Every view module's declared pages, in registration order (aiohttp matches in that order)."""
    return [*account.PAGES, *credentials.PAGES, *receiving.PAGES, *presenting.PAGES,
            *rights.PAGES]


def _routes(static: StaticFiles) -> list[web.RouteDef]:
    return [*(p.route() for p in all_pages()), web.get("/static/{name}", static.handle)]


def setup_web(app: web.Application) -> None:
    """Templates, catalogues, static files and the page routes."""
    i18n.load_all()
    static = StaticFiles()
    app[TEMPLATE_ENVIRONMENTS] = environments(static.urls)
    app.add_routes(_routes(static))
    app.middlewares.append(pages.status_pages)  # innermost: HTML 404/405 for browsers
