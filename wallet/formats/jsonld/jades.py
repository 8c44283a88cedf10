"""JAdES seals on European Digital Credentials (EDC, ELM 3): JWS JSON serialization, unencoded.

Specs: ETSI TS 119 182-1 v1.1.1 (JAdES), https://www.etsi.org/deliver/etsi_ts/119100_119199/11918201/
(§5.1.11 ``sigT`` claimed signing time, §5.2.8 ``adoTst``, §5.3 unsigned ``etsiU``); RFC 7515
§7.2 (JWS JSON serialization: general and flattened; protected and unprotected headers disjoint);
RFC 7797 (``b64: false``: the signing input is ``ASCII(protected) || '.' || payload bytes`` and
``b64`` must be listed in ``crit``); RFC 7515 §4.1.6/§4.1.8 (``x5c`` leaf signs; ``x5t#S256`` is the
SHA-256 of its DER); Europass EDC "sealing" (EDCI), which produces exactly this shape.

Why: a learner keeps a sealed EDC for years, longer than the seal certificate lives. The seal is
judged at ``sigT`` (a certificate that expired *after* signing does not invalidate the credential),
and whether the seal's CA is trusted is a separate answer: the leaf DER goes out in
``issuer_cert_der`` for the trust list. ``crit`` may name only what we implement (``b64``,
``sigT``, ``adoTst``); anything else fails closed. ``sigT`` is the signer's own claim; the RFC 3161
tokens (:mod:`.timestamps`) confirm it: a signed ``adoTst`` that does not verify makes the seal
invalid, an unsigned ``etsiU`` ``sigTst`` that does not verify is reported. When the certificate has
expired by now and no token confirms ``sigT``, the problem ``signing_time_unconfirmed`` says so.
Trust in the time-stamping authority is, like the seal's CA, not decided here.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import Encoding

from wallet.errors import BadInput, SatchelError
from wallet.formats.jsonld.errors import InvalidCredential
from wallet.formats.jsonld.timestamps import TimestampInvalid, verify_timestamp_token
from wallet.formats.jsonld.vcdm import CLOCK_SKEW, parse_datetime
from wallet.formats.model import SignatureState, SignerChain
from wallet.jose import PublicKey, b64url_decode, b64url_encode, public_jwk, verify_raw
from wallet.x509 import carried_chain

__all__ = [
    "JADES_ALGS",
    "UNDERSTOOD_CRIT",
    "JadesResult",
    "is_jws_json",
    "verify_jades",
]

JADES_ALGS = frozenset({"RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
                        "ES256", "ES384", "ES512", "EdDSA"})
UNDERSTOOD_CRIT = frozenset({"b64", "sigT", "adoTst"})
_MAX_SIGNATURES = 4
_MAX_CHAIN = 10
_TST_WINDOW = timedelta(minutes=10)  # adoTst is taken just before signing


@dataclass(frozen=True, slots=True)
class JadesResult:
    """The seal verdict and the credential the payload holds."""

    signature: SignatureState
    payload: dict[str, Any]
    problems: tuple[str, ...] = ()
    signing_time: datetime | None = None
    leaf_der: bytes | None = None
    leaf_jwk: dict[str, Any] | None = None
    #: every seal's verified key and the ``x5c`` chain it carries, in signature order
    signer_chains: tuple[SignerChain, ...] = ()


def is_jws_json(obj: Any) -> bool:
    """True for a JWS JSON (general or flattened) serialization object."""
    return isinstance(obj, Mapping) and "payload" in obj and (
        "signatures" in obj or ("protected" in obj and "signature" in obj))


def _signature_entries(obj: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    entries = obj.get("signatures") if "signatures" in obj else [
        {k: obj[k] for k in ("protected", "header", "signature") if k in obj}]
    if (not isinstance(entries, list) or not 1 <= len(entries) <= _MAX_SIGNATURES
            or not all(isinstance(e, Mapping) for e in entries)):
        raise InvalidCredential("JWS JSON must carry one to four signature objects")
    return entries


def _protected(entry: Mapping[str, Any]) -> dict[str, Any]:
    raw = entry.get("protected")
    if not isinstance(raw, str) or not raw.isascii():
        raise InvalidCredential("JAdES signature has no protected header")
    try:
        header = json.loads(b64url_decode(raw))
    except (BadInput, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCredential("JAdES protected header is not base64url JSON") from exc
    if not isinstance(header, dict):
        raise InvalidCredential("JAdES protected header is not an object")
    return header


def _leaf(header: Mapping[str, Any]) -> x509.Certificate | None:
    chain = header.get("x5c")
    if chain is None:
        return None
    if not isinstance(chain, list) or not 1 <= len(chain) <= _MAX_CHAIN or not all(
            isinstance(c, str) for c in chain):
        raise InvalidCredential("x5c must be a non-empty list of base64 certificates")
    try:
        der = base64.b64decode(chain[0], validate=True)
        return x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCredential("x5c leaf is not a DER certificate") from exc


def _seal_key(leaf: x509.Certificate) -> tuple[str | None, PublicKey | None,
                                               dict[str, Any] | None]:
    """The seal's public key, refusing certificates not meant for signing or with odd keys."""
    try:
        try:
            usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
            if not (usage.digital_signature or usage.content_commitment):
                return "certificate_not_for_signing", None, None
        except x509.ExtensionNotFound:
            pass
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey
                          | ed25519.Ed25519PublicKey) or (
                isinstance(key, rsa.RSAPublicKey) and key.key_size < 2048):
            return "certificate_key_unsupported", None, None
        return None, key, public_jwk(key)
    except (ValueError, UnsupportedAlgorithm, BadInput):  # malformed extensions, odd curves
        return "certificate_key_unsupported", None, None


