"""Bounded, path-tracking reading of untrusted credential JSON, and the value parsers Annex I needs.

Specs: ELM v3 (https://europa.eu/europass/elm-browser/), JSON-LD 1.1 language maps and value objects
(https://www.w3.org/TR/json-ld11/ §4.6.2, §4.2.4), ISO 8601 durations, ISO 3166-1 country codes, the
EU Publications Office country authority table
(http://publications.europa.eu/resource/authority/country), the EQF concept scheme
(http://data.europa.eu/snb/eqf/{1..8}).

Why: credentials arrive from strangers. Every read here goes through :class:`Node`, which never
raises on a wrong type, normalises "an object or an array of objects" into a list, caps how many
array items are looked at and how long a string may be, and remembers the JSON path it came from so
each Annex I element can cite its ``source``. Nothing recurses over the input without a depth cap.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

__all__ = [
    "MAX_ITEMS",
    "MAX_STR",
    "Node",
    "alpha2",
    "clip",
    "duration_hours",
    "epoch_to_iso",
    "eqf_level",
    "iter_strings",
    "number",
    "parse_ects",
    "pick_lang",
    "scalar_number",
    "texts",
]

#: How many items of one array are looked at; the rest are ignored (hostile input).
MAX_ITEMS = 256
#: Longest string copied into an element value.
MAX_STR = 4096


def scalar_number(v: Any) -> int | float | None:
    """``v`` if it is a JSON number that serialises as standard JSON (finite, not a bool)."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return None
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def clip(s: str) -> str:
    return s if len(s) <= MAX_STR else s[:MAX_STR]


@dataclass(frozen=True, slots=True)
class Node:
    """A value inside the credential plus the JSON path that leads to it."""

    value: Any
    path: str

    def get(self, *keys: str) -> Node | None:
        """The first present member among ``keys`` (for aliases such as ``id``/``@id``)."""
        if type(self.value) is not dict and not isinstance(self.value, Mapping):
            return None
        for key in keys:
            try:
                v = self.value.get(key)
            except TypeError:  # unhashable key type in an odd Mapping
                return None
            if v is not None:
                return Node(v, f"{self.path}.{key}" if self.path else key)
        return None

    def at(self, *steps: str) -> Node | None:
        """Follow ``steps``; at each step an array is entered at its first object."""
        node: Node | None = self
        for step in steps:
            if node is None:
                return None
            first = node.first()
            node = first.get(step) if first is not None else None
        return node

    def items(self) -> list[Node]:
        """Object-or-array normalisation: an object is a one-item list, an array its items."""
        v = self.value
        if isinstance(v, list | tuple):
            return [Node(x, f"{self.path}[{i}]")
                    for i, x in enumerate(v[:MAX_ITEMS]) if x is not None]
        return [] if v is None else [self]

    def objects(self) -> list[Node]:
        return [n for n in self.items() if type(n.value) is dict or isinstance(n.value, Mapping)]

    def first(self) -> Node | None:
        objs = self.objects()
        if objs:
            return objs[0]
        return None

    def all(self, *steps: str) -> list[Node]:
        """Every node reached by ``steps``, fanning out over arrays at each step."""
        frontier = [self]
        for step in steps:
            nxt: list[Node] = []
            for n in frontier:
                for o in n.objects():
                    child = o.get(step)
                    if child is not None:
                        nxt.append(child)
                if len(nxt) >= MAX_ITEMS:
                    break
            frontier = nxt[:MAX_ITEMS]
        return frontier

    def string(self) -> str | None:
        v = self.value
        if isinstance(v, str):
            return clip(v)
        return None

    def ident(self) -> str | None:
        """``id``/``@id`` of an object, or the string itself (JSON-LD node reference)."""
        if isinstance(self.value, str):
            return clip(self.value)
        n = self.get("id", "@id")
        return n.string() if n is not None else None

    def types(self) -> tuple[str, ...]:
        n = self.get("type", "@type")
        if n is None:
            return ()
        return tuple(clip(x.value) for x in n.items() if isinstance(x.value, str))


def texts(value: Any) -> list[tuple[str | None, str]]:
    """All (language, text) pairs of a JSON-LD-ish literal, bounded."""
    out: list[tuple[str | None, str]] = []

    def add(lang: str | None, v: Any, depth: int) -> None:
        if len(out) >= MAX_ITEMS or depth > 3:
            return
        if isinstance(v, str):
            out.append((lang, clip(v)))
        elif isinstance(v, list | tuple):
            for x in v[:MAX_ITEMS]:
                add(lang, x, depth + 1)
        elif isinstance(v, Mapping):
            if "@value" in v:
                lg = v.get("@language")
                add(lg if isinstance(lg, str) else lang, v.get("@value"), depth + 1)
            elif "noteLiteral" in v:  # an ELM Note
                add(lang, v.get("noteLiteral"), depth + 1)
            else:  # a language map
                for k, x in islice(v.items(), MAX_ITEMS):
                    if isinstance(k, str) and k not in ("id", "type", "@id", "@type"):
                        add(k, x, depth + 1)

    add(None, value, 0)
    return out


