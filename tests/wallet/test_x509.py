"""X.509 path validation (RFC 5280 §6) with the validation time as an input: trustme chains and
the OpenID4VCI signed-metadata certificate."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.vectors import VECTORS
from tests.x5c_support import aki, chain_der, leaf_jwk
from wallet.errors import VerificationFailed
from wallet.x509 import (
    CertificateNotValidAtTime,
    MalformedCertificate,
    UntrustedChain,
    authority_key_ids,
    decode_x5c,
    leaf_public_key,
    san_dns_names,
    san_uris,
    signed_path,
    validate_chain,
    x509_hash,
)

NOW = datetime.now(UTC)


def _der(pem: bytes) -> bytes:
    return x509.load_pem_x509_certificate(pem).public_bytes(serialization.Encoding.DER)


def _chain(leaf: trustme.LeafCert) -> list[bytes]:
    return [_der(b.bytes()) for b in leaf.cert_chain_pems]


def _anchor(ca: trustme.CA) -> x509.Certificate:
    return x509.load_pem_x509_certificate(ca.cert_pem.bytes())


def test_leaf_and_intermediate_to_anchor(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("issuer.example.com")
    got = validate_chain(_chain(leaf), [_anchor(ca)], at=NOW)
    assert got.public_bytes(serialization.Encoding.DER) == _chain(leaf)[0]
    assert san_dns_names(got) == ["issuer.example.com"]
    child = ca.create_child_ca()
    via = child.issue_cert("issuer.example.com")
    leaf_of_via = x509.load_pem_x509_certificate(via.cert_chain_pems[0].bytes())
    assert validate_chain(_chain(via), [_anchor(ca)], at=NOW) == leaf_of_via
    with pytest.raises(UntrustedChain):  # the intermediate is missing
        validate_chain(_chain(via)[:1], [_anchor(ca)], at=NOW)
    key = leaf_public_key(got)
    assert isinstance(key, ec.EllipticCurvePublicKey)


def test_server_name(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("verifier.example.org")
    validate_chain(_chain(leaf), [_anchor(ca)], at=NOW, server_name="verifier.example.org")
    with pytest.raises(UntrustedChain):
        validate_chain(_chain(leaf), [_anchor(ca)], at=NOW, server_name="evil.example")


def test_unknown_or_no_anchor(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("issuer.example.com")
    with pytest.raises(UntrustedChain):
        validate_chain(_chain(leaf), [_anchor(trustme.CA())], at=NOW)
    with pytest.raises(UntrustedChain):
        validate_chain(_chain(leaf), [], at=NOW)


def test_validity_is_judged_at_the_given_time(ca: trustme.CA) -> None:
    start = NOW - timedelta(days=30)
    leaf = ca.issue_cert("issuer.example.com", not_before=start,
                         not_after=NOW - timedelta(days=1))
    with pytest.raises(CertificateNotValidAtTime):  # expired now
        validate_chain(_chain(leaf), [_anchor(ca)], at=NOW)
    with pytest.raises(CertificateNotValidAtTime):  # not yet valid then
        validate_chain(_chain(leaf), [_anchor(ca)], at=start - timedelta(days=1))
    # but it was valid while it was valid: a credential is judged at its own time
    assert validate_chain(_chain(leaf), [_anchor(ca)], at=NOW - timedelta(days=10))


def test_malformed_input(ca: trustme.CA) -> None:
    with pytest.raises(MalformedCertificate):
        validate_chain([b"\x30\x03junk"], [_anchor(ca)], at=NOW)
    with pytest.raises(MalformedCertificate):
        validate_chain([], [_anchor(ca)], at=NOW)
    leaf = _chain(ca.issue_cert("a.example"))[0]
    with pytest.raises(MalformedCertificate):
        validate_chain([leaf] * 9, [_anchor(ca)], at=NOW)
    one = base64.b64encode(leaf).decode()
    for bad in ("MIIB", [], [1], ["not base64!"], ["YWJj-_"], [one] * 9):
        with pytest.raises(MalformedCertificate):
            decode_x5c(bad)
    assert decode_x5c([base64.b64encode(leaf).decode()]) == [leaf]
    assert issubclass(UntrustedChain, VerificationFailed)


def test_x509_hash_and_uri_sans() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "issuer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.UniformResourceIdentifier("https://issuer.example.com/tenant"),
                x509.DNSName("Issuer.Example.com")]), critical=False)
            .sign(key, hashes.SHA256()))
    der = cert.public_bytes(serialization.Encoding.DER)
    assert x509_hash(der) == base64.urlsafe_b64encode(
        hashlib.sha256(der).digest()).decode().rstrip("=")
    assert "=" not in x509_hash(der) and len(x509_hash(der)) == 43
    assert san_uris(cert) == ["https://issuer.example.com/tenant"]
    assert san_dns_names(cert) == ["issuer.example.com"]


def test_oid4vci_signed_metadata_certificate() -> None:
    """The self-signed x5c of the OpenID4VCI signed-metadata example (2025-07-22 → 2055-07-15)."""
    text = (VECTORS / "oid4vci" / "credential_issuer_metadata_sd_jwt_jwt.txt").read_text()
    token = re.sub(r"\s+", "", re.search(r"eyJ[A-Za-z0-9_\-\s]+\.", text).group(0))
    header = json.loads(base64.urlsafe_b64decode(token.rstrip(".") + "=="))
    chain = decode_x5c(header["x5c"])
    cert = x509.load_der_x509_certificate(chain[0])
    assert validate_chain(chain, [cert], at=datetime(2026, 1, 1, tzinfo=UTC)) == cert
    assert "credential-issuer.example.com" in san_dns_names(cert)
    with pytest.raises(CertificateNotValidAtTime):
        validate_chain(chain, [cert], at=datetime(2025, 1, 1, tzinfo=UTC))
    with pytest.raises(UntrustedChain):
        validate_chain(chain, [_anchor(trustme.CA())], at=datetime(2026, 1, 1, tzinfo=UTC))


def test_authority_key_ids_follow_what_the_signing_key_chains_through() -> None:
    """OpenID4VP 1.0 §6.1.1 ``aki``: only the carried certificates the verified signing key
    chains through count (docs/presenting.md), never what merely travels beside it."""
    leaf = trustme.CA().create_child_ca().issue_cert("issuer.example")
    chain, jwk = tuple(chain_der(leaf)), leaf_jwk(leaf)
    leaf_aki, intermediate_aki = aki(chain[0]), aki(chain[1])
    assert authority_key_ids([(jwk, chain)]) == [leaf_aki, intermediate_aki]
    assert signed_path(chain, jwk)[0].public_bytes(serialization.Encoding.DER) == chain[0]
    # another authority's intermediate carried after the signer's leaf did not issue it
    other = trustme.CA().create_child_ca().issue_cert("other.example")
    foreign = chain_der(other)[1]
    assert authority_key_ids([(jwk, (chain[0], foreign))]) == [leaf_aki]
    assert authority_key_ids([(jwk, (chain[0], foreign, chain[1]))]) == [leaf_aki]
    # a chain whose leaf certifies another key than the one that signed: nothing
    assert authority_key_ids([(leaf_jwk(other), chain)]) == []
    assert authority_key_ids([(None, chain)]) == []
    assert authority_key_ids([({"kty": "EC"}, chain)]) == []
    # no chain, or one that cannot be read: known, and nothing (not "unknown")
    assert authority_key_ids([(jwk, ())]) == []
    assert authority_key_ids([(jwk, None)]) == []
    assert authority_key_ids([(jwk, (b"\x30\x03\x02\x01\x01",))]) == []
    assert authority_key_ids([(jwk, (chain[0], b"\x30\x03\x02\x01\x01", chain[1]))]) == [leaf_aki]
    # every signer's path, in order, without repeats
    both = [(jwk, chain), (leaf_jwk(other), tuple(chain_der(other))), (jwk, chain)]
    assert authority_key_ids(both) == [leaf_aki, intermediate_aki,
                                       *(aki(d) for d in chain_der(other))]
