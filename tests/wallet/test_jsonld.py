"""JSON-LD credentials: bundled contexts, RDFC-1.0, Data Integrity eddsa-rdfc-2022, plain VCs."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyld import jsonld

from tests.wallet.fakes_w3c import FakeFetcher
from wallet.errors import PayloadTooLarge, SatchelError
from wallet.formats.jsonld import check_jsonld
from wallet.formats.jsonld.canon import (
    DEFAULT_LIMITS,
    CanonicalizationFailed,
    CanonLimits,
    canonicalize,
)
from wallet.formats.jsonld.data_integrity import (
    hash_data,
    proof_configuration,
    unsecured_document,
)
from wallet.formats.jsonld.loader import BUNDLED_CONTEXTS, UnknownContext, document_loader
from wallet.formats.jsonld.vcdm import status_references
from wallet.formats.model import StatusReference

NOW = datetime(2025, 1, 1, tzinfo=UTC)  # between 2010 (validFrom) and 2030/2040 (see README)


def _di(vectors: Path, name: str) -> Path:
    return vectors / "di-eddsa" / "eddsa-rdfc-2022" / name


def _ob(vectors: Path, name: str) -> str:
    return (vectors / "microcredentials" / "1edtech" / name).read_text()


# --- the W3C vc-di-eddsa test vector, step by step -------------------------------------------

def test_w3c_vector_canonical_document_and_proof(vectors: Path) -> None:
    unsigned = json.loads((vectors / "di-eddsa" / "unsigned.json").read_text())
    assert canonicalize(unsigned).nquads == _di(vectors, "canonDocDataInt.txt").read_text()
    config = json.loads(_di(vectors, "proofConfigDataInt.json").read_text())
    assert canonicalize(config).nquads == _di(vectors, "proofCanonDataInt.txt").read_text()


def test_w3c_vector_canonical_form_matches_plain_pyld(vectors: Path) -> None:
    # Independent peer: pyld's own URDNA2015 with the same bundled contexts.
    unsigned = json.loads((vectors / "di-eddsa" / "unsigned.json").read_text())
    reference = jsonld.normalize(unsigned, {"algorithm": "URDNA2015",
                                            "format": "application/n-quads",
                                            "documentLoader": document_loader})
    assert canonicalize(unsigned).nquads == reference


def test_w3c_vector_hashes_and_signature(vectors: Path) -> None:
    signed = json.loads(_di(vectors, "signedDataInt.json").read_text())
    proof = signed["proof"]
    digest, dropped = hash_data(proof_configuration(proof, signed), unsecured_document(signed))
    assert dropped == ()
    assert digest[:32].hex() == _di(vectors, "proofHashDataInt.txt").read_text().strip()
    assert digest[32:].hex() == _di(vectors, "docHashDataInt.txt").read_text().strip()
    assert digest.hex() == _di(vectors, "combinedHashDataInt.txt").read_text().strip()
    # Ed25519 is deterministic: signing the hash data with the W3C private key gives the vector.
    pair = json.loads((vectors / "di-eddsa" / "keyPair.json").read_text())
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        base58.b58decode(pair["privateKeyMultibase"][1:])[2:])
    signature = private.sign(digest)
    assert signature.hex() == _di(vectors, "sigHexDataInt.txt").read_text().strip()
    assert "z" + base58.b58encode(signature).decode() == proof["proofValue"]
    assert _di(vectors, "sigBTC58DataInt.txt").read_text().strip() == proof["proofValue"]


async def test_w3c_vector_verifies_end_to_end(vectors: Path, no_network: list[object]) -> None:
    raw = _di(vectors, "signedDataInt.json").read_text()
    checked = await check_jsonld(raw, now=NOW, fetcher=None)
    assert checked.signature == "valid"
    assert checked.key_source == "did:key"
    assert checked.raw == raw and checked.format == "ldp_vc"
    # the did:key is not the (https) issuer: reported, for the trust list to weigh
    assert "verification_method_not_issuer" in checked.problems
    assert no_network == []


# --- 1EdTech Open Badges 3.0 / CLR 2.0 ------------------------------------------------------

@pytest.mark.parametrize("name", ["ob30/simple.json", "ob30/simple-did-key-method.json",
                                  "ob30/complete.json", "clr20/simple.json"])
async def test_1edtech_positive_samples_verify_offline(vectors: Path, name: str,
                                                       no_network: list[object]) -> None:
    raw = _ob(vectors, name)
    checked = await check_jsonld(raw, now=NOW, fetcher=None)
    assert checked.signature == "valid", checked.problems
    assert checked.raw == raw
    assert "VerifiableCredential" in checked.types
    assert not {"expired", "not_yet_valid"} & set(checked.problems)
    assert no_network == []


async def test_1edtech_simple_fields(vectors: Path) -> None:
    checked = await check_jsonld(_ob(vectors, "ob30/simple.json"), now=NOW, fetcher=None)
    assert checked.issuer == "https://example.com/issuers/876543"
    assert checked.types == ("VerifiableCredential", "OpenBadgeCredential")
    assert checked.title == "Teamwork"  # the achievement name
    assert checked.valid_from == datetime(2010, 1, 1, tzinfo=UTC)
    assert checked.key_source == "multibase_fragment"
    assert checked.issuer_jwk is not None and checked.issuer_jwk["crv"] == "Ed25519"
    # the key is the verificationMethod URL's own fragment: valid, and reported as self-asserted
    assert checked.problems == ("issuer_key_self_asserted",)
    complete = await check_jsonld(_ob(vectors, "ob30/complete.json"), now=NOW, fetcher=None)
    assert complete.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    clr = await check_jsonld(_ob(vectors, "clr20/simple.json"), now=NOW, fetcher=None)
    assert clr.types == ("VerifiableCredential", "ClrCredential")


@pytest.mark.parametrize(("name", "problem"), [
    ("ob30/simple-err-proof-value.json", "signature_mismatch"),
    ("ob30/simple-err-context.json", "jsonld_terms_dropped"),
    # "OtherCredential" is no term of the OB context (which has no @vocab): a relative IRI that
    # RDF conversion drops, so the proof could not cover it (pyld once invented a base for it)
    ("ob30/simple-err-type.json", "jsonld_relative_iri"),
])
async def test_1edtech_bad_proofs_fail(vectors: Path, name: str, problem: str) -> None:
    checked = await check_jsonld(_ob(vectors, name), now=NOW, fetcher=None)
    assert checked.signature == "invalid"
    assert problem in checked.problems


async def test_1edtech_context_sample_also_lacks_the_vc_context(vectors: Path) -> None:
    checked = await check_jsonld(_ob(vectors, "ob30/simple-err-context.json"), now=NOW,
                                 fetcher=None)
    assert "missing_vc_context" in checked.problems


@pytest.mark.parametrize(("name", "problem"), [
    ("ob30/simple-err-expired.json", "expired"),
    ("ob30/simple-err-issued.json", "not_yet_valid"),
])
async def test_1edtech_date_failures_have_valid_proofs(vectors: Path, name: str,
                                                       problem: str) -> None:
    checked = await check_jsonld(_ob(vectors, name), now=NOW, fetcher=None)
    assert checked.signature == "valid"
    assert problem in checked.problems


async def test_tampered_claim_breaks_the_proof(vectors: Path) -> None:
    doc = json.loads(_ob(vectors, "ob30/simple.json"))
    doc["credentialSubject"]["achievement"]["name"] = "Leadership"
    checked = await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)
    assert checked.signature == "invalid" and "signature_mismatch" in checked.problems


async def test_wrong_proof_purpose_or_key_type(vectors: Path) -> None:
    doc = json.loads(_ob(vectors, "ob30/simple.json"))
    doc["proof"][0]["proofPurpose"] = "authentication"
    checked = await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)
    assert checked.signature == "invalid"
    assert "proof_purpose_not_assertion" in checked.problems


async def test_created_in_the_future_is_reported(vectors: Path) -> None:
    checked = await check_jsonld(_ob(vectors, "ob30/simple.json"),
                                 now=datetime(2009, 6, 1, tzinfo=UTC), fetcher=None)
    assert "proof_created_in_future" in checked.problems
    assert "not_yet_valid" in checked.problems


async def test_did_key_issuer_has_no_consistency_problem(vectors: Path) -> None:
    # Re-sign the W3C unsigned credential with its did:key as the issuer: a clean result.
    pair = json.loads((vectors / "di-eddsa" / "keyPair.json").read_text())
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        base58.b58decode(pair["privateKeyMultibase"][1:])[2:])
    did = "did:key:" + pair["publicKeyMultibase"]
    doc = json.loads((vectors / "di-eddsa" / "unsigned.json").read_text())
    doc["issuer"] = did
    proof: dict[str, Any] = {
        "type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
        "created": "2023-02-24T23:36:38Z", "verificationMethod": f"{did}#{did[8:]}",
        "proofPurpose": "assertionMethod",
    }
    digest, _ = hash_data(proof_configuration(proof, doc), doc)
    proof["proofValue"] = "z" + base58.b58encode(private.sign(digest)).decode()
    doc["proof"] = proof
    checked = await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)
    assert checked.signature == "valid" and checked.problems == ()
    assert checked.issuer == did and checked.key_source == "did:key"


async def test_did_web_verification_method_through_fetcher(vectors: Path) -> None:
    pair = json.loads((vectors / "di-eddsa" / "keyPair.json").read_text())
    private = ed25519.Ed25519PrivateKey.from_private_bytes(
        base58.b58decode(pair["privateKeyMultibase"][1:])[2:])
    did = "did:web:school.example"
    did_doc = {"id": did, "verificationMethod": [{
        "id": f"{did}#key-1", "type": "Multikey", "controller": did,
        "publicKeyMultibase": pair["publicKeyMultibase"]}], "assertionMethod": [f"{did}#key-1"]}
    fetcher = FakeFetcher({"https://school.example/.well-known/did.json": did_doc})
    doc = json.loads((vectors / "di-eddsa" / "unsigned.json").read_text())
    doc["issuer"] = did
    proof: dict[str, Any] = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
                             "created": "2023-02-24T23:36:38Z",
                             "verificationMethod": f"{did}#key-1",
                             "proofPurpose": "assertionMethod"}
    digest, _ = hash_data(proof_configuration(proof, doc), doc)
    doc["proof"] = dict(proof, proofValue="z" + base58.b58encode(private.sign(digest)).decode())
    checked = await check_jsonld(json.dumps(doc), now=NOW, fetcher=fetcher)
    assert checked.signature == "valid" and checked.key_source == "did:web"
    assert checked.problems == ()
    offline = await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)
    assert offline.signature == "no_key"
    assert "verification_method_unresolvable" in offline.problems


# --- fail closed ------------------------------------------------------------------------------

async def test_other_proof_suites_are_unsupported(vectors: Path) -> None:
    text = (vectors / "oid4vci" / "credential_response_ldp_vc.txt").read_text()
    # line-wrapped tokens inside JSON strings (vectors README): join continuation lines
    body = json.loads(re.sub(r"\n\s+(?=[A-Za-z0-9_-])", "", text[text.index("{"):]))
    raw = json.dumps(body["credentials"][0]["credential"])
    checked = await check_jsonld(raw, now=NOW, fetcher=None)
    assert checked.signature == "unsupported"
    assert "proof_suite_unsupported" in checked.problems
    doc = json.loads(_ob(vectors, "ob30/simple.json"))
    doc["proof"][0]["cryptosuite"] = "ecdsa-rdfc-2019"
    assert (await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)).signature == "unsupported"


def test_loader_refuses_unknown_context_without_network(no_network: list[object]) -> None:
    with pytest.raises(UnknownContext):
        document_loader("https://example.org/contexts/evil.jsonld", {})
    with pytest.raises(UnknownContext):  # through pyld too
        canonicalize({"@context": "https://example.org/contexts/evil.jsonld", "a": 1})
    assert no_network == []


async def test_credential_with_unknown_context_is_unsupported(vectors: Path,
                                                             no_network: list[object]) -> None:
    doc = json.loads(_ob(vectors, "ob30/simple.json"))
    doc["@context"].append("https://attacker.example/context.json")
    checked = await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)
    assert checked.signature == "unsupported" and "unknown_context" in checked.problems
    assert no_network == []


def test_loader_serves_every_bundled_context() -> None:
    for url in BUNDLED_CONTEXTS:
        remote = document_loader(url, {})
        assert remote["documentUrl"] == url and "@context" in remote["document"]
    # callers cannot poison the cache through a returned document
    document_loader("https://www.w3.org/ns/credentials/v2", {})["document"]["@context"] = {}
    assert document_loader("https://www.w3.org/ns/credentials/v2", {})["document"]["@context"]


def test_bundled_contexts_equal_the_vectors(vectors: Path) -> None:
    mapping = json.loads((vectors / "microcredentials" / "1edtech" / "contexts" /
                          "context-map.json").read_text())
    for url, name in mapping.items():
        if url.startswith("http"):
            expected = json.loads((vectors / "microcredentials" / "1edtech" / "contexts" /
                                   name).read_text())
            assert document_loader(url, {})["document"] == expected


def test_canonicalization_is_bounded() -> None:
    deep: dict[str, Any] = {"@context": {"@vocab": "urn:x#"}}
    node = deep
    for _ in range(200):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(PayloadTooLarge):
        canonicalize(deep)
    # Two identical anonymous subtrees need Hash N-Degree Quads: a zero budget refuses them.
    twins = {"@context": {"@vocab": "urn:x#"},
             "a": [{"b": {"c": "1"}}, {"b": {"c": "1"}}]}
    assert canonicalize(twins).nquads.count("_:c14n") >= 4
    with pytest.raises(CanonicalizationFailed):
        canonicalize(twins, CanonLimits(max_n_degree_calls=0))
    many = {"@context": {"@vocab": "urn:x#"}, "a": [{"b": str(i)} for i in range(50)]}
    with pytest.raises(CanonicalizationFailed):
        canonicalize(many, CanonLimits(max_blank_nodes=10))
    # one long array costs pyld quadratic time (under the lock all verifications share): the
    # longest array is bounded on its own, far below the total node count
    long_array = {"@context": {"@vocab": "urn:x#"}, "a": [str(i) for i in range(1_001)]}
    assert len(long_array["a"]) < DEFAULT_LIMITS.max_nodes
    with pytest.raises(PayloadTooLarge, match="array"):
        canonicalize(long_array)
    assert canonicalize({**long_array, "a": long_array["a"][:1_000]}).nquads.count("\n") == 1_000


async def test_oversized_credential_is_stored_unverified(vectors: Path) -> None:
    doc = json.loads(_ob(vectors, "ob30/simple.json"))
    doc["credentialSubject"]["achievement"]["tag"] = [f"t{i}" for i in range(6000)]
    checked = await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)
    assert checked.signature == "unsupported" and "too_large_to_verify" in checked.problems


async def test_unsigned_jsonld_is_no_key_and_parsed(vectors: Path) -> None:
    raw = (vectors / "microcredentials" / "mynextid" / "open-badge-mc-example.json").read_text()
    checked = await check_jsonld(raw, now=NOW, fetcher=None)
    assert checked.signature == "no_key" and "unsigned" in checked.problems
    assert "OpenBadgeCredential" in checked.types
    assert checked.title and checked.issuer
    assert checked.raw == raw


async def test_plain_edc_is_no_key(vectors: Path) -> None:
    raw = (vectors / "microcredentials" / "elm" / "Sample-MC-Annex1-unsigned.jsonld").read_text()
    checked = await check_jsonld(raw, now=NOW, fetcher=None)
    assert checked.signature == "no_key"
    assert checked.title == "Micro-Credential"


def test_status_entries_map_to_references() -> None:
    doc = {"credentialStatus": [
        {"type": "BitstringStatusListEntry", "statusPurpose": "suspension",
         "statusListIndex": "94567", "statusListCredential": "https://ex.example/status/3"},
        {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
         "statusListIndex": 7, "statusListCredential": "https://ex.example/status/4"},
        {"type": "SomethingElse"},
    ]}
    assert status_references(doc) == (
        StatusReference("bitstring_status_list", "https://ex.example/status/3", 94567,
                        "suspension"),
        StatusReference("bitstring_status_list", "https://ex.example/status/4", 7, "revocation"),
    )


@pytest.mark.parametrize("index", ["-1", "1e3", "", None, True, "１２"])
async def test_malformed_status_entry_is_refused(vectors: Path, index: object) -> None:
    doc = json.loads(_ob(vectors, "ob30/simple.json"))
    doc["credentialStatus"] = {"type": "BitstringStatusListEntry", "statusPurpose": "revocation",
                               "statusListIndex": index,
                               "statusListCredential": "https://ex.example/s"}
    with pytest.raises(SatchelError):
        await check_jsonld(json.dumps(doc), now=NOW, fetcher=None)


# --- hostile input --------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.sampled_from(["@context", "type", "issuer", "proof", "id", "@id",
                                       "@type", "credentialSubject", "validFrom", "name",
                                       "payload", "signatures", "@vocab", "x"]) | st.text(
                                           max_size=8), children, max_size=5),
    max_leaves=25,
)


# a well-formed (64-byte) proofValue, so that random documents reach canonicalization
_SIG64 = "z" + base58.b58encode(bytes(range(1, 65))).decode()


_inline_context = st.dictionaries(
    st.sampled_from(["@vocab", "@base", "@version", "@protected", "@import", "name", "x", "@id"]),
    st.none() | st.booleans() | st.sampled_from(["urn:x#", "https://attacker.example/c",
                                                 "@id", "@json", 1.1])
    | st.dictionaries(st.sampled_from(["@id", "@type", "@container", "@context"]),
                      st.sampled_from(["@id", "@list", "@set", "@json", "urn:y", "@graph"]),
                      max_size=3),
    max_size=4)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json, st.lists(_inline_context, max_size=2), st.booleans())
def test_random_jsonld_credentials_only_raise_satchel_errors(
        subject: Any, contexts: list[Any], well_formed: bool) -> None:
    # A credential shell (so that parsing succeeds) around hostile JSON-LD, with a proof that is
    # well-formed enough to reach canonicalization; or the random value on its own.
    value: Any = subject
    if well_formed:
        value = {"@context": ["https://www.w3.org/ns/credentials/v2", *contexts],
                 "type": ["VerifiableCredential"],
                 "issuer": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",
                 "credentialSubject": subject,
                 "proof": {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022",
                           "proofPurpose": "assertionMethod",
                           "verificationMethod": "did:key:z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7"
                                                 "XJPt4swbTQ2#z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6"
                                                 "pvBQ7XJPt4swbTQ2",
                           "proofValue": _SIG64}}
    with mock.patch.object(socket.socket, "connect", side_effect=AssertionError("network")):
        try:
            checked = asyncio.run(check_jsonld(json.dumps(value), now=NOW, fetcher=None))
        except SatchelError:
            return
    assert checked.signature != "valid"


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_garbled_text_only_raises_satchel_errors(text: str) -> None:
    try:
        asyncio.run(check_jsonld(text, now=NOW, fetcher=None))
    except SatchelError:
        pass


def test_garbled_vector_bytes_only_raise_satchel_errors(vectors: Path) -> None:
    raw = _ob(vectors, "ob30/simple.json")
    for i in range(0, len(raw), 37):
        garbled = raw[:i] + "\x00{]" + raw[i + 1:]
        try:
            checked = asyncio.run(check_jsonld(garbled, now=NOW, fetcher=None))
        except SatchelError:
            continue
        assert checked.signature != "valid" or re.sub(r"\s", "", garbled) == re.sub(
            r"\s", "", raw)


def test_hash_is_sha256_of_canonical_text(vectors: Path) -> None:
    unsigned = json.loads((vectors / "di-eddsa" / "unsigned.json").read_text())
    text = canonicalize(copy.deepcopy(unsigned)).nquads
    assert hashlib.sha256(text.encode()).hexdigest() == \
        _di(vectors, "docHashDataInt.txt").read_text().strip()


def test_absurd_nesting_is_a_typed_error() -> None:
    for raw in ("[" * 5000 + "]" * 5000, '{"a":' + "[" * 5000 + "]" * 5000 + "}",
                '{"payload":"' + "[" * 3000 + '","signatures":[]}'):
        with pytest.raises(SatchelError):
            asyncio.run(check_jsonld(raw, now=NOW, fetcher=None))
