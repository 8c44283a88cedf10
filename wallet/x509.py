"""X.509 certificate path validation for ``x5c`` chains (RFC 5280 §6, via ``cryptography``).

https://www.rfc-editor.org/rfc/rfc5280#section-6 ·
https://cryptography.io/en/latest/x509/verification/

Used for SD-JWT VC issuer keys (draft-ietf-oauth-sd-jwt-vc-18 §3.5), OpenID4VP ``x509_san_dns:`` /
``x509_hash:`` client identifiers (OpenID4VP 1.0 §5.9) and JAdES seals. Why not hand-rolled: path
building, name chaining, basic constraints, key usage and validity at a *given* time are done by a
real validator — ``cryptography``'s :class:`~cryptography.x509.verification.PolicyBuilder` — with
the validation time as an input (a learner's credential is judged when it was issued or presented,
not only "now"). Chains are built only to the anchors the caller configures; an ``x5c`` never brings
its own trust. Pure: no I/O.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from wallet.errors import (
    BadInput,
    CertificateError,
    CertificateNotValidAtTime,
    MalformedCertificate,
    UntrustedChain,
)
from wallet.jose import PublicKey, public_key_from_jwk

__all__ = [
    "authority_key_ids",
    "carried_chain",
    "leaf_names_issuer",
    "load_anchors",
    "CertificateError",
    "CertificateNotValidAtTime",
    "MalformedCertificate",
    "UntrustedChain",
    "decode_x5c",
    "leaf_public_key",
    "san_dns_names",
    "san_uris",
    "signed_path",
    "validate_chain",
    "x509_hash",
]

MAX_CHAIN_LENGTH = 8


def _load(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except (ValueError, TypeError) as exc:
        raise MalformedCertificate("certificate is not DER") from exc


def decode_x5c(x5c: object) -> list[bytes]:
    """The DER certificates of a JOSE ``x5c`` header (RFC 7515 §4.1.6: base64, *not* url-safe)."""
    if not isinstance(x5c, list) or not x5c or len(x5c) > MAX_CHAIN_LENGTH:
        raise MalformedCertificate("x5c must be a non-empty list of certificates")
    return [_x5c_entry(item) for item in x5c]


def carried_chain(header: Mapping[str, Any]) -> tuple[bytes, ...] | None:
    """The DER certificates a JOSE header's ``x5c`` carries, leaf first, whether or not they were
    validated: ``()`` without ``x5c``, None when it cannot be read."""
    if "x5c" not in header:
        return ()
    try:
        return tuple(decode_x5c(header["x5c"]))
    except MalformedCertificate:
        return None


def signed_path(chain_der: Sequence[bytes] | None,
                signer: Mapping[str, Any] | None) -> list[x509.Certificate]:
    """The certificates of a carried chain that the key a signature verified with chains
    through, leaf first: the leaf when it certifies ``signer`` (a public JWK), then each next
    certificate while it issued the one before (its subject is the issuer's name and its key
    verifies the signature, RFC 5280 §6.1.3 (a)(1), (a)(4)). It stops at the first certificate
    that cannot be read or does not continue the path, so a certificate merely carried beside
    the signer's own is left out. Not a trust decision (no anchor, no validity, no constraints):
    the top certificate's issuer is as that certificate names it."""
    if not chain_der or signer is None:
        return []
    try:
        key = _spki(public_key_from_jwk(signer))
    except BadInput:
        return []
    path: list[x509.Certificate] = []
    for der in chain_der[:MAX_CHAIN_LENGTH]:
        try:
            cert = x509.load_der_x509_certificate(der)
            if not path:
                if _spki(cert.public_key()) != key:
                    break
            else:
                path[-1].verify_directly_issued_by(cert)
        except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
            break
        path.append(cert)
    return path


def authority_key_ids(
        signers: Iterable[tuple[Mapping[str, Any] | None, Sequence[bytes] | None]]) -> list[str]:
    """OpenID4VP 1.0 §6.1.1 ``aki`` values a credential can match: the base64url
    ``keyIdentifier`` of the AuthorityKeyIdentifier (RFC 5280 §4.2.1.1) of every certificate on
    the :func:`signed_path` of each (verified signing key, carried chain) pair, in order, without
    repeats. Empty when no carried certificate chains to a key that signed (docs/presenting.md).
    """
    out: list[str] = []
    for signer, chain_der in signers:
        for cert in signed_path(chain_der, signer):
            try:
                aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
            except (x509.ExtensionNotFound, ValueError):
                continue
            if aki.key_identifier is not None:
                kid = base64.urlsafe_b64encode(aki.key_identifier).rstrip(b"=").decode()
                if kid not in out:
                    out.append(kid)
    return out


