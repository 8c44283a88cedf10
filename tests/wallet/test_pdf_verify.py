"""wallet.formats.pdf: every signature checked with pyHanko, on PDFs made and attacked here."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyhanko.sign.fields import MDPPerm

from tests import pdf_support as ps
from wallet.errors import SatchelError
from wallet.formats.pdf import (
    CheckedPdf,
    PdfMalformed,
    PdfTooLarge,
    check_pdf,
    check_pdf_off_loop,
    open_pdf,
)
from wallet.formats.pdf.check import OFF_LOOP_BYTES

NOW = datetime.now(UTC)


@cache
def signed() -> bytes:
    return ps.sign(ps.base_pdf())


async def check(data: bytes, anchored: bool = True) -> CheckedPdf:
    return await check_pdf(data, anchors=[ps.pki().ca.cert] if anchored else [], now=NOW)


ATTACKS = {
    "incremental_saving": lambda: ps.incremental_saving_attack(signed()),
    "signature_wrapping": lambda: ps.signature_wrapping(signed()),
    "usf_empty_contents": lambda: ps.forgery_empty_contents(signed()),
    "usf_missing_contents": lambda: ps.forgery_missing_contents(signed()),
    "usf_broken_byte_range": lambda: ps.forgery_broken_byte_range(signed()),
    "shadow_hide": ps.shadow_hide,
    "shadow_replace": ps.shadow_replace,
    "shadow_hide_and_replace": ps.shadow_hide_and_replace,
}


@pytest.mark.parametrize("name", sorted(ATTACKS))
async def test_attack_classes_are_never_a_clean_valid_signature(name: str) -> None:
    checked = await check(ATTACKS[name]())
    assert checked.verdict in ("invalid", "modified"), checked.verdict
    assert checked.issuer_trusted is False
    assert {"pdf_signature_unreadable", "pdf_signature_digest_mismatch",
            "pdf_modified_after_signing"} & set(checked.problems)
    for sig in checked.signatures:
        assert sig.integrity == "invalid" or sig.modification == "other"


async def test_attacks_are_judged_against_the_genuine_original() -> None:
    """Each attack starts from a file that verifies cleanly: the finding is the attack's."""
    clean = await check(signed())
    assert (clean.verdict, clean.issuer_trusted, clean.problems) == ("valid", True, ())
    [sig] = clean.signatures
    assert (sig.integrity, sig.modification, sig.coverage, sig.chain, sig.docmdp) == (
        "valid", "none", "entire_file", "anchored", None)
    modified = await check(ps.incremental_saving_attack(signed()))
    assert modified.signatures[0].integrity == "valid"  # the signed revision itself holds
    assert modified.signatures[0].coverage == "entire_revision"


async def test_signing_time_comes_from_the_timestamp_token() -> None:
    # the TSA's time, not the signer's clock (and not the time of the check)
    at = (datetime.now(UTC) - timedelta(days=10)).replace(microsecond=0)
    checked = await check(ps.sign(ps.base_pdf(), timestamp=True, at=at))
    [sig] = checked.signatures
    assert sig.signing_time_source == "timestamp" and sig.timestamp == "valid"
    assert sig.signed_at == at
    plain = (await check(signed())).signatures[0]
    assert plain.signing_time_source == "claimed" and plain.timestamp == "none"


async def test_document_timestamp_is_signature_maintenance() -> None:
    checked = await check(ps.with_document_timestamp(signed()))
    assert checked.verdict == "valid" and checked.issuer_trusted
    first, stamp = checked.signatures
    assert first.modification == "signature_maintenance"
    assert stamp.kind == "timestamp" and stamp.integrity == "valid"
    assert "pdf_changed_after_signing" not in checked.problems


async def test_certification_level_decides_what_later_changes_are_allowed(
        monkeypatch: pytest.MonkeyPatch) -> None:
    for docmdp, verdict in ((MDPPerm.FILL_FORMS, "valid"), (MDPPerm.NO_CHANGES, "modified")):
        certified = ps.sign(ps.base_pdf(), certify=True, docmdp=docmdp)
        with monkeypatch.context() as m:
            # pyHanko (rightly) refuses to sign after a no-changes certification; a hostile
            # signer would not: let it, to see the validator catch it
            m.setattr("pyhanko.sign.validation.read_certification_data", lambda _r: None)
            countersigned = await check(ps.sign(certified, field="Signature2"))
        assert countersigned.verdict == verdict, docmdp
        first = countersigned.signatures[0]
        assert first.docmdp == ("form_filling" if docmdp == MDPPerm.FILL_FORMS else "no_changes")
        assert first.modification == "form_filling"
        if verdict == "valid":  # allowed, but what is shown may differ from what was signed
            assert "pdf_changed_after_signing" in countersigned.problems
        else:
            assert first.docmdp_ok is False


async def test_chain_findings() -> None:
    unanchored = await check(signed(), anchored=False)
    assert unanchored.verdict == "valid" and not unanchored.issuer_trusted
    assert unanchored.signatures[0].chain == "not_anchored"
    stranger = await check(ps.sign(ps.base_pdf(), signer=ps.pki().stranger))
    assert stranger.signatures[0].chain == "self_signed" and not stranger.issuer_trusted
    assert stranger.issuer == "Self Signed University"


