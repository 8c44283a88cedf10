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
from holder_api.web.static import StaticFiles
from holder_api.web.templating import environments
from holder_api.web.views import account, credentials, presenting, receiving, rights

__all__ = ["setup_web"]


def _routes(static: StaticFiles) -> list[web.RouteDef]:
    return [
        web.get("/", account.start),
        web.post("/signup", account.sign_up),
        web.get("/welcome", account.welcome_page),
        web.post("/welcome", account.welcome),
        web.post("/unlock", account.unlock),
        web.post("/lock", account.lock),
        web.get("/recover", account.recover_form),
        web.post("/recover", account.recover),
        web.get("/account", account.account),
        web.post("/account/passphrase", account.change_passphrase),
        web.post("/account/recovery-code", account.new_recovery_code),
        web.get("/lang/{code}", account.language),
        web.get("/credentials", credentials.list_page),
        web.get("/credentials/import", credentials.import_form),
        web.post("/credentials/import", credentials.import_post),
        web.get("/credentials/{id}", credentials.detail_page),
        web.get("/credentials/{id}/raw", credentials.raw),
        web.get("/credentials/{id}/delete", credentials.delete_confirm),
        web.post("/credentials/{id}/delete", credentials.delete),
        web.post("/credentials/{id}/share", credentials.share),
        web.post("/credentials/{id}/pdf", credentials.printable),
        web.get("/credentials/{id}/shared", credentials.shared_page),
        web.post("/open", receiving.open_link),
        web.get("/scan", receiving.scan_page),
        web.post("/scan", receiving.scan_image),
        web.get("/offers/{id}", receiving.offer_page),
        web.post("/offers/{id}/accept", receiving.accept_offer),
        web.post("/offers/{id}/decline", receiving.decline_offer),
        web.get("/offers/{id}/callback", receiving.offer_callback),
        web.get("/oid4vci/callback", receiving.inbox_callback),
        web.get("/inbox", receiving.inbox),
        web.post("/inbox/{id}/accept", receiving.accept_item),
        web.post("/inbox/{id}/decline", receiving.decline_item),
        web.post("/inbox-links", receiving.create_inbox_link),
        web.get("/inbox-links/created", receiving.inbox_link_page),
        web.post("/inbox-links/{id}/delete", receiving.revoke_inbox_link),
        web.get("/requests/{id}", presenting.consent),
        web.post("/requests/{id}", presenting.preview),
        web.post("/requests/{id}/share", presenting.share),
        web.post("/requests/{id}/decline", presenting.decline),
        web.get("/shares", presenting.share_links),
        web.post("/shares/{id}/revoke", presenting.revoke_share_link),
        web.get("/history", rights.history),
        web.get("/history/{id}/receipt", rights.receipt),
        web.post("/history/withdraw", rights.withdraw),
        web.get("/my-data", rights.my_data),
        web.get("/my-data/export", rights.export_form),
        web.post("/my-data/export", rights.export),
        web.get("/my-data/import", rights.import_form),
        web.post("/my-data/import", rights.import_post),
        web.get("/my-data/erase", rights.erase_form),
        web.post("/my-data/erase", rights.erase),
        web.get("/static/{name}", static.handle),
    ]


def setup_web(app: web.Application) -> None:
    """Templates, catalogues, static files and the page routes."""
    i18n.load_all()
    static = StaticFiles()
    app[TEMPLATE_ENVIRONMENTS] = environments(static.urls)
    app.add_routes(_routes(static))
    app.middlewares.append(pages.status_pages)  # innermost: HTML 404/405 for browsers
