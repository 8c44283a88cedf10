"""Data Integrity is ``valid`` only when the JSON Satchel reads is the compact form of what the
proof covers (security review: re-keyed credentials with unchanged N-Quads)."""

from __future__ import annotations

import asyncio
import copy
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.vectors import VECTORS
from tests.wallet.di_support import did_key, did_key_vm, sign_di
from wallet.formats.jsonld.canon import CanonicalizationBudgetExceeded, CanonLimits, canonicalize
from wallet.formats.jsonld.compact_form import (
    MAX_EMBEDDED,
    MAX_EMBEDDING_DEPTH,
    InlineContext,
    bundled_term_iris,
    require_compact_form,
)
from wallet.formats.jsonld.data_integrity import (
    proof_configuration,
    unsecured_document,
    verify_data_integrity,
)
from wallet.formats.jsonld.di_signing import DataIntegrityNotSignable, sign_data_integrity

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KEY = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
DID = did_key(KEY)
V2 = "https://www.w3.org/ns/credentials/v2"
EX = "https://www.w3.org/ns/credentials/examples/v2"
CR = "https://www.w3.org/2018/credentials#"
OB = "https://purl.imsglobal.org/spec/vc/ob/vocab.html#"
XSD_DATETIME = "http://www.w3.org/2001/XMLSchema#dateTime"
MC = VECTORS / "microcredentials"

BASE: dict[str, Any] = {
    "@context": [V2, EX],
    "id": "urn:uuid:11111111-2222-3333-4444-555555555555",
    "type": ["VerifiableCredential", "AlumniCredential"],
    "name": "Real Title",
    "issuer": DID,
    "validFrom": "2026-01-01T00:00:00Z",
    "validUntil": "2026-03-01T00:00:00Z",
    "credentialStatus": {"id": "https://status.example/1#5", "type": "BitstringStatusListEntry",
                         "statusPurpose": "revocation", "statusListIndex": "5",
                         "statusListCredential": "https://status.example/1"},
    "credentialSubject": {"id": "did:example:learner", "degree": "BSc"},
}
SIGNED = sign_di(BASE, KEY, did_key_vm(KEY))


def _ob3() -> dict[str, Any]:
    doc = json.loads((MC / "1edtech/ob30/simple.json").read_text())
    doc.pop("proof")
    doc["issuer"]["id"] = DID
    return sign_di(doc, KEY, did_key_vm(KEY))


OB3 = _ob3()


def _clr() -> dict[str, Any]:
    doc = json.loads((MC / "1edtech/clr20/simple.json").read_text())
    doc.pop("proof")
    doc["issuer"]["id"] = DID
    return sign_di(doc, KEY, did_key_vm(KEY))


CLR = _clr()