def _lang_key(lang: str | None) -> str:
    return (lang or "").lower().split("-")[0]


def pick_lang(value: Any, languages: Sequence[str]) -> str | None:
    """One string from a literal, a language map or value objects, in ``languages`` order.

    Fallback: the requested tags, then their primary subtag, then a language-less value, then
    English, then the first text present.
    """
    pairs = texts(value)
    if not pairs:
        return None
    for want in languages:
        w = want.lower()
        for lang, t in pairs:
            if lang is not None and lang.lower() == w:
                return t
        for lang, t in pairs:
            if lang is not None and _lang_key(lang) == _lang_key(w):
                return t
    for lang, t in pairs:
        if lang is None or lang in ("@none", "und"):
            return t
    for lang, t in pairs:
        if _lang_key(lang) == "en":
            return t
    return pairs[0][1]


def number(v: Any) -> int | float | None:
    """A finite non-negative number from an int/float/str; ``int`` when integral."""
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        if v < 0 or v > 10**9:
            return None
        return v
    if isinstance(v, float):
        f = v
    elif isinstance(v, str):
        m = re.fullmatch(r"\s*([0-9]{1,9}(?:[.,][0-9]{1,6})?)\s*([A-Za-z ]{0,40})", v[:64])
        if m is None:
            return None
        f = float(m.group(1).replace(",", "."))
    else:
        return None
    if not math.isfinite(f) or f < 0 or f > 1e9:
        return None
    return int(f) if f == int(f) else round(f, 6)


def parse_ects(v: Any) -> int | float | None:
    """ECTS credits: ``5``, ``5.0``, ``"5"``, ``"5,5"``, ``"5 ECTS"`` (other units refused)."""
    if isinstance(v, str):
        unit = re.sub(r"[0-9.,\s]", "", v[:64]).lower()
        if unit not in ("", "ects", "ectscredits", "credits", "credit", "cp", "ectspoints"):
            return None
    return number(v)


_DURATION = re.compile(
    r"P(?:(?P<y>\d+(?:[.,]\d+)?)Y)?(?:(?P<mo>\d+(?:[.,]\d+)?)M)?(?:(?P<w>\d+(?:[.,]\d+)?)W)?"
    r"(?:(?P<d>\d+(?:[.,]\d+)?)D)?(?:T(?:(?P<h>\d+(?:[.,]\d+)?)H)?(?:(?P<mi>\d+(?:[.,]\d+)?)M)?"
    r"(?:(?P<s>\d+(?:[.,]\d+)?)S)?)?"
)


def duration_hours(v: Any) -> int | float | None:
    """Hours in an ISO 8601 duration (``PT150H`` → 150, ``P1DT2H`` → 26, ``P2W`` → 336).

    Nominal days are 24 h and weeks 168 h (ISO 8601). Years and months have no fixed length, so a
    duration using them gives ``None`` rather than a guess. Also accepts ``"150 hours"``/``"150h"``.
    """
    if not isinstance(v, str) or len(v) > 64:
        return None
    s = v.strip()
    m = re.fullmatch(r"([0-9]{1,7}(?:[.,][0-9]{1,3})?)\s*(h|hr|hrs|hour|hours)", s, re.IGNORECASE)
    if m:
        return number(m.group(1))
    m = _DURATION.fullmatch(s.upper())
    if m is None or s.upper() in ("P", "PT") or s.upper().endswith("T"):
        return None
    g = {k: float(x.replace(",", ".")) if x else 0.0 for k, x in m.groupdict().items()}
    if g["y"] or g["mo"]:
        return None
    hours = g["w"] * 168 + g["d"] * 24 + g["h"] + g["mi"] / 60 + g["s"] / 3600
    return number(round(hours, 4))


_EQF_URI = re.compile(r"https?://data\.europa\.eu/snb/eqf/([1-8])")


