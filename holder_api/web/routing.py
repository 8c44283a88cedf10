"""A page route, declared by its view module next to its handler (as ``holder_api/routes/*``
declare ``OPS``): each ``holder_api/web/views/*`` module lists its ``PAGES``, and
:func:`holder_api.web.setup_web` registers them in that order (aiohttp matches in registration
order: a fixed segment such as ``/credentials/import`` comes before ``/credentials/{id}``).
``tests/holder_api/test_web_pages_documented.py`` holds the ``## Pages`` table of ``docs/web.md``
to the GET pages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

__all__ = ["Page"]


@dataclass(frozen=True)
class Page:
    method: str  # "GET" (which answers HEAD too) or "POST"
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    #: one line: what the learner does there (a GET page is a row of docs/web.md's table)
    purpose: str

    def route(self) -> web.RouteDef:
        if self.method == "GET":
            return web.get(self.path, self.handler)
        return web.route(self.method, self.path, self.handler)
