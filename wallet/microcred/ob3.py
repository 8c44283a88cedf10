"""Annex I elements from Open Badges 3.0 and CLR 2.0 credentials.

Specs: Open Badges 3.0 (https://www.imsglobal.org/spec/ob/v3p0/: AchievementCredential §B.1.1,
AchievementSubject, Achievement, Alignment, Result, Profile, Address), CLR 2.0
(https://www.imsglobal.org/spec/clr/v2p0/: ClrCredential, ClrSubject ``verifiableCredential``,
``achievement``, ``association``), VCDM 1.1/2.0 dates. Edubadges-style micro-credential extensions
(``extensions:ECTSExtension`` ``ECTS``, ``extensions:StudyLoadExtension`` ``StudyLoad`` in hours,
``extensions:EQFExtension`` ``EQF``, and plain ``ects``/``studyLoad``/``eqf``/``participation``/
``assessment``/``qualityAssurance``/``prerequisites``/``educationProgramIdentifier`` on the
achievement).

Why the coverages: OB 3.0 has no awarding body, learning outcomes or ECTS of its own, so the issuer
Profile (who awards the badge), the achievement ``alignment`` (objectives/standards it aligns to)
and
``creditsAvailable`` (credits of an unspecified system) are ``inferred``; extension fields are
``extension``; ``awardedDate``/``issuanceDate``/``validFrom`` (VCDM 2.0), ``achievement.name``,
``result.value`` and the issuer ``address.addressCountryCode`` are ``native``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from wallet.errors import BadInput
from wallet.jose import b64url_decode
from wallet.microcred.common import concept, countries_of, el, is_vc2, org, ref, text_of
from wallet.microcred.model import Element
from wallet.microcred.values import (
    Node,
    duration_hours,
    epoch_to_iso,
    eqf_level,
    number,
    parse_ects,
    scalar_number,
)

__all__ = ["decode_jwt_payload", "is_clr", "is_ob3", "map_clr", "map_ob3"]

#: A contained compact JWT longer than this is not decoded (hostile input).
MAX_CONTAINED_JWT = 256 * 1024


def decode_jwt_payload(token: str) -> dict[str, Any] | None:
    """The payload of a compact JWS, **unverified** (a CLR's contained VC-JWT), or ``None``."""
    parts = token.strip().split(".")
    if len(token) > MAX_CONTAINED_JWT or len(parts) != 3:
        return None
    try:
        payload = json.loads(b64url_decode(parts[1]))
    except (BadInput, ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None

_EXT = {
    "ects": (("ects", "ECTS"), ("extensions:ECTSExtension", "ECTS")),
    "hours": (("studyLoad", "StudyLoad"), ("extensions:StudyLoadExtension", "StudyLoad")),
    "eqf": (("eqf", "EQF", "eqfLevel"), ("extensions:EQFExtension", "EQF")),
    "assessment": (("assessment", "assessmentType"),
                   ("extensions:AssessmentExtension", "Assessment")),
    "participation": (("participation", "participationForm"),
                      ("extensions:ParticipationExtension", "Participation")),
    "qa": (("qualityAssurance",), ("extensions:QualityAssuranceExtension", "QualityAssurance")),
    "prereq": (("prerequisites", "prerequisite"),
               ("extensions:PrerequisitesExtension", "Prerequisites")),
    "outcomes": (("learningOutcomes", "learningOutcome"),
                 ("extensions:LearningOutcomeExtension", "LearningOutcome")),
    "supervision": (("supervision", "identityVerification"),
                    ("extensions:SupervisionExtension", "Supervision")),
    "stack": (("stackability", "isPartOf"), ("extensions:StackabilityExtension", "Stackability")),
}


def is_ob3(doc: Node) -> bool:
    t = doc.types()
    if "OpenBadgeCredential" in t or "AchievementCredential" in t:
        return True
    return doc.at("credentialSubject", "achievement") is not None


def is_clr(doc: Node) -> bool:
    if "ClrCredential" in doc.types():
        return True
    cs = doc.at("credentialSubject")
    return cs is not None and "ClrSubject" in cs.types()


def _ext(holders: Sequence[Node | None], what: str) -> Node | None:
    plain, (ext_name, inner) = _EXT[what]
    for h in holders:
        if h is None:
            continue
        n = h.get(*plain)
        if n is not None:
            return n
        for box in (h.get(ext_name), h.at("extensions", ext_name)):
            if box is not None:
                v = box.get(inner, inner[0].lower() + inner[1:])
                if v is not None:
                    return v
    return None


def _issued(doc: Node, outer: Node | None) -> Element | None:
    for key in ("awardedDate", "issuanceDate", "issued"):
        n = doc.get(key)
        if n is not None and n.string():
            return el(n.string(), n, "native")
    vf = doc.get("validFrom")
    if vf is not None and vf.string():
        return el(vf.string(), vf, "native" if is_vc2(doc) else "inferred")
    if outer is not None:
        for key in ("iat", "nbf"):
            n = outer.get(key)
            iso = epoch_to_iso(n.value) if n is not None else None
            if iso and n is not None:
                return el(iso, n, "inferred")
    return None


def _common(doc: Node, languages: Sequence[str], outer: Node | None) -> dict[str, Element]:
    """Learner, issuer country, awarding body and date: shared by OB 3.0 and CLR 2.0."""
    found: dict[str, Element] = {}
    cs = doc.at("credentialSubject")
    if cs is not None:
        name_n = cs.get("name")
        name = text_of(name_n, languages) if name_n is not None else None
        if not name:
            for ident in cs.all("identifier"):
                for i in ident.objects():
                    t, h = i.get("identityType"), i.get("hashed")
                    v = i.get("identityHash")
                    if t is not None and t.value == "name" and (h is None or h.value is False) \
                            and v is not None and v.string():
                        name, name_n = v.string(), v
        ident_s = cs.ident()
        if name or ident_s:
            found["learner"] = el({"id": ident_s, "name": name},
                                  name_n if name_n is not None and name else cs, "native")
    issuer = doc.get("issuer")
    if issuer is not None:
        ctry = countries_of(issuer)
        if ctry:
            where = issuer.get("address", "location")
            found["issuer_country"] = el(ctry, where or issuer, "native")
        orgs = org(issuer, languages)
        if orgs:
            found["awarding_body"] = el(orgs, issuer, "inferred")
    issued = _issued(doc, outer)
    if issued is not None:
        found["issued_at"] = issued
    return found


def map_ob3(doc: Node, languages: Sequence[str], outer: Node | None = None) -> dict[str, Element]:
    found = _common(doc, languages, outer)
    cs = doc.at("credentialSubject")
    ach = cs.at("achievement") if cs is not None else None
    holders = [ach, cs, doc]

    t = ach.get("name") if ach is not None else None
    if t is not None and text_of(t, languages):
        found["title"] = el(text_of(t, languages), t, "native")
    else:
        t = doc.get("name")
        if t is not None and text_of(t, languages):
            found["title"] = el(text_of(t, languages), t, "inferred")
    if "issuer_country" not in found and ach is not None:
        creator = ach.get("creator")
        ctry = countries_of(creator) if creator is not None else []
        if ctry and creator is not None:
            found["issuer_country"] = el(ctry, creator.get("address", "location") or creator,
                                         "inferred")

    lo_ext = _ext(holders, "outcomes")
    if lo_ext is not None:
        ext_items: list[dict[str, Any]] = [
            {"title": text_of(i, languages),
             "id": i.ident() if isinstance(i.value, dict) else None, "skills": []}
            for i in lo_ext.items()]
        ext_items = [i for i in ext_items if i["title"]]
        if ext_items:
            found["learning_outcomes"] = el(ext_items, lo_ext, "extension")
    al = ach.get("alignment") if ach is not None else None
    if "learning_outcomes" not in found and al is not None:
        items: list[dict[str, Any]] = []
        for a in al.objects():
            name = text_of(a.get("targetName"), languages)
            url_n = a.get("targetUrl")
            url = url_n.string() if url_n is not None else None
            skills = [{"uri": url, "label": name}] if url and "data.europa.eu/esco/" in url else []
            if name or url:
                items.append({"title": name, "id": url, "skills": skills})
        if items:
            found["learning_outcomes"] = el(items, al, "inferred")

    e_n, h_n = _ext(holders, "ects"), _ext(holders, "hours")
    ects = parse_ects(e_n.value) if e_n is not None else None
    hours = None
    if h_n is not None:
        hours = number(h_n.value) if not isinstance(h_n.value, str) else (
            duration_hours(h_n.value) or number(h_n.value))
    if ects is not None and e_n is not None:
        found["workload"] = el({"ects": ects, "hours": hours}, e_n, "extension")
    elif hours is not None and h_n is not None:
        ca = ach.get("creditsAvailable") if ach is not None else None
        found["workload"] = el({"ects": parse_ects(ca.value) if ca is not None else None,
                                "hours": hours}, h_n, "extension")
    else:
        ca = ach.get("creditsAvailable") if ach is not None else None
        c = parse_ects(ca.value) if ca is not None else None
        if ca is not None and c is not None:
            found["workload"] = el({"ects": c, "hours": None}, ca, "inferred")

    q_n = _ext(holders, "eqf")
    lvl, uri = eqf_level(q_n.value) if q_n is not None else (None, None)
    if lvl is not None and q_n is not None:
        found["level"] = el({"eqf": lvl, "eqf_uri": uri, "qf_ehea": None, "nqf": None}, q_n,
                            "extension")
    elif al is not None:
        for a in al.objects():
            u = a.get("targetUrl")
            lvl, uri = eqf_level(u.value) if u is not None else (None, None)
            if lvl is not None and u is not None:
                found["level"] = el({"eqf": lvl, "eqf_uri": uri, "qf_ehea": None, "nqf": None},
                                    u, "inferred")
                break

    for what, key in (("assessment", "assessment_type"), ("participation", "participation_form"),
                      ("supervision", "supervision")):
        n = _ext(holders, what)
        cc = concept(n, languages)
        if n is not None and cc is not None:
            found[key] = el(cc, n, "extension")
    qa = _ext(holders, "qa")
    if qa is not None:
        qas = [c for c in (concept(i, languages) for i in qa.items()) if c is not None]
        if qas:
            found["quality_assurance"] = el(qas, qa, "extension")
    pr = _ext(holders, "prereq")
    if pr is not None:
        reqs = [t for t in (text_of(i, languages) for i in pr.items()) if t]
        if reqs:
            found["prerequisites"] = el(reqs, pr, "extension")
    st = _ext(holders, "stack")
    if st is not None:
        stack: dict[str, Any] = {"is_part_of": [], "has_part": [], "entitles_to": [],
                                 "statement": None}
        if isinstance(st.value, bool) or (isinstance(st.value, str) and not
                                          st.value.startswith(("http", "urn:"))):
            stack["statement"] = st.value if isinstance(st.value, bool) else st.string()
        else:
            stack["is_part_of"] = ref(st, languages)
        if stack["statement"] is not None or stack["is_part_of"]:
            found["stackability"] = el(stack, st, "extension")

    if cs is not None:
        for r in cs.all("result"):
            for res in r.objects():
                v = res.get("value")
                if v is not None and (v.string() or scalar_number(v.value) is not None):
                    gv = v.string() if v.string() is not None else v.value
                    found["grade"] = el(gv, v, "native")
                    break
            if "grade" in found:
                break
    d = ach.get("description") if ach is not None else None
    if d is None:
        d = doc.get("description")
    if d is not None and text_of(d, languages):
        found["further_information"] = el([{"text": text_of(d, languages), "url": None}], d,
                                          "inferred")
    return found


def map_clr(doc: Node, languages: Sequence[str], outer: Node | None = None) -> dict[str, Element]:
    """The CLR itself: a transcript whose parts are its contained credentials and achievements."""
    found = _common(doc, languages, outer)
    t = doc.get("name")
    if t is not None and text_of(t, languages):
        found["title"] = el(text_of(t, languages), t, "native")
    cs = doc.at("credentialSubject")
    if cs is not None:
        parts: list[dict[str, Any]] = []
        src = None
        for key in ("verifiableCredential", "achievement"):
            n = cs.get(key)
            if n is None:
                continue
            src = src or n.path
            for item in n.items():
                if isinstance(item.value, dict):
                    inner = item.at("credentialSubject", "achievement")
                    title_n = inner.get("name") if inner is not None else item.get("name")
                    parts.append({"id": item.ident(), "title": text_of(title_n, languages)})
                elif isinstance(item.value, str):
                    payload = decode_jwt_payload(item.value)
                    vc = payload.get("vc", payload) if payload is not None else None
                    if isinstance(vc, dict):
                        v = Node(vc, "")
                        inner = v.at("credentialSubject", "achievement")
                        title_n = inner.get("name") if inner is not None else v.get("name")
                        parts.append({"id": v.ident(), "title": text_of(title_n, languages)})
        if parts and src is not None:
            found["stackability"] = el({"is_part_of": [], "has_part": parts, "entitles_to": [],
                                        "statement": None}, src, "native")
    d = doc.get("description")
    if d is not None and text_of(d, languages):
        found["further_information"] = el([{"text": text_of(d, languages), "url": None}], d,
                                          "inferred")
    return found
