"""The web wallet never loses a one-time secret or strands the learner on a POST-only URL:
sign-up keeps its recovery code whatever the unlock does; secrets are shown by GET pages (reload
and the language switch show them again) from a flash bound to the session; the idle lock slides
while the learner works; an expired session on a form comes back to a page, not a 405."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.body_support import answer_of
from tests.holder_api.web_support import Browser, signed_up
from tests.support.apps import AppFactory, app_clock
from tests.support.http_api import PASSPHRASE


@pytest.fixture
async def browsers() -> AsyncIterator[list[Browser]]:
    made: list[Browser] = []
    yield made
    for b in made:
        await b.close()


def _lang_links(html: str) -> list[str]:
    return re.findall(r'href="(/lang/[a-z]+\?next=[^"]*)"', html)


async def test_sign_up_shows_the_code_even_when_the_unlock_is_refused(
        make_client: AppFactory, browsers: list[Browser]) -> None:
    # 2 per pair, so 6 failed unlocks per address (a campus NAT): used up by others here
    client = await make_client(SATCHEL_UNLOCK_LIMIT="2/600")
    for n in range(6):
        r = await client.post("/v1/sessions", json={"username": f"typo{n}",
                                                    "passphrase": PASSPHRASE})
        assert r.status == 401, await r.text()
    b = Browser(client)
    browsers.append(b)
    await b.get("/")
    page = await b.post("/signup", {"username": "bob", "passphrase": PASSPHRASE})
    assert page.status == 200 and page.url.endswith("/welcome"), page.html
    code = page.text_of("recovery-code")
    assert re.fullmatch(r"[A-Z0-9-]{20,}", code)
    assert ">Lock</button>" not in page.html and "unlock the wallet on the start page" in page
    # reload and the language switch show it again, never a POST-only URL
    assert (await b.get("/welcome")).text_of("recovery-code") == code
    links = _lang_links(page.html)
    assert links and all(link.endswith("next=/welcome") for link in links)
    page = await b.get(next(link for link in links if link.startswith("/lang/es")))
    assert page.status == 200 and 'lang="es"' in page.html
    assert page.text_of("recovery-code") == code
    await b.get("/lang/en?next=/welcome")
    page = await b.post("/welcome", {"saved": "yes"})
    assert page.url.endswith("/?notice=created") and code not in page
    page = await b.get("/welcome")  # acknowledged: gone
    assert page.url.endswith("/") and "recovery-code" not in page.html


async def test_recovery_code_page_survives_reload_and_language_switch(
        client: TestClient[Any, Any], browsers: list[Browser]) -> None:
    b, page = await signed_up(client)
    browsers.append(b)
    code = page.text_of("recovery-code")
    assert page.url.endswith("/welcome") and ">Lock</button>" in page.html
    for link in _lang_links(page.html):
        again = await b.get(link)
        assert again.status == 200 and again.text_of("recovery-code") == code, link
    # another learner holding a copy of the flash cookie sees nothing: bound to the session
    flash = b.cookie("satchel_flash_recovery")
    assert flash
    thief, _ = await signed_up(client, "eve")
    browsers.append(thief)
    thief.session.cookie_jar.update_cookies({"satchel_flash_recovery": flash},
                                            response_url=client.make_url("/"))
    page = await thief.get("/welcome")
    assert code not in page and page.url.endswith("/credentials")


async def test_answers_to_posts_point_the_language_switch_at_get_pages(
        client: TestClient[Any, Any], browsers: list[Browser]) -> None:
    await signed_up(client, "ada")
    b = Browser(client)
    browsers.append(b)
    await b.get("/")
    page = await b.post("/unlock", {"username": "ada", "passphrase": "wrong wrong wrong"})
    assert page.status == 401
    # the fields point at the message, and the first takes the focus
    assert 'id="form-error"' in page.html
    assert page.invalid_fields() == ["username", "passphrase"]
    username, passphrase = page.by_id("username"), page.by_id("passphrase")
    assert username["aria-errormessage"] == "form-error" and "autofocus" in username
    assert username["aria-describedby"] == "form-error"
    assert passphrase["aria-describedby"] == "pass-help form-error"
    assert "autofocus" not in passphrase
    links = _lang_links(page.html)
    assert links and all("next=/&" not in link and "unlock" not in link for link in links)
    for link in links:
        assert (await b.get(link)).status == 200
    page = await b.post("/unlock", {"username": "ada", "passphrase": PASSPHRASE})
    await b.get("/account")
    page = await b.post("/account/passphrase", {"current_passphrase": "x" * 12,
                                                "new_passphrase": "a", "confirm_passphrase": "b"})
    assert page.status == 400
    assert all(link.endswith("next=/account") for link in _lang_links(page.html))


async def test_inbox_link_is_shown_by_a_get_page(client: TestClient[Any, Any],
                                                 browsers: list[Browser]) -> None:
    b, _ = await signed_up(client)
    browsers.append(b)
    await b.post("/welcome", {"saved": "yes"})
    page = await b.post("/inbox-links", {"label": "University of Ghent"})
    assert page.status == 200 and page.url.endswith("/inbox-links/created"), page.html
    url = page.text_of("inbox-link")
    assert url.startswith("http")
    assert all(link.endswith("next=/inbox-links/created") for link in _lang_links(page.html))
    assert (await b.get("/lang/es?next=/inbox-links/created")).text_of("inbox-link") == url
    other, _ = await signed_up(client, "bob")
    browsers.append(other)
    page = await other.get("/inbox-links/created")
    assert url not in page and page.url.endswith("/inbox")


async def test_idle_lock_slides_while_active_and_locks_when_idle(
        client: TestClient[Any, Any], browsers: list[Browser]) -> None:
    clock = app_clock(client)
    b, _ = await signed_up(client)  # SATCHEL_TOKEN_TTL: 900 s
    browsers.append(b)
    page = await b.get("/credentials")
    old_cookie, old_csrf = b.cookie("satchel_session"), b.csrf
    for _ in range(3):  # 3 × 8 minutes of work: past the token's first lifetime
        clock.advance(480)
        page = await b.get("/credentials")
        assert page.status == 200 and ">Lock</button>" in page.html
    assert b.cookie("satchel_session") != old_cookie  # renewed along the way
    # a form from before the renewal (another tab) still posts: bound to the session
    b.csrf = old_csrf
    page = await b.post("/inbox-links", {"label": "A college"})
    assert page.url.endswith("/inbox-links/created")
    # idle for longer than the lifetime: locked
    clock.advance(901)
    page = await b.get("/credentials", allow_redirects=False)
    assert page.status == 303 and page.headers["Location"] == "/?next=/credentials"
    # Lock ends every renewed token of the session
    b2, _ = await signed_up(client, "bob")
    browsers.append(b2)
    first = b2.cookie("satchel_session")
    clock.advance(600)
    await b2.get("/credentials")
    assert b2.cookie("satchel_session") != first
    await b2.post("/lock")
    for token in (first, b2.cookie("satchel_session")):
        r = await client.get("/v1/credentials", headers={"Authorization": f"Bearer {token}"})
        assert r.status == 401


async def test_expired_session_on_a_form_returns_to_its_page(
        client: TestClient[Any, Any], browsers: list[Browser]) -> None:
    b, _ = await signed_up(client)
    browsers.append(b)
    await b.get("/credentials")
    app_clock(client).advance(1000)
    page = await b.post("/requests/abc/share", {}, allow_redirects=False)
    assert page.status == 303
    assert page.headers["Location"] == "/?next=/requests/abc"
    page = await b.post("/inbox/abc/accept", {}, allow_redirects=False)
    assert page.headers["Location"] == "/?next=/inbox"
    # a visitor with no session cookie is sent on without a cookie deletion
    anon = Browser(client)
    browsers.append(anon)
    async with anon.session.get(anon.url("/credentials"), allow_redirects=False) as r:
        assert r.status == 303 and "satchel_session" not in r.cookies


@pytest.mark.parametrize("raw", ["/%0d%0aX:%201", "/%0aevil", "/a%09b", "/%7f", "/a%5cb"])
async def test_control_characters_in_next_are_refused(client: TestClient[Any, Any],
                                                      raw: str) -> None:
    r = await client.get(f"/lang/en?next={raw}", allow_redirects=False)
    assert r.status == 303 and r.headers["Location"] == "/"


async def test_web_404_405_are_pages_and_a_refused_form_keeps_the_session(
        client: TestClient[Any, Any], browsers: list[Browser]) -> None:
    b, _ = await signed_up(client)
    browsers.append(b)
    html = {"Accept": "text/html,application/xhtml+xml"}
    for path in ("/no-such-page", "/lang/xx", "/signup"):  # the last: GET on a POST-only URL
        page = await b.get(path, headers=html)
        assert page.status in (404, 405), path
        assert page.headers["Content-Type"].startswith("text/html"), path
        assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"], path
        assert ">Lock</button>" in page.html, path  # still unlocked, with the navigation
    # the API keeps problem+json, and so does a client that does not ask for HTML
    r = await client.get("/v1/no-such-thing", headers=html)
    assert r.status == 404 and r.content_type == "application/problem+json"
    r = await client.get("/no-such-page")
    assert r.content_type == "application/problem+json"
    # a form refused for its token: the error page keeps Lock and the navigation
    page = await b.post("/inbox-links", {"label": "x"}, csrf=False)
    assert page.status == 403 and ">Lock</button>" in page.html and ">My data</a>" in page.html


async def test_hsts_only_over_https(make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_PUBLIC_URL="https://wallet.example")
    r = await client.get("/")
    assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
    plain = await make_client()
    r = await plain.get("/")
    assert "Strict-Transport-Security" not in r.headers


@pytest.mark.parametrize(("link", "kind"), [
    ("haip://?client_id=x509_san_dns%3Av.example&request_uri=https%3A%2F%2Fv.example%2Fr", "request"),
    ("haip://?credential_offer_uri=https%3A%2F%2Fi.example%2Fo", "offer"),
    ("openid-credential-offer://?credential_offer=%7B%7D", "offer"),
    ("openid4vp://?request_uri=https%3A%2F%2Fv.example%2Fr", "request"),
    ("https://v.example/?client_id=a&request_uri=https%3A%2F%2Fv.example%2Fr", "request"),
    ("https://i.example/offer.json", "offer"),
])
def test_links_are_told_apart_by_their_parameters_first(link: str, kind: str) -> None:
    from holder_api.web.links import classify

    assert classify(link) == kind


async def test_errors_and_states_in_spanish(client: TestClient[Any, Any],
                                            browsers: list[Browser]) -> None:
    await signed_up(client, "ana")
    b = Browser(client)
    browsers.append(b)
    await b.get("/lang/es?next=/")
    page = await b.post("/signup", {"username": "ana", "passphrase": PASSPHRASE})
    assert page.status == 409 and "Ese nombre de usuario ya está en uso." in page
    page = await b.get("/no-such-page", headers={"Accept": "text/html"})
    assert page.status == 404 and "Aquí no hay nada, o no es tuyo." in page
    assert "not_found" in page  # the stable code stays as it is


def test_qr_code_is_a_named_image() -> None:
    from holder_api.web.qr import qr_svg

    svg = str(qr_svg("https://wallet.example/s/abc", 'QR code of "the" <link>'))
    assert svg.startswith('<svg role="img" aria-label="QR code of &#34;the&#34; &lt;link&gt;" ')
    assert "<script" not in svg and "style=" not in svg


async def test_tokens_and_cookies_that_are_not_ascii_are_refused_not_a_500(
        client: TestClient[Any, Any], browsers: list[Browser]) -> None:
    """Audit F4: ``hmac.compare_digest`` raises TypeError on a non-ASCII ``str``, and a
    pre-session cookie of bytes that are not text (aiohttp keeps them as lone surrogates) could
    not be encoded: a 500 on every web POST, and on every page for as long as the browser kept
    the cookie. Audit F7: a multipart part with an unknown Content-Transfer-Encoding made
    aiohttp's reader raise RuntimeError: a 500 before the CSRF check."""
    b = Browser(client)
    browsers.append(b)
    await b.get("/")
    for token in ("é" * 64, "\ufffd", "a" * 63 + "\x00"):
        page = await b.post("/unlock", {"username": "ada", "passphrase": "x", "csrf": token},
                            csrf=False)
        assert page.status == 403, (token, page.status)
    assert client.port is not None
    for head in (b"GET / HTTP/1.1\r\nCookie: satchel_pre=\xff\r\n",
                 b"POST /unlock HTTP/1.1\r\nCookie: satchel_pre=\xff\xfe\r\n"
                 b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n"):
        reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
        writer.write(head + b"Host: t\r\nConnection: close\r\n\r\n"
                     + (b"csrf=abcd" if head.startswith(b"POST") else b""))
        status, headers, _, _ = await answer_of(reader)
        writer.close()
        assert status == (200 if head.startswith(b"GET") else 403), (head, status)
        if status == 200:  # a fresh pre-session replaces the one that could not be read
            assert "satchel_pre=" in headers.get("set-cookie", "")
    await b.get("/")
    parts = (f'--zz\r\nContent-Disposition: form-data; name="csrf"\r\n\r\n{b.csrf}\r\n'
             '--zz\r\nContent-Disposition: form-data; name="username"\r\n'
             'Content-Transfer-Encoding: foo\r\n\r\nabc\r\n--zz--\r\n')
    async with b.session.post(b.url("/unlock"), data=parts.encode(),
                              headers={"Content-Type": "multipart/form-data; boundary=zz"}) as r:
        assert r.status == 400, r.status