def _check_one(entry: Mapping[str, Any], payload: str, now: datetime) -> JadesResult:
    header = _protected(entry)
    unprotected = entry.get("header", {})
    if not isinstance(unprotected, Mapping) or set(unprotected) & set(header):
        raise InvalidCredential("JWS unprotected header must be an object disjoint from protected")
    sig_b64 = entry.get("signature")
    if not isinstance(sig_b64, str):
        raise InvalidCredential("JAdES signature value missing")
    try:
        signature = b64url_decode(sig_b64)
    except BadInput as exc:
        raise InvalidCredential("JAdES signature is not base64url") from exc
    problems: list[str] = []
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in JADES_ALGS:
        return JadesResult("invalid", {}, ("alg_not_allowed",))
    crit = header.get("crit", [])
    if (not isinstance(crit, list) or ("crit" in header and not crit)
            or len(set(map(str, crit))) != len(crit)
            or any(not isinstance(c, str) or c not in UNDERSTOOD_CRIT or c not in header
                   for c in crit)):
        return JadesResult("invalid", {}, ("crit_not_understood",))
    b64 = header.get("b64", True)
    if not isinstance(b64, bool) or (b64 is False and "b64" not in crit):
        return JadesResult("invalid", {}, ("b64_not_critical",))
    protected_raw = str(entry["protected"])
    if b64:
        if not payload.isascii():
            raise InvalidCredential("JWS payload is not base64url")
        payload_bytes = payload.encode("ascii")
    else:
        payload_bytes = payload.encode("utf-8")
    signing_input = protected_raw.encode("ascii") + b"." + payload_bytes

    signing_time = None
    if "sigT" in header:
        try:
            signing_time = parse_datetime(header["sigT"])
        except SatchelError:
            return JadesResult("invalid", {}, ("signing_time_malformed",))
        if signing_time > now + CLOCK_SKEW:
            problems.append("signing_time_in_future")
    else:
        problems.append("no_signing_time")
    leaf = _leaf(header)
    if leaf is None:
        return JadesResult("no_key", {}, ("no_x5c",), signing_time)
    leaf_der = leaf.public_bytes(Encoding.DER)
    thumb = header.get("x5t#S256")
    if thumb is not None and thumb != b64url_encode(hashlib.sha256(leaf_der).digest()):
        return JadesResult("invalid", {}, ("x5t_mismatch",), signing_time, leaf_der)
    at = signing_time or now
    if not leaf.not_valid_before_utc <= at <= leaf.not_valid_after_utc:
        return JadesResult("invalid", {}, ("certificate_not_valid_at_signing_time",),
                           signing_time, leaf_der)
    problem, key, jwk = _seal_key(leaf)
    if problem is not None or key is None or jwk is None:
        return JadesResult("invalid", {}, (problem or "certificate_key_unsupported",),
                           signing_time, leaf_der)
    if not verify_raw(alg, key, signing_input, signature):
        return JadesResult("invalid", {}, ("signature_mismatch",), signing_time, leaf_der, jwk)
    try:
        confirmed = _timestamps(header, unprotected, payload_bytes, sig_b64, signing_time,
                                problems)
    except TimestampInvalid:
        return JadesResult("invalid", {}, ("timestamp_invalid",), signing_time, leaf_der, jwk)
    if not confirmed and leaf.not_valid_after_utc < now:
        # the certificate is accepted only because of sigT, and no time-stamp backs sigT
        problems.append("signing_time_unconfirmed")
    return JadesResult("valid", {}, tuple(problems), signing_time, leaf_der, jwk)