def _verify(doc: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    r = asyncio.run(verify_data_integrity(doc, issuer=DID, now=NOW, fetcher=None))
    return r.signature, r.problems


def _nquads(doc: dict[str, Any]) -> str:
    return canonicalize(unsecured_document(doc)).nquads


def _hide_expiry(d: dict[str, Any]) -> None:
    d[CR + "validUntil"] = {"@value": d.pop("validUntil"), "@type": XSD_DATETIME}


def _hide_status(d: dict[str, Any]) -> None:
    d[CR + "credentialStatus"] = d.pop("credentialStatus")


def _forge_expiry(d: dict[str, Any]) -> None:
    _hide_expiry(d)
    d["@context"] = [V2, EX, {"expirationDate": "@index"}]
    d["expirationDate"] = "2099-01-01T00:00:00Z"


def _forge_title(d: dict[str, Any]) -> None:
    d["https://schema.org/name"] = d.pop("name")
    d["@context"] = [V2, EX, {"achievement": {"@id": "@nest", "@context": {"name": "@index"}}}]
    d["credentialSubject"]["achievement"] = {"name": "Doctor of Medicine (forged)"}


def _forge_valid_from(d: dict[str, Any]) -> None:
    d[CR + "validFrom"] = {"@value": d.pop("validFrom"), "@type": XSD_DATETIME}
    d["@context"] = [V2, EX, {"issuanceDate": "@index"}]
    d["issuanceDate"] = "2020-01-01T00:00:00Z"


def _id_keyword(d: dict[str, Any]) -> None:
    d["@id"] = d.pop("id")


def _nested_inline(d: dict[str, Any]) -> None:
    d["credentialSubject"]["@context"] = {"note": "@index"}
    d["credentialSubject"]["note"] = "anything"


@pytest.mark.parametrize(("mutate", "code", "same_nquads"), [
    (_hide_expiry, "jsonld_not_in_compact_form", True),
    (_hide_status, "jsonld_not_in_compact_form", True),
    (_id_keyword, "jsonld_not_in_compact_form", True),
    (_forge_expiry, "jsonld_inline_context", True),
    (_forge_title, "jsonld_inline_context", True),
    (_forge_valid_from, "jsonld_inline_context", True),
    (_nested_inline, "jsonld_inline_context", True),
])
def test_rekeyed_credentials_do_not_verify(mutate: Callable[[dict[str, Any]], None], code: str,
                                           same_nquads: bool) -> None:
    assert _verify(SIGNED) == ("valid", ())
    doc = copy.deepcopy(SIGNED)
    mutate(doc)
    assert (_nquads(doc) == _nquads(SIGNED)) is same_nquads  # the proof itself still matches
    signature, problems = _verify(doc)
    assert signature == "invalid" and code in problems


def test_forged_ob3_title_does_not_verify() -> None:
    f = copy.deepcopy(OB3)
    cs = f["credentialSubject"]
    cs["type"] = [OB + "AchievementSubject"]  # full-IRI type escapes the protected context
    cs[OB + "achievement"] = cs.pop("achievement")
    f["@context"] = [*f["@context"],
                     {"achievement": {"@id": "@nest", "@context": {"name": "@index"}}}]
    cs["achievement"] = {"name": "Doctor of Medicine"}
    assert _nquads(f) == _nquads(OB3)
    assert _verify(OB3) == ("valid", ())
    assert _verify(f) == ("invalid", ("jsonld_inline_context",))
    # and without the inline context, the re-keying alone is not compact form either
    g = copy.deepcopy(OB3)
    g["credentialSubject"]["type"] = [OB + "AchievementSubject"]
    g["credentialSubject"][OB + "achievement"] = g["credentialSubject"].pop("achievement")
    assert _nquads(g) == _nquads(OB3)
    assert _verify(g) == ("invalid", ("jsonld_not_in_compact_form",))


def test_a_proof_option_under_its_full_iri_does_not_verify() -> None:
    doc = copy.deepcopy(SIGNED)
    proof = doc["proof"]
    proof["http://purl.org/dc/terms/created"] = {"@value": proof.pop("created"),
                                                 "@type": XSD_DATETIME}
    assert _verify(doc) == ("invalid", ("jsonld_not_in_compact_form",))


REAL = [
    "1edtech/ob30/simple.json", "1edtech/ob30/complete.json",
    "1edtech/ob30/simple-did-key-method.json", "1edtech/clr20/simple.json",
    "mynextid/open-badge-mc-example.json", "elm/Sample-MC-Annex1-unsigned.jsonld",
]


@pytest.mark.parametrize("name", REAL)
def test_real_credentials_are_in_compact_form(name: str) -> None:
    doc = json.loads((MC / name).read_text())
    require_compact_form(unsecured_document(doc), CanonLimits())
    for proof in doc.get("proof", []) if isinstance(doc.get("proof"), list) else []:
        require_compact_form(proof_configuration(proof, doc), CanonLimits())


def test_the_w3c_vector_is_in_compact_form() -> None:
    signed = json.loads((VECTORS / "di-eddsa/eddsa-rdfc-2022/signedDataInt.json").read_text())
    require_compact_form(unsecured_document(signed), CanonLimits())
    require_compact_form(proof_configuration(signed["proof"], signed), CanonLimits())


def test_clr_terms_under_their_full_iri_are_not_compact_form() -> None:
    # CLR's ClrSubject terms compact to full IRIs (their "@type" coercion stops compaction from
    # choosing them); the received term is forgiven, the IRI itself never (it hides the field)
    assert _verify(CLR) == ("valid", ())
    for term in ("achievement", "association", "verifiableCredential"):
        doc = copy.deepcopy(CLR)
        cs = doc["credentialSubject"]
        cs[f"https://purl.imsglobal.org/spec/vc/clr/vocab.html#{term}"] = cs.pop(term)
        assert _nquads(doc) == _nquads(CLR)
        assert _verify(doc) == ("invalid", ("jsonld_not_in_compact_form",))


def test_signing_refuses_what_is_not_compact_form() -> None:
    for mutate in (_hide_expiry, _forge_title):
        doc = copy.deepcopy(BASE)
        mutate(doc)
        with pytest.raises(DataIntegrityNotSignable):
            sign_data_integrity(doc, key=KEY, verification_method=did_key_vm(KEY),
                                 proof_purpose="assertionMethod", created=NOW)


def test_a_large_property_scoped_context_is_refused_cheaply() -> None:
    # the reviewer's 1.8 s case: a property-scoped context of 2,400 terms
    doc = copy.deepcopy(SIGNED)
    doc["@context"] = [V2, EX, {"credentialSubject2": {
        "@id": "urn:x:cs", "@context": {f"t{i}": f"urn:x:{i}" for i in range(2400)}}}]
    started = time.perf_counter()
    assert _verify(doc) == ("invalid", ("jsonld_inline_context",))
    assert time.perf_counter() - started < 0.5
    with pytest.raises(InlineContext):
        require_compact_form(unsecured_document(doc), CanonLimits())


def _key_paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Paths to every key of every object, @context and the proof's value excluded."""
    out: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for k, v in doc.items():
            if k in ("@context", "proofValue"):
                continue
            out.append((*path, k))
            out.extend(_key_paths(v, (*path, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_key_paths(v, (*path, i)))
    return out


def _rekeyable(doc: dict[str, Any]) -> list[tuple[tuple[Any, ...], str]]:
    return [(p, iri) for p in _key_paths(doc) for iri in sorted(bundled_term_iris().get(p[-1], ()))]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["base", "ob3", "clr"]), st.data())
def test_rekeying_any_key_to_its_full_iri_never_verifies(which: str, data: st.DataObject) -> None:
    signed = {"base": SIGNED, "ob3": OB3, "clr": CLR}[which]
    path, iri = data.draw(st.sampled_from(_rekeyable(signed)))
    doc = copy.deepcopy(signed)
    node: Any = doc
    for step in path[:-1]:
        node = node[step]
    node[iri] = node.pop(path[-1])
    assert _verify(doc)[0] != "valid"


def test_a_presentation_never_embeds_a_credential_not_in_compact_form() -> None:
    def vp(credential: dict[str, Any]) -> dict[str, Any]:
        return {"@context": [V2], "type": ["VerifiablePresentation"], "holder": DID,
                "verifiableCredential": [credential]}
    for good in (SIGNED, OB3, CLR):  # embedded documents keep their own (bundled) contexts
        signed = sign_data_integrity(vp(good), key=KEY, verification_method=did_key_vm(KEY),
                                     proof_purpose="authentication", created=NOW)
        assert signed["verifiableCredential"] == [good]
    forged = copy.deepcopy(SIGNED)
    _hide_expiry(forged)
    with pytest.raises(DataIntegrityNotSignable):
        sign_data_integrity(vp(forged), key=KEY, verification_method=did_key_vm(KEY),
                            proof_purpose="authentication", created=NOW)


def test_embedded_documents_are_bounded() -> None:
    def vp(credentials: list[dict[str, Any]]) -> dict[str, Any]:
        return {"@context": [V2], "type": ["VerifiablePresentation"], "holder": DID,
                "verifiableCredential": credentials}
    leaf = unsecured_document(SIGNED)
    require_compact_form(vp([leaf] * MAX_EMBEDDED), CanonLimits())
    with pytest.raises(CanonicalizationBudgetExceeded):
        require_compact_form(vp([leaf] * (MAX_EMBEDDED + 1)), CanonLimits())
    deep: dict[str, Any] = leaf
    for _ in range(MAX_EMBEDDING_DEPTH):
        deep = vp([deep])
    require_compact_form(deep, CanonLimits())
    with pytest.raises(CanonicalizationBudgetExceeded):
        require_compact_form(vp([deep]), CanonLimits())
