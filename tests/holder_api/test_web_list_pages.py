"""The credential list's search and filters apply to the learner's whole list, not to one page of
it: the page keeps the matching cards across as many list pages as it takes, and "More
credentials" resumes after the last one shown with the same filters."""

from __future__ import annotations

import re
from html import unescape
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import Browser, Page, holder_jwk, imported, signed_up

PEER_HOST = "localhost"


def _shown(page: Page) -> list[str]:
    """The credentials the cards link to."""
    return re.findall(r'<h2><a href="/credentials/([^"/]+)">', page.html)


def _more(page: Page) -> str | None:
    m = re.search(r'<a href="(/credentials\?[^"]+)">More credentials</a>', page.html)
    return unescape(m.group(1)) if m else None


async def _every_page(b: Browser, first: str) -> tuple[list[list[str]], list[str]]:
    """The cards of each page, following "More credentials"; and each page's URL."""
    pages, urls, url = [], [], first
    while url is not None:
        page = await b.get(url)
        assert page.status == 200, page.html
        pages.append(_shown(page))
        urls.append(url)
        url = _more(page)
    return pages, urls


async def test_filters_apply_across_the_whole_list(app: TestClient[Any, Any], peer: Peer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from holder_api.web.views import credentials

    ada, _ = await signed_up(app)
    try:
        jwk = await holder_jwk(app, ada)
        levels = [6, 7, 7, 6, 7, 7, 6, 7, 6]  # the level-6 ones spread over several list pages
        ids = {await imported(app, ada, peer.issue(jwk, {
            "title": f"Course {i}", "eqf_level": lvl})): lvl for i, lvl in enumerate(levels)}
        level6 = {cid for cid, lvl in ids.items() if lvl == 6}
        monkeypatch.setattr(credentials, "PAGE_SIZE", 2)

        # EQF 6: four credentials, two pages of two, every card of that level, none other
        pages, urls = await _every_page(ada, "/credentials?eqf=6")
        assert [len(p) for p in pages] == [2, 2]
        assert {c for p in pages for c in p} == level6
        assert all("eqf=6" in u for u in urls[1:])  # the filter stays on every page

        # with a search besides: filters combine, still across the whole list
        pages, urls = await _every_page(ada, "/credentials?eqf=7&q=Course")
        assert [len(p) for p in pages] == [2, 2, 1]
        assert {c for p in pages for c in p} == set(ids) - level6
        assert all("eqf=7" in u and "q=Course" in u for u in urls[1:])

        # and no filter: every credential exactly once
        pages, _ = await _every_page(ada, "/credentials")
        assert [len(p) for p in pages] == [2, 2, 2, 2, 1]
        assert sorted(c for p in pages for c in p) == sorted(ids)

        # a level nothing has: an empty list, no "More credentials"
        page = await ada.get("/credentials?eqf=3")
        assert _shown(page) == [] and "No credential matches these filters." in page
        assert _more(page) is None

        # a forged or foreign position is refused (400), never a 500 or another list
        for bad in ("x.y", "99.", "1.not-a-cursor"):
            assert (await ada.get(f"/credentials?eqf=6&cursor={bad}")).status == 400
        second = urls[1].split("cursor=", 1)[1]
        assert (await ada.get(f"/credentials?format=ldp_vc&cursor={second}")).status == 400
    finally:
        await ada.close()