def eqf_level(v: Any) -> tuple[int | None, str | None]:
    """(level, URI) from an int, ``"6"``, ``"EQF 6"``, ``"Level 6"`` or the EQF concept."""
    if isinstance(v, Mapping):
        uri = v.get("id", v.get("@id"))
        if isinstance(uri, str):
            lvl, u = eqf_level(uri)
            if lvl is not None:
                return lvl, u
        for key in ("notation", "prefLabel", "level", "value", "EQF", "eqf"):
            if key in v:
                for _, t in texts(v[key]) if not isinstance(v[key], int) else [(None, v[key])]:
                    lvl, _u = eqf_level(t)
                    if lvl is not None:
                        return lvl, uri if isinstance(uri, str) else None
        return None, None
    if isinstance(v, bool):
        return None, None
    if isinstance(v, int):
        return (v, None) if 1 <= v <= 8 else (None, None)
    if isinstance(v, float) and v.is_integer():
        return eqf_level(int(v))
    if isinstance(v, str) and len(v) <= 200:
        s = v.strip()
        m = _EQF_URI.fullmatch(s)
        if m:
            return int(m.group(1)), s
        m = re.fullmatch(r"(?:eqf|level|eqf level|eqf-level)?\s*[-:]?\s*([1-8])", s, re.IGNORECASE)
        if m:
            return int(m.group(1)), None
    return None, None


# ISO 3166-1 alpha-3 → alpha-2 for the countries the EU authority table and learners most often
# use (EU/EEA, candidates, neighbours and large partners). Unknown codes are kept out, not guessed.
_A3 = dict(
    pair.split(":")
    for pair in (
        "AUT:AT BEL:BE BGR:BG HRV:HR CYP:CY CZE:CZ DNK:DK EST:EE FIN:FI FRA:FR DEU:DE GRC:GR "
        "HUN:HU IRL:IE ITA:IT LVA:LV LTU:LT LUX:LU MLT:MT NLD:NL POL:PL PRT:PT ROU:RO SVK:SK "
        "SVN:SI ESP:ES SWE:SE ISL:IS LIE:LI NOR:NO CHE:CH GBR:GB ALB:AL BIH:BA MNE:ME MKD:MK "
        "SRB:RS TUR:TR UKR:UA MDA:MD GEO:GE ARM:AM AZE:AZ BLR:BY RUS:RU AND:AD MCO:MC SMR:SM "
        "VAT:VA XKX:XK USA:US CAN:CA MEX:MX BRA:BR ARG:AR CHL:CL COL:CO PER:PE AUS:AU NZL:NZ "
        "JPN:JP KOR:KR CHN:CN IND:IN IDN:ID SGP:SG MYS:MY THA:TH VNM:VN PHL:PH ISR:IL EGY:EG "
        "MAR:MA TUN:TN DZA:DZ ZAF:ZA NGA:NG KEN:KE SAU:SA ARE:AE QAT:QA PAK:PK BGD:BD LKA:LK "
        "IRN:IR IRQ:IQ JOR:JO LBN:LB KAZ:KZ UZB:UZ"
    ).split()
)
_COUNTRY_URI = re.compile(r"https?://publications\.europa\.eu/resource/authority/country/([A-Z]{3})")


def alpha2(v: Any) -> str | None:
    """ISO 3166-1 alpha-2 from an EU authority URI, an alpha-3 or alpha-2 code, or a concept."""
    if isinstance(v, Mapping):
        for key in ("id", "@id", "notation"):
            c = alpha2(v.get(key))
            if c is not None:
                return c
        return None
    if not isinstance(v, str) or len(v) > 200:
        return None
    s = v.strip()
    m = _COUNTRY_URI.fullmatch(s)
    if m:
        s = m.group(1)
    up = s.upper()
    if len(up) == 3 and up in _A3:
        return _A3[up]
    if len(up) == 2 and up.isalpha() and up.isascii():
        # EU practice writes Greece as EL and the UK as UK; ISO says GR and GB.
        return {"EL": "GR", "UK": "GB"}.get(up, up)
    return None


def epoch_to_iso(v: Any) -> str | None:
    """A JWT NumericDate (``iat``/``nbf``) as an RFC 3339 UTC string."""
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return None
    if not 0 <= v < 32503680000:  # before year 3000
        return None
    return datetime.fromtimestamp(int(v), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iter_strings(value: Any, limit: int, max_depth: int = 24) -> Iterator[str]:
    """Every string in a JSON value, depth-capped and count-capped (for full-text search)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    n = 0
    while stack and n < limit:
        v, d = stack.pop()
        if isinstance(v, str):
            n += 1
            yield clip(v)
        elif d < max_depth and isinstance(v, Mapping):
            stack.extend((x, d + 1) for x in reversed(list(islice(v.values(), MAX_ITEMS))))
        elif d < max_depth and isinstance(v, list | tuple):
            stack.extend((x, d + 1) for x in reversed(v[:MAX_ITEMS]))

