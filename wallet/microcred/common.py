"""Small readers shared by the family mappers: concepts, organisations, notes, dates.

Specs: ELM v3 Concept/Organisation/Note/Location (https://europa.eu/europass/elm-browser/), Open
Badges 3.0 Profile and Address (https://www.imsglobal.org/spec/ob/v3p0/#profile), VCDM 1.1 §4.6
``issuanceDate`` and VCDM 2.0 §4.9 ``validFrom`` (https://www.w3.org/TR/vc-data-model-2.0/).

Why: both ELM and OB describe the same few things (a labelled concept, an organisation with a
country, a free-text note) in slightly different shapes; reading them in one place keeps the value
shapes of :mod:`wallet.microcred.model` identical across families.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wallet.microcred.model import Coverage, Element
from wallet.microcred.values import MAX_ITEMS, Node, alpha2, pick_lang

__all__ = [
    "VC2_CONTEXT",
    "concept",
    "countries_of",
    "el",
    "is_vc2",
    "org",
    "ref",
    "text_of",
]

VC2_CONTEXT = "https://www.w3.org/ns/credentials/v2"


def el(value: Any, node: Node | str, coverage: Coverage) -> Element:
    path = node if isinstance(node, str) else node.path
    return Element(value=value, source=path, coverage=coverage)


def is_vc2(doc: Node) -> bool:
    ctx = doc.get("@context")
    return ctx is not None and any(n.value == VC2_CONTEXT for n in ctx.items())


def text_of(node: Node | None, languages: Sequence[str]) -> str | None:
    """A display string: literal, language map, value objects, or an ELM Note."""
    if node is None:
        return None
    v = node.value
    if isinstance(v, dict) and not ("@value" in v or "noteLiteral" in v):
        for key in ("noteLiteral", "prefLabel", "title", "name", "legalName"):
            if key in v:
                return pick_lang(v[key], languages)
    return pick_lang(v, languages)


def concept(node: Node | None, languages: Sequence[str]) -> dict[str, Any] | None:
    """``{"label", "uri"}`` from an ELM Concept (first of an array), a string, or an OB object."""
    if node is None:
        return None
    for item in node.items():
        if isinstance(item.value, str):
            s = item.value.strip()
            if not s:
                continue
            if s.startswith(("http://", "https://", "urn:")):
                return {"label": None, "uri": item.string()}
            return {"label": item.string(), "uri": None}
        if isinstance(item.value, dict):
            label = None
            for key in ("prefLabel", "title", "name", "label", "noteLiteral", "type"):
                sub = item.get(key)
                if sub is not None and key != "type":
                    label = pick_lang(sub.value, languages)
                    if label:
                        break
            uri = item.ident()
            url = item.get("url")
            if uri is None and url is not None:
                uri = url.string()
            if label or uri:
                return {"label": label, "uri": uri}
    return None


def countries_of(org_node: Node) -> list[str]:
    """Alpha-2 codes of an ELM Organisation's locations, or an OB Profile's address."""
    out: list[str] = []
    for o in org_node.objects():
        for loc in o.all("location"):
            for lo in loc.objects():
                for cc in lo.all("address", "countryCode"):
                    c = alpha2(cc.value)
                    if c and c not in out:
                        out.append(c)
        for addr in o.all("address"):
            for a in addr.objects():
                for key in ("addressCountryCode", "addressCountry", "countryCode"):
                    n = a.get(key)
                    c = alpha2(n.value) if n is not None else None
                    if c and c not in out:
                        out.append(c)
                        break
        if len(out) >= MAX_ITEMS:
            break
    return out


def org(node: Node, languages: Sequence[str]) -> list[dict[str, Any]]:
    """``[{"id", "name", "country"}]`` for an ELM Organisation / OB Profile (object or array)."""
    out: list[dict[str, Any]] = []
    for item in node.items():
        if isinstance(item.value, str):
            out.append({"id": item.string(), "name": None, "country": None})
            continue
        if not isinstance(item.value, dict):
            continue
        name = None
        for key in ("legalName", "name", "prefLabel", "altLabel"):
            n = item.get(key)
            if n is not None:
                name = pick_lang(n.value, languages)
                if name:
                    break
        cs = countries_of(item)
        out.append({"id": item.ident(), "name": name, "country": cs[0] if cs else None})
    return out


def ref(node: Node, languages: Sequence[str]) -> list[dict[str, Any]]:
    """``[{"id", "title"}]`` for references to other specifications (isPartOf, hasPart …)."""
    out: list[dict[str, Any]] = []
    for item in node.items():
        if isinstance(item.value, str):
            out.append({"id": item.string(), "title": None})
        elif isinstance(item.value, dict):
            t = item.get("title", "name", "prefLabel")
            title = pick_lang(t.value, languages) if t is not None else None
            ident = item.ident()
            if ident or title:
                out.append({"id": ident, "title": title})
    return out
