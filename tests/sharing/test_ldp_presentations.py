"""Data Integrity VPs for ``ldp_vc`` (sharing.presentations.ldp_vp), on the public samples.

Each VP is checked with the independent check of the API test (pyld with the 1EdTech context
files, PyNaCl), not with Satchel's verifier.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime

import pytest

from sharing.errors import PresentationNotSupported
from sharing.presentations import ldp_vp, ldp_vp_context
from tests.support.vectors import VECTORS
from tests.wallet.di_support import check_vp
from wallet.crypto import generate_holder_key
from wallet.formats.jsonld.canon import CanonicalizationBudgetExceeded, CanonLimits, canonicalize
from wallet.vault import StoredCredential

MC = VECTORS / "microcredentials"
NOW = datetime(2025, 1, 1, tzinfo=UTC)
CLIENT_ID = "x509_san_dns:verifier.example"


def _stored(name: str, fmt: str = "ldp_vc") -> StoredCredential:
    return StoredCredential(id="c1", format=fmt, raw=(MC / name).read_text(encoding="utf-8"),
                            types=("VerifiableCredential",), issuer="urn:x", title=None,
                            issued_at=None, expires_at=None, status="none", added_at=NOW,
                            data={"claims": {}})


@pytest.mark.parametrize("name", ["1edtech/ob30/simple-did-key-method.json",
                                  "1edtech/ob30/simple.json", "1edtech/ob30/complete.json",
                                  "1edtech/clr20/simple.json"])
def test_vcdm2_samples_get_a_vp_that_verifies_independently(name: str) -> None:
    stored = _stored(name)
    vp = ldp_vp(stored, holder_key=generate_holder_key("EdDSA"), client_id=CLIENT_ID,
                nonce="n-0S6_WzA2Mj", now=NOW)
    assert vp["@context"] == ldp_vp_context(stored) == ["https://www.w3.org/ns/credentials/v2"]
    assert vp["verifiableCredential"] == [json.loads(stored.raw)]
    assert vp["proof"]["created"] == "2025-01-01T00:00:00Z"
    check_vp(vp, nonce="n-0S6_WzA2Mj", client_id=CLIENT_ID)


def test_the_verifier_budget_is_unchanged_the_signer_counts_arrangements() -> None:
    # A credential in a VP sits in a named graph: its nodes all relate to the graph's name. The
    # verification budget (n! per group, at most 8) refuses that; signing counts the distinct
    # arrangements pyld really tries, so our own VP of a rich credential can be signed.
    doc = json.loads((MC / "1edtech/ob30/complete.json").read_text())
    vp = {"@context": ["https://www.w3.org/ns/credentials/v2"],
          "type": ["VerifiablePresentation"], "verifiableCredential": [doc]}
    with pytest.raises(CanonicalizationBudgetExceeded):
        canonicalize(vp)
    assert canonicalize(vp, CanonLimits(count_arrangements=True)).nquads
    with pytest.raises(CanonicalizationBudgetExceeded):  # the budget still holds
        canonicalize(vp, CanonLimits(count_arrangements=True, max_permutations=10))


@pytest.mark.parametrize("name", [
    "elm/Sample-MC-Annex1-signed.jsonld",  # JAdES: a JWS JSON object, not JSON-LD
])
def test_what_has_no_data_integrity_vp_is_refused(name: str) -> None:
    stored = _stored(name)
    assert ldp_vp_context(stored) is None
    with pytest.raises(PresentationNotSupported):
        ldp_vp(stored, holder_key=generate_holder_key("EdDSA"), client_id=CLIENT_ID,
               nonce="n", now=NOW)


def test_vcdm1_and_wrong_key_and_format_are_refused() -> None:
    v1 = _stored("1edtech/ob30/simple.json")
    doc = json.loads(v1.raw)
    doc["@context"] = ["https://www.w3.org/2018/credentials/v1", *doc["@context"][1:]]
    v1 = dataclasses.replace(v1, raw=json.dumps(doc))
    assert ldp_vp_context(v1) is None
    ok = _stored("1edtech/ob30/simple.json")
    for stored, alg in ((v1, "EdDSA"), (ok, "ES256"),
                        (_stored("1edtech/clr20/simple.jwt", "jwt_vc_json"), "EdDSA")):
        with pytest.raises(PresentationNotSupported):
            ldp_vp(stored, holder_key=generate_holder_key(alg), client_id=CLIENT_ID, nonce="n",
                   now=NOW)


@pytest.mark.parametrize("bad_id", ["urn:uuid:280c19b6 4a37", "credentials/3527"])
def test_a_credential_whose_id_is_not_an_absolute_iri_is_not_presented(bad_id: str) -> None:
    # Its own statements would be missing from the VP's N-Quads (pyld's toRdf drops the node),
    # so the holder's proof would not cover the name, type or validity a verifier reads.
    doc = json.loads((MC / "1edtech/ob30/simple-did-key-method.json").read_text())
    doc["id"] = bad_id
    stored = dataclasses.replace(_stored("1edtech/ob30/simple-did-key-method.json"),
                                 raw=json.dumps(doc))
    with pytest.raises(PresentationNotSupported):
        ldp_vp(stored, holder_key=generate_holder_key("EdDSA"), client_id=CLIENT_ID,
               nonce="n", now=NOW)
