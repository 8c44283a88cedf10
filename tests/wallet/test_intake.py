"""Intake: its status policy (every entry counts, the list must be the issuer's) and the keys it keeps."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import trustme
from cryptography.hazmat.primitives.asymmetric import ed25519

import wallet.intake
import wallet.microcred.portfolio
from tests.support.vectors import VECTORS
from tests.wallet.di_support import (
    credential_with_status,
    did_key,
    did_key_vm,
    multikey,
    sign_di,
    status_list_credential,
)
from tests.wallet.fakes_w3c import FakeFetcher
from tests.wallet.microcred_support import load
from tests.x5c_support import aki, chain_der, leaf_jwk
from wallet.errors import BadInput
from wallet.formats.model import CheckedCredential, SignerChain, StatusReference
from wallet.intake import CredentialIntake
from wallet.jose import jwk_thumbprint, public_jwk
from wallet.microcred import map_elements, portfolio_items
from wallet.status_list import StatusOutcome
from wallet.trust import TrustList


class NoNetwork:
    async def get(self, url: str, **kw: Any) -> Any:
        raise AssertionError("no network in this test")

    post_form = post_json = post_bytes = get


@pytest.fixture
def intake() -> CredentialIntake:
    return CredentialIntake(fetcher=NoNetwork(), trust=TrustList.empty())  # type: ignore[arg-type]


REV = StatusReference("bitstring_status_list", "https://s.example/1", 1, "revocation")
SUS = StatusReference("bitstring_status_list", "https://s.example/2", 1, "suspension")


@pytest.mark.parametrize(("answers", "expected"), [
    ({REV: "valid", SUS: "valid"}, "valid"),
    ({REV: "valid", SUS: "suspended"}, "suspended"),
    ({REV: "invalid", SUS: "suspended"}, "invalid"),
    ({REV: "valid", SUS: "unknown"}, "unknown"),
])
async def test_every_status_entry_counts(intake: CredentialIntake, monkeypatch: Any,
                                         answers: dict[StatusReference, str],
                                         expected: str) -> None:
    seen: list[tuple[StatusReference, str | None]] = []

    async def check_entry(ref: StatusReference, *, issuer: str | None = None) -> StatusOutcome:
        seen.append((ref, issuer))
        return StatusOutcome(answers[ref])  # type: ignore[arg-type]

    monkeypatch.setattr(intake.status, "check_entry", check_entry)
    assert await intake.check_refs([REV, SUS], issuer="did:web:uni.example") == expected
    assert {i for _, i in seen} == {"did:web:uni.example"}  # the issuer is always passed on
    assert await intake.check_refs([], issuer="x") == "none"


async def test_both_entries_of_a_real_edc_are_found(intake: CredentialIntake) -> None:
    raw = (VECTORS / "microcredentials/mynextid/substitute-degree-certificate/"
           "edc-dc-signed.jsonld").read_text(encoding="utf-8")
    doc = json.loads(json.loads(raw)["payload"])
    checked = CheckedCredential(format="ldp_vc", raw=raw, issuer="x", types=(), claims=doc,
                                signature="valid", status=None)
    assert {r.purpose for r in intake.status_refs(checked)} == {"revocation", "suspension"}


# --- W3C Bitstring Status Lists secured with Data Integrity: whose key signed the list? -------

NOW = datetime(2026, 6, 1, tzinfo=UTC)
LIST_URI = "https://status.example/lists/1"
HTTPS_ISSUER = "https://issuer.example/issuers/1"


def _intake_serving(status_list: dict[str, Any], trust: TrustList | None = None
                    ) -> tuple[CredentialIntake, FakeFetcher]:
    fetcher = FakeFetcher({LIST_URI: status_list})
    return CredentialIntake(fetcher=fetcher, trust=trust or TrustList.empty(),
                            clock=lambda: NOW), fetcher


def _credential(issuer: str, key: ed25519.Ed25519PrivateKey, vm: str, index: int) -> str:
    return json.dumps(sign_di(credential_with_status(issuer, LIST_URI, index), key, vm))


def _pin(issuer: str, key: ed25519.Ed25519PrivateKey) -> TrustList:
    return TrustList.from_dict({"issuers": [{"id": issuer, "jwk_thumbprint": jwk_thumbprint(
        public_jwk(key.public_key()))}]})


async def _admit_both(intake: CredentialIntake, issuer: str, key: ed25519.Ed25519PrivateKey,
                      vm: str) -> list[tuple[str, list[str]]]:
    """Index 0 (not revoked) and index 1 (revoked): (status, problems) of each."""
    out = []
    for index in (0, 1):
        result = await intake.admit(_credential(issuer, key, vm, index))
        assert result.checked.signature == "valid"  # the credential itself is genuine
        out.append((result.status, result.stored.data["verification"]["problems"]))
    return out


async def test_did_key_issuer_signed_bitstring_list_counts() -> None:
    issuer_key = ed25519.Ed25519PrivateKey.generate()
    issuer = did_key(issuer_key)
    good = sign_di(status_list_credential(LIST_URI, issuer, revoked=[1]), issuer_key,
                   did_key_vm(issuer_key))
    intake, fetcher = _intake_serving(good)
    assert await _admit_both(intake, issuer, issuer_key, did_key_vm(issuer_key)) == [
        ("valid", []), ("invalid", [])]
    assert fetcher.seen == [LIST_URI]  # fetched once, then cached


@pytest.mark.parametrize("forgery", ["random did:key, issuer's id", "random did:key as issuer"])
async def test_forged_bitstring_list_from_another_did_key_is_not_accepted(forgery: str) -> None:
    issuer_key, forger = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    issuer = did_key(issuer_key)
    claimed = issuer if forgery == "random did:key, issuer's id" else did_key(forger)
    # every bit set: taken at its word it would revoke index 0 (and a forger could as well clear
    # the bits of revoked credentials)
    forged = sign_di(status_list_credential(LIST_URI, claimed, revoked=[0, 1]), forger,
                     did_key_vm(forger))
    intake, _ = _intake_serving(forged)
    assert await _admit_both(intake, issuer, issuer_key, did_key_vm(issuer_key)) == [
        ("unknown", ["status_list_not_from_issuer"])] * 2


@pytest.mark.parametrize(("signer", "pinned"), [
    ("forger", None), ("forger", "issuer"), ("issuer", None)])
async def test_self_asserted_fragment_key_on_https_issuer_needs_a_pin(signer: str,
                                                                     pinned: str | None) -> None:
    """``https://issuer.example/issuers/1#z6Mk…``: anyone can put their own key in the fragment."""
    issuer_key, forger = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    list_key = forger if signer == "forger" else issuer_key
    lst = sign_di(status_list_credential(LIST_URI, HTTPS_ISSUER, revoked=[0]), list_key,
                  f"{HTTPS_ISSUER}#{multikey(list_key)}")
    intake, _ = _intake_serving(lst, _pin(HTTPS_ISSUER, issuer_key) if pinned else None)
    vm = f"{HTTPS_ISSUER}#{multikey(issuer_key)}"
    assert await _admit_both(intake, HTTPS_ISSUER, issuer_key, vm) == [
        ("unknown", ["issuer_key_self_asserted", "status_list_not_from_issuer"])] * 2