def _spki(key: object) -> bytes:
    """The DER SubjectPublicKeyInfo of a public key (TypeError for a type without one)."""
    if not isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey
                      | rsa.RSAPublicKey):
        raise TypeError("unsupported key type")
    return key.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _x5c_entry(item: object) -> bytes:
    if not isinstance(item, str):
        raise MalformedCertificate("x5c entries must be strings")
    try:
        return base64.b64decode(item, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedCertificate("x5c entry is not base64") from exc


def validate_chain(
    chain_der: Sequence[bytes],
    anchors: Sequence[x509.Certificate],
    *,
    at: datetime,
    server_name: str | None = None,
) -> x509.Certificate:
    """Validate ``chain_der`` (leaf first, then intermediates) to one of ``anchors`` at time ``at``;
    return the leaf.

    CA certificates are held to the Web PKI CA profile (basic constraints, key usage ...). The
    leaf's extensions are not (verifier and document-signing leaves rarely follow the Web PKI
    end-entity profile), except that with ``server_name`` the leaf must carry a SAN whose dNSName
    matches it (RFC 6125). Without ``server_name``, name checks are the caller's
    (:func:`san_dns_names`, :func:`san_uris`).
    """
    if not chain_der or len(chain_der) > MAX_CHAIN_LENGTH:
        raise MalformedCertificate("a chain needs 1 to 8 certificates")
    if not anchors:
        raise UntrustedChain("no trust anchors are configured")
    certs = [_load(bytes(der)) for der in chain_der]
    leaf = certs[0]
    when = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    if not leaf.not_valid_before_utc <= when <= leaf.not_valid_after_utc:
        raise CertificateNotValidAtTime("the certificate is not valid at the validation time")
    builder = PolicyBuilder().store(Store(list(anchors))).time(when)
    try:
        if server_name is not None:
            server = builder.extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=ExtensionPolicy.permit_all().require_present(
                    x509.SubjectAlternativeName, Criticality.AGNOSTIC, None),
            ).build_server_verifier(x509.DNSName(server_name))
            server.verify(leaf, certs[1:])
        else:
            client = builder.extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(),
                ee_policy=ExtensionPolicy.permit_all(),
            ).build_client_verifier()
            client.verify(leaf, certs[1:])
    except VerificationError as exc:
        raise UntrustedChain("the certificate chain does not validate to a trust anchor") from exc
    except ValueError as exc:  # e.g. an invalid DNS name
        raise UntrustedChain("the certificate chain cannot be validated") from exc
    return leaf


def leaf_public_key(cert: x509.Certificate) -> PublicKey:
    """The certificate's public key, if it is a JOSE-usable type (EC, Ed25519, RSA)."""
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey):
        return key
    raise MalformedCertificate("unsupported certificate key type")


def x509_hash(der: bytes) -> str:
    """base64url(SHA-256(DER)), unpadded — OpenID4VP 1.0 §5.9.3 ``x509_hash:``."""
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode("ascii")


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def san_dns_names(cert: x509.Certificate) -> list[str]:
    """The SAN ``dNSName`` entries (lower-cased)."""
    san = _san(cert)
    return [n.lower() for n in san.get_values_for_type(x509.DNSName)] if san else []


def san_uris(cert: x509.Certificate) -> list[str]:
    """The SAN ``uniformResourceIdentifier`` entries."""
    san = _san(cert)
    return list(san.get_values_for_type(x509.UniformResourceIdentifier)) if san else []


def load_anchors(path: Path | None) -> list[x509.Certificate]:
    """The ``x5c`` trust anchors in a PEM file (``SATCHEL_X5C_ANCHORS_FILE``); none without one."""
    if path is None:
        return []
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise MalformedCertificate("the x5c anchor file is not a readable PEM file") from exc


def leaf_names_issuer(leaf: x509.Certificate, iss: str) -> bool:
    """Does a validated leaf certificate name this issuer identifier?

    A URI SAN equal to ``iss``; for an https ``iss`` a dNSName SAN equal to its host (HAIP
    style); for ``dns:<name>`` a dNSName SAN equal to the name.
    """
    if iss.startswith("dns:"):
        return iss[4:].lower() in san_dns_names(leaf)
    if iss in san_uris(leaf):
        return True
    try:
        parts = urlsplit(iss)
    except ValueError:
        return False
    return parts.scheme == "https" and (parts.hostname or "") in san_dns_names(leaf)
