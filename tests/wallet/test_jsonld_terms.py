"""Terms that RDF conversion would drop or splice are refused: a proof could not cover them.

The finding (security review): pyld's toRdf skips every statement about a node whose ``@id`` is
not an absolute IRI (``urn:uuid:280c19b6 4a37``), without calling ``on_property_dropped``. An
issuer whose processor does the same signs N-Quads without the credential's own ``name``,
``type`` or ``validUntil``; the holder edits them and the proof still verified. The same holds for
types, properties and node references that are not absolute IRIs, and pyld writes a language tag
verbatim, so a tag can splice a signed statement into another one. Here the independent "issuer"
is plain pyld (URDNA2015 over its own silently-dropping toRdf).
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from tests.support.vectors import VECTORS
from tests.wallet.di_support import pyld_nquads, sign_di_plain_pyld
from wallet.formats.jsonld import check_jsonld
from wallet.formats.jsonld.canon import (
    LanguageTagMalformed,
    NotAbsoluteIri,
    TermNotCovered,
    canonicalize,
)
from wallet.formats.jsonld.data_integrity import (
    hash_data,
    proof_configuration,
    verify_data_integrity,
)
from wallet.formats.jsonld.di_signing import DataIntegrityNotSignable, sign_data_integrity
from wallet.formats.jsonld.rdf_terms import is_absolute_iri, is_language_tag

NOW = datetime(2025, 1, 1, tzinfo=UTC)
DI = VECTORS / "di-eddsa"
_PAIR = json.loads((DI / "keyPair.json").read_text())
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(
    base58.b58decode(_PAIR["privateKeyMultibase"][1:])[2:])
DID = "did:key:" + _PAIR["publicKeyMultibase"]
VM = f"{DID}#{_PAIR['publicKeyMultibase']}"
CRED_ID = "urn:uuid:58172aac-d8ba-11ed-83dd-0b3aef56cc33"


def _unsigned() -> dict[str, Any]:
    """The W3C vc-di-eddsa credential, issued by the vector key's did:key."""
    doc: dict[str, Any] = json.loads((DI / "unsigned.json").read_text())
    doc["issuer"] = DID
    return doc


def pyld_sign(doc: dict[str, Any]) -> dict[str, Any]:
    return sign_di_plain_pyld(doc, KEY, VM)


