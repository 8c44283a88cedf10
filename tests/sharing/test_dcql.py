"""DCQL (OpenID4VP 1.0 §6-7): every query vector parsed and matched with hand-written expectations,
SD-JWT disclosures cross-checked with the reference ``sd-jwt`` holder/verifier, selection rules,
and Hypothesis on the parser."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any, cast

import pytest
import trustme
from hypothesis import given, settings
from hypothesis import strategies as st

from sharing.dcql import (
    Candidate,
    CredentialNotAnOption,
    IncompleteSelection,
    InvalidDcqlQuery,
    InvalidSelection,
    MultipleNotAllowed,
    UnknownCredentialQuery,
    match_query,
    parse_dcql_query,
    path_overlaps,
    select_claims,
    select_for_response,
)
from sharing.errors import InvalidRequest
from tests.sharing._sdjwt_peer import PeerCredential
from tests.x5c_support import aki, chain_der, leaf_jwk
from wallet.formats.model import CheckedCredential, SignerChain

VEC = Path(__file__).parents[1] / "vectors"
QL = VEC / "oid4vp" / "query_lang"
PID_VCT = "https://credentials.example.com/identity_credential"


def load(rel: str) -> Any:
    return json.loads((VEC / rel).read_text())


def query(name: str) -> Any:
    return parse_dcql_query(load(f"oid4vp/query_lang/{name}.json"))


def sd(cid: str, claims: dict[str, Any], *, vct: str = PID_VCT, disclosable: Any = None,
       bound: bool = True, fmt: str = "dc+sd-jwt", types: Any = None) -> Candidate:
    """A synthetic SD-JWT VC candidate; by default every top-level claim but vct is disclosable."""
    if disclosable is None:
        disclosable = {(k,) for k in claims if k != "vct"}
    return Candidate(cid, fmt, frozenset(types or {vct}), {"vct": vct, **claims},
                     frozenset(disclosable), bound)


@pytest.fixture(scope="module")
def pid01() -> PeerCredential:
    return PeerCredential(VEC / "sd-jwt-vc/01/specification.yml", VEC / "sd-jwt-vc/settings.yml")


@pytest.fixture(scope="module")
def pid03() -> PeerCredential:
    return PeerCredential(VEC / "sd-jwt-vc/03-pid/specification.yml",
                          VEC / "sd-jwt-vc/settings.yml")


# --- parsing every vector ---------------------------------------------------------------------

def test_every_query_vector_parses() -> None:
    files = sorted(QL.glob("*.json")) + sorted((VEC / "oid4vp/request").glob("dcql_*.json"))
    assert len(files) == 9
    for f in files:
        q = parse_dcql_query(json.loads(f.read_text()))
        assert q.credentials, f.name
        assert len(set(q.ids)) == len(q.ids)


def test_parsed_shapes_are_typed() -> None:
    q = query("claims_alternatives")
    cq = q.credential("pid")
    assert cq.claim_sets == (("a", "c", "d", "e"), ("a", "b", "e"))
    assert cq.vct_values == (PID_VCT,)
    assert cq.multiple is False and cq.require_cryptographic_holder_binding is True
    assert [c.path for c in cq.claims or ()][:2] == [("family_name",), ("postal_code",)]
    q = query("credentials_alternatives")
    assert q.credential_sets is not None
    assert [s.required for s in q.credential_sets] == [True, False]
    assert q.credential_sets[0].options[2] == ("pid_reduced_cred_1", "pid_reduced_cred_2")
    q = query("value_matching_simple")
    assert q.credentials[0].claims is not None
    assert q.credentials[0].claims[3].values == ("90210", "90211")
    q = parse_dcql_query(load("oid4vp/request/dcql_jwt_vc.json"))
    assert q.credentials[0].type_values == (("IDCredential",),)
    assert query("complex_mdoc").credentials[0].meta["doctype_value"] == "org.iso.18013.5.1.mDL"
    with pytest.raises(UnknownCredentialQuery):
        query("simple").credential("nope")
    # JSON text is accepted too
    assert parse_dcql_query((QL / "simple.json").read_text()) == query("simple")


@pytest.mark.parametrize("mutate, where", [
    (lambda q: q.pop("credentials"), "credentials"),
    (lambda q: q.update(credentials=[]), "credentials"),
    (lambda q: q["credentials"][0].update(id="bad id!"), "credentials[0].id"),
    (lambda q: q["credentials"][0].update(id=""), "credentials[0].id"),
    (lambda q: q["credentials"].append(copy.deepcopy(q["credentials"][0])), "credentials[1].id"),
    (lambda q: q["credentials"][0].pop("format"), "credentials[0].format"),
    (lambda q: q["credentials"][0].pop("meta"), "credentials[0].meta"),
    (lambda q: q["credentials"][0].update(meta=[]), "credentials[0].meta"),
    (lambda q: q["credentials"][0]["meta"].update(vct_values=[]), "vct_values"),
    (lambda q: q["credentials"][0]["meta"].update(vct_values=[1]), "vct_values"),
    (lambda q: q["credentials"][0].update(claims=[]), "claims"),
    (lambda q: q["credentials"][0]["claims"][0].update(path=[]), "path"),
    (lambda q: q["credentials"][0]["claims"][0].update(path=["a", -1]), "path[1]"),
    (lambda q: q["credentials"][0]["claims"][0].update(path=["a", 1.5]), "path[1]"),
    (lambda q: q["credentials"][0]["claims"][0].update(path=["a", True]), "path[1]"),
    (lambda q: q["credentials"][0]["claims"][0].update(path=[{"x": 1}]), "path[0]"),
    (lambda q: q["credentials"][0]["claims"][0].pop("path"), "path"),
    (lambda q: q["credentials"][0]["claims"][0].update(values=[]), "values"),
    (lambda q: q["credentials"][0]["claims"][0].update(values=[1.5]), "values[0]"),
    (lambda q: q["credentials"][0]["claims"][0].update(values=[None]), "values[0]"),
    (lambda q: q["credentials"][0].update(multiple="yes"), "multiple"),
    (lambda q: q["credentials"][0].update(require_cryptographic_holder_binding=0),
     "require_cryptographic_holder_binding"),
    (lambda q: q["credentials"][0].update(claim_sets=[["a"]]), "claim_sets"),  # ids missing
    (lambda q: q["credentials"][0].update(trusted_authorities=[{"type": "aki"}]),
     "trusted_authorities[0].values"),
    (lambda q: q.update(credential_sets=[]), "credential_sets"),
    (lambda q: q.update(credential_sets=[{"options": [["nope"]]}]), "credential_sets[0]"),
    (lambda q: q.update(credential_sets=[{"options": [[]]}]), "credential_sets[0]"),
    (lambda q: q.update(credential_sets=[{"options": [["my_credential"]], "required": "no"}]),
     "required"),
    (lambda q: q.update(credential_sets=[{}]), "options"),
])
def test_invalid_queries_are_refused(mutate: Any, where: str) -> None:
    raw = load("oid4vp/query_lang/simple.json")
    mutate(raw)
    with pytest.raises(InvalidDcqlQuery) as err:
        parse_dcql_query(raw)
    assert err.value.code == "invalid_request"
    assert isinstance(err.value, InvalidRequest)
    assert where in err.value.detail


def test_claim_sets_rules() -> None:
    raw = load("oid4vp/query_lang/claims_alternatives.json")
    raw["credentials"][0]["claim_sets"].append(["a", "zz"])
    with pytest.raises(InvalidDcqlQuery, match="not defined"):
        parse_dcql_query(raw)
    raw = load("oid4vp/query_lang/claims_alternatives.json")
    raw["credentials"][0]["claims"][1]["id"] = "a"
    with pytest.raises(InvalidDcqlQuery, match="twice"):
        parse_dcql_query(raw)
    raw = load("oid4vp/query_lang/simple.json")
    raw["credentials"][0]["claim_sets"] = [["x"]]
    del raw["credentials"][0]["claims"]
    with pytest.raises(InvalidDcqlQuery, match="without claims"):
        parse_dcql_query(raw)


def test_unknown_properties_are_ignored() -> None:
    raw = load("oid4vp/query_lang/simple.json")
    raw["future"] = {"x": 1}
    raw["credentials"][0]["future"] = [1, 2]
    raw["credentials"][0]["claims"][0]["future"] = None
    assert parse_dcql_query(raw) == query("simple")


# --- claims path pointers (§7) ------------------------------------------------------------------

ARTHUR = {
    "name": "Arthur Dent",
    "address": {"street_address": "42 Market Street", "locality": "Milliways",
                "postal_code": "12345"},
    "degrees": [{"type": "Bachelor of Science", "university": "University of Betelgeuse"},
                {"type": "Master of Science", "university": "University of Betelgeuse"}],
    "nationalities": ["British", "Betelgeusian"],
}


def test_claims_path_pointer_spec_examples() -> None:
    assert select_claims(ARTHUR, ("name",)) == [(("name",), "Arthur Dent")]
    assert select_claims(ARTHUR, ("address",)) == [(("address",), ARTHUR["address"])]
    assert select_claims(ARTHUR, ("address", "street_address")) == [
        (("address", "street_address"), "42 Market Street")]
    assert select_claims(ARTHUR, ("degrees", None, "type")) == [
        (("degrees", 0, "type"), "Bachelor of Science"),
        (("degrees", 1, "type"), "Master of Science")]
    assert select_claims(ARTHUR, ("nationalities", 1)) == [(("nationalities", 1), "Betelgeusian")]


def test_claims_path_pointer_errors() -> None:
    assert select_claims(ARTHUR, ("nope",)) is None  # empty selection
    assert select_claims(ARTHUR, ("nationalities", 5)) is None
    assert select_claims(ARTHUR, ("name", "x")) is None  # string into a non-object
    assert select_claims(ARTHUR, ("name", None)) is None  # wildcard into a non-array
    assert select_claims(ARTHUR, ("address", 0)) is None  # index into an object
    assert select_claims(ARTHUR, ("nationalities", None, "x")) is None  # key into strings
    mixed = {"a": [{"t": 1}, "s"]}
    assert select_claims(mixed, ("a", None, "t")) is None  # one element is not an object
    assert select_claims({"a": [{"t": 1}, {"u": 2}]}, ("a", None, "t")) == [(("a", 0, "t"), 1)]


def test_path_overlaps() -> None:
    assert path_overlaps(("a",), ("a", "b"))
    assert path_overlaps(("a", "b"), ("a",))
    assert path_overlaps(("a", None), ("a", 3, "x"))
    assert not path_overlaps(("a", "b"), ("a", "c"))
    assert not path_overlaps(("a", 1), ("a", 2))
    assert not path_overlaps(("a", "1"), ("a", 1))


# --- matching the vectors -----------------------------------------------------------------------

def test_simple_against_reference_sd_jwt(pid01: PeerCredential) -> None:
    # sd-jwt-vc/01 has family_name, given_name and address (one disclosure, plain inside) ...
    raw = load("oid4vp/query_lang/simple.json")
    result = match_query(parse_dcql_query(raw), [pid01.candidate("c1")])
    assert result.satisfiable
    (opt,) = result.queries["my_credential"].options
    assert opt.credential_id == "c1" and not opt.full_credential
    assert {c.path: c.value for c in opt.claims} == {
        ("family_name",): "Doe", ("given_name",): "John",
        ("address", "street_address"): "123 Main St"}
    assert opt.disclosure_paths == {("family_name",), ("given_name",), ("address",)}
    # ... so the verifier, through the reference holder and verifier, sees exactly these claims
    # (the whole address object comes along: its members are not selectively disclosable).
    seen = pid01.present(opt.disclosure_paths)
    assert seen == {"vct": PID_VCT, "family_name": "Doe", "given_name": "John",
                    "address": {"street_address": "123 Main St", "locality": "Anytown",
                                "region": "Anystate", "country": "US"}}
    assert "email" not in seen and "birthdate" not in seen


def test_recursive_disclosures_against_reference(pid03: PeerCredential) -> None:
    q = parse_dcql_query({"credentials": [{
        "id": "pid", "format": "dc+sd-jwt",
        "meta": {"vct_values": ["urn:example:eudi:pid:aendgard:1"]},
        "claims": [{"path": ["address", "locality"]}, {"path": ["age_equal_or_over", "18"]},
                   {"path": ["nationalities", 0]}]}]})
    (opt,) = match_query(q, [pid03.candidate("p")]).queries["pid"].options
    assert opt.disclosure_paths == {("address",), ("address", "locality"),
                                    ("age_equal_or_over",), ("age_equal_or_over", "18"),
                                    ("nationalities",)}
    seen = pid03.present(opt.disclosure_paths)
    assert seen == {"iss": "https://pid-issuer.aendgard.example",
                    "vct": "urn:example:eudi:pid:aendgard:1",
                    "address": {"locality": "Viken"}, "age_equal_or_over": {"18": True},
                    "nationalities": ["Ændgard"]}


def test_whole_object_reveals_every_nested_disclosure(pid03: PeerCredential) -> None:
    q = parse_dcql_query({"credentials": [{"id": "pid", "format": "dc+sd-jwt", "meta": {},
                                           "claims": [{"path": ["place_of_birth"]}]}]})
    (opt,) = match_query(q, [pid03.candidate("p")]).queries["pid"].options
    assert opt.disclosure_paths == {("place_of_birth",), ("place_of_birth", "locality"),
                                    ("place_of_birth", "country")}
    assert pid03.present(opt.disclosure_paths)["place_of_birth"] == {
        "locality": "Ændholm", "country": "Kingdom of Ændgard"}


def test_no_claims_requests_only_what_is_always_visible(pid01: PeerCredential) -> None:
    q = parse_dcql_query({"credentials": [{"id": "x", "format": "dc+sd-jwt",
                                           "meta": {"vct_values": [PID_VCT]}}]})
    (opt,) = match_query(q, [pid01.candidate("c1")]).queries["x"].options
    assert opt.claims == () and opt.disclosure_paths == frozenset()
    assert pid01.present(opt.disclosure_paths) == {"vct": PID_VCT}


def test_value_matching_simple() -> None:
    q = query("value_matching_simple")
    base = {"family_name": "Doe", "given_name": "John",
            "address": {"street_address": "1 Road"}, "postal_code": "90211"}
    ok = sd("ok", base)
    wrong_name = sd("wrong", {**base, "family_name": "Smith"})
    int_code = sd("int", {**base, "postal_code": 90210})  # type must match exactly
    no_code = sd("none", {k: v for k, v in base.items() if k != "postal_code"})
    r = match_query(q, [ok, wrong_name, int_code, no_code])
    assert [o.credential_id for o in r.queries["my_credential"].options] == ["ok"]
    (opt,) = r.queries["my_credential"].options
    assert ("postal_code",) in opt.disclosure_paths
    assert r.satisfiable
    assert not match_query(q, [wrong_name, int_code]).satisfiable


def test_values_exact_scalar_types() -> None:
    def q(values: list[Any]) -> Any:
        return parse_dcql_query({"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {},
                                                  "claims": [{"path": ["v"], "values": values}]}]})

    def hits(values: list[Any], value: Any) -> bool:
        return match_query(q(values), [sd("c", {"v": value})]).satisfiable

    assert hits([True], True) and not hits([1], True) and not hits([True], 1)
    assert hits([18], 18) and not hits(["18"], 18) and not hits([18], "18")
    assert not hits(["a"], ["a"]) and not hits(["a"], {"a": 1}) and not hits([0], None)


def test_claims_alternatives_first_satisfiable_set_wins() -> None:
    q = query("claims_alternatives")
    full = {"family_name": "Doe", "postal_code": "1", "locality": "L", "region": "R",
            "date_of_birth": "2000-01-01"}
    (opt,) = match_query(q, [sd("a", full)]).queries["pid"].options
    assert opt.claim_set == ("a", "c", "d", "e")
    assert opt.disclosure_paths == {("family_name",), ("locality",), ("region",),
                                    ("date_of_birth",)}
    assert ("postal_code",) not in opt.disclosure_paths  # not selected: never disclosed
    no_region = {k: v for k, v in full.items() if k != "region"}
    (opt,) = match_query(q, [sd("b", no_region)]).queries["pid"].options
    assert opt.claim_set == ("a", "b", "e")
    assert {c.claim_id for c in opt.claims} == {"a", "b", "e"}
    assert opt.disclosure_paths == {("family_name",), ("postal_code",), ("date_of_birth",)}
    neither = {k: v for k, v in no_region.items() if k != "postal_code"}
    assert not match_query(q, [sd("c", neither)]).satisfiable


def _alternatives_held() -> tuple[Candidate, Candidate, Candidate]:
    """The reduced identity, residence and rewards credentials ``credentials_alternatives`` asks
    for."""
    return (sd("r1", {"family_name": "D", "given_name": "J"},
               vct="https://credentials.example.com/reduced_identity_credential"),
            sd("r2", {"postal_code": "1", "locality": "L", "region": "R"},
               vct="https://cred.example/residence_credential"),
            sd("rw", {"rewards_number": 7}, vct="https://company.example/company_rewards"))


def test_credentials_alternatives_and_optional_set() -> None:
    q = query("credentials_alternatives")
    reduced1, reduced2, rewards = _alternatives_held()
    r = match_query(q, [reduced1, reduced2])
    assert r.satisfiable
    s0, s1 = r.credential_sets
    assert s0.required and s0.satisfiable_options == (("pid_reduced_cred_1", "pid_reduced_cred_2"),)
    assert not s1.required and not s1.satisfiable
    assert not r.queries["pid"].matched and not r.queries["other_pid"].matched
    r = match_query(q, [reduced1, reduced2, rewards])
    assert r.credential_sets[1].satisfiable
    assert not match_query(q, [reduced1, rewards]).satisfiable  # required set unmet
    pid = sd("pid", {"given_name": "J", "family_name": "D",
                     "address": {"street_address": "S"}})
    r = match_query(q, [pid])
    assert r.satisfiable and r.credential_sets[0].satisfiable_options == (("pid",),)


def test_mdoc_queries_never_match() -> None:
    pid = sd("pid", {"given_name": "J", "family_name": "D", "address": {"street_address": "S"}})
    fake_mdoc = Candidate("m", "mso_mdoc", frozenset({"org.iso.18013.5.1.mDL"}),
                          {"org.iso.18013.5.1": {"given_name": "J"}}, frozenset(), True)
    r = match_query(query("multi_credentials"), [pid])
    assert r.queries["pid"].matched and not r.queries["mdl"].matched and not r.satisfiable
    assert not match_query(query("simple_mdoc"), [pid]).satisfiable
    r = match_query(query("complex_mdoc"), [pid])
    assert not r.satisfiable and [s.satisfiable for s in r.credential_sets] == [False, False]
    # an mdoc candidate (a format Satchel does not hold) simply is not looked at by SD-JWT queries
    assert not match_query(query("simple"), [fake_mdoc]).satisfiable


def test_w3c_jwt_and_ldp_vectors() -> None:
    jwt_doc = load("oid4vp/credentials/jwt_vc.json")["vc"]
    ldp_doc = load("oid4vp/credentials/ldp_vc.json")
    types = frozenset(jwt_doc["type"])
    jwt = Candidate("j", "jwt_vc_json", types, jwt_doc, frozenset(), True)
    ldp = Candidate("l", "ldp_vc", frozenset(ldp_doc["type"]), ldp_doc, frozenset(), True)
    r = match_query(parse_dcql_query(load("oid4vp/request/dcql_jwt_vc.json")), [jwt, ldp])
    (opt,) = r.queries["example_jwt_vc"].options
    assert opt.credential_id == "j" and opt.full_credential and opt.disclosure_paths == set()
    assert {c.path: c.value for c in opt.claims} == {
        ("credentialSubject", "family_name"): "Mustermann",
        ("credentialSubject", "given_name"): "Max"}
    r = match_query(parse_dcql_query(load("oid4vp/request/dcql_ldp_vc.json")), [jwt, ldp])
    (opt,) = r.queries["example_ldp_vc"].options
    assert opt.credential_id == "l" and len(opt.claims) == 7
    other = Candidate("o", "jwt_vc_json", frozenset({"VerifiableCredential", "OtherCred"}),
                      jwt_doc, frozenset(), True)
    assert not match_query(parse_dcql_query(load("oid4vp/request/dcql_jwt_vc.json")),
                           [other]).satisfiable


def test_type_values_alternatives_are_subsets() -> None:
    q = parse_dcql_query({"credentials": [{"id": "d", "format": "ldp_vc", "meta": {
        "type_values": [["VerifiableCredential", "AlumniCredential", "BachelorDegree"],
                        ["VerifiableCredential", "UniversityDegreeCredential"]]}}]})

    def w3c(types: list[str]) -> Candidate:
        return Candidate("w", "ldp_vc", frozenset(types), {"type": types}, frozenset(), True)

    assert match_query(q, [w3c(["VerifiableCredential", "UniversityDegreeCredential"])]).satisfiable
    assert match_query(q, [w3c(["VerifiableCredential", "BachelorDegree",
                                "AlumniCredential"])]).satisfiable
    assert not match_query(q, [w3c(["VerifiableCredential", "BachelorDegree"])]).satisfiable


def test_vct_values_and_aka_types_and_legacy_format() -> None:
    q = query("simple")
    claims = {"family_name": "D", "given_name": "J", "address": {"street_address": "S"}}
    aka = sd("aka", claims, vct="https://new.example/pid", types={"https://new.example/pid",
                                                                  PID_VCT})
    other = sd("other", claims, vct="https://other.example/vct")
    legacy = sd("legacy", claims, fmt="vc+sd-jwt")
    r = match_query(q, [aka, other, legacy])
    assert [o.credential_id for o in r.queries["my_credential"].options] == ["aka"]
    r = match_query(q, [legacy], legacy_sd_jwt=True)
    assert [o.credential_id for o in r.queries["my_credential"].options] == ["legacy"]


def test_holder_binding() -> None:
    claims = {"family_name": "D", "given_name": "J", "address": {"street_address": "S"}}
    unbound = sd("u", claims, bound=False)
    bound = sd("b", claims)
    assert [o.credential_id for o in match_query(query("simple"), [unbound, bound])
            .queries["my_credential"].options] == ["b"]
    raw = load("oid4vp/query_lang/simple.json")
    raw["credentials"][0]["require_cryptographic_holder_binding"] = False
    r = match_query(parse_dcql_query(raw), [unbound, bound])
    assert [o.credential_id for o in r.queries["my_credential"].options] == ["u", "b"]
    assert r.queries["my_credential"].require_holder_binding is False


def test_wildcards_and_array_disclosures() -> None:
    claims = {"nationalities": ["DE", "FR", "IT"], "degrees": ARTHUR["degrees"]}
    disclosable = {("nationalities",), ("nationalities", 0), ("nationalities", 1),
                   ("nationalities", 2), ("degrees", 0), ("degrees", 1)}
    cand = sd("w", claims, disclosable=disclosable)

    def one(claim: dict[str, Any]) -> Any:
        q = parse_dcql_query({"credentials": [{"id": "q", "format": "dc+sd-jwt", "meta": {},
                                               "claims": [claim]}]})
        opts = match_query(q, [cand]).queries["q"].options
        return opts[0] if opts else None

    opt = one({"path": ["nationalities", None]})
    assert [c.path for c in opt.claims] == [("nationalities", 0), ("nationalities", 1),
                                            ("nationalities", 2)]
    assert opt.disclosure_paths == {("nationalities",), ("nationalities", 0),
                                    ("nationalities", 1), ("nationalities", 2)}
    opt = one({"path": ["nationalities", None], "values": ["FR"]})
    assert [(c.path, c.value) for c in opt.claims] == [(("nationalities", 1), "FR")]
    assert opt.disclosure_paths == {("nationalities",), ("nationalities", 1)}
    assert one({"path": ["nationalities", None], "values": ["ES"]}) is None
    opt = one({"path": ["degrees", None, "type"]})
    assert [c.value for c in opt.claims] == ["Bachelor of Science", "Master of Science"]
    assert opt.disclosure_paths == {("degrees", 0), ("degrees", 1)}
    opt = one({"path": ["degrees", 1, "type"]})
    assert opt.disclosure_paths == {("degrees", 1)}
    assert one({"path": ["nationalities", None, "x"]}) is None


def test_trusted_authorities_aki() -> None:
    leaf = trustme.CA().create_child_ca().issue_cert("issuer.example")
    chain = tuple(chain_der(leaf))
    leaf_aki, intermediate_aki = (aki(der) for der in chain)
    aki_b64 = leaf_aki
    signer = leaf_jwk(leaf)
    claims = {"family_name": "D", "given_name": "J", "address": {"street_address": "S"}}
    checked = CheckedCredential(
        format="dc+sd-jwt", raw="", issuer="https://issuer.example", types=(PID_VCT,),
        claims={"vct": PID_VCT, **claims}, signature="valid",
        disclosable=(("family_name",), ("given_name",), ("address",)),
        holder_jwk={"kty": "EC"}, issuer_jwk=signer, issuer_cert_der=chain[0],
        signer_chains=(SignerChain(signer, chain),))
    from_cert = Candidate.from_checked("cert", checked)
    # every certificate the signing key chains through, not only the leaf (§6.1.1)
    assert from_cert.authority_key_ids == {leaf_aki, intermediate_aki} and from_cert.holder_bound
    # no chain carried, an unreadable one, or one for another key: known to have no AKI
    no_chain = Candidate.from_checked("plain", dataclasses.replace(
        checked, issuer_cert_der=None, signer_chains=(SignerChain(signer, ()),)))
    assert no_chain.authority_key_ids == frozenset()
    for broken in (SignerChain(signer, None), SignerChain({"kty": "OKP"}, chain)):
        assert Candidate.from_checked("bad", dataclasses.replace(
            checked, signer_chains=(broken,))).authority_key_ids == frozenset()
    assert Candidate.from_checked("unsigned", dataclasses.replace(
        checked, signature="invalid")).authority_key_ids == frozenset()
    raw = load("oid4vp/query_lang/simple.json")
    raw["credentials"][0]["trusted_authorities"] = [{"type": "aki", "values": [intermediate_aki]}]
    qm = match_query(parse_dcql_query(raw), [from_cert, no_chain]).queries["my_credential"]
    assert [o.credential_id for o in qm.options] == ["cert"] and qm.notes == ()
    unknown = sd("unknown", claims)  # no issuer certificate: cannot be judged, kept

    def run(tas: list[dict[str, Any]]) -> Any:
        raw = load("oid4vp/query_lang/simple.json")
        raw["credentials"][0]["trusted_authorities"] = tas
        return match_query(parse_dcql_query(raw), [from_cert, unknown]).queries["my_credential"]

    qm = run([{"type": "aki", "values": [aki_b64]}])
    assert [o.credential_id for o in qm.options] == ["cert", "unknown"]
    assert qm.notes == ("trusted_authorities not fully evaluated",)
    qm = run([{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]}])
    assert [o.credential_id for o in qm.options] == ["unknown"]
    qm = run([{"type": "aki", "values": ["s9tIpPmhxdiuNkHMEWNpYim8S8Y"]},
              {"type": "etsi_tl", "values": ["https://lotl.example.com"]}])
    assert [o.credential_id for o in qm.options] == ["cert", "unknown"]  # etsi_tl not judged
    assert qm.notes
    raw = load("oid4vp/query_lang/simple.json")
    raw["credentials"][0]["trusted_authorities"] = [{"type": "aki", "values": [aki_b64]}]
    qm = match_query(parse_dcql_query(raw), [from_cert]).queries["my_credential"]
    assert qm.notes == () and qm.matched


# --- selection ----------------------------------------------------------------------------------

CLAIMS = {"family_name": "D", "given_name": "J", "address": {"street_address": "S"}}


def test_select_simple_and_multiple() -> None:
    raw = load("oid4vp/query_lang/simple.json")
    a, b = sd("a", CLAIMS), sd("b", CLAIMS)
    result = match_query(parse_dcql_query(raw), [a, b])
    sel = select_for_response(result, {"my_credential": "b"})
    (p,) = sel.presentations
    assert (p.query_id, p.credential_id, p.holder_binding_required) == ("my_credential", "b", True)
    assert p.disclosure_paths == {("family_name",), ("given_name",), ("address",)}
    assert sel.disclosed_paths() == {"b": {("family_name",), ("given_name",),
                                           ("address", "street_address")}}
    with pytest.raises(MultipleNotAllowed):
        select_for_response(result, {"my_credential": ["a", "b"]})
    raw["credentials"][0]["multiple"] = True
    result = match_query(parse_dcql_query(raw), [a, b])
    sel = select_for_response(result, {"my_credential": ["a", "b"]})
    assert [p.credential_id for p in sel.for_query("my_credential")] == ["a", "b"]


def test_select_rejects_bad_choices() -> None:
    result = match_query(query("simple"), [sd("a", CLAIMS)])
    with pytest.raises(UnknownCredentialQuery):
        select_for_response(result, {"my_credential": "a", "other": "a"})
    with pytest.raises(CredentialNotAnOption):
        select_for_response(result, {"my_credential": "zzz"})
    with pytest.raises(IncompleteSelection):
        select_for_response(result, {})
    with pytest.raises(InvalidSelection):
        select_for_response(result, {"my_credential": []})
    with pytest.raises(InvalidSelection):
        select_for_response(result, {"my_credential": ["a", "a"]})
    unsat = match_query(query("simple"), [])
    with pytest.raises(IncompleteSelection):
        select_for_response(unsat, {"my_credential": "a"})


def test_select_with_credential_sets() -> None:
    q = query("credentials_alternatives")
    r1, r2, rw = _alternatives_held()
    pid = sd("pid", CLAIMS)
    result = match_query(q, [r1, r2, rw, pid])
    sel = select_for_response(result, {"pid": "pid", "nice_to_have": "rw"})
    assert sel.query_ids == ("pid", "nice_to_have")
    sel = select_for_response(result, {"pid": "pid", "nice_to_have": "rw"}, drop_optional=True)
    assert sel.query_ids == ("pid",)
    sel = select_for_response(result, {"pid_reduced_cred_1": "r1", "pid_reduced_cred_2": "r2"})
    assert sel.query_ids == ("pid_reduced_cred_1", "pid_reduced_cred_2")
    with pytest.raises(IncompleteSelection):  # half of an option: the required set is unmet
        select_for_response(result, {"pid_reduced_cred_1": "r1"})
    with pytest.raises(IncompleteSelection):  # only the optional set
        select_for_response(result, {"nice_to_have": "rw"})
    with pytest.raises(IncompleteSelection):  # pid + a stray half option would over-disclose
        select_for_response(result, {"pid": "pid", "pid_reduced_cred_1": "r1"})
    sel = select_for_response(result, {"pid": "pid", "pid_reduced_cred_1": "r1"},
                              drop_optional=True)
    assert sel.query_ids == ("pid",)


# --- Hypothesis: the parser only ever answers with typed errors ---------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=False) |
    st.sampled_from(["", "id", "a b", "dc+sd-jwt", "ldp_vc", "x"]),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        st.sampled_from(["credentials", "credential_sets", "id", "format", "meta", "claims",
                         "path", "values", "claim_sets", "options", "required", "multiple",
                         "vct_values", "type_values", "trusted_authorities", "type",
                         "require_cryptographic_holder_binding", "other"]),
        children, max_size=6),
    max_leaves=40)

near_valid = st.fixed_dictionaries({
    "credentials": st.lists(st.fixed_dictionaries({
        "id": st.sampled_from(["a", "b", "c-1", "bad id"]),
        "format": st.sampled_from(["dc+sd-jwt", "jwt_vc_json", "mso_mdoc"]),
        "meta": st.sampled_from([{}, {"vct_values": ["v"]}, {"type_values": [["T"]]},
                                 {"vct_values": []}]),
        "claims": st.lists(st.fixed_dictionaries({
            "path": st.lists(st.none() | st.integers(-1, 3) | st.sampled_from(["x", "y"]),
                             max_size=3),
            "id": st.sampled_from(["p", "q", "r"])}, optional={"values": json_values}),
            max_size=3),
    }, optional={"claim_sets": json_values, "multiple": json_values}), max_size=3),
}, optional={"credential_sets": st.lists(st.fixed_dictionaries(
    {"options": st.lists(st.lists(st.sampled_from(["a", "b", "z"]), max_size=2), max_size=2)},
    optional={"required": json_values}), max_size=2)})


@settings(max_examples=150, deadline=None)
@given(st.one_of(json_values, near_valid))
def test_parser_raises_only_typed_errors(raw: Any) -> None:
    try:
        q = parse_dcql_query(raw)
    except InvalidDcqlQuery as exc:
        assert exc.code == "invalid_request"
        return
    # whatever parses can be matched without surprises
    cand = Candidate("c", "dc+sd-jwt", frozenset({"v"}), {"x": [{"y": 1}], "y": "s"},
                     frozenset({("x", 0)}), True)
    result = match_query(q, [cand])
    assert set(result.queries) == set(q.ids)


@settings(max_examples=100, deadline=None)
@given(json_values, st.lists(st.none() | st.integers(0, 3) | st.sampled_from(
    ["credentials", "id", "x"]), min_size=1, max_size=4))
def test_select_claims_never_raises(doc: Any, path: list[Any]) -> None:
    found = select_claims(doc, tuple(path))
    assert found is None or (found and all(len(p) == len(path) for p, _ in found))


def test_stored_credentials_keep_unknown_akis() -> None:
    """A credential stored before intake recorded ``authority_key_ids`` is unknown (kept and
    noted), one recorded without a chain, or with ``null`` (an unreadable ``x5c``), is
    known-empty (docs/presenting.md)."""
    from datetime import UTC, datetime

    from sharing.present import _candidate
    from wallet.vault import StoredCredential
    from wallet.vault.model import CredentialData

    def stored(**data: Any) -> StoredCredential:
        return StoredCredential(id="c1", format="dc+sd-jwt", types=(PID_VCT,), issuer="i",
                                title=None, issued_at=None, expires_at=None, status="none",
                                added_at=datetime.now(UTC), raw="x",
                                data=cast(CredentialData, {"claims": {}, **data}))

    assert _candidate(stored()).authority_key_ids is None
    # null was written only for an x5c that could not be read: nothing chains to it
    assert _candidate(stored(authority_key_ids=None)).authority_key_ids == frozenset()
    assert _candidate(stored(authority_key_ids=[])).authority_key_ids == frozenset()
    assert _candidate(stored(authority_key_ids=["a", "b"])).authority_key_ids == {"a", "b"}
    assert _candidate(stored(authority_key_ids=[1])).authority_key_ids is None
