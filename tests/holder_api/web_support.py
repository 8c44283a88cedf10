"""A cookie-keeping "browser" for the web wallet's server-side tests (aiohttp's client, no JS).

Each :class:`Browser` has its own cookie jar (one learner each), reads the CSRF token of the last
HTML page it got, and sends it with every form it posts — as a browser submitting the page would.
"""

from __future__ import annotations

import json
import re
import ssl
from functools import cached_property
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import aiohttp
from aiohttp.test_utils import TestClient

from holder_api.appkeys import SERVICES
from tests.holder_api.present_support import Peer, dcql
from tests.support.http_api import PASSPHRASE
from tests.wallet.oid4vci_support import Issuer

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class _Tags(HTMLParser):
    """Every element of a page as a dict of its attributes, its tag under ``#tag`` and the text
    inside it under ``#text``."""

    _VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
             "source", "track", "wbr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[dict[str, str]] = []
        self._open: list[dict[str, str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = {"#tag": tag, "#text": "", **{k: v or "" for k, v in attrs}}
        self.found.append(element)
        if tag not in self._VOID:
            self._open.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i]["#tag"] == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self._open:
            element["#text"] += data


class Page:
    def __init__(self, status: int, html: str, headers: Any, url: str) -> None:
        self.status, self.html, self.headers, self.url = status, html, headers, url

    def testids(self, testid: str) -> list[str]:
        """The opening tags carrying ``data-testid=testid``."""
        return re.findall(rf'<[^>]*data-testid="{re.escape(testid)}"[^>]*>', self.html)

    def attrs(self, testid: str, attr: str) -> list[str]:
        return [unescape(m) for tag in self.testids(testid)
                for m in re.findall(rf'{attr}="([^"]*)"', tag)]

    def text_of(self, testid: str) -> str:
        m = re.search(rf'data-testid="{re.escape(testid)}"[^>]*>([^<]*)<', self.html)
        assert m, f"no {testid} on the page"
        return unescape(m.group(1)).strip()

    def hidden(self, name: str) -> str:
        """The value of the form's hidden input ``name`` (a browser sends it with the form)."""
        m = re.search(rf'<input type="hidden" name="{re.escape(name)}" value="([^"]*)">',
                      self.html)
        assert m, f"no hidden {name} on the page"
        return unescape(m.group(1))

    def __contains__(self, text: str) -> bool:
        return text in unescape(self.html)

    @cached_property
    def elements(self) -> list[dict[str, str]]:
        """Every element, parsed: its attributes, ``#tag`` and ``#text``."""
        parser = _Tags()
        parser.feed(self.html)
        return parser.found

    def by_id(self, element_id: str) -> dict[str, str]:
        [found] = [e for e in self.elements if e.get("id") == element_id]
        return found

    def invalid_fields(self) -> list[str]:
        """The ids of the controls marked invalid, in page order."""
        return [e["id"] for e in self.elements if e.get("aria-invalid") == "true"]


class Browser:
    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf: str | None = None
        self.last: Page | None = None

    def url(self, path: str) -> str:
        return str(self.client.make_url(path))

    async def _page(self, resp: aiohttp.ClientResponse) -> Page:
        body = await resp.read()
        html = body.decode("utf-8", "replace")
        page = Page(resp.status, html, resp.headers, str(resp.url))
        if resp.content_type == "text/html":
            m = _CSRF.search(html)
            if m:
                self.csrf = m.group(1)
            self.last = page
        return page

    async def get(self, path: str, **kw: Any) -> Page:
        async with self.session.get(self.url(path), **kw) as resp:
            return await self._page(resp)

    async def post(self, path: str, data: Any = None, *, csrf: bool = True,
                   headers: dict[str, str] | None = None, **kw: Any) -> Page:
        if data is None:
            data = {}
        if isinstance(data, aiohttp.FormData):
            if csrf and self.csrf:
                data.add_field("csrf", self.csrf)
        else:
            data = list(data.items()) if isinstance(data, dict) else list(data)
            if csrf and self.csrf:
                data.append(("csrf", self.csrf))
        async with self.session.post(self.url(path), data=data, headers=headers or {},
                                     **kw) as resp:
            return await self._page(resp)

    def cookie(self, name: str) -> str | None:
        for c in self.session.cookie_jar:
            if c.key == name:
                return c.value
        return None

    async def close(self) -> None:
        await self.session.close()


async def signed_up(client: TestClient[Any, Any], username: str = "ada",
                    passphrase: str = PASSPHRASE) -> tuple[Browser, Page]:
    b = Browser(client)
    await b.get("/")
    page = await b.post("/signup", {"username": username, "passphrase": passphrase})
    assert page.status == 200, page.html
    return b, page


async def holder_jwk(app: TestClient[Any, Any], b: Browser) -> dict[str, Any]:
    s = app.app[SERVICES]
    session = await s.accounts.authenticate(b.cookie("satchel_session") or "")
    jwk = next(k.jwk for k in await s.accounts.holder_keys(session) if k.alg == "ES256")
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}