async def test_fragment_key_pinned_by_the_trust_list_counts() -> None:
    issuer_key = ed25519.Ed25519PrivateKey.generate()
    vm = f"{HTTPS_ISSUER}#{multikey(issuer_key)}"
    lst = sign_di(status_list_credential(LIST_URI, HTTPS_ISSUER, revoked=[1]), issuer_key, vm)
    intake, _ = _intake_serving(lst, _pin(HTTPS_ISSUER, issuer_key))
    assert await _admit_both(intake, HTTPS_ISSUER, issuer_key, vm) == [
        ("valid", ["issuer_key_self_asserted"]), ("invalid", ["issuer_key_self_asserted"])]


@pytest.mark.parametrize(("member", "stored"), [
    ("holder_jwk", {"kty": "OKP", "crv": "Ed25519", "x": "AA", "key_ops": ["verify"]}),
    ("issuer_jwk", {"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "k1"}),
])
async def test_a_key_is_stored_as_received_and_a_private_one_refused(
        intake: CredentialIntake, monkeypatch: Any, member: str, stored: dict[str, Any]) -> None:
    """What the format module found is kept member for member; a key that is not a public JWK
    (a private member, a non-string ``kid``, no ``kty``) refuses the credential."""
    keys = iter([stored, {**stored, "d": "AA"}, {**stored, "kid": 7}, {"crv": "P-256"}])

    async def check(raw: object) -> CheckedCredential:
        return CheckedCredential(format="jwt_vc_json", raw="x", issuer="did:example:issuer",
                                 types=("VerifiableCredential",), claims={}, signature="valid",
                                 **{member: next(keys)})  # type: ignore[arg-type]

    monkeypatch.setattr(intake, "check", check)
    result = await intake.admit("x")
    assert result.stored.data[member] == stored  # type: ignore[literal-required]
    for _ in range(3):
        with pytest.raises(BadInput, match=f"credential's {member[:6]} key is not a public JWK"):
            await intake.admit("x")


async def test_admit_records_the_akis_the_signature_chains_through(
        intake: CredentialIntake, monkeypatch: Any) -> None:
    """``data.authority_key_ids`` (OpenID4VP 1.0 §6.1.1 ``aki``, docs/presenting.md) is always
    a list: the carried certificates the verified key chains through, else none (never null,
    which would read as a record from before intake recorded it)."""
    leaf = trustme.CA().create_child_ca().issue_cert("issuer.example")
    chain = tuple(chain_der(leaf))
    signer = leaf_jwk(leaf)
    other = public_jwk(ed25519.Ed25519PrivateKey.generate().public_key())
    cases: list[tuple[str, tuple[SignerChain, ...], list[str]]] = [
        ("valid", (SignerChain(signer, chain),), [aki(der) for der in chain]),
        ("valid", (SignerChain(signer, None),), []),  # an x5c that cannot be read
        ("valid", (SignerChain(other, chain),), []),  # a chain beside another key
        ("valid", (), []),
        ("invalid", (SignerChain(signer, chain),), []),
    ]
    for signature, signers, recorded in cases:
        async def check(raw: object, signature: Any = signature,
                        signers: Any = signers) -> CheckedCredential:
            return CheckedCredential(format="jwt_vc_json", raw="x", issuer="did:example:i",
                                     types=("VerifiableCredential",), claims={},
                                     signature=signature, signer_chains=signers)

        monkeypatch.setattr(intake, "check", check)
        stored = (await intake.admit("x")).stored
        assert stored.data["authority_key_ids"] == recorded, (signature, signers)


@pytest.mark.parametrize("rel", ["1edtech/clr20/simple.json",
                                 "elm/Sample-MC-Annex1-unsigned.jsonld"])
async def test_admit_maps_the_annex_i_elements_once(intake: CredentialIntake, monkeypatch: Any,
                                                    rel: str) -> None:
    """The record's elements, its search text and its portfolio items come from one mapping of
    the document, and the items are the ones a fresh mapping gives (a CLR's contained ones too)."""
    doc, fmt = load(rel)
    calls: list[bool] = []

    def counting(document: Any, **kw: Any) -> Any:
        calls.append(document is doc)  # a CLR's contained credentials are mapped on their own
        return map_elements(document, **kw)

    async def check(raw: object) -> CheckedCredential:
        return CheckedCredential(format=fmt, raw="x", issuer="did:example:issuer",
                                 types=("VerifiableCredential",), claims=doc, signature="valid")

    monkeypatch.setattr(intake, "check", check)
    monkeypatch.setattr(wallet.intake, "map_elements", counting)
    monkeypatch.setattr(wallet.microcred.portfolio, "map_elements", counting)
    result = await intake.admit("x", languages=("de", "en"))
    assert calls.count(True) == 1
    data = result.stored.data
    expected = portfolio_items(result.stored.id, doc, format=fmt, languages=("de", "en"))
    assert data["portfolio_items"] == [i.to_record() for i in expected]
    assert data["elements"] == map_elements(doc, format=fmt, languages=("de", "en")).to_json()
    if rel.startswith("1edtech/clr20"):
        assert len(data["portfolio_items"]) > 1  # the contained credentials were itemised too
