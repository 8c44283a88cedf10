"""English and Spanish: Babel catalogues (``locale/<lang>/LC_MESSAGES/messages.po``).

The ``.po`` files are the source of truth and are compiled in memory at start-up (no ``.mo`` in the
repository, nothing to build before a clean checkout runs). The language is the learner's choice
(the ``English`` / ``Español`` links set a cookie) or else the best match of ``Accept-Language``.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from holder_api.languages import accept_languages

__all__ = ["LANGUAGES", "LANG_COOKIE", "N_", "Gettext", "gettext_for", "pick_language"]

LOCALE_DIR = Path(__file__).parent / "locale"
#: The languages offered, with their names as the switch shows them (in their own language).
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
LANG_COOKIE = "satchel_lang"

Gettext = Callable[..., str]


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@cache
def _translations(lang: str) -> NullTranslations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return Translations(buf)


def load_all() -> None:
    """Compile every catalogue now, so that a broken one fails start-up, not a page."""
    for lang in LANGUAGES:
        _translations(lang)


def pick_language(request: web.Request) -> str:
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen in LANGUAGES:
        return chosen
    for tag in accept_languages(request.headers.get("Accept-Language")):
        base = tag.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return "en"


def gettext_for(lang: str) -> Gettext:
    t = _translations(lang)

    def gettext(message: str, **values: Any) -> str:
        text = t.gettext(message)
        return text % values if values else text

    return gettext
