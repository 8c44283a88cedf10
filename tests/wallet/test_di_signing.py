"""Creating ``eddsa-rdfc-2022`` proofs (wallet.formats.jsonld.di_signing).

The proof of correctness does not lean on our verifier: Ed25519 is deterministic, so signing the
W3C vc-di-eddsa test vector's unsigned credential with the vector's key and proof options must
reproduce the vector's signed credential byte for byte. Our verifier is then checked to accept
what we sign and to refuse it after any change.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from wallet.errors import BadInput
from wallet.formats.jsonld import check_jsonld
from wallet.formats.jsonld.di_signing import (
    DataIntegrityNotSignable,
    proof_timestamp,
    sign_data_integrity,
)
from wallet.formats.jsonld.loader import UnknownContext

NOW = datetime(2025, 1, 1, tzinfo=UTC)
CREATED = datetime(2023, 2, 24, 23, 36, 38, tzinfo=UTC)  # the vector's proof options


def _vector(vectors: Path, *parts: str) -> Any:
    return json.loads(vectors.joinpath("di-eddsa", *parts).read_text())


def _key(vectors: Path) -> tuple[ed25519.Ed25519PrivateKey, str]:
    pair = _vector(vectors, "keyPair.json")
    raw = base58.b58decode(pair["privateKeyMultibase"][1:])
    assert raw[:2] == b"\x80\x26"  # multicodec ed25519-priv
    did = "did:key:" + pair["publicKeyMultibase"]
    return ed25519.Ed25519PrivateKey.from_private_bytes(raw[2:]), did


def test_reproduces_the_w3c_vector_byte_for_byte(vectors: Path) -> None:
    key, _ = _key(vectors)
    options = _vector(vectors, "eddsa-rdfc-2022", "proofConfigDataInt.json")
    signed = sign_data_integrity(
        _vector(vectors, "unsigned.json"), key=key,
        verification_method=options["verificationMethod"],
        proof_purpose=options["proofPurpose"], created=CREATED)
    expected = _vector(vectors, "eddsa-rdfc-2022", "signedDataInt.json")
    assert signed["proof"]["proofValue"] == vectors.joinpath(
        "di-eddsa", "eddsa-rdfc-2022", "sigBTC58DataInt.txt").read_text().strip()
    assert signed == expected  # the whole document, proof options included


def test_timestamp_is_utc_to_the_second() -> None:
    from datetime import timedelta, timezone
    local = datetime(2023, 2, 25, 1, 36, 38, 999_999, tzinfo=timezone(timedelta(hours=2)))
    assert proof_timestamp(local) == "2023-02-24T23:36:38Z"


async def test_what_we_sign_our_verifier_accepts_and_any_change_breaks(vectors: Path) -> None:
    key, did = _key(vectors)
    doc = _vector(vectors, "unsigned.json")
    doc["issuer"] = did
    signed = sign_data_integrity(doc, key=key, verification_method=f"{did}#{did[8:]}",
                                 proof_purpose="assertionMethod", created=CREATED)
    checked = await check_jsonld(json.dumps(signed), now=NOW, fetcher=None)
    assert checked.signature == "valid" and checked.problems == ()

    for mutate in (
        lambda d: d["credentialSubject"].__setitem__("alumniOf", "Another School"),
        lambda d: d.__setitem__("validFrom", "2023-01-02T00:00:00Z"),
        lambda d: d["proof"].__setitem__("created", "2023-02-24T23:36:39Z"),
        lambda d: d["type"].append("ExtraCredential"),
    ):
        tampered = copy.deepcopy(signed)
        mutate(tampered)
        bad = await check_jsonld(json.dumps(tampered), now=NOW, fetcher=None)
        assert bad.signature == "invalid" and "signature_mismatch" in bad.problems


def test_challenge_and_domain_are_signed(vectors: Path) -> None:
    key, did = _key(vectors)
    doc = _vector(vectors, "unsigned.json")
    base = sign_data_integrity(doc, key=key, verification_method=did, proof_purpose="authentication",
                               created=CREATED, challenge="n-1", domain="x509_san_dns:v.example")
    assert base["proof"]["challenge"] == "n-1"
    assert base["proof"]["domain"] == "x509_san_dns:v.example"
    other = sign_data_integrity(doc, key=key, verification_method=did,
                                proof_purpose="authentication", created=CREATED, challenge="n-2",
                                domain="x509_san_dns:v.example")
    assert other["proof"]["proofValue"] != base["proof"]["proofValue"]


def test_refuses_what_a_proof_would_not_cover(vectors: Path) -> None:
    key, did = _key(vectors)
    doc = _vector(vectors, "unsigned.json")
    with pytest.raises(BadInput):  # already signed: this signer does not chain proofs
        sign_data_integrity({**doc, "proof": {}}, key=key, verification_method=did,
                            proof_purpose="assertionMethod", created=CREATED)
    v1 = {"@context": ["https://www.w3.org/2018/credentials/v1"], "type": ["VerifiableCredential"],
          "issuer": did, "issuanceDate": "2023-01-01T00:00:00Z",
          "credentialSubject": {"undefinedTerm": "x"}}
    with pytest.raises(DataIntegrityNotSignable):  # the v1 context drops the undefined term
        sign_data_integrity(v1, key=key, verification_method=did,
                            proof_purpose="assertionMethod", created=CREATED)
    with pytest.raises(UnknownContext):  # contexts are never fetched
        sign_data_integrity({**doc, "@context": ["https://example.org/ctx"]}, key=key,
                            verification_method=did, proof_purpose="assertionMethod",
                            created=CREATED)