def _tokens(container: Any) -> list[Any]:
    """The ``tstTokens[].val`` strings of an ``adoTst``/``sigTst`` object (at most four)."""
    if not isinstance(container, Mapping) or not isinstance(container.get("tstTokens"), list):
        raise TimestampInvalid("time-stamp container is malformed")
    tokens = [t.get("val") if isinstance(t, Mapping) else None for t in container["tstTokens"]]
    if not 1 <= len(tokens) <= 4:
        raise TimestampInvalid("time-stamp container must hold one to four tokens")
    return tokens


def _etsiu_sigtst(unprotected: Mapping[str, Any]) -> Any:
    """The ``sigTst`` object among the ``etsiU`` unsigned properties (base64url JSON or JSON)."""
    entries = unprotected.get("etsiU", [])
    if not isinstance(entries, list):
        return None
    for entry in entries[:16]:
        try:
            obj = json.loads(b64url_decode(entry)) if isinstance(entry, str) else entry
        except (BadInput, ValueError, UnicodeDecodeError, RecursionError):
            continue
        if isinstance(obj, Mapping) and "sigTst" in obj:
            return obj["sigTst"]
    return None


def _timestamps(header: Mapping[str, Any], unprotected: Mapping[str, Any], payload: bytes,
                sig_b64: str, signing_time: datetime | None, problems: list[str]) -> bool:
    """Check ``adoTst`` (signed: a bad one raises) and ``sigTst`` (unsigned: reported only).

    True when a valid token confirms ``sigT`` (TS 119 182-1 §5.2.8.1, §5.3.4.1).
    """
    confirmed = False
    if "adoTst" in header:
        for token in _tokens(header["adoTst"]):
            stamp = verify_timestamp_token(token, payload)
            if signing_time is not None and abs(stamp.gen_time - signing_time) <= _TST_WINDOW:
                confirmed = True
            else:
                problems.append("signing_time_not_confirmed")
    sig_tst = _etsiu_sigtst(unprotected)
    if sig_tst is not None:
        try:
            for token in _tokens(sig_tst):
                stamp = verify_timestamp_token(token, sig_b64.encode("ascii"))
                # the signature existed at genTime, so the claimed sigT cannot be later
                if signing_time is not None and signing_time <= stamp.gen_time + CLOCK_SKEW:
                    confirmed = True
                else:
                    problems.append("signing_time_not_confirmed")
        except TimestampInvalid:
            problems.append("signature_timestamp_invalid")
    return confirmed


def _payload_json(payload: str, b64: bool) -> dict[str, Any]:
    try:
        data = b64url_decode(payload) if b64 else payload.encode("utf-8")
        doc = json.loads(data)
    except (BadInput, ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidCredential("JAdES payload is not a JSON credential") from exc
    if not isinstance(doc, dict):
        raise InvalidCredential("JAdES payload is not a JSON object")
    return doc


def verify_jades(obj: Mapping[str, Any], *, now: datetime) -> JadesResult:
    """Verify every seal on a JWS JSON object and parse its payload.

    Raises :class:`InvalidCredential` when the object is not a JAdES/JWS JSON credential at all;
    otherwise returns a verdict (``valid`` only if every signature is valid).
    """
    payload = obj.get("payload")
    if not isinstance(payload, str):
        raise InvalidCredential("JWS JSON payload must be a string")
    entries = _signature_entries(obj)
    modes = {_protected(e).get("b64", True) is not False for e in entries}
    if len(modes) != 1:
        raise InvalidCredential("JWS JSON signatures disagree on b64")
    results = [_check_one(e, payload, now) for e in entries]
    b64 = modes.pop()
    doc = _payload_json(payload, b64)
    problems = tuple(dict.fromkeys(p for r in results for p in r.problems))
    # every seal's chain, not the first one's: a later sealer's authority is as present
    signers = tuple(SignerChain(r.leaf_jwk, carried_chain(_protected(e)))
                    for r, e in zip(results, entries, strict=True))
    for state in ("invalid", "unsupported", "no_key"):
        worst = next((r for r in results if r.signature == state), None)
        if worst is not None:
            return JadesResult(state, doc, problems, worst.signing_time, worst.leaf_der,
                               worst.leaf_jwk, signers)
    first = results[0]
    return JadesResult("valid", doc, problems, first.signing_time, first.leaf_der,
                       first.leaf_jwk, signers)
