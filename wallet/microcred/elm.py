"""Annex I elements from a European Learning Model v3 credential (EDC on VCDM 1.1 or 2.0).

Specs: ELM v3 / EDC application profile (https://europa.eu/europass/elm-browser/, context
http://data.europa.eu/snb/model/context/edc-ap), EBSI Europass EDC schema on VCDM 2.0
(@cef-ebsi/vcdm2.0-europass-edc-schema), Council Recommendation 2022/C 243/02 Annex I.

Why these paths: the credential subject ``hasClaim`` holds the learning achievement (or activity)
that the credential is about; its ``specifiedBy`` is the specification (a ``Qualification`` or a
``LearningAchievementSpecification``) carrying title, learning outcomes, credit points, volume of
learning, mode, entry requirements; ``provenBy`` is the assessment with grade, ``idVerification``
and an assessment specification whose ``dcType`` is the type of assessment; ``awardedBy`` names the
awarding body, which may differ from the credential ``issuer`` (a sealing organisation). The EQF
level is only read from a ``Qualification`` (ELM puts ``eqfLevel`` there only).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wallet.microcred.common import concept, countries_of, el, is_vc2, org, ref, text_of
from wallet.microcred.model import Coverage, Element
from wallet.microcred.values import (
    Node,
    alpha2,
    duration_hours,
    eqf_level,
    parse_ects,
    scalar_number,
)

__all__ = ["is_elm", "map_elm", "primary_claim"]

ECTS_FRAMEWORK = "http://data.europa.eu/snb/education-credit/6fcec5c5af"


def is_elm(doc: Node) -> bool:
    if "EuropeanDigitalCredential" in doc.types():
        return True
    cs = doc.at("credentialSubject")
    if cs is not None and (cs.at("hasClaim") is not None or cs.at("achieved") is not None):
        return True
    ctx = doc.get("@context")
    return ctx is not None and any(
        isinstance(n.value, str) and "data.europa.eu/snb" in n.value for n in ctx.items()
    )


def primary_claim(doc: Node) -> Node | None:
    """The claim the credential is about: the first LearningAchievement, else the first claim."""
    subj = doc.at("credentialSubject")
    if subj is None:
        return None
    claims = _first_objects(subj, ("hasClaim", "achieved"))
    for c in claims:
        if "LearningAchievement" in c.types():
            return c
    return claims[0] if claims else None


def _lang(node: Node | None, languages: Sequence[str]) -> str | None:
    return text_of(node, languages) if node is not None else None


def _issued(doc: Node, claim: Node | None) -> Element | None:
    for key in ("issued", "issuanceDate"):
        n = doc.get(key)
        if n is not None and n.string():
            return el(n.string(), n, "native")
    vf = doc.get("validFrom")
    if is_vc2(doc) and vf is not None and vf.string():
        return el(vf.string(), vf, "native")
    if claim is not None:
        ad = claim.at("awardedBy", "awardingDate")
        if ad is not None and ad.string():
            return el(ad.string(), ad, "inferred")
    if vf is not None and vf.string():
        return el(vf.string(), vf, "inferred")
    return None


def _outcomes(spec: Node, languages: Sequence[str]) -> Element | None:
    lo = spec.get("learningOutcome")
    if lo is not None:
        out: list[dict[str, Any]] = []
        for item in lo.items():
            if isinstance(item.value, str):
                out.append({"title": item.string(), "id": None, "skills": []})
                continue
            if not isinstance(item.value, dict):
                continue
            skills: list[dict[str, Any]] = []
            for key in ("relatedESCOSkill", "relatedSkill"):
                for s in item.all(key):
                    for c in s.items():
                        cc = concept(c, languages)
                        if cc is not None:
                            skills.append({"uri": cc["uri"], "label": cc["label"]})
            out.append({"title": _lang(item.get("title"), languages), "id": item.ident(),
                        "skills": skills})
        if out:
            return el(out, lo, "native")
    summary = spec.get("learningOutcomeSummary")
    text = _lang(summary, languages)
    if summary is not None and text:
        return el([{"title": text, "id": None, "skills": []}], summary, "native")
    return None


def _workload(claim: Node, spec: Node | None) -> Element | None:
    ects = None
    ects_node = None
    cov: Coverage = "native"
    if spec is not None:
        for cp in spec.all("creditPoint"):
            for c in cp.objects():
                fw = c.get("framework")
                fw_id = fw.ident() if fw is not None else None
                label = text_of(fw, ("en",)) if fw is not None else None
                is_ects = fw_id == ECTS_FRAMEWORK or bool(
                    label and ("ECTS" in label or "European Credit Transfer" in label))
                p = c.get("point")
                val = parse_ects(p.value) if p is not None else None
                if val is None or p is None:
                    continue
                if is_ects or fw is None:
                    ects, ects_node = val, p
                    cov = "native" if is_ects else "inferred"
                    break
            if ects is not None:
                break
    hours = None
    hours_node = None
    for holder, key in ((spec, "volumeOfLearning"), (claim, "workload"), (spec, "workload")):
        if holder is None:
            continue
        n = holder.get(key)
        h = duration_hours(n.value) if n is not None else None
        if h is not None and n is not None:
            hours, hours_node = h, n
            break
    if ects_node is not None:
        return el({"ects": ects, "hours": hours}, ects_node, cov)
    if hours_node is not None:
        return el({"ects": None, "hours": hours}, hours_node, "native")
    return None


def _level(spec: Node | None, languages: Sequence[str]) -> Element | None:
    if spec is None or "Qualification" not in spec.types():
        return None
    n = spec.get("eqfLevel")
    if n is None:
        return None
    first = n.items()[0] if n.items() else None
    lvl, uri = eqf_level(first.value) if first is not None else (None, None)
    if lvl is None:
        return None
    nqf = concept(spec.get("nqfLevel"), languages)
    assert first is not None
    return el({"eqf": lvl, "eqf_uri": uri, "qf_ehea": None, "nqf": nqf["label"] if nqf else None},
              first, "native")


def _assessment_type(assessments: list[Node], languages: Sequence[str]) -> Element | None:
    """The first assessment's stated type; failing any, the type its mode implies."""
    stated: tuple[tuple[str, Coverage], ...] = (("dcType", "native"), ("mode", "inferred"))
    for prop, coverage in stated:
        for a in assessments:
            n = a.at("specifiedBy", prop)
            c = concept(n, languages)
            if c is not None and n is not None:
                return el(c, n, coverage)
    return None