def _verify(doc: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    r = asyncio.run(verify_data_integrity(doc, issuer=DID, now=NOW, fetcher=None))
    return r.signature, r.problems


def _forge(signed: dict[str, Any]) -> dict[str, Any]:
    """The learner's edit of what the issuer signed."""
    forged = copy.deepcopy(signed)
    forged["name"] = "Doctor of Medicine (forged)"
    forged["type"] = [*forged["type"], "MedicalLicense"]
    forged["validUntil"] = "2099-01-01T00:00:00Z"
    return forged


# --- what counts as an absolute IRI / a language tag ----------------------------------------

@pytest.mark.parametrize("iri", [
    CRED_ID, "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2#z6Mk", "https://a.example/x?y#z",
    "urn:ex:caf\u00e9", "did:web:example.com%3A8443", "tag:a.example,2024:x", "a+b-c.d:x",
])
def test_absolute_iris(iri: str) -> None:
    assert is_absolute_iri(iri) and jsonld._is_absolute_iri(iri)


@pytest.mark.parametrize("iri", [
    "urn:uuid:280c19b6 4a37", "credentials/3732", "//evil.example/x", "/x", "#frag", "", ":x",
    "1a:x", "a,b:x", "urn:x\n", "urn:x\t", "urn:x<y>", 'urn:"x"', "urn:{x}", "urn:x|y", "urn:x^y",
    "urn:x`y", "urn:x\\y", "urn:x\x7f", "urn:x\x85", "urn:x\u00a0y", "urn:x\u2028", "_:b0", None, 5,
])
def test_not_absolute_iris(iri: object) -> None:
    assert not is_absolute_iri(iri)


@given(st.text(max_size=40))
def test_whatever_pyld_drops_as_relative_is_refused(text: str) -> None:
    # stricter than pyld (RFC 3987 / N-Quads IRIREF), never laxer
    if is_absolute_iri(text):
        assert jsonld._is_absolute_iri(text)


@pytest.mark.parametrize(("tag", "ok"), [
    ("en", True), ("en-GB", True), ("zh-Hant-TW", True), ("EN", True), ("x-private1", True),
    ("", False), ("en x", False), ("en_US", False), ("en-", False), ("-en", False),
    ("en\n", False), ('en .\n<urn:a> <urn:b> "c"', False), ("\u00e9n", False),
])
def test_language_tags(tag: str, ok: bool) -> None:
    assert is_language_tag(tag) is ok


# --- canonicalization refuses, whichever caller asks --------------------------------------------

def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = doc
        for p in parents:
            target = target[p]
        target[last] = value
    return apply


RELATIVE_IRI_CASES: dict[str, Callable[[dict[str, Any]], None]] = {
    "credential id with a space": _set("id", "urn:uuid:280c19b6 4a37"),
    "relative credential id": _set("id", "credentials/3732"),
    "scheme-relative credential id": _set("id", "//evil.example/credentials/1"),
    "id with a trailing newline (pyld's $)": _set("id", "urn:uuid:58172aac\n"),
    "id with <>": _set("id", "urn:x<y>"),
    "subject id with a space": _set("credentialSubject.id", "did:example:abc def"),
    "@type: @id term (issuer), relative": _set("issuer", "issuers/5678"),
    "type through @vocab with a space": _set("type", ["VerifiableCredential", "Forged Type"]),
    "blank node property": _set("_:p", "x"),
    "node reference in a list": _set("credentialSubject.alumniOf", {"@list": [{"@id": "x y"}]}),
    "datatype with a newline": _set("credentialSubject.alumniOf",
                                    {"@value": "x", "@type": "urn:t\n"}),
    "reverse blank node property": _set("@reverse", {"_:p": {"@id": "urn:x"}}),
    "graph with a relative name": _set("credentialSubject", {
        "@id": "graph", "@graph": [{"@id": "urn:a", "alumniOf": "x"}]}),
    "included node with a space": _set("@included", [{"@id": "urn:a b", "alumniOf": "x"}]),
}


@pytest.mark.parametrize("case", sorted(RELATIVE_IRI_CASES))
def test_non_absolute_iris_are_refused(case: str) -> None:
    doc = _unsigned()
    RELATIVE_IRI_CASES[case](doc)
    with pytest.raises(NotAbsoluteIri) as info:
        canonicalize(doc)
    assert info.value.code == "jsonld_relative_iri"
    with pytest.raises(DataIntegrityNotSignable):
        sign_data_integrity(doc, key=KEY, verification_method=VM,
                            proof_purpose="assertionMethod", created=NOW)


@pytest.mark.parametrize("tag", ["en x", "en_US", "", 'en .\n<urn:a> <urn:b> "c"'])
def test_malformed_language_tags_are_refused(tag: str) -> None:
    doc = _unsigned()
    doc["description"] = {"@value": "d", "@language": tag}
    with pytest.raises(LanguageTagMalformed) as info:
        canonicalize(doc)
    assert info.value.code == "jsonld_language_tag_invalid"
    lang_map = _unsigned()
    lang_map["@context"] = [*lang_map["@context"],
                            {"named": {"@id": "urn:ex:named", "@container": "@language"}}]
    lang_map["named"] = {tag: "v"}
    with pytest.raises(LanguageTagMalformed):
        canonicalize(lang_map)


def test_well_formed_terms_still_canonicalize() -> None:
    doc = _unsigned()
    doc["description"] = {"@value": "d", "@language": "zh-Hant-TW"}
    doc["credentialSubject"]["alumniOf"] = {"@list": [{"@id": "urn:a"}, {"@id": "_:b x"}]}
    assert '"d"@zh-hant-tw' in canonicalize(doc).nquads
    w3c = json.loads((DI / "unsigned.json").read_text())
    assert canonicalize(w3c).nquads == pyld_nquads(w3c)  # no base IRI changes nothing here


def test_an_expansion_that_drops_terms_reports_them_beside() -> None:
    doc = _unsigned()
    doc["@context"] = ["https://www.w3.org/2018/credentials/v1"]
    doc["type"] = ["VerifiableCredential", "Unknown"]  # v1 has no @vocab: relative
    doc["undefinedTerm"] = "x"  # dropped by expansion
    with pytest.raises(NotAbsoluteIri) as info:
        canonicalize(doc)
    assert "undefinedTerm" in info.value.dropped_terms


# --- the attacks ------------------------------------------------------------------------------

def test_a_space_in_the_credential_id_no_longer_hides_edits() -> None:
    doc = _unsigned()
    doc["id"] = "urn:uuid:58172aac d8ba"
    signed = pyld_sign(doc)
    forged = _forge(signed)
    # the hole: plain pyld's N-Quads do not change under the edit (the node is dropped)
    assert pyld_nquads({k: v for k, v in forged.items() if k != "proof"}) == pyld_nquads(doc)
    assert _verify(signed) == ("invalid", ("jsonld_relative_iri",))
    assert _verify(forged) == ("invalid", ("jsonld_relative_iri",))
    with pytest.raises(NotAbsoluteIri):
        hash_data(proof_configuration(signed["proof"], doc), doc)


def test_a_language_tag_cannot_splice_away_a_signed_statement() -> None:
    doc = _unsigned()
    doc["name"] = "alumni credential"
    doc["description"] = {"@value": "A minimum viable example.", "@language": "en"}
    signed = sign_data_integrity(doc, key=KEY, verification_method=VM,
                                 proof_purpose="assertionMethod", created=NOW)
    assert _verify(signed) == ("valid", ())
    spliced = copy.deepcopy(signed)
    del spliced["name"]  # removed from the JSON, kept in the N-Quads through the tag:
    spliced["description"]["@language"] = (
        f'en .\n<{CRED_ID}> <https://schema.org/name> "alumni credential"')
    unsecured = {k: v for k, v in spliced.items() if k != "proof"}
    assert pyld_nquads(unsecured) == pyld_nquads(doc)  # the same bytes for plain pyld
    assert _verify(spliced) == ("invalid", ("jsonld_language_tag_invalid",))


async def test_check_jsonld_reports_the_problem_code() -> None:
    doc = _unsigned()
    doc["id"] = "urn:uuid:280c19b6 4a37"
    checked = await check_jsonld(json.dumps(_forge(pyld_sign(doc))), now=NOW, fetcher=None)
    assert checked.signature == "invalid"
    assert "jsonld_relative_iri" in checked.problems


def test_term_not_covered_is_a_canonicalization_failure() -> None:
    # callers that only know CanonicalizationFailed (sharing.presentations) still refuse
    from wallet.formats.jsonld.canon import CanonicalizationFailed
    assert issubclass(TermNotCovered, CanonicalizationFailed)


# --- properties -------------------------------------------------------------------------------

_ODD = st.sampled_from([" ", "\n", "\t", "<", ">", '"', "{", "}", "|", "^", "`", "\\", "\u00a0",
                        "\u2028", "\x85", "\x7f", "/", "../", "#", ":", "", "%20", ","])
_ID_TEXT = st.one_of(
    st.text(max_size=24),
    st.builds(lambda a, odd, b: f"{a}{odd}{b}",
              st.sampled_from(["urn:uuid:58172aac", "did:example:abc", "https://x.example/",
                               "", "//", "_:"]),
              _ODD, st.text(alphabet="abc-09", max_size=6)),
)
_ID_PATHS = ["id", "credentialSubject.id", "issuer"]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ID_TEXT, st.sampled_from(_ID_PATHS))
def test_edits_under_any_signed_id_never_verify(value: str, path: str) -> None:
    doc = _unsigned()
    _set(path, value)(doc)
    try:
        signed = pyld_sign(doc)  # whatever an issuer's processor accepts
    except jsonld.JsonLdError:
        return
    forged = _forge(signed)
    forged["credentialSubject"]["alumniOf"] = "The School of Forgery"
    assert _verify(forged)[0] != "valid"
    state, _ = _verify(signed)
    if state == "valid":  # accepted only when RDF carries every statement: the id is in it
        assert f"<{value}>" in pyld_nquads(doc) or value.startswith("_:")


