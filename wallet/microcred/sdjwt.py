"""Annex I elements from the disclosed claims of an SD-JWT VC learning credential.

Specs: the EUDI learning credential attestation (``vct``
``urn:eu.europa.ec.eudi:learning:credential:1``, claims ``issuing_authority``,
``issuing_country``, ``date_of_issuance``, ``family_name``, ``given_name``, ``achievement_title``,
``achievement_description``, ``learning_outcomes``, ``assessment_grade``,
``learner_identification``, ``expected_study_time``, ``level_of_learning_experience``,
``types_of_quality_assurance``, ``prerequisites_to_enroll``, ``integration_stackability_options``;
earlier drafts also ``form_of_participation`` and ``evaluator_verification``), SD-JWT VC
(draft-ietf-oauth-sd-jwt-vc) ``iat``, and Satchel's plain names (docs/http-api.md): ``title``, ``ects``,
``eqf_level``, ``assessment_type``, ``participation_form``, ``quality_assurance``,
``awarding_body``, ``grade``, ``prerequisites`` (+ ``issuer_country``, ``hours``,
``qf_ehea_level``, ``supervision``, ``stackability``, ``further_information``).

Why: SD-JWT VCs are flat JSON claims with no JSON-LD; the claim names *are* the schema, so every
recognised name is ``native`` except the few that only approximate an element
(``issuing_authority`` as awarding body, ``achievement_description`` as further information).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from wallet.microcred.common import concept, el, org, ref, text_of
from wallet.microcred.model import Coverage, Element
from wallet.microcred.values import (
    Node,
    alpha2,
    duration_hours,
    epoch_to_iso,
    eqf_level,
    number,
    parse_ects,
    scalar_number,
)

__all__ = ["SDJWT_LC_NAMES", "looks_like_sdjwt_lc", "map_sdjwt"]

_REF_PREFIXES = ("http://", "https://", "urn:", "did:")

SDJWT_LC_NAMES = frozenset({
    "achievement_title", "achievement_description", "learning_outcomes", "expected_study_time",
    "level_of_learning_experience", "types_of_quality_assurance", "issuing_country",
    "issuing_authority", "assessment_grade", "learner_identification", "prerequisites_to_enroll",
    "integration_stackability_options", "form_of_participation", "evaluator_verification",
    "title", "ects", "eqf_level", "assessment_type", "participation_form", "quality_assurance",
    "awarding_body", "grade", "prerequisites",
})


def looks_like_sdjwt_lc(doc: Node) -> bool:
    return isinstance(doc.value, dict) and any(k in doc.value for k in SDJWT_LC_NAMES)


def _texts(n: Node, languages: Sequence[str]) -> list[str]:
    return [t for t in (text_of(i, languages) for i in n.items()) if t]


def _outcomes(n: Node, languages: Sequence[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in n.items():
        if isinstance(i.value, dict):
            skills = []
            for s in i.all("skills") + i.all("esco_skills") + i.all("relatedESCOSkill"):
                for x in s.items():
                    c = concept(x, languages)
                    if c is not None:
                        skills.append({"uri": c["uri"], "label": c["label"]})
            title = text_of(i.get("title", "name", "description"), languages)
            if title or skills:
                out.append({"title": title, "id": i.ident(), "skills": skills})
        else:
            t = text_of(i, languages)
            if t:
                out.append({"title": t, "id": None, "skills": []})
    return out


def map_sdjwt(doc: Node, languages: Sequence[str]) -> dict[str, Element]:
    found: dict[str, Element] = {}
    g = doc.get

    given, family = g("given_name"), g("family_name")
    name_parts = [text_of(x, languages) for x in (given, family) if x is not None]
    name = " ".join(p for p in name_parts if p) or None
    lid = g("learner_identification", "learner_id", "sub")
    lid_s = lid.string() if lid is not None else None
    if lid is not None and lid_s is None and isinstance(lid.value, int) and \
            not isinstance(lid.value, bool):
        lid_s = str(lid.value)
    learner_n = g("learner")
    if learner_n is not None and not name:
        name = text_of(learner_n, languages)
    if name or lid_s:
        src = given or family or learner_n or lid
        assert src is not None
        found["learner"] = el({"id": lid_s, "name": name}, src, "native")

    t = g("achievement_title", "title")
    if t is not None and text_of(t, languages):
        found["title"] = el(text_of(t, languages), t, "native")

    c = g("issuing_country", "issuer_country")
    if c is not None:
        cs = [x for x in (alpha2(i.value) for i in c.items()) if x]
        if cs:
            found["issuer_country"] = el(list(dict.fromkeys(cs)), c, "native")

    ab = g("awarding_body")
    if ab is not None and org(ab, languages):
        found["awarding_body"] = el(_orgs(ab, languages), ab, "native")
    else:
        ia = g("issuing_authority")
        if ia is not None and org(ia, languages):
            found["awarding_body"] = el(_orgs(ia, languages), ia, "inferred")

    d = g("date_of_issuance", "issuance_date", "issued_at")
    if d is not None and d.string():
        found["issued_at"] = el(d.string(), d, "native")
    else:
        iat = g("iat")
        iso = epoch_to_iso(iat.value) if iat is not None else None
        if iat is not None and iso:
            found["issued_at"] = el(iso, iat, "native")

    lo = g("learning_outcomes")
    if lo is not None:
        items = _outcomes(lo, languages)
        if items:
            found["learning_outcomes"] = el(items, lo, "native")

    e_n = g("ects", "credit_points")
    ects = parse_ects(e_n.value) if e_n is not None else None
    h_n = g("hours", "workload_hours", "expected_study_time")
    hours = None
    if h_n is not None:
        hours = duration_hours(h_n.value) if isinstance(h_n.value, str) else number(h_n.value)
        if hours is None and ects is None and h_n.path.endswith("expected_study_time"):
            ects = parse_ects(h_n.value) if isinstance(h_n.value, str) and \
                "ects" in h_n.value.lower() else None
            if ects is not None:
                e_n = h_n
    if ects is not None and e_n is not None:
        found["workload"] = el({"ects": ects, "hours": hours}, e_n, "native")
    elif hours is not None and h_n is not None:
        found["workload"] = el({"ects": None, "hours": hours}, h_n, "native")

    lv = g("level_of_learning_experience", "eqf_level")
    lvl, uri = eqf_level(lv.value) if lv is not None else (None, None)
    qf = g("qf_ehea_level", "qf_ehea")
    qf_v = (qf.string() if qf is not None and qf.string() is not None
            else (qf.value if qf is not None and isinstance(qf.value, int)
                  and not isinstance(qf.value, bool) else None))
    if lv is not None and lvl is not None:
        found["level"] = el({"eqf": lvl, "eqf_uri": uri, "qf_ehea": qf_v, "nqf": None}, lv,
                            "native")
    elif qf is not None and qf_v is not None:
        found["level"] = el({"eqf": None, "eqf_uri": None, "qf_ehea": qf_v, "nqf": None}, qf,
                            "native")

    for names, key in ((("assessment_type", "type_of_assessment"), "assessment_type"),
                       (("participation_form", "form_of_participation"), "participation_form"),
                       (("supervision", "evaluator_verification"), "supervision")):
        n = g(*names)
        cc = concept(n, languages)
        if n is not None and cc is not None:
            found[key] = el(cc, n, "native")

    qa = g("types_of_quality_assurance", "quality_assurance")
    if qa is not None:
        qas = [x for x in (concept(i, languages) for i in qa.items()) if x is not None]
        if qas:
            found["quality_assurance"] = el(qas, qa, "native")

    pr = g("prerequisites_to_enroll", "prerequisites")
    if pr is not None and _texts(pr, languages):
        found["prerequisites"] = el(_texts(pr, languages), pr, "native")

    gr = g("assessment_grade", "grade")
    if gr is not None:
        gv: Any = text_of(gr, languages)
        if scalar_number(gr.value) is not None:
            gv = gr.value
        if gv not in (None, ""):
            found["grade"] = el(gv, gr, "native")

    st = g("integration_stackability_options", "stackability", "is_part_of")
    if st is not None:
        stack: dict[str, Any] = {"is_part_of": [], "has_part": [], "entitles_to": [],
                                 "statement": None}
        if isinstance(st.value, bool):
            stack["statement"] = st.value
        elif isinstance(st.value, str) and not st.value.startswith(_REF_PREFIXES):
            stack["statement"] = st.string()
        else:
            stack["is_part_of"] = ref(st, languages)
        if stack["statement"] is not None or stack["is_part_of"]:
            found["stackability"] = el(stack, st, "native")

    fi = g("further_information")
    cov: Coverage = "native"
    if fi is None:
        fi, cov = g("achievement_description", "description"), "inferred"
    if fi is not None and _texts(fi, languages):
        found["further_information"] = el([{"text": x, "url": None} for x in _texts(fi, languages)],
                                          fi, cov)
    return found


def _orgs(n: Node, languages: Sequence[str]) -> list[dict[str, Any]]:
    out = org(n, languages)
    kept = [i for i in n.items() if isinstance(i.value, str | dict)]
    for o, item in zip(out, kept, strict=False):
        if isinstance(item.value, str):  # a bare name, not an identifier
            s = item.string()
            if s and not s.startswith(("http://", "https://", "did:", "urn:")):
                o["id"], o["name"] = None, s
    return out