async def imported(app: TestClient[Any, Any], b: Browser, raw: str) -> str:
    await b.get("/credentials/import")
    page = await b.post("/credentials/import", {"raw": raw})
    assert page.url.endswith("?notice=imported"), page.html
    return urlsplit(page.url).path.rsplit("/", 1)[1]


async def everything_of(app: TestClient[Any, Any], a: Browser, issuer: Issuer,
                         peer: Peer) -> dict[str, list[str]]:
    cid = await imported(app, a, peer.issue(await holder_jwk(app, a)))
    offer = "openid-credential-offer://?" + urlencode({"credential_offer": json.dumps(
        issuer.make_pre_authorized_offer())})
    page = await a.post("/open", {"link": offer})
    offer_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    page = await a.post("/inbox-links", {"label": "Uni"})
    push = urlsplit(page.text_of("inbox-link")).path
    assert (await app.get(push, params={"credential_offer": json.dumps(
        issuer.make_pre_authorized_offer())})).status == 202
    inbox = (await a.get("/inbox")).html
    item_ids = re.findall(r'action="/inbox/([^"/]+)/accept"', inbox)
    link_ids = re.findall(r'action="/inbox-links/([^"/]+)/delete"', inbox)
    client_id = "x509_san_dns:localhost"
    link = peer.serve_request(lambda _f: peer.sign(peer.claims(client_id, dcql("degree"))),
                              client_id=client_id)
    page = await a.post("/open", {"link": link})
    request_id = urlsplit(page.url).path.rsplit("/", 1)[1]
    await a.get(f"/credentials/{cid}")
    await a.post(f"/credentials/{cid}/share", [("claim", '["degree"]')])
    shares = (await a.get("/shares")).html
    share_ids = re.findall(r'action="/shares/([^"/]+)/revoke"', shares)
    events = (await a.get("/history")).html
    event_ids = re.findall(r'href="/history/([^"/]+)/receipt"', events)
    return {"credential": [cid], "offer": [offer_id], "inbox item": item_ids,
            "inbox link": link_ids, "request": [request_id], "share link": share_ids,
            "event": event_ids}


async def sign_in_at_issuer(page: Page, issuer: Issuer, ca_file: Path) -> str:
    """Follow the "Continue to the issuer" link; the issuer's redirect back (path and query)."""
    assert page.status == 200 and "Continue to the issuer" in page, page.html
    found = re.search(r'<a class="button" href="([^"]+)">', page.html)
    assert found
    ctx = ssl.create_default_context(cafile=str(ca_file))
    async with aiohttp.ClientSession() as browser, browser.get(
            unescape(found.group(1)), ssl=ctx, allow_redirects=False) as resp:
        assert resp.status == 302
        back = urlsplit(resp.headers["Location"])
    assert back.netloc == "satchel.test"
    return f"{back.path}?{back.query}"
