"""Stacks, CLR containment and the portfolio (wallet.microcred.portfolio).

Totals and stacks below are computed by hand from the samples: ECTS of the ELM Annex-1 sample is
2 (``creditPoint.point`` "2", EQF 6), of the EBSI example 5 (``creditPoint[0].point`` "5"), of the
MyNextID badge 5 (``creditsAvailable`` 5), of the 1EdTech complete badge 36 (``creditsAvailable``);
the CLR and its contained Teamwork badge state no credits.
"""

from __future__ import annotations

import copy
from dataclasses import asdict
from typing import Any

from tests.wallet.microcred_support import load
from wallet.microcred import (
    PortfolioItem,
    Stack,
    StackRef,
    build_portfolio,
    map_clr_contained,
    map_elements,
    portfolio_items,
    stack_keys,
)

MCU = "elm/Sample-MC-Annex1-unsigned.jsonld"
EBSI = "ebsi/vcdm2.0-europass-edc-schema/examples/Microcredential-Data-and-software-business.json"

MODULE_A = {"achievement_title": "Module A", "ects": "5", "eqf_level": 6,
            "is_part_of": {"id": "urn:qual:msc-data", "title": "MSc Data Science"},
            "date_of_issuance": "2025-02-01"}
MODULE_B = {"achievement_title": "Module B", "ects": 10, "eqf_level": "7",
            "is_part_of": "urn:qual:msc-data", "date_of_issuance": "2025-06-01"}
EUDI = {"achievement_title": "Data Protection", "expected_study_time": "5 ECTS",
        "level_of_learning_experience": 6,
        "integration_stackability_options": "Stackable towards the Master in  Data Law"}


def items_of(cid: str, rel_or_doc: str | dict[str, Any], fmt: str = "ldp_vc") -> list[Any]:
    if isinstance(rel_or_doc, str):
        doc, fmt = load(rel_or_doc)
    else:
        doc = rel_or_doc
    return portfolio_items(cid, doc, format=fmt)


def test_mixed_portfolio_totals_levels_and_stacks() -> None:
    items = (items_of("c-mcu", MCU) + items_of("c-ebsi", EBSI)
             + items_of("c-mnob", "mynextid/open-badge-mc-example.json")
             + items_of("c-complete", "1edtech/ob30/complete.json")
             + items_of("c-clr", "1edtech/clr20/simple.json")
             + items_of("c-simple", "1edtech/ob30/simple.json")
             + items_of("c-a", MODULE_A, "dc+sd-jwt") + items_of("c-b", MODULE_B, "dc+sd-jwt")
             + items_of("c-eudi", EUDI, "dc+sd-jwt"))
    p = asdict(build_portfolio(items))
    assert [c["id"] for c in p["credentials"]] == [
        "c-mcu", "c-ebsi", "c-mnob", "c-complete", "c-clr", "c-clr#0", "c-simple", "c-a", "c-b",
        "c-eudi"]
    assert p["credentials"][0] == {"id": "c-mcu", "title": "Digital micro-credential creation",
                                   "ects": 2, "eqf": 6}
    assert p["credentials"][5] == {"id": "c-clr#0", "title": "Teamwork", "ects": None,
                                   "eqf": None}
    # 2 + 5 + 5 + 36 + 5 + 10 + 5
    assert p["total_ects"] == 68
    assert p["by_eqf_level"] == {"6": ["c-mcu", "c-a", "c-eudi"], "7": ["c-b"]}
    assert p["stacks"] == [
        {"id": "http://example.edu/credentials/3732", "title": "Sample Transcript",
         "credential_ids": ["c-clr", "c-clr#0"], "whole_id": "c-clr", "total_ects": 0},
        {"id": "urn:qual:msc-data", "title": "MSc Data Science", "credential_ids": ["c-a", "c-b"],
         "whole_id": None, "total_ects": 15},
        {"id": "statement:stackable towards the master in data law",
         "title": "Stackable towards the Master in  Data Law", "credential_ids": ["c-eudi"],
         "whole_id": None, "total_ects": 5},
    ]


def test_whole_qualification_covers_its_parts() -> None:
    whole, fmt = load(MCU)
    spec = whole["credentialSubject"]["hasClaim"]["specifiedBy"]
    spec["hasPart"] = [{"id": "urn:spec:a", "title": {"en": "Module A"}}]
    parts = [dict(MODULE_A, is_part_of="urn:epass:qualification:1"),
             dict(MODULE_B, is_part_of={"id": "urn:epass:qualification:1"})]
    items = items_of("w", whole, fmt) + items_of("a", parts[0], "dc+sd-jwt") \
        + items_of("b", parts[1], "dc+sd-jwt")
    assert items[0].stacks == (StackRef("urn:epass:qualification:1",
                                        "Digital micro-credential creation", "whole"),)
    p = build_portfolio(items)
    assert p.total_ects == 2  # the whole counts; its held parts (5 + 10) are inside it
    assert p.stacks == [Stack("urn:epass:qualification:1", "Digital micro-credential creation",
                               ["w", "a", "b"], whole_id="w", total_ects=15)]


