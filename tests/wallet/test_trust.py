"""The trust list: format validation, issuer pins (JWK thumbprint, certificate hash), verifiers."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from wallet.errors import BadInput
from wallet.trust import TrustList, TrustListError

ISSUER = "https://example.com"


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 §3, computed here independently of wallet.jose."""
    canon = f'{{"crv":"{jwk["crv"]}","kty":"EC","x":"{jwk["x"]}","y":"{jwk["y"]}"}}'
    return base64.urlsafe_b64encode(hashlib.sha256(canon.encode()).digest()).rstrip(b"=").decode()


@pytest.fixture
def jwk(vectors: Path) -> dict[str, str]:
    return json.loads((vectors / "status-list" / "status_list_issuer_key.public.jwk.json")
                      .read_text())


@pytest.fixture
def cert_der(vectors: Path) -> bytes:
    pem = (vectors / "microcredentials" / "elm" / "Sample-signer-TEST-SEAL.x5c0.cert.pem")
    return x509.load_pem_x509_certificate(pem.read_bytes()).public_bytes(Encoding.DER)


def write(tmp_path: Path, doc: object) -> Path:
    p = tmp_path / "trust.json"
    p.write_text(json.dumps(doc))
    return p


def test_empty_trusts_nobody(jwk: dict[str, str], cert_der: bytes) -> None:
    tl = TrustList.empty()
    assert not tl.issuer_trusted(ISSUER, jwk=jwk, cert_der=cert_der)
    assert not tl.issuer_trusted(ISSUER)
    assert not tl.verifier_trusted("https://rp.example")
    assert tl.issuer_name(ISSUER) is None


def test_issuer_pins(tmp_path: Path, jwk: dict[str, str], cert_der: bytes) -> None:
    cert_hash = hashlib.sha256(cert_der).hexdigest()
    colon_upper = ":".join(cert_hash[i:i + 2] for i in range(0, 64, 2)).upper()
    tl = TrustList.load(write(tmp_path, {"comment": "test", "issuers": [
        {"id": ISSUER, "name": "Example Issuer", "jwk_thumbprint": thumbprint(jwk)},
        {"id": "did:web:seal.example", "certificate_sha256": colon_upper},
        {"id": "did:web:bound.example", "name": "Bound by DID"},
    ]}))
    assert tl.issuer_trusted(ISSUER, jwk=jwk)
    other = dict(jwk, x=jwk["y"])  # a different key claiming the same issuer
    assert not tl.issuer_trusted(ISSUER, jwk=other)
    assert not tl.issuer_trusted(ISSUER)  # pinned entry, nothing presented
    assert not tl.issuer_trusted(ISSUER, jwk={"kty": "EC"})  # malformed JWK: not trusted
    assert not tl.issuer_trusted("https://example.com/", jwk=jwk)  # exact id only
    assert tl.issuer_trusted("did:web:seal.example", cert_der=cert_der)
    assert not tl.issuer_trusted("did:web:seal.example", cert_der=cert_der + b"\0")
    assert not tl.issuer_trusted("did:web:seal.example", jwk=jwk)
    assert tl.issuer_trusted("did:web:bound.example")  # unpinned: key bound by the format layer
    assert not tl.issuer_trusted("did:web:bound.example", jwk=jwk, require_pin=True)
    assert tl.issuer_name(ISSUER) == "Example Issuer"
    assert tl.issuer_name("did:web:seal.example") is None


def test_key_rotation_entries(tmp_path: Path, jwk: dict[str, str]) -> None:
    tl = TrustList.from_dict({"issuers": [
        {"id": ISSUER, "jwk_thumbprint": "A" * 43},
        {"id": ISSUER, "jwk_thumbprint": thumbprint(jwk)},
    ]})
    assert tl.issuer_trusted(ISSUER, jwk=jwk, require_pin=True)


def test_verifiers(cert_der: bytes) -> None:
    tl = TrustList.from_dict({"verifiers": [
        {"client_id": "x509_san_dns:rp.example", "x509_sha256": hashlib.sha256(cert_der)
         .hexdigest(), "name": "RP"},
        {"client_id": "https://open.example"},
    ]})
    assert tl.verifier_trusted("x509_san_dns:rp.example", cert_der=cert_der)
    assert not tl.verifier_trusted("x509_san_dns:rp.example")
    assert not tl.verifier_trusted("x509_san_dns:rp.example", cert_der=b"other")
    assert tl.verifier_trusted("https://open.example")
    assert not tl.verifier_trusted("https://unknown.example")
    assert tl.verifier_name("x509_san_dns:rp.example") == "RP"


@pytest.mark.parametrize("doc, match", [
    ([], "JSON object"),
    ({"issuers": {}}, "array"),
    ({"issuers": [{"name": "x"}]}, "id is required"),
    ({"issuers": [{"id": ""}]}, "non-empty"),
    ({"issuers": [{"id": "x", "jwk_thumprint": "typo"}]}, "unknown members"),
    ({"issuers": [{"id": "x", "jwk_thumbprint": "short"}]}, "thumbprint"),
    ({"issuers": [{"id": "x", "certificate_sha256": "zz"}]}, "64 hex"),
    ({"verifiers": [{"client_id": "x", "x509_sha256": 5}]}, "hex SHA-256"),
    ({"verifiers": [{"name": "x"}]}, "client_id is required"),
    ({"issuer": []}, "unknown members"),
])
def test_malformed_files_are_clear_startup_errors(tmp_path: Path, doc: object,
                                                  match: str) -> None:
    with pytest.raises(TrustListError, match=match) as info:
        TrustList.load(write(tmp_path, doc))
    assert isinstance(info.value, BadInput) and "trust.json" in info.value.detail


def test_load_optional(tmp_path: Path) -> None:
    assert TrustList.load_optional(None).issuers == ()
    assert TrustList.load_optional("").verifiers == ()
    tl = TrustList.load_optional(write(tmp_path, {"verifiers": [{"client_id": "https://rp"}]}))
    assert tl.verifier_trusted("https://rp")


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(TrustListError, match="cannot be read"):
        TrustList.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(TrustListError, match="not valid JSON"):
        TrustList.load(bad)
