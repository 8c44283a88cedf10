"""JAdES-sealed European Digital Credentials (JWS JSON serialization, b64=false)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.x5c_support import aki, chain_der, seal
from wallet.errors import SatchelError
from wallet.formats.jsonld import check_jsonld
from wallet.formats.jsonld.errors import InvalidCredential
from wallet.formats.jsonld.timestamps import TimestampInvalid, verify_timestamp_token
from wallet.formats.model import SignerChain
from wallet.jose import b64url_encode

SIGT = datetime(2023, 9, 28, tzinfo=UTC)  # the day after both ELM sigT values (README)
LATER = datetime(2026, 11, 25, tzinfo=UTC)  # after the TEST SEAL certificate expired


def _elm(vectors: Path, name: str) -> str:
    return (vectors / "microcredentials" / "elm" / name).read_text()


def _edc_dc(vectors: Path) -> str:
    return (vectors / "microcredentials" / "mynextid" / "substitute-degree-certificate" /
            "edc-dc-signed.jsonld").read_text()


@pytest.mark.parametrize("name", ["Sample-MC-Annex1-signed.jsonld",
                                  "Sample-CertOfPart-signed.jsonld"])
async def test_elm_samples_verify_at_signing_time(vectors: Path, name: str) -> None:
    raw = _elm(vectors, name)
    checked = await check_jsonld(raw, now=SIGT, fetcher=None)
    assert checked.signature == "valid", checked.problems
    assert checked.format == "ldp_vc" and checked.raw == raw
    assert checked.types == ("VerifiableCredential", "EuropeanDigitalCredential")
    assert checked.key_source == "x5c_seal"
    pem = _elm(vectors, "Sample-signer-TEST-SEAL.x5c0.cert.pem").encode()
    assert checked.issuer_cert_der == x509.load_pem_x509_certificate(pem).public_bytes(
        Encoding.DER)
    assert checked.issuer.startswith("urn:epass:org:")
    assert checked.problems == ()
    # the seal's key and its whole x5c chain, leaf first (OpenID4VP trusted_authorities "aki")
    [sealer] = checked.signer_chains
    assert sealer.jwk == checked.issuer_jwk and sealer.chain_der
    assert sealer.chain_der[0] == checked.issuer_cert_der


async def test_elm_fields(vectors: Path) -> None:
    mc = await check_jsonld(_elm(vectors, "Sample-MC-Annex1-signed.jsonld"), now=SIGT,
                            fetcher=None)
    assert mc.title == "Micro-Credential"
    assert mc.valid_from == datetime(2022, 12, 31, 23, 0, tzinfo=UTC)
    assert mc.issued_at == datetime(2023, 9, 27, 11, 54, 17, tzinfo=UTC)
    assert mc.expires_at is None
    cop = await check_jsonld(_elm(vectors, "Sample-CertOfPart-signed.jsonld"), now=SIGT,
                             fetcher=None)
    assert cop.title == "Certificate of Participation"


async def test_seal_expired_after_signing_still_verifies(vectors: Path) -> None:
    checked = await check_jsonld(_elm(vectors, "Sample-MC-Annex1-signed.jsonld"), now=LATER,
                                 fetcher=None)
    assert checked.signature == "valid"


def _flip_payload_byte(raw: str, index: int) -> str:
    outer = json.loads(raw)
    payload = outer["payload"]
    char = "A" if payload[index] != "A" else "B"
    outer["payload"] = payload[:index] + char + payload[index + 1:]
    return json.dumps(outer)


@pytest.mark.parametrize("index", [10, 5000, -12])
async def test_changed_payload_byte_fails(vectors: Path, index: int) -> None:
    raw = _elm(vectors, "Sample-MC-Annex1-signed.jsonld")
    position = index if index >= 0 else len(json.loads(raw)["payload"]) + index
    checked = await check_jsonld(_flip_payload_byte(raw, position), now=SIGT, fetcher=None)
    assert checked.signature == "invalid"
    assert "signature_mismatch" in checked.problems


async def test_reencoding_the_outer_json_keeps_the_signature(vectors: Path) -> None:
    # Only the payload *string* is signed; the outer JSON's whitespace/escaping is not.
    raw = _elm(vectors, "Sample-CertOfPart-signed.jsonld")
    reencoded = json.dumps(json.loads(raw), ensure_ascii=True, indent=1)
    assert (await check_jsonld(reencoded, now=SIGT, fetcher=None)).signature == "valid"


async def test_mynextid_degree_certificate(vectors: Path) -> None:
    checked = await check_jsonld(_edc_dc(vectors), now=datetime(2026, 11, 25, tzinfo=UTC),
                                 fetcher=None)
    assert checked.signature == "valid", checked.problems
    assert checked.title == "Degree Certificate"
    assert checked.status is not None
    assert checked.status.kind == "bitstring_status_list"
    assert checked.status.purpose == "revocation" and checked.status.index == 199
    assert checked.status.uri.startswith("https://app.velocert.com/status/")
    assert checked.holder_jwk is not None and checked.holder_jwk["crv"] == "P-256"


async def test_before_valid_from_is_reported(vectors: Path) -> None:
    checked = await check_jsonld(_edc_dc(vectors), now=datetime(2026, 1, 1, tzinfo=UTC),
                                 fetcher=None)
    assert "not_yet_valid" in checked.problems
    assert "signing_time_in_future" in checked.problems


# --- our own seals, to test each rule in isolation --------------------------------------------

_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _cert(not_before: datetime, not_after: datetime, *, public_key: Any = None,
          usage: x509.KeyUsage | None = None) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Satchel test seal")])
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(public_key or _KEY.public_key()).serial_number(7)
               .not_valid_before(not_before).not_valid_after(not_after))
    if usage is not None:
        builder = builder.add_extension(usage, critical=True)
    return builder.sign(_KEY, hashes.SHA256())


_CERT = _cert(datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC))
_EDC = {"@context": ["https://www.w3.org/ns/credentials/v2"],
        "type": ["VerifiableCredential", "EuropeanDigitalCredential"],
        "issuer": {"id": "urn:epass:org:1", "legalName": {"en": "Test University"}},
        "validFrom": "2023-02-01T00:00:00Z", "validUntil": "2028-01-01T00:00:00Z",
        "credentialSubject": {"id": "urn:epass:person:1"},
        "displayParameter": {"title": {"fr": "Micro-certificat", "en": "Micro-credential"}}}


def _seal(header_extra: dict[str, Any] | None = None, *, payload: str | None = None,
          cert: x509.Certificate = _CERT, b64: bool = False, flattened: bool = False,
          unprotected: dict[str, Any] | None = None) -> str:
    der = cert.public_bytes(Encoding.DER)
    header: dict[str, Any] = {
        "alg": "RS256", "cty": "octet-stream", "typ": "jose+json",
        "x5c": [base64.b64encode(der).decode()],
        "x5t#S256": b64url_encode(hashlib.sha256(der).digest()),
        "sigT": "2023-06-01T10:00:00Z", "crit": ["sigT"] if b64 else ["b64", "sigT"],
    }
    if not b64:
        header["b64"] = False
    header.update(header_extra or {})
    header = {k: v for k, v in header.items() if v is not None}
    protected = b64url_encode(json.dumps(header).encode())
    body = payload if payload is not None else json.dumps(_EDC, ensure_ascii=False)
    wire = b64url_encode(body.encode()) if b64 else body
    signature = _KEY.sign(protected.encode() + b"." + wire.encode(), padding.PKCS1v15(),
                          hashes.SHA256())
    entry: dict[str, Any] = {"protected": protected, "signature": b64url_encode(signature)}
    if unprotected is not None:
        entry["header"] = unprotected
    if flattened:
        return json.dumps({"payload": wire, **entry})
    return json.dumps({"payload": wire, "signatures": [entry]})


async def _check(raw: str, now: datetime = datetime(2023, 7, 1, tzinfo=UTC)) -> Any:
    return await check_jsonld(raw, now=now, fetcher=None)


async def test_own_seal_verifies_and_maps_the_edc() -> None:
    checked = await _check(_seal(unprotected={"etsiU": ["ignored"]}))
    assert checked.signature == "valid" and checked.problems == ()
    assert checked.title == "Micro-credential"
    assert checked.issuer == "urn:epass:org:1"
    assert checked.expires_at == datetime(2028, 1, 1, tzinfo=UTC)
    assert checked.issuer_jwk is not None and checked.issuer_jwk["kty"] == "RSA"


async def test_non_ascii_payload_is_signed_as_utf8() -> None:
    edc = dict(_EDC, name="Diplôme – Ünïcode ✓")
    checked = await _check(_seal(payload=json.dumps(edc, ensure_ascii=False)))
    assert checked.signature == "valid"


async def test_flattened_and_b64_true_serializations() -> None:
    assert (await _check(_seal(flattened=True))).signature == "valid"
    assert (await _check(_seal(b64=True))).signature == "valid"


async def test_dates_against_injected_now() -> None:
    assert "expired" in (await _check(_seal(), now=datetime(2029, 1, 1, tzinfo=UTC))).problems
    early = await _check(_seal(), now=datetime(2023, 1, 15, tzinfo=UTC))
    assert "not_yet_valid" in early.problems


@pytest.mark.parametrize(("extra", "problem"), [
    ({"crit": ["b64", "sigT", "exp"], "exp": 1}, "crit_not_understood"),
    ({"crit": ["b64", "sigT", "adoTst"]}, "crit_not_understood"),  # adoTst named, not present
    ({"crit": ["b64", "b64", "sigT"]}, "crit_not_understood"),
    ({"crit": ["sigT"]}, "b64_not_critical"),
    ({"crit": []}, "crit_not_understood"),
    ({"x5t#S256": b64url_encode(b"\x00" * 32)}, "x5t_mismatch"),
    ({"sigT": "2024-06-01T00:00:00Z"}, "certificate_not_valid_at_signing_time"),
    ({"sigT": "2022-06-01T00:00:00Z"}, "certificate_not_valid_at_signing_time"),
    ({"sigT": "yesterday"}, "signing_time_malformed"),
    ({"alg": "HS256"}, "alg_not_allowed"),
    ({"alg": "none"}, "alg_not_allowed"),
    ({"alg": "PS256"}, "signature_mismatch"),
])
async def test_header_rules_fail_closed(extra: dict[str, Any], problem: str) -> None:
    checked = await _check(_seal(extra))
    assert checked.signature == "invalid"
    assert problem in checked.problems


async def test_no_x5c_is_no_key() -> None:
    checked = await _check(_seal({"x5c": None, "x5t#S256": None}))
    assert checked.signature == "no_key" and "no_x5c" in checked.problems
    assert checked.signer_chains == (SignerChain(None, ()),)  # no key, no chain carried
    assert checked.authority_key_ids() == []


async def test_missing_sigt_judges_the_certificate_now() -> None:
    checked = await _check(_seal({"sigT": None, "crit": ["b64"]}))
    assert checked.signature == "valid" and "no_signing_time" in checked.problems
    late = await _check(_seal({"sigT": None, "crit": ["b64"]}),
                        now=datetime(2025, 1, 1, tzinfo=UTC))
    assert late.signature == "invalid"


async def test_structural_errors_raise_typed() -> None:
    with pytest.raises(InvalidCredential):  # unprotected header must not repeat a protected one
        await _check(_seal(unprotected={"alg": "none"}))
    base = json.loads(_seal())
    for broken in ({"payload": 1, "signatures": base["signatures"]},
                   {"payload": base["payload"], "signatures": []},
                   {"payload": base["payload"], "signatures": [{"protected": "%%%"}]},
                   {"payload": base["payload"], "signatures": [{"protected": "e30",
                                                                "signature": "AA"}] * 5}):
        with pytest.raises(InvalidCredential):
            await _check(json.dumps(broken))


async def test_all_signatures_must_verify() -> None:
    good = json.loads(_seal())
    bad = dict(good["signatures"][0], signature=b64url_encode(b"\x01" * 256))
    doubled = {"payload": good["payload"], "signatures": [good["signatures"][0], bad]}
    assert (await _check(json.dumps(doubled))).signature == "invalid"


async def test_every_seal_s_chain_counts_for_aki() -> None:
    """OpenID4VP 1.0 §6.1.1 ``aki``: a later sealer's authority is as present in the credential
    as the first one's, so every valid seal's chain is recorded, in signature order."""
    first = trustme.CA().create_child_ca().issue_cert("seal-one.example")
    second = trustme.CA().create_child_ca().issue_cert("seal-two.example")
    now = datetime.now(UTC)
    checked = await check_jsonld(seal([first, second]), now=now, fetcher=None)
    assert checked.signature == "valid", checked.problems
    assert checked.authority_key_ids() == [aki(der) for leaf in (first, second)
                                           for der in chain_der(leaf)]
    # one seal that does not verify: no valid signature, so nothing is said to chain
    broken = json.loads(seal([first, second]))
    broken["signatures"][1]["signature"] = b64url_encode(b"\x01" * 64)
    refused = await check_jsonld(json.dumps(broken), now=now, fetcher=None)
    assert refused.signature == "invalid" and refused.authority_key_ids() == []


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from(["alg", "b64", "crit", "sigT", "x5c", "x5t#S256",
                                        "adoTst", "kid"]),
                       st.none() | st.booleans() | st.integers() | st.text(max_size=12)
                       | st.lists(st.text(max_size=8), max_size=3), max_size=6),
       st.text(max_size=40))
def test_garbled_seals_only_raise_satchel_errors(header: dict[str, Any], payload: str) -> None:
    protected = b64url_encode(json.dumps(header).encode())
    raw = json.dumps({"payload": payload,
                      "signatures": [{"protected": protected, "signature": "AAAA"}]})
    try:
        checked = asyncio.run(check_jsonld(raw, now=SIGT, fetcher=None))
    except SatchelError:
        return
    assert checked.signature != "valid"


def test_expired_window_of_the_real_certificate(vectors: Path) -> None:
    pem = _elm(vectors, "Sample-signer-TEST-SEAL.x5c0.cert.pem").encode()
    cert = x509.load_pem_x509_certificate(pem)
    # the premise of the "judge at sigT" tests: the seal is expired today, valid at sigT
    assert cert.not_valid_after_utc < LATER
    assert cert.not_valid_before_utc <= SIGT <= cert.not_valid_after_utc
    assert cert.not_valid_after_utc - cert.not_valid_before_utc < timedelta(days=731)


# --- RFC 3161 time-stamp tokens ---------------------------------------------------------------

def _elm_tokens(vectors: Path) -> tuple[str, str, str, str]:
    """(adoTst token, payload, sigTst token, signature) of the ELM micro-credential."""
    outer = json.loads(_elm(vectors, "Sample-MC-Annex1-signed.jsonld"))
    entry = outer["signatures"][0]
    header = json.loads(base64.urlsafe_b64decode(entry["protected"] + "=="))
    sig_tst = next(json.loads(base64.urlsafe_b64decode(u + "=" * (-len(u) % 4)))["sigTst"]
                   for u in entry["header"]["etsiU"]
                   if "sigTst" in json.loads(base64.urlsafe_b64decode(u + "=" * (-len(u) % 4))))
    return (header["adoTst"]["tstTokens"][0]["val"], outer["payload"],
            sig_tst["tstTokens"][0]["val"], entry["signature"])


def test_elm_time_stamps_verify(vectors: Path) -> None:
    ado, payload, sig_tst, signature = _elm_tokens(vectors)
    stamp = verify_timestamp_token(ado, payload.encode())
    assert stamp.gen_time == datetime(2023, 9, 27, 11, 54, 17, tzinfo=UTC)  # = sigT
    tsa = x509.load_der_x509_certificate(stamp.tsa_cert_der)
    assert "good-tsa" in tsa.subject.rfc4514_string()
    later = verify_timestamp_token(sig_tst, signature.encode())
    assert later.gen_time == datetime(2023, 9, 27, 11, 54, 20, tzinfo=UTC)


def test_time_stamp_rejects_other_data_and_forgery(vectors: Path) -> None:
    ado, payload, _, _ = _elm_tokens(vectors)
    with pytest.raises(TimestampInvalid):
        verify_timestamp_token(ado, payload.encode() + b" ")
    der = bytearray(base64.b64decode(ado))
    der[-5] ^= 0x01  # inside the TSA's signature value
    with pytest.raises(TimestampInvalid):
        verify_timestamp_token(base64.b64encode(bytes(der)).decode(), payload.encode())
    for junk in ("", "AAAA", "not base64!", 7, "MIIB" * 10):
        with pytest.raises(TimestampInvalid):
            verify_timestamp_token(junk, payload.encode())


async def test_time_stamps_confirm_sigt_for_an_expired_seal(vectors: Path) -> None:
    checked = await check_jsonld(_elm(vectors, "Sample-MC-Annex1-signed.jsonld"), now=LATER,
                                 fetcher=None)
    assert checked.signature == "valid" and checked.problems == ()


async def test_expired_seal_without_time_stamp_is_reported() -> None:
    checked = await _check(_seal(), now=datetime(2025, 1, 1, tzinfo=UTC))
    assert checked.signature == "valid"
    assert "signing_time_unconfirmed" in checked.problems


async def test_signed_ado_time_stamp_over_other_data_invalidates(vectors: Path) -> None:
    ado, _, _, _ = _elm_tokens(vectors)
    raw = _seal({"adoTst": {"tstTokens": [{"val": ado}]}, "crit": ["b64", "sigT", "adoTst"]})
    checked = await _check(raw)
    assert checked.signature == "invalid" and "timestamp_invalid" in checked.problems


async def test_unsigned_signature_time_stamp_that_fails_is_reported(vectors: Path) -> None:
    _, _, sig_tst, _ = _elm_tokens(vectors)
    etsi_u = [b64url_encode(json.dumps({"sigTst": {"tstTokens": [{"val": sig_tst}]}}).encode())]
    checked = await _check(_seal(unprotected={"etsiU": etsi_u}))
    assert checked.signature == "valid"  # etsiU is not covered by the seal
    assert "signature_timestamp_invalid" in checked.problems


def _usage(**flags: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
             "key_agreement", "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: flags.get(n, False) for n in names})


@pytest.mark.parametrize(("cert_kwargs", "problem"), [
    ({"usage": _usage(key_cert_sign=True)}, "certificate_not_for_signing"),
    ({"public_key": ec.generate_private_key(ec.BrainpoolP256R1()).public_key()},
     "certificate_key_unsupported"),
    ({"public_key": rsa.generate_private_key(65537, 1024).public_key()},
     "certificate_key_unsupported"),
])
async def test_seal_certificate_must_fit(cert_kwargs: dict[str, Any], problem: str) -> None:
    cert = _cert(datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC),
                 **cert_kwargs)
    checked = await _check(_seal(cert=cert))
    assert checked.signature == "invalid" and problem in checked.problems


async def test_non_repudiation_seal_is_accepted() -> None:
    cert = _cert(datetime(2023, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC),
                 usage=_usage(content_commitment=True))
    assert (await _check(_seal(cert=cert))).signature == "valid"