def _first_objects(node: Node, keys: Sequence[str]) -> list[Node]:
    """The objects of the first of ``keys`` that ``node`` has (ELM renamed a few properties)."""
    for key in keys:
        n = node.get(key)
        if n is not None:
            return n.objects()
    return []


def _assessments(claim: Node) -> list[Node]:
    out = _first_objects(claim, ("provenBy", "wasDerivedFrom"))
    parts = [p for a in out for h in a.all("hasPart") for p in h.objects()]
    return out + parts


def _further(claim: Node, spec: Node | None, doc: Node,
             languages: Sequence[str]) -> Element | None:
    for holder in (claim, spec, doc):
        if holder is None:
            continue
        for key in ("additionalNote", "supplementaryDocument"):
            n = holder.get(key)
            if n is None:
                continue
            items: list[dict[str, Any]] = []
            for it in n.items():
                url = it.get("contentURL", "url")
                text = text_of(it, languages)
                u = url.string() if url is not None else None
                if text or u:
                    items.append({"text": text, "url": u})
            if items:
                return el(items, n, "native")
    for holder in (claim, spec):
        d = holder.get("description") if holder is not None else None
        text = _lang(d, languages)
        if d is not None and text:
            return el([{"text": text, "url": None}], d, "inferred")
    return None


