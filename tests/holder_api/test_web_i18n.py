"""The Spanish catalogue covers every message of the web wallet (templates and code), with the
same ``%(name)s`` placeholders, so no page is half translated and no translation breaks."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

import holder_api.web
from holder_api.web.i18n import gettext_for

WEB = Path(holder_api.web.__file__).parent
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def _messages() -> set[str]:
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = extract_from_dir(str(WEB), method_map, keywords={"_": None, "N_": None})
    return {str(msg) for _file, _line, msg, _comments, _context in found}


def test_every_message_is_translated_to_spanish() -> None:
    messages = _messages()
    assert len(messages) > 250  # the extraction itself works
    with (WEB / "locale" / "es" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale="es")
    missing = sorted(m for m in messages if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], missing
    es = gettext_for("es")
    for m in messages:
        assert sorted(_PLACEHOLDER.findall(es(m))) == sorted(_PLACEHOLDER.findall(m)), m


def test_annex_i_names_in_spanish() -> None:
    from holder_api.web.show import ELEMENT_NAMES

    es = gettext_for("es")
    assert es(ELEMENT_NAMES["workload"]) == "Carga de trabajo teórica (ECTS)"
    assert all(es(name) != name for name in ELEMENT_NAMES.values())
