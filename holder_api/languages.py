"""The learner's languages, as the HTTP API learns them: the ``Accept-Language`` header.

Parsed here, once; the services are handed a plain tuple of language tags, best first.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

__all__ = ["accept_languages", "languages"]


def accept_languages(header: str | None, default: Sequence[str] = ("en",)) -> tuple[str, ...]:
    """Language tags of an HTTP ``Accept-Language`` header (RFC 9110 §12.5.4), best first.

    ``*`` and malformed entries are dropped; ``q=0`` means "not acceptable"; at most 16 tags.
    Falls back to ``default`` when nothing usable remains.
    """
    if not isinstance(header, str) or not header.strip():
        return tuple(default)
    ranked: list[tuple[float, int, str]] = []
    for pos, part in enumerate(header[:1024].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        if not tag or tag == "*" or len(tag) > 35 or not all(c.isalnum() or c == "-" for c in tag):
            continue
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = -1.0
        if 0 < q <= 1:
            ranked.append((-q, pos, tag))
    tags = tuple(t for _, _, t in sorted(ranked))[:16]
    return tags or tuple(default)


def languages(request: web.Request) -> tuple[str, ...]:
    """The request's languages (``en`` when it names none)."""
    return accept_languages(request.headers.get("Accept-Language"))
