"""RFC 3161 time-stamp tokens inside JAdES seals (``adoTst``, ``etsiU`` ``sigTst``).

Specs: RFC 3161 §2.4.2 (``TSTInfo``: ``messageImprint``, ``genTime``), RFC 5652 §5.4 (CMS
SignedData: the signature covers the DER ``SET OF`` of the signed attributes, whose
``messageDigest`` is the hash of the encapsulated content), RFC 5816 (ESS signing-certificate-v2);
ETSI TS 119 182-1 §5.3.4.1 (``sigTst``: imprint over the base64url JWS signature value) and
§5.2.8.1 (``adoTst``: imprint over the JWS payload as signed).

Why: ``sigT`` is only the signer's claim. A time-stamp token from a TSA confirms that the data (or
the signature) existed at ``genTime``, which is what lets a seal certificate that expired later
still count. This module checks a token cryptographically (imprint, CMS signature by the TSA
certificate, TSA certificate validity at ``genTime``, time-stamping EKU). Whether the TSA itself is
trusted is the trust list's question, as for the seal: the TSA certificate is returned.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import cms, tsp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from wallet.formats.jsonld.errors import TimestampInvalid
from wallet.formats.untrusted import parser_failed

__all__ = ["TimestampInvalid", "VerifiedTimestamp", "verify_timestamp_token"]

_HASHES: dict[str, tuple[Any, type[hashes.HashAlgorithm]]] = {
    "sha256": (hashlib.sha256, hashes.SHA256),
    "sha384": (hashlib.sha384, hashes.SHA384),
    "sha512": (hashlib.sha512, hashes.SHA512),
}
_MAX_TOKEN = 64 * 1024


@dataclass(frozen=True, slots=True)
class VerifiedTimestamp:
    gen_time: datetime
    tsa_cert_der: bytes


def _hash(name: str) -> tuple[Any, type[hashes.HashAlgorithm]]:
    if name not in _HASHES:
        raise TimestampInvalid("time-stamp uses an unsupported hash")
    return _HASHES[name]


def _signer_cert(signed_data: Any, signer: Any) -> x509.Certificate:
    sid = signer["sid"]
    for choice in signed_data["certificates"] or []:
        if choice.name != "certificate":
            continue
        cert = choice.chosen
        if sid.name == "issuer_and_serial_number":
            match = (cert.issuer == sid.chosen["issuer"]
                     and cert.serial_number == sid.chosen["serial_number"].native)
        else:
            match = cert.key_identifier == sid.chosen.native
        if match:
            return x509.load_der_x509_certificate(cert.dump())
    raise TimestampInvalid("time-stamp token does not carry its TSA certificate")


def _verify_cms_signature(cert: x509.Certificate, signer: Any, signed: bytes) -> None:
    algo = signer["signature_algorithm"]
    digest_name = signer["digest_algorithm"]["algorithm"].native
    _, hash_cls = _hash(digest_name)
    key = cert.public_key()
    signature = signer["signature"].native
    try:
        if algo.signature_algo == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signed, padding.PKCS1v15(), hash_cls())
        elif algo.signature_algo == "rsassa_pss" and isinstance(key, rsa.RSAPublicKey):
            params = algo["parameters"]
            _, pss_hash = _hash(params["hash_algorithm"]["algorithm"].native)
            key.verify(signature, signed,
                       padding.PSS(padding.MGF1(pss_hash()), params["salt_length"].native),
                       pss_hash())
        elif algo.signature_algo == "ecdsa" and isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, signed, ec.ECDSA(hash_cls()))
        else:
            raise TimestampInvalid("time-stamp signature algorithm is not supported")
    except InvalidSignature as exc:
        raise TimestampInvalid("time-stamp signature does not verify") from exc


def _check(token_der: bytes, data: bytes) -> VerifiedTimestamp:
    info = cms.ContentInfo.load(token_der, strict=True)
    if info["content_type"].native != "signed_data":
        raise TimestampInvalid("time-stamp token is not CMS SignedData")
    signed_data = info["content"]
    encap = signed_data["encap_content_info"]
    if encap["content_type"].native != "tst_info":
        raise TimestampInvalid("time-stamp token does not hold a TSTInfo")
    tst_der = encap["content"].contents
    tst = tsp.TSTInfo.load(tst_der, strict=True)
    imprint = tst["message_imprint"]
    hash_fn, _ = _hash(imprint["hash_algorithm"]["algorithm"].native)
    if imprint["hashed_message"].native != hash_fn(data).digest():
        raise TimestampInvalid("time-stamp does not cover this data")
    signers = signed_data["signer_infos"]
    if len(signers) != 1:
        raise TimestampInvalid("time-stamp token must have exactly one signer")
    signer = signers[0]
    attrs = signer["signed_attrs"]
    if not attrs:
        raise TimestampInvalid("time-stamp token has no signed attributes")
    digests = [a["values"][0].native for a in attrs if a["type"].native == "message_digest"]
    digest_fn, _ = _hash(signer["digest_algorithm"]["algorithm"].native)
    if len(digests) != 1 or digests[0] != digest_fn(tst_der).digest():
        raise TimestampInvalid("time-stamp signed attributes do not match its content")
    cert = _signer_cert(signed_data, signer)
    # RFC 5652 §5.4: the signature is over the attributes as an explicit SET OF (tag 0x31).
    _verify_cms_signature(cert, signer, b"\x31" + attrs.dump()[1:])
    gen_time = tst["gen_time"].native
    if not isinstance(gen_time, datetime) or gen_time.tzinfo is None:
        raise TimestampInvalid("time-stamp genTime is malformed")
    if not cert.not_valid_before_utc <= gen_time <= cert.not_valid_after_utc:
        raise TimestampInvalid("TSA certificate was not valid at genTime")
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise TimestampInvalid("TSA certificate lacks the time-stamping purpose") from exc
    if ExtendedKeyUsageOID.TIME_STAMPING not in eku:
        raise TimestampInvalid("TSA certificate lacks the time-stamping purpose")
    return VerifiedTimestamp(gen_time, cert.public_bytes(Encoding.DER))


def verify_timestamp_token(token_b64: object, data: bytes) -> VerifiedTimestamp:
    """Verify one base64 (standard alphabet) RFC 3161 token over ``data``."""
    if not isinstance(token_b64, str) or len(token_b64) > _MAX_TOKEN:
        raise TimestampInvalid("time-stamp token must be a bounded base64 string")
    try:
        token_der = base64.b64decode(token_b64, validate=True)
    except ValueError as exc:
        raise TimestampInvalid("time-stamp token is not base64") from exc
    try:
        return _check(token_der, data)
    except TimestampInvalid:
        raise
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        parser_failed(exc, "RFC 3161 token")  # asn1crypto on bad DER
        raise TimestampInvalid("time-stamp token is malformed") from exc
