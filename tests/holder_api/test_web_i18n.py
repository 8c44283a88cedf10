"""The Spanish catalogue covers every message of the web wallet (templates and code), with the
same ``%(name)s`` placeholders, so no page is half translated and no translation breaks."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import holder_api.web
from holder_api.web.i18n import gettext_for

WEB = Path(holder_api.web.__file__).parent
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _extracted() -> list[str | tuple[str, ...]]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = extract_from_dir(str(WEB), method_map, keywords={
        "_": None, "N_": None, "Nn_": (1, 2), "ngettext": (1, 2)})
    return [msg for _file, _line, msg, _comments, _context in found]


def _messages() -> set[str]:
    return {msg for msg in _extracted() if isinstance(msg, str)}


def _plurals() -> set[tuple[str, str]]:
    return {(msg[0], msg[1]) for msg in _extracted() if isinstance(msg, tuple)}


def _spanish() -> Catalog:
    with (WEB / "locale" / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale="es")


def test_every_message_is_translated_to_spanish() -> None:
    messages = _messages()
    assert len(messages) > 250  # the extraction itself works
    catalog = _spanish()
    missing = sorted(m for m in messages if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], missing
    es = gettext_for("es")
    for m in messages:
        assert sorted(_PLACEHOLDER.findall(es(m))) == sorted(_PLACEHOLDER.findall(m)), m


def test_every_count_has_its_plural_forms_in_spanish() -> None:
    """A message saying a count is a plural message, in every form Spanish has (one, many,
    other), each with the English message's placeholders, the count among them."""
    plurals = _plurals()
    assert len(plurals) >= 9  # the extraction of templates' ngettext and code's Nn_ works
    catalog = _spanish()
    assert catalog.num_plurals == 3
    for singular, plural in plurals:
        assert "%(n)s" in singular and "%(n)s" in plural, singular
        entry = catalog.get(singular)
        assert entry is not None and isinstance(entry.id, tuple), singular
        assert entry.id == (singular, plural)
        assert len(entry.string) == 3 and all(entry.string), singular
        wanted = sorted(_PLACEHOLDER.findall(plural))
        assert all(sorted(_PLACEHOLDER.findall(form)) == wanted for form in entry.string), singular
    # no count said in a singular message: the plural forms are where counts go
    assert not [m for m in _messages() if "%(n)s" in m and m not in _ORDINALS], \
        "a count needs a plural message (ngettext)"


#: messages whose number is a name (a level) or not counted in words (ECTS, an acronym)
_ORDINALS = {"EQF level %(n)s", "level %(n)s", "first bad entry: %(n)s", "%(n)s ECTS"}


@pytest.mark.parametrize(("lang", "n", "text"), [
    ("en", 0, "Try again in 0 seconds."), ("en", 1, "Try again in 1 second."),
    ("en", 2, "Try again in 2 seconds."),
    ("es", 0, "Vuelve a intentarlo dentro de 0 segundos."),
    ("es", 1, "Vuelve a intentarlo dentro de 1 segundo."),
    ("es", 2, "Vuelve a intentarlo dentro de 2 segundos."),
])
def test_a_count_takes_its_languages_plural_form(lang: str, n: int, text: str) -> None:
    assert gettext_for(lang).ngettext("Try again in %(n)s second.",
                                      "Try again in %(n)s seconds.", n) == text


def test_a_fraction_takes_the_plural() -> None:
    for lang, word in (("en", "1.5 hours"), ("es", "1.5 horas")):
        assert gettext_for(lang).ngettext("%(n)s hour", "%(n)s hours", 1.5) == word


def test_annex_i_names_in_spanish() -> None:
    from holder_api.web.show import ELEMENT_NAMES

    es = gettext_for("es")
    assert es(ELEMENT_NAMES["workload"]) == "Carga de trabajo teórica (ECTS)"
    assert all(es(name) != name for name in ELEMENT_NAMES.values())


def test_the_spanish_pages_call_the_wallet_one_thing() -> None:
    """"Monedero" on its buttons (Crear monedero, Borrar monedero), so never "cartera" in a
    message: a learner told "una cartera nueva y vacía" wonders which other thing that is."""
    strings = [s for m in _spanish() if m.id for s in
               ([m.string] if isinstance(m.string, str) else list(m.string))]
    assert [s for s in strings if "cartera" in s.lower()] == []
    assert sum("monedero" in s.lower() for s in strings) > 20
