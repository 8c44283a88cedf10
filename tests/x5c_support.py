"""``x5c`` chains of ``trustme`` certificates, their AuthorityKeyIdentifiers (OpenID4VP 1.0
§6.1.1 ``aki``), and JAdES seals (JWS JSON serialization, ``b64: false``) made with them: one
signature per sealer, each carrying its own chain, for tests that need several sealers under
real certificate authorities."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import trustme
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, load_pem_private_key

from wallet.jose import b64url_encode, public_jwk, sign_raw

#: a European Digital Credential payload (what an EDC seal carries)
EDC: dict[str, Any] = {
    "@context": ["https://www.w3.org/ns/credentials/v2"],
    "type": ["VerifiableCredential", "EuropeanDigitalCredential"],
    "issuer": {"id": "urn:epass:org:1", "legalName": {"en": "Test University"}},
    "validFrom": "2023-02-01T00:00:00Z", "validUntil": "2099-01-01T00:00:00Z",
    "credentialSubject": {"id": "urn:epass:person:1"},
    "displayParameter": {"title": {"en": "Micro-credential"}}}


def chain_der(leaf: trustme.LeafCert) -> list[bytes]:
    """The leaf's chain as ``trustme`` gives it (leaf, then intermediates), DER."""
    return [x509.load_pem_x509_certificate(p.bytes()).public_bytes(Encoding.DER)
            for p in leaf.cert_chain_pems]


def aki(der: bytes) -> str:
    """The base64url ``keyIdentifier`` of a certificate's AuthorityKeyIdentifier."""
    ext = x509.load_der_x509_certificate(der).extensions
    kid = ext.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    assert kid is not None
    return base64.urlsafe_b64encode(kid).rstrip(b"=").decode()


def leaf_jwk(leaf: trustme.LeafCert) -> dict[str, str]:
    """The public JWK of the leaf's key (the key a credential it signs verifies with)."""
    key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return public_jwk(key.public_key())


def x5c(leaf: trustme.LeafCert) -> list[str]:
    """The leaf's chain as a JOSE ``x5c`` header value (standard base64 DER)."""
    return [base64.b64encode(der).decode() for der in chain_der(leaf)]


def seal(sealers: Sequence[trustme.LeafCert], doc: dict[str, Any] = EDC) -> str:
    """``doc`` sealed by every one of ``sealers`` (ES256), signed a minute ago."""
    body = json.dumps(doc)
    sig_t = (datetime.now(UTC) - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    signatures = []
    for leaf in sealers:
        chain = chain_der(leaf)
        header = {"alg": "ES256", "cty": "octet-stream", "typ": "jose+json", "b64": False,
                  "crit": ["b64", "sigT"], "sigT": sig_t,
                  "x5c": x5c(leaf),
                  "x5t#S256": b64url_encode(hashlib.sha256(chain[0]).digest())}
        protected = b64url_encode(json.dumps(header).encode())
        key = load_pem_private_key(leaf.private_key_pem.bytes(), None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        signature = sign_raw("ES256", key, protected.encode() + b"." + body.encode())
        signatures.append({"protected": protected, "signature": b64url_encode(signature)})
    return json.dumps({"payload": body, "signatures": signatures})
