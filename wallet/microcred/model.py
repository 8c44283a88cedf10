"""The Annex I elements of a micro-credential, as Satchel shows them (docs/http-api.md, ``elements``).

Spec: Council Recommendation of 16 June 2022 on a European approach to micro-credentials for
lifelong learning and employability (2022/C 243/02), Annex I
(https://eur-lex.europa.eu/legal-content/EN/TXT/?uri=CELEX:32022H0627(02)).

Why: a learner holding ELM, Open Badges, CLR and SD-JWT credentials wants one view of "what this
credential says" in the vocabulary of the Recommendation, and to see what is missing. Each element
carries where it was read (``source``, a JSON path into the credential as stored) and how sure the
mapping is (``coverage``):

- ``native``: the format has a property meaning exactly this element;
- ``extension``: a recognised extension carries it (Edubadges-style OB extensions);
- ``inferred``: read from a neighbouring property that does not strictly mean this (e.g. the OB
  ``issuer`` as awarding body, an ELM ``validFrom`` as date of issuing under VCDM 1.1);
- ``absent``: not found (``value`` and ``source`` are ``None``).

Value shapes (stable, part of the API):

- ``learner``: ``{"id", "name"}``; ``title``: str; ``issued_at``: str (as written, or RFC 3339 from
  a NumericDate);
- ``issuer_country``: list of ISO 3166-1 alpha-2 codes;
- ``awarding_body``: list of ``{"id", "name", "country"}``;
- ``learning_outcomes``: list of ``{"title", "id", "skills": [{"uri", "label"}]}`` (ESCO skill URIs
  kept next to their labels);
- ``workload``: ``{"ects", "hours"}`` (numbers or ``None``);
- ``level``: ``{"eqf", "eqf_uri", "qf_ehea", "nqf"}`` (EQF 1..8 as int);
- ``assessment_type``, ``participation_form``, ``supervision``: ``{"label", "uri"}`` (a concept);
- ``quality_assurance``: list of ``{"label", "uri"}``;
- ``prerequisites``: list of str; ``grade``: str or number;
- ``stackability``: ``{"is_part_of", "has_part", "entitles_to"}`` (lists of ``{"id", "title"}``)
  plus ``"statement"`` (free text or a yes/no flag, or ``None``);
- ``further_information``: list of ``{"text", "url"}``.

``missing_mandatory`` lists the mandatory elements whose coverage is ``absent``. ``level`` is
mandatory only "if applicable", which a wallet cannot judge, so it is never listed there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

__all__ = [
    "ELEMENT_KEYS",
    "MANDATORY",
    "Coverage",
    "Element",
    "ElementDocument",
    "Elements",
    "ElementsDocument",
    "ElementsRecord",
]

Coverage = Literal["native", "extension", "inferred", "absent"]

ELEMENT_KEYS: tuple[str, ...] = (
    "learner",
    "title",
    "issuer_country",
    "awarding_body",
    "issued_at",
    "learning_outcomes",
    "workload",
    "level",
    "assessment_type",
    "participation_form",
    "quality_assurance",
    "prerequisites",
    "supervision",
    "grade",
    "stackability",
    "further_information",
)

#: Annex I elements a credential may leave out (``level`` is only "if applicable").
_OPTIONAL: frozenset[str] = frozenset({
    "level", "prerequisites", "supervision", "grade", "stackability", "further_information",
})

#: Annex I mandatory elements that a wallet can check, in the order of ``ELEMENT_KEYS``.
MANDATORY: tuple[str, ...] = tuple(k for k in ELEMENT_KEYS if k not in _OPTIONAL)


class ElementDocument(TypedDict):
    """One element as the API shows it; ``value`` has the element's shape (module docstring)."""

    value: Any  # a JSON value whose shape depends on the element
    source: str | None
    coverage: Coverage


class ElementsDocument(TypedDict):
    """``elements`` in the API: every key of ``ELEMENT_KEYS``, and the mandatory ones missing."""

    learner: ElementDocument
    title: ElementDocument
    issuer_country: ElementDocument
    awarding_body: ElementDocument
    issued_at: ElementDocument
    learning_outcomes: ElementDocument
    workload: ElementDocument
    level: ElementDocument
    assessment_type: ElementDocument
    participation_form: ElementDocument
    quality_assurance: ElementDocument
    prerequisites: ElementDocument
    supervision: ElementDocument
    grade: ElementDocument
    stackability: ElementDocument
    further_information: ElementDocument
    missing_mandatory: list[str]


@dataclass(frozen=True, slots=True)
class Element:
    value: Any = None
    source: str | None = None
    coverage: Coverage = "absent"

    def to_json(self) -> ElementDocument:
        return {"value": self.value, "source": self.source, "coverage": self.coverage}


ABSENT = Element()


class ElementsRecord(TypedDict):
    """:class:`Elements` as stored next to a credential (:meth:`Elements.to_record`)."""

    family: str
    items: dict[str, ElementDocument]


@dataclass(frozen=True, slots=True)
class Elements:
    """The 16 elements, the detected family, and what mandatory ones are missing."""

    items: dict[str, Element]
    #: "elm-1.1", "elm-2.0", "ob3", "clr2", "sd-jwt-lc", "vc" (other W3C VC), "unknown"
    family: str = "unknown"
    missing_mandatory: list[str] = field(default_factory=list)

    def __getitem__(self, key: str) -> Element:
        return self.items[key]

    def to_record(self) -> ElementsRecord:
        """A lossless JSON form (with ``family``), for storing next to the credential."""
        return {"family": self.family, "items": {k: e.to_json() for k, e in self.items.items()}}

    @classmethod
    def from_record(cls, record: ElementsRecord) -> Elements:
        found = {k: Element(v.get("value"), v.get("source"), v.get("coverage", "absent"))
                 for k, v in record.get("items", {}).items() if k in ELEMENT_KEYS}
        return cls.build(found, str(record.get("family", "unknown")))

    @classmethod
    def build(cls, found: dict[str, Element], family: str) -> Elements:
        items = {k: found.get(k, ABSENT) for k in ELEMENT_KEYS}
        missing = [k for k in MANDATORY if items[k].coverage == "absent"]
        return cls(items=items, family=family, missing_mandatory=missing)

    def to_json(self) -> ElementsDocument:
        e = {k: self.items[k].to_json() for k in ELEMENT_KEYS}
        return {  # in the order of ELEMENT_KEYS, as the API has always sent them
            "learner": e["learner"], "title": e["title"], "issuer_country": e["issuer_country"],
            "awarding_body": e["awarding_body"], "issued_at": e["issued_at"],
            "learning_outcomes": e["learning_outcomes"], "workload": e["workload"],
            "level": e["level"], "assessment_type": e["assessment_type"],
            "participation_form": e["participation_form"],
            "quality_assurance": e["quality_assurance"], "prerequisites": e["prerequisites"],
            "supervision": e["supervision"], "grade": e["grade"],
            "stackability": e["stackability"], "further_information": e["further_information"],
            "missing_mandatory": list(self.missing_mandatory)}
