"""The web wallet's account pages on both backends: create, the one-time recovery code, lock,
unlock, change passphrase, recover; the cookie's flags; CSP and the other headers; CSRF."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.web_support import Browser, signed_up
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE

NEW_PASSPHRASE = "a different horse battery staple"


@pytest.fixture
async def browsers() -> AsyncIterator[list[Browser]]:
    made: list[Browser] = []
    yield made
    for b in made:
        await b.close()


async def test_start_page_has_the_fixed_points(client: TestClient[Any, Any],
                                               browsers: list[Browser]) -> None:
    b = Browser(client)
    browsers.append(b)
    page = await b.get("/")
    assert page.status == 200
    for label in ("Username", "Passphrase"):
        assert re.search(rf'<label for="[^"]+">{label}</label>', page.html)
    assert ">Create wallet</button>" in page.html and ">Unlock</button>" in page.html
    assert ">English</a>" in page.html and ">Español</a>" in page.html
    assert ">Lock</button>" not in page.html  # not unlocked yet
    # a page that needs the wallet unlocked sends the browser to the start page
    page = await b.get("/credentials", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].startswith("/?next=")


async def test_create_recovery_code_lock_unlock(client: TestClient[Any, Any],
                                                browsers: list[Browser]) -> None:
    b, page = await signed_up(client)
    browsers.append(b)
    code = page.text_of("recovery-code")
    assert re.fullmatch(r"[A-Z0-9-]{20,}", code)
    assert "satchel-recovery-code.txt" in page.html  # the download
    assert ">Lock</button>" in page.html  # the new wallet is open
    # "I have saved it" is required before going on
    assert (await b.post("/welcome", {})).status == 400
    page = await b.post("/welcome", {"saved": "yes"})
    assert page.status == 200 and page.url.endswith("/credentials?notice=welcome")
    for name in ("Credentials", "History", "My data"):
        assert f">{name}</a>" in page.html
    assert re.search(r'<label for="link">Link</label>', page.html) and ">Open</button>" in page
    # the code is never shown again
    assert code not in (await b.get("/credentials")).html
    assert code not in (await b.get("/account")).html

    token = b.cookie("satchel_session")
    assert token
    page = await b.post("/lock")
    assert page.url.endswith("/?notice=locked") and b.cookie("satchel_session") is None
    # the old token is revoked, not merely forgotten by the browser
    thief = Browser(client)
    browsers.append(thief)
    thief.session.cookie_jar.update_cookies({"satchel_session": token})
    page = await thief.get("/credentials", allow_redirects=False)
    assert page.status == 303
    r = await client.get("/v1/credentials", headers={"Authorization": f"Bearer {token}"})
    assert r.status == 401

    page = await b.post("/unlock", {"username": "ada", "passphrase": "wrong " * 4})
    assert page.status == 401 and "Wrong username or passphrase." in page
    page = await b.post("/unlock", {"username": "ada", "passphrase": PASSPHRASE,
                                    "next": "/history"})
    assert page.status == 200 and page.url.endswith("/history")
    # an open redirect is not possible through next
    await b.post("/lock")
    page = await b.post("/unlock", {"username": "ada", "passphrase": PASSPHRASE,
                                    "next": "//evil.example/x"}, allow_redirects=False)
    assert page.headers["Location"] == "/credentials"


async def test_change_passphrase_and_recover(client: TestClient[Any, Any],
                                             browsers: list[Browser]) -> None:
    b, page = await signed_up(client)
    browsers.append(b)
    code = page.text_of("recovery-code")
    page = await b.post("/account/passphrase", {"current_passphrase": "nope nope nope nope",
                                                "new_passphrase": NEW_PASSPHRASE,
                                                "confirm_passphrase": NEW_PASSPHRASE})
    assert page.status == 401 and "The current passphrase is wrong." in page
    page = await b.post("/account/passphrase", {"current_passphrase": PASSPHRASE,
                                                "new_passphrase": NEW_PASSPHRASE,
                                                "confirm_passphrase": NEW_PASSPHRASE})
    assert page.url.endswith("/?notice=passphrase_changed")
    assert (await b.post("/unlock", {"username": "ada", "passphrase": PASSPHRASE})).status == 401
    await b.get("/recover")
    page = await b.post("/recover", {"username": "ada", "recovery_code": code,
                                     "new_passphrase": PASSPHRASE,
                                     "confirm_passphrase": PASSPHRASE + "x"})
    assert page.status == 400 and "The two new passphrases differ." in page
    page = await b.post("/recover", {"username": "ada", "recovery_code": "X" * 20,
                                     "new_passphrase": PASSPHRASE,
                                     "confirm_passphrase": PASSPHRASE})
    assert page.status == 401 and "Wrong username or recovery code." in page
    page = await b.post("/recover", {"username": "ada", "recovery_code": code,
                                     "new_passphrase": PASSPHRASE,
                                     "confirm_passphrase": PASSPHRASE})
    # the used-up code is replaced at once, and the learner is told so
    assert page.url.endswith("/welcome"), page.html
    assert "the old recovery code is used up" in page and ">Lock</button>" in page.html
    fresh = page.text_of("recovery-code")
    assert fresh != code
    page = await b.post("/welcome", {"saved": "yes"})
    assert page.url.endswith("/account?notice=code_saved")
    await b.post("/lock")
    page = await b.post("/unlock", {"username": "ada", "passphrase": PASSPHRASE})
    assert page.status == 200 and ">Lock</button>" in page.html


async def test_cookie_flags_on_http(client: TestClient[Any, Any]) -> None:
    r = await client.get("/")
    pre = r.cookies["satchel_pre"]
    assert pre["httponly"] and pre["samesite"] == "Strict" and pre["path"] == "/"
    csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert csrf
    r = await client.post("/signup", data={"username": "ada", "passphrase": PASSPHRASE,
                                           "csrf": csrf.group(1)}, allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/welcome"
    c = r.cookies["satchel_session"]
    assert c["httponly"] and c["samesite"] == "Strict" and c["path"] == "/"
    assert not c["secure"]  # plain http: a __Host- cookie would be dropped by the browser
    assert 0 < int(c["max-age"]) <= 900  # the token's TTL: the idle lock


async def test_cookie_is_host_prefixed_and_secure_on_https(make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_PUBLIC_URL="https://wallet.example")
    r = await client.get("/")
    assert "__Host-satchel-pre" in r.cookies
    pre = r.cookies["__Host-satchel-pre"]
    assert pre["secure"] and pre["path"] == "/" and not pre["domain"]
    csrf = re.search(r'name="csrf" value="([^"]+)"', await r.text())
    assert csrf
    # the test client speaks http, so it keeps no Secure cookie: send the pre-session by hand
    r = await client.post("/signup", data={"username": "ada", "passphrase": PASSPHRASE,
                                           "csrf": csrf.group(1)},
                          headers={"Cookie": f"__Host-satchel-pre={pre.value}"},
                          allow_redirects=False)
    assert r.status == 303, await r.text()
    flash = r.cookies["__Host-satchel-flash-recovery"]
    assert flash["secure"] and flash["httponly"] and flash["samesite"] == "Strict"
    c = r.cookies["__Host-satchel"]
    assert c["secure"] and c["httponly"] and c["samesite"] == "Strict" and c["path"] == "/"


PAGES = ["/credentials", "/credentials/import", "/inbox", "/shares", "/history", "/my-data",
         "/my-data/export", "/my-data/import", "/my-data/erase", "/account", "/scan"]


async def test_headers_and_no_inline_code_on_every_page(client: TestClient[Any, Any],
                                                        browsers: list[Browser]) -> None:
    b, first = await signed_up(client)
    browsers.append(b)
    pages = [first, await b.get("/recover")]
    for path in PAGES:
        page = await b.get(path)
        assert page.status == 200, (path, page.html)
        pages.append(page)
    anonymous = Browser(client)
    browsers.append(anonymous)
    pages.append(await anonymous.get("/"))
    for page in pages:
        csp = page.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert page.headers["X-Frame-Options"] == "DENY"
        assert page.headers["Cache-Control"] == "no-store"
        assert page.headers["Referrer-Policy"] == "same-origin"
        # no inline script, no style attribute, no event handler attribute, nothing external
        assert not re.search(r"<script(?![^>]*\bsrc=)", page.html), page.url
        assert not re.search(r"\sstyle=|<style|\son[a-z]+=", page.html), page.url
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page.html), page.url
        assert 'lang="en"' in page.html and 'href="#main"' in page.html
        assert "<main" in page.html
        assert len(page.html.encode()) < 100_000
    # static files: cacheable forever under a content-hashed name
    css = re.search(r'href="(/static/app\.[0-9a-f]{12}\.css)"', first.html)
    assert css
    r = await client.get(css.group(1))
    assert r.status == 200 and "immutable" in r.headers["Cache-Control"]
    assert (await client.get("/static/app.000000000000.css")).status == 404


async def test_cross_site_posts_are_refused(client: TestClient[Any, Any],
                                            browsers: list[Browser]) -> None:
    b, _ = await signed_up(client)
    browsers.append(b)
    await b.get("/credentials")
    foreign = {"Origin": "https://evil.example"}
    for headers, csrf in (({}, False), (foreign, True), ({"Origin": "null"}, True),
                          ({"Sec-Fetch-Site": "cross-site"}, True),
                          ({"Sec-Fetch-Site": "same-site"}, True),
                          ({"Sec-Fetch-Site": "cross-site", "Origin": b.url("/").rstrip("/")},
                           True)):
        page = await b.post("/lock", csrf=csrf, headers=headers)
        assert page.status == 403, headers
        assert "csrf_refused" in page.html
    # a token made for another session does not pass either
    other, _ = await signed_up(client, "bob")
    browsers.append(other)
    b.csrf, real = other.csrf, b.csrf
    assert (await b.post("/lock")).status == 403
    b.csrf = real
    # nothing was done: the session is still open
    page = await b.get("/credentials")
    assert page.status == 200 and ">Lock</button>" in page.html
    # the same-origin post with its token works
    page = await b.post("/lock", headers={"Origin": b.url("/").rstrip("/"),
                                          "Sec-Fetch-Site": "same-origin"})
    assert page.url.endswith("/?notice=locked")
    # a cross-site sign-up or unlock (login CSRF) is refused too
    anon = Browser(client)
    browsers.append(anon)
    await anon.get("/")
    assert (await anon.post("/unlock", {"username": "ada", "passphrase": PASSPHRASE},
                            headers=foreign)).status == 403
    assert (await anon.post("/signup", {"username": "eve", "passphrase": PASSPHRASE},
                            csrf=False)).status == 403


async def test_spanish_by_accept_language_and_by_the_switch(client: TestClient[Any, Any],
                                                            browsers: list[Browser]) -> None:
    b = Browser(client)
    browsers.append(b)
    page = await b.get("/", headers={"Accept-Language": "es-ES,es;q=0.9,en;q=0.5"})
    assert 'lang="es"' in page.html
    assert ">Nombre de usuario</label>" in page.html and ">Crear monedero</button>" in page.html
    # the switch wins over the browser's languages, and names each language in itself
    page = await b.get("/lang/en?next=/recover", headers={"Accept-Language": "es"})
    assert page.url.endswith("/recover") and 'lang="en"' in page.html
    assert ">Recover your wallet</h1>" in page.html
    assert ">English</a>" in page.html and ">Español</a>" in page.html
    page = await b.get("/lang/es?next=/")
    assert ">Desbloquear</button>" in page.html
    await b.post("/signup", {"username": "ana", "passphrase": PASSPHRASE})
    page = await b.get("/credentials")
    for word in ("Credenciales", "Historial", "Mis datos", "Bloquear", "Enlace", "Abrir"):
        assert f">{word}<" in page.html, word
    # an off-site next is not followed
    page = await b.get("/lang/en?next=https://evil.example/", allow_redirects=False)
    assert page.headers["Location"] == "/"


async def test_new_recovery_code_replaces_the_old_one(client: TestClient[Any, Any],
                                                      browsers: list[Browser]) -> None:
    b, page = await signed_up(client)
    browsers.append(b)
    old = page.text_of("recovery-code")
    await b.get("/account")
    page = await b.post("/account/recovery-code", {"passphrase": "wrong wrong wrong wrong"})
    assert page.status == 401 and "The current passphrase is wrong." in page
    page = await b.post("/account/recovery-code", {"passphrase": PASSPHRASE})
    new = page.text_of("recovery-code")
    assert new != old
    await b.get("/recover")
    again = {"new_passphrase": NEW_PASSPHRASE, "confirm_passphrase": NEW_PASSPHRASE}
    page = await b.post("/recover", {"username": "ada", "recovery_code": old, **again})
    assert page.status == 401  # the old code stopped working
    page = await b.post("/recover", {"username": "ada", "recovery_code": new, **again})
    assert page.url.endswith("/welcome") and page.text_of("recovery-code") not in (old, new)