def _mutate(value: str, op: int, pos: int, text: str) -> str:
    i = pos % (len(value) + 1)
    if op == 0:
        return value[:i] + text + value[i:]
    if op == 1:
        return value[:i] + text + value[i + 1:]
    return text


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_ID_PATHS), st.integers(0, 2), st.integers(0, 80),
       st.one_of(_ODD, st.text(max_size=4)))
def test_a_mutated_id_verifies_only_if_the_canonical_nquads_are_unchanged(
        path: str, op: int, pos: int, text: str) -> None:
    doc = _unsigned()
    signed = sign_data_integrity(doc, key=KEY, verification_method=VM,
                                 proof_purpose="assertionMethod", created=NOW)
    mutated = copy.deepcopy(signed)
    target: Any = mutated
    *parents, last = path.split(".")
    for p in parents:
        target = target[p]
    target[last] = _mutate(target[last], op, pos, text)
    if _verify(mutated)[0] == "valid":
        unsecured = {k: v for k, v in mutated.items() if k != "proof"}
        assert pyld_nquads(unsecured) == pyld_nquads(doc)
        assert canonicalize(unsecured).nquads == canonicalize(doc).nquads


# --- the public samples still verify ------------------------------------------------------------

@pytest.mark.parametrize("name", [
    "1edtech/ob30/simple.json", "1edtech/ob30/simple-did-key-method.json",
    "1edtech/ob30/complete.json", "1edtech/clr20/simple.json",
    "elm/Sample-MC-Annex1-signed.jsonld",
])
async def test_public_samples_still_verify(name: str, vectors: Path) -> None:
    raw = (vectors / "microcredentials" / name).read_text(encoding="utf-8")
    checked = await check_jsonld(raw, now=datetime(2026, 6, 1, tzinfo=UTC), fetcher=None)
    assert checked.signature == "valid", checked.problems


async def test_the_w3c_vector_still_verifies(vectors: Path) -> None:
    raw = (vectors / "di-eddsa" / "eddsa-rdfc-2022" / "signedDataInt.json").read_text()
    assert (await check_jsonld(raw, now=NOW, fetcher=None)).signature == "valid"
