"""The Jinja2 environments: one per language, the catalogue's words compiled into the templates.

``_("literal")`` in a template is the same text on every page of a language, so each language's
environment compiles it as its translation (a string constant, which Jinja also escapes once at
compile time) instead of a call and an escape on every render: a credential page has about fifty
of them. ``_`` with arguments, or with anything but one string literal, stays a call at render
time. Extraction (``pybabel extract``) reads the template sources, which keep ``_("...")``.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import jinja2
from jinja2.ext import Extension
from jinja2.lexer import Token, TokenStream

from holder_api.schemas import NEW_PASSPHRASE
from holder_api.web import show
from holder_api.web.i18n import LANGUAGES, Gettext, gettext_for

__all__ = ["TEMPLATES", "environments"]

TEMPLATES = Path(__file__).parent / "templates"


class _Environment(jinja2.Environment):
    """Templates read the API's JSON: ``x.key`` on a dict looks the key up first (Jinja's
    default tries the attribute first, and the failed attribute lookup was half the render
    time of a credential page)."""

    gettext: Gettext

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


class _CompiledWords(Extension):
    """``_`` ``(`` string ``)`` becomes the string's translation, at compile time."""

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        gettext = self.environment.gettext  # type: ignore[attr-defined]
        tokens = list(stream)
        i = 0
        while i < len(tokens):
            t = tokens[i]
            if t.type == "name" and t.value == "_" and i + 3 < len(tokens) and \
                    [x.type for x in tokens[i + 1:i + 4]] == ["lparen", "string", "rparen"]:
                yield Token(t.lineno, "string", gettext(tokens[i + 2].value))
                i += 4
                continue
            yield t
            i += 1


def environments(static_urls: Any) -> dict[str, jinja2.Environment]:
    """Language code -> its environment (each compiles and caches its own templates)."""
    out: dict[str, jinja2.Environment] = {}
    for lang in LANGUAGES:
        env = _Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                           auto_reload=False, trim_blocks=True, lstrip_blocks=True,
                           extensions=[_CompiledWords])
        env.gettext = gettext_for(lang)
        env.globals["static"] = static_urls
        env.globals["passphrase_least"] = int(NEW_PASSPHRASE["minLength"])  # the help says it
        env.filters["title_of"] = show.display_title
        env.filters["claim_name"] = partial(show.claim_name, _=env.gettext)
        env.filters["claim_groups"] = partial(show.claim_groups, _=env.gettext)
        env.globals["holder_key"] = show.HOLDER_KEY
        env.globals.update(THEIRS=show.THEIRS, theirs=show.theirs, theirs_in=show.theirs_in)
        env.filters["date"] = partial(show.local_date, lang=lang)  # 7 Dec 2026
        env.filters["when"] = partial(show.local_time, lang=lang)  # 7 Dec 2026, 16:32 UTC
        out[lang] = env
    return out