def map_elm(doc: Node, languages: Sequence[str]) -> dict[str, Element]:
    found: dict[str, Element] = {}
    claim = primary_claim(doc)
    spec = claim.at("specifiedBy") if claim is not None else None
    subj = doc.at("credentialSubject")

    if subj is not None:
        name_n = subj.get("fullName")
        name = _lang(name_n, languages)
        if not name:
            parts = [_lang(subj.get(k), languages) for k in ("givenName", "familyName")]
            name = " ".join(p for p in parts if p) or None
        ident = subj.ident()
        if name or ident:
            found["learner"] = el({"id": ident, "name": name},
                                  name_n if name_n is not None and name else subj, "native")

    for holder in (claim, spec):
        t = holder.get("title") if holder is not None else None
        title = _lang(t, languages)
        if t is not None and title:
            found["title"] = el(title, t, "native")
            break
    else:
        t = doc.get("title", "name")
        if t is not None and _lang(t, languages):
            found["title"] = el(_lang(t, languages), t, "inferred")

    issuer = doc.get("issuer")
    body = claim.at("awardedBy", "awardingBody") if claim is not None else None
    if issuer is not None:
        cs = countries_of(issuer)
        loc = issuer.at("location")
        if cs and loc is not None:
            found["issuer_country"] = el(cs, loc, "native")
        else:
            for key in ("registration", "vatIdentifier"):
                sp = issuer.at(key, "spatial")
                code = alpha2(sp.value) if sp is not None else None
                if code and sp is not None:
                    found["issuer_country"] = el([code], sp, "inferred")
                    break
    if "issuer_country" not in found and body is not None:
        cs = [c for b in body.objects() for c in countries_of(b)]
        if cs:
            found["issuer_country"] = el(list(dict.fromkeys(cs)), body, "inferred")

    bodies = org(body, languages) if body is not None else []
    if body is not None and bodies:
        found["awarding_body"] = el(bodies, body, "native")
    elif issuer is not None and org(issuer, languages):
        # no awardedBy: the credential issuer is the best available guess
        found["awarding_body"] = el(org(issuer, languages), issuer, "inferred")

    issued = _issued(doc, claim)
    if issued is not None:
        found["issued_at"] = issued

    if spec is not None:
        lo = _outcomes(spec, languages)
        if lo is not None:
            found["learning_outcomes"] = lo
    if claim is not None:
        wl = _workload(claim, spec)
        if wl is not None:
            found["workload"] = wl
    lvl = _level(spec, languages)
    if lvl is not None:
        found["level"] = lvl

    assessments = _assessments(claim) if claim is not None else []
    kind = _assessment_type(assessments, languages)
    if kind is not None:
        found["assessment_type"] = kind
    for a in assessments:
        g = a.get("grade")
        grade: Any = text_of(g, languages) if g is not None else None
        if g is not None and scalar_number(g.value) is not None:
            grade = g.value
        if g is not None and grade not in (None, ""):
            found["grade"] = el(grade, g, "native")
            break
    for a in assessments:
        v = a.get("idVerification")
        c = concept(v, languages)
        if c is not None and v is not None:
            found["supervision"] = el(c, v, "native")
            break

    mode = spec.get("mode") if spec is not None else None
    mc = concept(mode, languages)
    if mode is not None and mc is not None:
        found["participation_form"] = el(mc, mode, "native")
    elif claim is not None:
        for act in claim.all("influencedBy"):
            for a in act.objects():
                m = a.at("specifiedBy", "mode")
                c = concept(m, languages)
                if c is not None and m is not None:
                    found["participation_form"] = el(c, m, "inferred")
                    break
            if "participation_form" in found:
                break

    qa_holders = [spec] + (body.objects() if body is not None else [])
    for h in qa_holders:
        acc = h.get("accreditation") if h is not None else None
        if acc is None:
            continue
        qas: list[dict[str, Any]] = []
        for a in acc.items():
            c = concept(a.get("dcType"), languages) if isinstance(a.value, dict) else None
            if c is None:
                c = concept(a, languages)
            if c is not None:
                qas.append(c)
        if qas:
            found["quality_assurance"] = el(qas, acc, "native")
            break

    req = spec.get("entryRequirement") if spec is not None else None
    if req is not None:
        reqs = [t for t in (text_of(r, languages) for r in req.items()) if t]
        if reqs:
            found["prerequisites"] = el(reqs, req, "native")

    stack: dict[str, Any] = {"is_part_of": [], "has_part": [], "entitles_to": [], "statement": None}
    first_src: str | None = None
    for holder in (claim, spec):
        if holder is None:
            continue
        for key, slot in (("isPartOf", "is_part_of"), ("hasPart", "has_part"),
                          ("entitlesTo", "entitles_to")):
            n = holder.get(key)
            if n is not None:
                refs = ref(n, languages)
                if refs:
                    stack[slot].extend(refs)
                    first_src = first_src or n.path
    if first_src is not None:
        found["stackability"] = el(stack, first_src, "native")

    fi = _further(claim, spec, doc, languages) if claim is not None else None
    if fi is not None:
        found["further_information"] = fi
    return found
