"""Turning the API's JSON into words and rows for the pages (no business rules: display only)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from babel.dates import format_date, format_time
from markupsafe import Markup, escape

from consent.events import path_label as claim_path_label
from holder_api.web.i18n import N_, Gettext
from wallet.microcred.languages import foreign_language, tagged_texts
from wallet.microcred.model import ELEMENT_KEYS

__all__ = ["ELEMENT_NAMES", "TextLanguages", "claim_leaves", "claim_rows", "claim_time",
           "display_title", "element_lines", "has_expired", "local_date", "local_time",
           "path_json", "path_label"]

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


def element_lines(key: str, value: Any, _: Gettext, lang: str = "en") -> list[str]:
    """One element's value as a few lines of plain text (escaped by the template), a date as
    the page's language (``lang``) writes it."""
    if value is None:
        return []
    if key == "issued_at" and isinstance(value, str):
        return [local_date(value, lang)]
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


#: words for the claims many credentials carry (JWT, SD-JWT VC, OpenID Connect), in the page's
#: language beside the claim's own name where a learner decides what leaves (the consent page);
#: a claim under ``cnf`` or ``status`` is named by its first part
_CLAIM_WORDS = {
    "iss": N_("Issuer"), "sub": N_("Subject"), "iat": N_("Issued"), "exp": N_("Expires"),
    "nbf": N_("Valid from"), "vct": N_("Credential type"),
    "cnf": N_("Your key"),  # the consent page says what it is for (HOLDER_KEY)
    "status": N_("Where its status is published"), "given_name": N_("Given name"),
    "family_name": N_("Family name"), "name": N_("Full name"), "birthdate": N_("Date of birth"),
    "email": N_("Email address"),
}
_NAMED_BY_FIRST_PART = {"cnf", "status"}
#: the claim that binds a credential to the learner's key (said once on the consent page)
HOLDER_KEY = "cnf"


def claim_words(path: list[Any], _: Gettext) -> str:
    """The claim at ``path`` named in words in ``_``'s language, "" when it has none."""
    if not path or not isinstance(path[0], str):
        return ""
    if len(path) == 1 or path[0] in _NAMED_BY_FIRST_PART:
        words = _CLAIM_WORDS.get(path[0])
        return _(words) if words else ""
    return ""


def verifier_name(verifier: Mapping[str, Any], languages: Sequence[str]) -> tuple[str, str]:
    """The verifier's name to show and its ``lang``: its own name in the first of the
    learner's languages it offers (``client_name#<tag>``: that tag), else the name it gave,
    whose language nothing says (``""``: HTML's "unknown", never the page's)."""
    names: Mapping[str, str] = verifier.get("names") or {}
    for whole in (True, False):  # the tag itself first, then only its language
        for want in languages:
            for tag, name in names.items():
                if _language(tag, whole) == _language(want, whole):
                    return name, tag
    return str(verifier["name"]), ""


def _language(tag: str, whole: bool) -> str:
    return (tag if whole else tag.split("-")[0]).lower()


#: a stand-in for someone else's words in a sentence of ours (:func:`theirs_in`)
THEIRS = "\ue000"


def theirs(text: str, lang: str = "") -> Markup:
    """Someone else's words, marked with their language (``""``: unknown)."""
    return Markup('<span lang="{}">{}</span>').format(lang, text)


def theirs_in(sentence: str, text: str, lang: str = "") -> Markup:
    """A translated sentence made with ``name=THEIRS``, the stand-in replaced by ``text``
    marked with its language: the sentence is the page's language, the name is not."""
    return escape(sentence).replace(THEIRS, theirs(text, lang))  # Markup: text escaped


def claim_groups(paths: list[list[Any]], _: Gettext) -> list[str]:
    """The claims at ``paths`` named by their first part, each name once, in order ("Issuer",
    "Your key" for all of ``cnf``'s parts): a short list that still names everything."""
    names: list[str] = []
    for path in paths:
        first = path[:1]
        name = (claim_words(first, _) or path_label(first)) if first else path_label(path)
        if name not in names:
            names.append(name)
    return names


def claim_name(path: list[Any], _: Gettext) -> str:
    """A claim named for a learner: its words with its claim name beside them ("Given name
    (given_name)"), or its claim name alone."""
    words = claim_words(path, _)
    return f"{words} ({path_label(path)})" if words else path_label(path)


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
    return [{"path": p, "label": path_label(p), "value": _text(v), "lang": langs.foreign(v),
             "at": claim_time(p, v)} for p, v in claim_leaves(claims)]


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


#: The page language's dates and times (docs/web.md, "Languages and accessibility"): Babel's
#: medium date of a European locale (``7 Dec 2026``, ``7 dic 2026``: never month first).
LOCALES = {"en": "en_150", "es": "es_ES"}
#: JWT claims that are times, in seconds since 1970 (RFC 7519 section 4.1.4-4.1.6)
_TIME_CLAIMS = frozenset({"iat", "exp", "nbf"})


def _parsed(iso: Any) -> datetime | None:
    if not isinstance(iso, str) or len(iso) < 10:
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return None


def local_date(iso: Any, lang: str) -> str:
    """An ISO 8601 date or time as the page's language writes a date: the calendar day as
    written (an issuer's ``2023-09-27T23:30+02:00`` stays the 27th). Anything else as it is."""
    try:
        day = date.fromisoformat(iso[:10]) if isinstance(iso, str) else None
    except ValueError:
        day = None
    if day is None:
        return "" if iso is None else str(iso)
    return format_date(day, "medium", locale=LOCALES.get(lang, lang))


def local_time(iso: Any, lang: str) -> str:
    """An ISO 8601 time as the page's language writes it, to the minute, in UTC and saying so
    (the server does not know the learner's time zone). A bare date is shown as a date."""
    moment = _parsed(iso)
    if moment is None or not isinstance(iso, str) or len(iso) <= 10:
        return local_date(iso, lang)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    locale = LOCALES.get(lang, lang)
    return (f"{format_date(moment.date(), 'medium', locale=locale)}, "
            f"{format_time(moment.time(), 'HH:mm', locale=locale)} UTC")


def claim_time(path: list[Any], value: Any) -> str | None:
    """A JWT's ``iat``, ``exp`` or ``nbf`` claim as the ISO 8601 time it stands for (a page shows
    it as a time, not as seconds since 1970); None for any other claim."""
    if len(path) != 1 or path[0] not in _TIME_CLAIMS or isinstance(value, bool) \
            or not isinstance(value, int | float):
        return None
    try:
        return datetime.fromtimestamp(value, UTC).isoformat().replace("+00:00", "Z")
    except (OverflowError, OSError, ValueError):
        return None


def has_expired(expires_at: Any, now: datetime) -> bool:
    """Whether the API's ``expires_at`` (ISO 8601, or None for never) lies before ``now``."""
    if not isinstance(expires_at, str):
        return False
    try:
        return datetime.fromisoformat(expires_at.replace("Z", "+00:00")) <= now
    except ValueError:
        return False