async def test_a_signer_certificate_expired_since_signing_is_judged_at_the_timestamp() -> None:
    """PAdES B-T: the timestamp proves the signature existed while the certificate was valid."""
    expired = ps.pki().expired
    stamped = await check(ps.sign(ps.base_pdf(), signer=expired, timestamp=True,
                                  at=NOW - timedelta(days=60)))
    [sig] = stamped.signatures
    assert (sig.chain, sig.chain_checked_at) == ("anchored", "signature_timestamp")
    assert stamped.issuer_trusted and sig.signed_at is not None
    assert sig.signed_at < NOW - timedelta(days=59)
    # without a timestamp nothing says when it was signed: judged now, and not trusted
    bare = await check(ps.sign(ps.base_pdf(), signer=expired))
    assert bare.signatures[0].chain == "invalid" and not bare.issuer_trusted
    assert bare.signatures[0].chain_checked_at == "now"
    # a timestamp from when the certificate was not valid yet does not help either
    early = await check(ps.sign(ps.base_pdf(), signer=expired, timestamp=True,
                                at=NOW - timedelta(days=500)))
    assert early.signatures[0].chain == "invalid" and not early.issuer_trusted


async def test_revocation_data_in_the_file_is_used_offline() -> None:
    good = await check(ps.with_dss(signed(), revoked=False))
    assert good.ltv is True and good.issuer_trusted
    assert good.signatures[0].modification == "signature_maintenance"
    revoked = await check(ps.with_dss(signed(), revoked=True))
    assert revoked.ltv is True and revoked.issuer_trusted is False
    assert revoked.signatures[0].chain == "revoked"
    assert "pdf_signer_revoked" in revoked.problems
    assert (await check(signed())).ltv is False


async def test_unknown_subfilter_is_unsupported_not_unsigned() -> None:
    checked = await check(ps.unknown_subfilter(signed()))
    assert checked.verdict == "unsupported" and not checked.issuer_trusted
    assert checked.signatures[0].integrity == "unsupported"


async def test_attachments_and_metadata() -> None:
    edc = ps.edc_sample()
    data = ps.sign(ps.base_pdf(), attach=[("credential.jsonld", edc, "application/ld+json"),
                                          ("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 64,
                                           "image/png")])
    checked = await check(data)
    assert [(a.name, a.mime_type, a.relationship) for a in checked.attachments] == [
        ("credential.jsonld", "application/ld+json", "Data"), ("logo.png", "image/png", "Data")]
    assert checked.attachments[0].data == edc
    assert checked.claims["title"] == "Data Literacy Fundamentals"
    assert checked.claims["author"] == "Test University"
    assert checked.claims["signer"]["country"] == "NL"


async def test_oversized_attachment_is_skipped_not_fatal() -> None:
    huge = json.dumps({"pad": "x" * 1_000_000}).encode()
    checked = await check(ps.sign(ps.base_pdf(), attach=[("big.json", huge, "application/json")]))
    assert checked.verdict == "valid" and checked.attachments == []
    assert "pdf_attachment_skipped" in checked.problems
    assert len(zlib.compress(huge)) < 20_000  # a zip bomb would be skipped the same way


async def test_a_large_file_is_checked_off_the_loop_with_the_same_result() -> None:
    large = ps.sign(ps.base_pdf(padding_bytes=int(OFF_LOOP_BYTES * 1.6)), timestamp=True)
    assert len(large) > OFF_LOOP_BYTES
    off = await check_pdf_off_loop(large, anchors=[ps.pki().ca.cert], now=NOW)
    on = await check(large)
    assert (off.verdict, off.issuer_trusted, off.problems) == ("valid", True, ())
    assert [s.to_json() for s in off.signatures] == [s.to_json() for s in on.signatures]


def test_open_pdf_limits() -> None:
    with pytest.raises(PdfTooLarge):
        open_pdf(signed(), max_bytes=1024)
    for bad in (b"", b"%PDF-1.7\n", signed()[:-200], b"GIF89a" + signed()):
        with pytest.raises(PdfMalformed):
            open_pdf(bad)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_fuzz_the_pdf_entry_point(data: st.DataObject) -> None:
    """Mutated and random files: a verdict or a 4xx SatchelError, never anything else."""
    import asyncio

    base = signed()
    kind = data.draw(st.sampled_from(["flip", "cut", "splice", "random"]))
    if kind == "flip":
        at = data.draw(st.integers(0, len(base) - 1))
        blob = base[:at] + bytes([base[at] ^ data.draw(st.integers(1, 255))]) + base[at + 1:]
    elif kind == "cut":
        blob = base[:data.draw(st.integers(0, len(base)))]
    elif kind == "splice":
        at = data.draw(st.integers(0, len(base)))
        blob = base[:at] + data.draw(st.binary(max_size=64)) + base[at:]
    else:
        blob = b"%PDF-1.7\n" + data.draw(st.binary(max_size=2048)) + b"\n%%EOF\n"
    try:
        checked = asyncio.run(check(blob))
    except SatchelError as exc:
        assert 400 <= exc.status < 500
        return
    assert checked.verdict in ("valid", "invalid", "modified", "unsupported", "unsigned")
    if checked.verdict == "valid":  # only a flip that pyHanko proves harmless (e.g. in padding)
        assert all(s.integrity == "valid" for s in checked.signatures)
