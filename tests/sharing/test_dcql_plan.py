"""The compiled DCQL matcher (``sharing.dcql.plan``, lazy ``CredentialOption``, the type index)
against a literal reading of OpenID4VP 1.0 §6.3, §6.4.1 and §7.1 written here, independent of the
engine: Hypothesis draws credentials, disclosure sets and queries (keys, indices, wildcards,
``values``, duplicate paths, ``claim_sets``, several ``vct_values`` queries) and both must give
the same options, claims and disclosures. Plus the option's backward-compatible surface."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.dcql import Candidate, CredentialOption, SelectedClaim, match_query, parse_dcql_query

# --- the reference: §7.1.1 and §6.4.1 read literally ------------------------------------------

Path = tuple[Any, ...]


def ref_select(doc: Any, path: Path) -> list[tuple[Path, Any]] | None:
    """§7.1.1: a string selects a key of every selected object, null every element, an integer
    one element; a wrong type is an error; an empty result is an error."""
    sel: list[tuple[Path, Any]] = [((), doc)]
    for comp in path:
        nxt: list[tuple[Path, Any]] = []
        for here, el in sel:
            if isinstance(comp, str):
                if not isinstance(el, dict):
                    return None
                if comp in el:
                    nxt.append((here + (comp,), el[comp]))
            else:
                if not isinstance(el, list):
                    return None
                idx = range(len(el)) if comp is None else [comp] if comp < len(el) else []
                nxt.extend((here + (i,), el[i]) for i in idx)
        if not nxt:
            return None
        sel = nxt
    return sel


def same_json(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b  # no floats drawn: a JSON type is a Python type here


def ref_option(cq: dict[str, Any], cand: Candidate) -> tuple[Any, ...] | None:
    if "claims" not in cq:
        return (cand.credential_id, None, (), frozenset())
    by_id = {c.get("id"): c for c in cq["claims"]}
    sets = cq.get("claim_sets") or [[c.get("id") for c in cq["claims"]]]
    plain = "claim_sets" not in cq
    for ids in sets:
        entries = cq["claims"] if plain else [by_id[i] for i in ids]
        picked: dict[Path, tuple[Path, Any, Any, Path]] = {}
        for entry in entries:
            found = ref_select(cand.claims, tuple(entry["path"]))
            if found is not None and "values" in entry:
                found = [(p, v) for p, v in found
                         if any(same_json(v, a) for a in entry["values"])]
            if not found:
                break
            for p, v in found:
                picked.setdefault(p, (p, v, entry.get("id"), tuple(entry["path"])))
        else:
            disclosed: set[Path] = set()
            for p, v, _, _ in picked.values():
                disclosed.update(p[:k] for k in range(1, len(p) + 1) if p[:k] in cand.disclosable)
                if isinstance(v, dict | list):
                    disclosed.update(d for d in cand.disclosable if d[:len(p)] == p)
            return (cand.credential_id, None if plain else tuple(ids), tuple(picked.values()),
                    frozenset(disclosed) if cand.format == "dc+sd-jwt" else frozenset())
    return None


def ref_match(raw: dict[str, Any], cands: list[Candidate]) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    for cq in raw["credentials"]:
        vcts = cq["meta"].get("vct_values") if cq["format"] == "dc+sd-jwt" else None
        opts = []
        for cand in cands:
            if cand.format != cq["format"] or not cand.holder_bound:
                continue
            if vcts is not None and not set(vcts) & set(cand.types):
                continue
            opt = ref_option(cq, cand)
            if opt is not None:
                opts.append(opt)
        out[cq["id"]] = opts
    return out


# --- strategies ---------------------------------------------------------------------------------

KEYS = ["a", "b", "c"]
scalars = st.sampled_from([0, 1, 2, True, False, "x", "1", "", None])
docs = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3) | st.dictionaries(
    st.sampled_from(KEYS), kids, max_size=3), max_leaves=12)
components = st.sampled_from(KEYS) | st.none() | st.integers(0, 2)
TYPES = ["T1", "T2", "T3"]


def concrete_paths(doc: Any, here: Path = ()) -> list[Path]:
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(
        doc, list) else ()
    out = []
    for k, v in items:
        out.append(here + (k,))
        out.extend(concrete_paths(v, here + (k,)))
    return out


@st.composite
def candidates(draw: st.DrawFn, i: int) -> Candidate:
    claims = draw(st.dictionaries(st.sampled_from(KEYS), docs, max_size=3))
    paths = concrete_paths(claims)
    sd = frozenset(p for p in paths if draw(st.booleans())) if paths else frozenset()
    fmt = draw(st.sampled_from(["dc+sd-jwt", "dc+sd-jwt", "jwt_vc_json"]))
    types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3))  # duplicates too
    return Candidate(f"c{i}", fmt, tuple(types), claims, sd if fmt == "dc+sd-jwt"
                     else frozenset(), draw(st.booleans()) or i % 2 == 0)


@st.composite
def credential_queries(draw: st.DrawFn, qid: str) -> dict[str, Any]:
    cq: dict[str, Any] = {"id": qid, "format": draw(st.sampled_from(["dc+sd-jwt",
                                                                      "jwt_vc_json"])),
                          "meta": {}}
    if draw(st.booleans()):
        cq["meta"]["vct_values"] = draw(st.lists(st.sampled_from(TYPES), min_size=1,
                                                 max_size=2))
    if draw(st.integers(0, 5)) == 0:
        return cq
    n = draw(st.integers(1, 4))
    claims = []
    for k in range(n):
        entry: dict[str, Any] = {"id": f"k{k}", "path": draw(st.lists(
            components, min_size=1, max_size=3))}
        if draw(st.integers(0, 2)) == 0:
            entry["values"] = draw(st.lists(scalars.filter(lambda v: v is not None),
                                            min_size=1, max_size=3))
        claims.append(entry)
    if n > 1 and draw(st.booleans()):  # the same path asked twice
        claims[-1]["path"] = list(claims[0]["path"])
    cq["claims"] = claims
    if draw(st.booleans()):
        cq["claim_sets"] = draw(st.lists(st.lists(st.sampled_from([c["id"] for c in claims]),
                                                  min_size=1, max_size=3, unique=True),
                                         min_size=1, max_size=3))
    return cq


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[dict[str, Any], list[Candidate]]:
    cands = [draw(candidates(i)) for i in range(draw(st.integers(0, 6)))]
    raw = {"credentials": [draw(credential_queries(f"q{j}"))
                           for j in range(draw(st.integers(1, 3)))]}
    return raw, cands


@settings(max_examples=150, deadline=None)
@given(scenarios())
def test_matcher_agrees_with_the_literal_reading(scenario: Any) -> None:
    raw, cands = scenario
    result = match_query(parse_dcql_query(raw), cands)
    want = ref_match(raw, cands)
    for qid, expected in want.items():
        got = [(o.credential_id, o.claim_set, tuple(tuple(c) for c in o.claims),
                o.disclosure_paths) for o in result.queries[qid].options]
        assert got == expected
        for opt in result.queries[qid].options:
            assert opt.full_credential is (opt.credential_id not in {
                c.credential_id for c in cands if c.format == "dc+sd-jwt"})
    assert result.satisfiable == all(want.values())


def test_several_vct_queries_use_the_index_in_vault_order() -> None:
    def cand(i: int, types: tuple[str, ...]) -> Candidate:
        return Candidate(f"c{i}", "dc+sd-jwt", types, {"n": i}, frozenset({("n",)}), True)

    cands = [cand(0, ("B", "A")), cand(1, ("C",)), cand(2, ("A", "A")), cand(3, ("B",)),
             cand(4, ("A", "B"))]
    raw = {"credentials": [
        {"id": "ab", "format": "dc+sd-jwt", "meta": {"vct_values": ["B", "A"]},
         "claims": [{"path": ["n"]}]},
        {"id": "a", "format": "dc+sd-jwt", "meta": {"vct_values": ["A"]}},
        {"id": "c", "format": "dc+sd-jwt", "meta": {"vct_values": ["C", "Z"]},
         "claims": [{"path": ["n"], "values": [1]}]},
        {"id": "z", "format": "dc+sd-jwt", "meta": {"vct_values": ["Z"]}}]}
    r = match_query(parse_dcql_query(raw), cands)
    ids = {q: [o.credential_id for o in qm.options] for q, qm in r.queries.items()}
    assert ids == {"ab": ["c0", "c2", "c3", "c4"], "a": ["c0", "c2", "c4"], "c": ["c1"],
                   "z": []}
    assert [c.value for c in r.queries["ab"].options[1].claims] == [2]
    assert not r.satisfiable


# --- the option keeps the surface of the named tuple it replaced --------------------------------

def test_option_is_lazy_but_equal_to_an_eager_one() -> None:
    q = parse_dcql_query({"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {},
                                           "claims": [{"id": "x", "path": ["addr", "city"]},
                                                      {"id": "y", "path": ["age"],
                                                       "values": [21]}]}]})
    cand = Candidate("c", "dc+sd-jwt", ("T",), {"addr": {"city": "Ghent", "zip": "9000"},
                                                "age": 21, "secret": "s"},
                     frozenset({("addr",), ("addr", "city"), ("addr", "zip"), ("age",),
                                ("secret",)}), True)
    (opt,) = match_query(q, [cand]).queries["q"].options
    claims = (SelectedClaim(("addr", "city"), "Ghent", "x", ("addr", "city")),
              SelectedClaim(("age",), 21, "y", ("age",)))
    paths = frozenset({("addr",), ("addr", "city"), ("age",)})
    eager = CredentialOption("c", claims, paths)
    assert opt == eager and hash(opt) == hash(eager)
    assert opt.claims == claims and opt.claims is opt.claims  # built once, then cached
    assert opt.disclosure_paths == paths and ("secret",) not in opt.disclosure_paths
    cid, got_claims, got_paths, claim_set, full = opt
    assert (cid, got_claims, got_paths, claim_set, full) == ("c", claims, paths, None, False)
    assert len(opt) == 5 and opt[1] == claims and opt[-1] is False
    assert opt != CredentialOption("c", claims, paths, None, True)
    assert "Ghent" not in repr(opt) and "addr" in repr(opt)  # no claim values in logs
    with pytest.raises(AttributeError):
        opt.claims = ()  # type: ignore[misc]


def test_values_match_json_types_also_for_subclasses() -> None:
    class Text(str):
        pass

    q = parse_dcql_query({"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {},
                                           "claims": [{"path": ["v"], "values": ["a", 1]}]}]})

    def hit(value: Any) -> bool:
        cand = Candidate("c", "dc+sd-jwt", ("T",), {"v": value}, frozenset(), True)
        return match_query(q, [cand]).satisfiable

    assert hit(Text("a")) and hit(1) and hit(1.0)
    assert not hit(True) and not hit("1") and not hit(["a"]) and not hit({"a": 1})
    assert not hit(None) and not hit(Text("b"))


def test_a_claim_selected_twice_is_listed_once_under_the_first_asker() -> None:
    cand = Candidate("c", "dc+sd-jwt", ("T",), {"n": ["p", "q"], "m": 1},
                     frozenset({("n", 0), ("n", 1), ("m",)}), True)

    def claims(entries: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        q = parse_dcql_query({"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {},
                                               "claims": entries}]})
        (opt,) = match_query(q, [cand]).queries["q"].options
        return [(c.path, c.claim_id, c.query_path) for c in opt.claims]

    assert claims([{"id": "x", "path": ["n", None]}, {"id": "y", "path": ["n", 0]}]) == [
        (("n", 0), "x", ("n", None)), (("n", 1), "x", ("n", None))]
    assert claims([{"id": "y", "path": ["n", 1]}, {"id": "x", "path": ["n", None]}]) == [
        (("n", 1), "y", ("n", 1)), (("n", 0), "x", ("n", None))]
    assert claims([{"id": "a", "path": ["m"]}, {"id": "b", "path": ["m"], "values": [1]}]) == [
        (("m",), "a", ("m",))]


RICH = {"a": [{"b": 1, "c": [1, "x"]}, {"b": "x", "a": [{"b": 1}]}],
        "b": {"a": [1, 2], "b": {"c": True}, "c": [{"a": 1}, [1]]},
        "c": [[1, 2], [3, [1, "x"]], [True]]}


@pytest.mark.parametrize("values", [None, [1], ["x"], [True, 2]])
def test_every_short_path_agrees_with_the_literal_reading(values: Any) -> None:
    """Exhaustive over paths of up to three components (keys, indices, wildcards) on one
    document with nested arrays and objects, half of it selectively disclosable."""
    paths = concrete_paths(RICH)
    cand = Candidate("c", "dc+sd-jwt", ("T",), RICH, frozenset(paths[::2]), True)
    comps: list[Any] = [*KEYS, None, 0, 1]
    for n in (1, 2, 3):
        for path in itertools.product(comps, repeat=n):
            entry: dict[str, Any] = {"id": "k", "path": list(path)}
            if values is not None:
                entry["values"] = values
            raw = {"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {},
                                    "claims": [entry, {"id": "m", "path": ["b", "b"]}]}]}
            got = [(o.credential_id, o.claim_set, tuple(tuple(c) for c in o.claims),
                    o.disclosure_paths)
                   for o in match_query(parse_dcql_query(raw), [cand]).queries["q"].options]
            assert got == ref_match(raw, [cand])["q"], path
