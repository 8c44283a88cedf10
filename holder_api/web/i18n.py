"""English and Spanish: Babel catalogues (``locale/<lang>/LC_MESSAGES/messages.po``).

The ``.po`` files are the source of truth and are compiled in memory at start-up (no ``.mo`` in the
repository, nothing to build before a clean checkout runs). The language is the learner's choice
(the ``English`` / ``Español`` links set a cookie) or else the best match of ``Accept-Language``.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path
from typing import Any

from aiohttp import web
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from holder_api.languages import accept_languages

__all__ = ["LANGUAGES", "LANG_COOKIE", "N_", "Gettext", "Nn_", "gettext_for", "pick_language"]

LOCALE_DIR = Path(__file__).parent / "locale"
#: The languages offered, with their names as the switch shows them (in their own language).
LANGUAGES: dict[str, str] = {"en": "English", "es": "Español"}
LANG_COOKIE = "satchel_lang"

#: What a number with a fraction (1.5 hours) counts as: English and Spanish say it in their
#: plural ("other") form, which 2 also takes in both.
_FRACTION = 2


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def Nn_(singular: str, plural: str) -> tuple[str, str]:  # noqa: N802 - as N_, for plurals
    """Mark a message with a count for extraction (``-k Nn_:1,2``); shown with
    :meth:`Gettext.ngettext`."""
    return singular, plural


def _plural_number(n: object) -> int:
    """The integer that picks a count's plural form: an integer as it is; a number shown with
    a fraction (``1.5``, ``1.0``: CLDR's rule looks at the visible fraction digits) the plural."""
    return n if isinstance(n, int) and not isinstance(n, bool) else _FRACTION


class Gettext:
    """One language's words: ``_(message, **values)``, and ``_.ngettext(singular, plural, n,
    **values)`` for a message that says a count, in the form the language's plural rule
    (the catalogue's ``Plural-Forms``) picks for ``n`` (``%(n)s`` is the count)."""

    def __init__(self, translations: NullTranslations) -> None:
        self._t = translations

    def __call__(self, message: str, **values: Any) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: object, **values: Any) -> str:
        return self._t.ngettext(singular, plural, _plural_number(n)) % {"n": n, **values}


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


@cache
def gettext_for(lang: str) -> Gettext:
    return Gettext(_translations(lang))
