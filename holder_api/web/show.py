"""Turning the API's JSON into words and rows for the pages (no business rules: display only)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from consent.events import path_label as claim_path_label
from holder_api.web.i18n import N_, Gettext
from wallet.microcred.languages import foreign_language, tagged_texts
from wallet.microcred.model import ELEMENT_KEYS

__all__ = ["ELEMENT_NAMES", "TextLanguages", "claim_leaves", "claim_rows", "display_title",
           "element_lines", "has_expired", "path_json", "path_label"]

#: Annex I (Council Recommendation 2022/C 243/02) element names.
_NAMES: dict[str, str] = {
    "learner": N_("Identification of the learner"),
    "title": N_("Title of the micro-credential"),
    "issuer_country": N_("Country of the issuer"),
    "awarding_body": N_("Awarding body"),
    "issued_at": N_("Date of issuing"),
    "learning_outcomes": N_("Learning outcomes"),
    "workload": N_("Notional workload (ECTS)"),
    "level": N_("Level (EQF, QF-EHEA, NQF)"),
    "assessment_type": N_("Type of assessment"),
    "participation_form": N_("Form of participation"),
    "quality_assurance": N_("Type of quality assurance"),
    "prerequisites": N_("Prerequisites"),
    "supervision": N_("Supervision and identity verification"),
    "grade": N_("Grade achieved"),
    "stackability": N_("Integration and stackability options"),
    "further_information": N_("Further information"),
}
#: In the model's order, one per key the model has: a key added there shows up here (under its
#: own name until it has a translated one), it never silently drops off the page.
ELEMENT_NAMES: dict[str, str] = {k: _NAMES.get(k, k) for k in ELEMENT_KEYS}

COVERAGE: dict[str, str] = {
    "native": N_("stated by the credential"),
    "extension": N_("stated in an extension"),
    "inferred": N_("inferred from a related field"),
    "absent": N_("not in the credential"),
}

_MAX = 400  # a data: URI or a long blob is no reading matter; the raw download has it whole


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _MAX else text[:_MAX] + "…"


def _named(item: Any, *keys: str) -> str:
    if isinstance(item, dict):
        parts = [str(item[k]) for k in keys if item.get(k) not in (None, "", [])]
        return " — ".join(parts) if parts else _text(item)
    return _text(item)


def element_lines(key: str, value: Any, _: Gettext) -> list[str]:
    """One element's value as a few lines of plain text (escaped by the template)."""
    if value is None:
        return []
    if key == "learner":
        return [_named(value, "name", "id")]
    if key == "awarding_body":
        return [_named(v, "name", "country", "id") for v in value] if isinstance(
            value, list) else [_text(value)]
    if key == "issuer_country" and isinstance(value, list):
        return [", ".join(str(v) for v in value)]
    if key == "learning_outcomes" and isinstance(value, list):
        out = []
        for lo in value:
            if isinstance(lo, dict):
                skills = ", ".join(str(s.get("label") or s.get("uri")) for s in
                                   lo.get("skills") or [] if isinstance(s, dict))
                out.append(str(lo.get("title") or lo.get("id") or "")
                           + (f" ({skills})" if skills else ""))
            else:
                out.append(_text(lo))
        return out
    if key == "workload" and isinstance(value, dict):
        out = []
        if value.get("ects") is not None:
            out.append(Keyed(_("%(n)s ECTS", n=value["ects"]), "ects"))
        if value.get("hours") is not None:
            out.append(Keyed(_.ngettext("%(n)s hour", "%(n)s hours", value["hours"]), "hours"))
        return out
    if key == "level" and isinstance(value, dict):
        out = []
        if value.get("eqf") is not None:
            out.append(Keyed(_("EQF level %(n)s", n=value["eqf"]), "eqf"))
        for k, label in (("qf_ehea", "QF-EHEA"), ("nqf", "NQF")):
            if value.get(k):
                out.append(Keyed(f"{label}: {_text(value[k])}", k))
        return out
    if key in ("assessment_type", "participation_form", "supervision"):
        return [_named(value, "label", "uri")]
    if key == "quality_assurance" and isinstance(value, list):
        return [_named(v, "label", "uri") for v in value]
    if key == "stackability" and isinstance(value, dict):
        out = []
        for k, label in (("is_part_of", N_("Part of")), ("has_part", N_("Has part")),
                         ("entitles_to", N_("Entitles to"))):
            for ref in value.get(k) or []:
                out.append(f"{_(label)}: {_named(ref, 'title', 'id')}")
        if value.get("statement") not in (None, ""):
            out.append(_text(value["statement"]))
        return out
    if key == "further_information" and isinstance(value, list):
        return [_named(v, "text", "url") for v in value]
    if isinstance(value, list):
        return [_text(v) for v in value]
    return [_text(value)]


def path_label(path: list[Any]) -> str:
    return claim_path_label(path, any_index="[*]") or "(whole credential)"


def path_json(path: list[Any]) -> str:
    return json.dumps(path, separators=(",", ":"), ensure_ascii=False)


def claim_leaves(claims: Any, prefix: list[Any] | None = None) -> list[tuple[list[Any], Any]]:
    """One (path, value) per leaf claim, nested objects and arrays flattened."""
    prefix = prefix or []
    if isinstance(claims, dict) and claims:
        return [r for k, v in claims.items() for r in claim_leaves(v, [*prefix, k])]
    if isinstance(claims, list) and claims:
        return [r for i, v in enumerate(claims) for r in claim_leaves(v, [*prefix, i])]
    return [(prefix, claims)]


def claim_rows(claims: Any, langs: TextLanguages) -> list[dict[str, Any]]:
    """One row per leaf claim: its label, its value and, when that value is in another language
    than the page, that language (for the ``lang`` attribute)."""
    return [{"label": path_label(p), "value": _text(v), "lang": langs.foreign(v)}
            for p, v in claim_leaves(claims)]


class TextLanguages:
    """The language of each language-tagged text of a credential (language maps, JSON-LD value
    objects), so that a value the page shows in another language than the page's says so
    (WCAG 3.1.2): the services pick a text in the learner's languages, or fall back to another."""

    def __init__(self, claims: Any, page_language: str) -> None:
        self._page = page_language
        self._tags = tagged_texts(claims)

    def foreign(self, text: Any) -> str | None:
        """``text``'s language when it is known and not the page's, else None."""
        return foreign_language(self._tags.get(text) if isinstance(text, str) else None,
                                self._page)


def value_text(value: Any) -> str:
    return _text(value)


class Keyed(str):
    """A line of a compound element (``workload``, ``level``) that is itself addressable: the
    page marks it as a nested element under its own key (``ects``, ``eqf``, ...)."""

    key: str

    def __new__(cls, text: str, key: str) -> Keyed:
        line = super().__new__(cls, text)
        line.key = key
        return line


def display_title(c: dict[str, Any]) -> str:
    """A credential's title, else the last segment of its type (a type URL's host and path
    would be a link text naming other things, e.g. "credentials"), else empty."""
    if c.get("title"):
        return str(c["title"])
    kind = str(c.get("type") or "").rstrip("/#")
    return kind.rsplit("/", 1)[-1].rsplit("#", 1)[-1].rsplit(":", 1)[-1]


def has_expired(expires_at: Any, now: datetime) -> bool:
    """Whether the API's ``expires_at`` (ISO 8601, or None for never) lies before ``now``."""
    if not isinstance(expires_at, str):
        return False
    try:
        return datetime.fromisoformat(expires_at.replace("Z", "+00:00")) <= now
    except ValueError:
        return False
