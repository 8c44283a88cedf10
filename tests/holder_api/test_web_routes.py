"""The web wallet's routes are contract (never rename or drop a path): the router serves exactly
this method+path list, in this order (aiohttp matches in registration order, so
``/credentials/import`` must come before ``/credentials/{id}``)."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from holder_api.web import setup_web
from holder_api.web.views import credentials

#: the routes as the central list in holder_api/web/__init__.py registered them (2026-12-07)
ROUTES = [
    ("GET", "/"), ("POST", "/signup"), ("GET", "/welcome"), ("POST", "/welcome"),
    ("POST", "/unlock"), ("POST", "/lock"), ("GET", "/recover"), ("POST", "/recover"),
    ("GET", "/account"), ("POST", "/account/passphrase"), ("POST", "/account/recovery-code"),
    ("GET", "/lang/{code}"),
    ("GET", "/credentials"), ("GET", "/credentials/import"), ("POST", "/credentials/import"),
    ("GET", "/credentials/{id}"), ("GET", "/credentials/{id}/raw"),
    ("GET", "/credentials/{id}/delete"), ("POST", "/credentials/{id}/delete"),
    ("POST", "/credentials/{id}/share"), ("POST", "/credentials/{id}/pdf"),
    ("GET", "/credentials/{id}/shared"),
    ("POST", "/open"), ("GET", "/scan"), ("POST", "/scan"), ("GET", "/offers/{id}"),
    ("POST", "/offers/{id}/accept"), ("POST", "/offers/{id}/decline"),
    ("GET", "/offers/{id}/callback"), ("GET", "/oid4vci/callback"), ("GET", "/inbox"),
    ("POST", "/inbox/{id}/accept"), ("POST", "/inbox/{id}/decline"), ("POST", "/inbox-links"),
    ("GET", "/inbox-links/created"), ("POST", "/inbox-links/{id}/delete"),
    ("GET", "/requests/{id}"), ("POST", "/requests/{id}"), ("POST", "/requests/{id}/share"),
    ("GET", "/requests/{id}/sent"), ("POST", "/requests/{id}/decline"), ("GET", "/shares"),
    ("POST", "/shares/{id}/revoke"),
    ("GET", "/history"), ("GET", "/history/{id}/receipt"), ("POST", "/history/withdraw"),
    ("GET", "/my-data"), ("GET", "/my-data/export"), ("POST", "/my-data/export"),
    ("GET", "/my-data/import"), ("POST", "/my-data/import"), ("GET", "/my-data/erase"),
    ("POST", "/my-data/erase"),
    ("GET", "/static/{name}"),
]


def _app() -> web.Application:
    app = web.Application()
    setup_web(app)
    return app


def test_the_router_serves_the_same_routes_in_the_same_order() -> None:
    served = [(r.method, r.resource.canonical) for r in _app().router.routes()
              if r.resource is not None]
    assert [r for r in served if r[0] != "HEAD"] == ROUTES
    # every GET also answers HEAD (aiohttp's allow_head), and nothing else is HEAD
    assert sorted(r for r in served if r[0] == "HEAD") == sorted(
        ("HEAD", path) for method, path in ROUTES if method == "GET")


async def test_credentials_import_is_matched_before_a_credential_id() -> None:
    router = _app().router
    found = await router.resolve(make_mocked_request("GET", "/credentials/import"))
    assert found.route.handler is credentials.import_form
    found = await router.resolve(make_mocked_request("GET", "/credentials/abc"))
    assert found.route.handler is credentials.detail_page
