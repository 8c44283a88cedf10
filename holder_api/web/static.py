"""The web wallet's static files, served from memory under content-hashed names.

``/static/app.3f2a….css`` never changes, so it is cached for a year (``immutable``); a new release
has new names. Only the files shipped in ``static/`` exist; nothing is read per request.
"""

from __future__ import annotations

import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from holder_api.headers import STATIC_CACHE

__all__ = ["StaticFiles"]

_DIR = Path(__file__).parent / "static"


@dataclass(frozen=True, slots=True)
class _File:
    body: bytes
    content_type: str


class StaticFiles:
    def __init__(self, directory: Path = _DIR) -> None:
        self._by_url: dict[str, _File] = {}
        self.urls: dict[str, str] = {}  # "app.css" -> "/static/app.<hash>.css"
        for path in sorted(directory.iterdir()):
            if not path.is_file():
                continue
            body = path.read_bytes()
            tag = hashlib.sha256(body).hexdigest()[:12]
            name = f"{path.stem}.{tag}{path.suffix}"
            ctype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            self._by_url[name] = _File(body, ctype)
            self.urls[path.name] = f"/static/{name}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        found = self._by_url.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(body=found.body, headers={
            "Content-Type": found.content_type + ("; charset=utf-8" if found.content_type
                                                  .startswith(("text/", "application/javascript"))
                                                  else ""),
            "Cache-Control": STATIC_CACHE,
            "X-Content-Type-Options": "nosniff",
            "Cross-Origin-Resource-Policy": "same-origin"})