def test_same_credential_held_twice_counts_once() -> None:
    doc, fmt = load(EBSI)
    items = items_of("x1", doc, fmt) + items_of("x2", copy.deepcopy(doc), fmt)
    p = build_portfolio(items)
    assert [c.ects for c in p.credentials] == [5, 5]
    assert p.total_ects == 5


def test_elm_is_part_of_gives_a_stack_key() -> None:
    doc, fmt = load(MCU)
    doc["credentialSubject"]["hasClaim"]["specifiedBy"]["isPartOf"] = {
        "id": "urn:qual:big", "type": "Qualification", "title": {"en": "Big Qualification"}}
    e = map_elements(doc, format=fmt)
    assert e["stackability"].coverage == "native"
    assert e["stackability"].source == "credentialSubject.hasClaim.specifiedBy.isPartOf"
    assert stack_keys(doc, e) == [StackRef("urn:qual:big", "Big Qualification", "part")]
    assert e.missing_mandatory == ["quality_assurance"]


def test_clr_contained_json_and_jwt() -> None:
    clr, _ = load("1edtech/clr20/simple.json")
    (c,) = map_clr_contained(clr)
    assert (c.index, c.source, c.format) == (0, "credentialSubject.verifiableCredential[0]",
                                             "ldp_vc")
    assert c.elements["title"].value == "Teamwork"
    assert c.elements["issued_at"].value == "2010-01-01T00:00:00Z"
    clrj, _ = load("1edtech/clr20/simple.jwt")
    (j,) = map_clr_contained(clrj)  # the whole JWT payload: the CLR sits under ``vc``
    assert (j.source, j.format) == ("vc.credentialSubject.verifiableCredential[0]", "jwt_vc_json")
    assert j.document["jti"] == "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002"
    assert j.elements["title"].value == "Achievement 1"
    assert (j.elements["issued_at"].value, j.elements["issued_at"].source) == (
        "2010-01-01T00:00:00Z", "vc.issuanceDate")
    items = portfolio_items("clr", clrj, format="jwt_vc_json")
    assert [i.credential_id for i in items] == ["clr", "clr#0"]
    assert items[1].document_id == "urn:uuid:91537dba-56cb-11ec-bf63-0242ac130002"
    # part of the CLR; and its achievement (a7467ef6, "Achievement 1") isParentOf dd887f0a
    assert items[1].stacks == (
        StackRef("http://example.edu/credentials/3732", "Sample Transcript", "part"),
        StackRef("urn:uuid:a7467ef6-56cb-11ec-bf63-0242ac130002", "Achievement 1", "whole"))


def test_clr_garbage_entries_are_skipped() -> None:
    clr = {"type": ["VerifiableCredential", "ClrCredential"], "credentialSubject": {
        "verifiableCredential": ["not.a.jwt", "x" * 10, 7, None, "e30.e30.sig", {"name": "ok"}]}}
    out = map_clr_contained(clr)
    assert [c.index for c in out] == [4, 5]  # "e30" = "{}": an (empty) object payload
    assert map_clr_contained("nope") == []  # type: ignore[arg-type]


def test_empty_portfolio() -> None:
    assert asdict(build_portfolio([])) == {"credentials": [], "total_ects": 0,
                                             "by_eqf_level": {}, "stacks": []}


def test_thousand_credentials_shape() -> None:
    items = [PortfolioItem(f"c{i}", map_elements({"title": f"M{i}", "ects": 0.5,
                                                  "eqf_level": i % 8 + 1}, format="dc+sd-jwt"))
             for i in range(1000)]
    p = build_portfolio(items)
    assert p.total_ects == 500
    assert sum(len(v) for v in p.by_eqf_level.values()) == 1000
    assert list(p.by_eqf_level) == [str(i) for i in range(1, 9)]


def test_clr_association_child_is_part_of_parent() -> None:
    clr, _ = load("1edtech/clr20/simple.json")
    child = copy.deepcopy(clr["credentialSubject"]["verifiableCredential"][0])
    child["id"] = "urn:example:child-vc"
    child["credentialSubject"]["achievement"] = {"id": "urn:uuid:dd887f0a-56cb-11ec-bf63-"
                                                       "0242ac130002", "name": "Achievement 2"}
    clr["credentialSubject"]["verifiableCredential"].append(child)
    items = portfolio_items("clr", clr, format="ldp_vc")
    assert items[2].stacks == (
        StackRef("http://example.edu/credentials/3732", "Sample Transcript", "part"),
        StackRef("urn:uuid:a7467ef6-56cb-11ec-bf63-0242ac130002", "Achievement 1", "part"))
    stacks = {s.id: s for s in build_portfolio(items).stacks}
    assert stacks["urn:uuid:a7467ef6-56cb-11ec-bf63-0242ac130002"].credential_ids == ["clr#1"]
