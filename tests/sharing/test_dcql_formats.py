"""A DCQL credential query's ``format`` is typed at parse against the formats table
(wallet.formats.traits): a wire format with its row, or an ``UnknownFormat`` that matches
nothing. Before, it was any string, compared by name wherever it was used: a query for a format
Satchel holds no row for (``mso_mdoc``, ``pdf``) was matched against any credential whose
stored spelling happened to equal it, and each consumer decided again what an unknown name
meant. The checker each format goes through is named by its row too."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from sharing.dcql import Candidate, UnknownFormat, match_query, parse_dcql_query
from wallet.formats.model import PDF_FORMAT, CredentialFormat
from wallet.formats.traits import TRAITS, WIRE_FORMATS, Checker, wire_format


def _cq(fmt: object, qid: str = "q", **meta: object) -> dict[str, object]:
    return {"id": qid, "format": fmt, "meta": dict(meta), "claims": [{"path": ["name"]}]}


def _one(fmt: object) -> dict[str, object]:
    return {"credentials": [_cq(fmt)]}


@pytest.mark.parametrize("fmt", get_args(CredentialFormat))
def test_every_wire_format_parses_to_its_row(fmt: CredentialFormat) -> None:
    cq = parse_dcql_query(_one(fmt)).credentials[0]
    assert not isinstance(cq.format, UnknownFormat)
    assert cq.format == fmt and TRAITS[cq.format].openid4vp is not None
    assert parse_dcql_query(_one(fmt)).known_formats == {fmt}


@pytest.mark.parametrize("fmt", ["mso_mdoc", PDF_FORMAT, "DC+SD-JWT", "future_vc"])
def test_a_format_without_a_row_is_typed_unknown_and_kept_as_sent(fmt: str) -> None:
    query = parse_dcql_query(_one(fmt))
    cq = query.credentials[0]
    assert isinstance(cq.format, UnknownFormat) and cq.format == fmt
    assert json.dumps({"format": cq.format}) == json.dumps({"format": fmt})
    assert query.known_formats == frozenset()
    assert wire_format(fmt) is None


@pytest.mark.parametrize("fmt", ["mso_mdoc", PDF_FORMAT])
def test_a_query_of_a_format_without_a_row_matches_nothing(fmt: str) -> None:
    """Not even a candidate whose stored spelling is the same string (a newer version's record,
    a PDF: neither is presented through DCQL)."""
    same_name = Candidate("c", fmt, frozenset(), {"name": "Ada"}, holder_bound=True)
    result = match_query(parse_dcql_query(_one(fmt)), [same_name])
    assert not result.satisfiable and not result.queries["q"].matched


def test_a_mixed_query_keeps_its_known_queries_answerable() -> None:
    raw = {"credentials": [_cq("mso_mdoc", "mdl"), _cq("dc+sd-jwt", "pid", vct_values=["T"])],
           "credential_sets": [{"options": [["mdl"], ["pid"]]}]}
    query = parse_dcql_query(raw)
    assert query.known_formats == {"dc+sd-jwt"}
    pid = Candidate("p", "dc+sd-jwt", frozenset({"T"}), {"name": "Ada"}, holder_bound=True)
    result = match_query(query, [pid])
    assert result.satisfiable and not result.queries["mdl"].matched


def test_every_row_names_its_checker() -> None:
    assert {f: t.checker for f, t in TRAITS.items()} == {
        "dc+sd-jwt": "sd_jwt_vc", "vc+sd-jwt": "sd_jwt_vc", "jwt_vc_json": "vc_jwt",
        "ldp_vc": "jsonld", PDF_FORMAT: "pdf"}
    assert {t.checker for t in TRAITS.values()} == set(get_args(Checker))
    assert set(WIRE_FORMATS) == {f for f in TRAITS if TRAITS[f].checker != "pdf"}
