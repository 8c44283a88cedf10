"""Every signature in a PDF, checked by pyHanko: integrity, later changes, chain, time, revocation.

Specs: ISO 32000-2 §12.8 (digital signatures, ``/ByteRange``, DocMDP §12.8.2.2, document timestamps
§12.8.5), ETSI EN 319 142-1 (PAdES baseline: B-B, B-T with a signature timestamp, B-LT with a DSS,
B-LTA with document timestamps). pyHanko's validation guide:
https://pyhanko.readthedocs.io/en/latest/lib-guide/validation.html

What each signature reports (``SignatureReport``):

- ``integrity``: the digest over the ``/ByteRange`` and the CMS signature (``valid``/``invalid``);
  a ``/Contents`` that does not parse or a broken ``/ByteRange`` is ``invalid`` (universal
  signature forgery), never skipped;
- ``coverage`` and ``modification``: what was appended after the signed revision, judged by
  pyHanko's difference analysis: ``none``; ``signature_maintenance`` (DSS / document timestamps,
  what PAdES LTA adds); ``form_filling`` / ``annotations`` (allowed by the DocMDP level, but the
  page may now look different from what was signed); ``other`` — anything else, including the
  incremental saving and shadow attacks (objects redefined after signing), and a ``/ByteRange``
  that does not cover its whole revision (signature wrapping);
- ``docmdp``: the certification level (``no_changes``, ``form_filling``, ``annotations``) or
  ``None`` for an approval signature, and ``docmdp_ok`` whether the changes respect it;
- ``chain``: ``anchored`` (a path to a configured anchor, key usage fit for signing, not revoked
  as far as the file's own revocation data says), ``self_signed``, ``not_anchored``, ``revoked``
  or ``invalid`` (a path that fails, e.g. expired); never "trusted" without an anchor. Judged now;
  a certificate that has expired since is judged again at the time of the signature's own valid,
  anchored timestamp token (PAdES B-T), and ``chain_checked_at`` says which;
- ``signed_at`` with ``signing_time_source``: the signature timestamp token (``timestamp``) when
  it is present and valid, else the time the signer claims (``claimed``);
- ``ltv``: whether the file carries revocation data (a DSS with CRLs/OCSP responses), which is used
  *offline*; nothing is ever fetched (no CRL download, no OCSP request, no AIA chasing), so a
  revocation not recorded in the file is not seen — said in the README.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.fields import MDPPerm, SigSeedSubFilter, enumerate_sig_fields
from pyhanko.sign.validation import async_validate_pdf_signature, async_validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import NoDSSFoundError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.settings import KeyUsageConstraints
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from wallet.formats.model import PdfSignature
from wallet.formats.untrusted import parser_failed

__all__ = ["SignatureReport", "verify_signatures"]

# pyHanko logs every path-building failure and suspicious diff with a traceback; those are
# findings reported in the result, not operational errors worth a log line per upload
logging.getLogger("pyhanko").setLevel(logging.CRITICAL)

#: A signer certificate may carry either usage; real PAdES seals use both.
_KEY_USAGE = KeyUsageConstraints(key_usage={"non_repudiation", "digital_signature"},
                                 match_all_key_usages=False)
_MODIFICATION = {
    ModificationLevel.NONE: "none", ModificationLevel.LTA_UPDATES: "signature_maintenance",
    ModificationLevel.FORM_FILLING: "form_filling", ModificationLevel.ANNOTATIONS: "annotations",
    ModificationLevel.OTHER: "other"}
_DOCMDP = {MDPPerm.NO_CHANGES: "no_changes", MDPPerm.FILL_FORMS: "form_filling",
           MDPPerm.ANNOTATE: "annotations"}
#: Changes that are expected and change nothing a reader sees.
_SUBFILTERS = frozenset(str(s.value) for s in SigSeedSubFilter)
HARMLESS = frozenset({"none", "signature_maintenance"})
#: Changes the certification level allows, but after which the page may differ from the signed one.
ALLOWED_VISIBLE = frozenset({"form_filling", "annotations"})


@dataclass(frozen=True, slots=True)
class SignatureReport:
    """One signature (``kind`` ``signature``) or document timestamp (``timestamp``)."""

    field: str
    kind: str
    integrity: str  # valid | invalid | unsupported
    modification: str  # none | signature_maintenance | form_filling | annotations | other
    coverage: str  # entire_file | entire_revision | partial
    chain: str  # anchored | self_signed | not_anchored | revoked | invalid | none
    docmdp: str | None = None
    docmdp_ok: bool = False
    signer: dict[str, str] = dataclasses.field(default_factory=dict)
    signer_cert_der: bytes | None = None
    signed_at: datetime | None = None
    signing_time_source: str | None = None  # timestamp | claimed
    timestamp: str | None = None  # valid | invalid | none
    chain_checked_at: str = "now"  # now | signature_timestamp (see _at_timestamp)
    problems: tuple[str, ...] = ()

    @property
    def allowed_changes(self) -> bool:
        """Nothing was changed after signing that the signer did not allow."""
        return self.docmdp_ok and (self.modification in HARMLESS
                                   or self.modification in ALLOWED_VISIBLE)

    def to_json(self) -> PdfSignature:
        return {"field": self.field, "kind": self.kind, "integrity": self.integrity,
                "modification": self.modification, "coverage": self.coverage,
                "docmdp": self.docmdp, "docmdp_ok": self.docmdp_ok, "chain": self.chain,
                "signer": dict(self.signer),
                "signed_at": None if self.signed_at is None else
                self.signed_at.isoformat().replace("+00:00", "Z"),
                "signing_time_source": self.signing_time_source,
                "timestamp": self.timestamp, "chain_checked_at": self.chain_checked_at,
                "problems": list(self.problems)}


def _name_parts(cert: asn1_x509.Certificate) -> dict[str, str]:
    native = cert.subject.native
    out = {"name": cert.subject.human_friendly}
    for key, attr in (("common_name", "common_name"), ("organization", "organization_name"),
                      ("country", "country_name")):
        value = native.get(attr)
        if isinstance(value, list):
            value = value[0] if value else None
        if isinstance(value, str) and value:
            out[key] = value
    return out


#: A validation context at a given time (``None``: the time of the check).
ContextAt = Callable[[datetime | None], ValidationContext]


def _context(reader: PdfFileReader, anchors: Sequence[x509.Certificate],
             now: datetime) -> tuple[ContextAt, bool]:
    """Anchors as given; intermediates, CRLs and OCSP responses from the file's DSS; no fetching.

    ``soft-fail``: revocation data that is present is honoured (a revoked signer is revoked);
    its absence is not held against a signer, since Satchel never goes online to look."""
    kwargs: dict[str, Any] = {
        "trust_roots": [asn1_x509.Certificate.load(a.public_bytes(Encoding.DER)) for a in anchors],
        "allow_fetching": False, "revocation_mode": "soft-fail"}
    try:
        dss: DocumentSecurityStore | None = DocumentSecurityStore.read_dss(reader)
    except NoDSSFoundError:
        dss = None

    def at(moment: datetime | None) -> ValidationContext:
        args = {**kwargs, "moment": moment or now}
        return dss.as_validation_context(args) if dss is not None else ValidationContext(**args)

    return at, dss is not None and bool(dss.crls or dss.ocsps)


def _coverage(level: SignatureCoverageLevel | None) -> str:
    if level == SignatureCoverageLevel.ENTIRE_FILE:
        return "entire_file"
    if level == SignatureCoverageLevel.ENTIRE_REVISION:
        return "entire_revision"
    return "partial"


def _chain(status: Any, cert: asn1_x509.Certificate) -> tuple[str, list[str]]:
    if status.revocation_details is not None:
        return "revoked", ["pdf_signer_revoked"]
    if status.validation_path is not None and status.trust_problem_indic is None:
        return "anchored", []
    if cert.self_signed in ("yes", "maybe"):
        return "self_signed", ["pdf_signer_self_signed"]
    indic = getattr(status.trust_problem_indic, "name", "")
    if indic == "NO_CERTIFICATE_CHAIN_FOUND":
        return "not_anchored", ["pdf_signer_not_anchored"]
    return "invalid", [f"pdf_signer_certificate_{indic.lower() or 'invalid'}"]


def _broken(name: str, kind: str, problem: str) -> SignatureReport:
    return SignatureReport(field=name, kind=kind, integrity="invalid", modification="other",
                           coverage="partial", chain="none", problems=(problem,))


async def _at_timestamp(sig: EmbeddedPdfSignature, status: Any,
                        ctx_at: ContextAt) -> tuple[str, list[str]] | None:
    """The chain judged at the time of the signature's own timestamp (PAdES B-T), when that
    token is valid and its TSA anchored: a signer certificate that expired *after* signing
    still made a good signature. ``None`` when there is no such token."""
    tst = status.timestamp_validity
    if tst is None or not (tst.intact and tst.valid and tst.validation_path is not None
                           and tst.trust_problem_indic is None):
        return None
    again = await async_validate_pdf_signature(
        sig, signer_validation_context=ctx_at(tst.timestamp), ts_validation_context=ctx_at(None),
        key_usage_settings=_KEY_USAGE)
    if not (again.intact and again.valid):
        return None
    return _chain(again, again.signing_cert)


async def _one(sig: EmbeddedPdfSignature, ctx_at: ContextAt) -> SignatureReport:
    name = sig.field_name
    kind = "timestamp" if sig.sig_object_type == "/DocTimeStamp" else "signature"
    try:
        if kind == "timestamp":
            status: Any = await async_validate_pdf_timestamp(sig, validation_context=ctx_at(None))
        else:
            status = await async_validate_pdf_signature(
                sig, signer_validation_context=ctx_at(None), key_usage_settings=_KEY_USAGE)
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        parser_failed(exc, "pdf signature")  # unreadable signature data is "invalid"
        return _broken(name, kind, "pdf_signature_unreadable")
    intact = bool(status.intact and status.valid)
    level = status.modification_level
    modification = _MODIFICATION.get(level, "other") if level is not None else "other"
    cert = status.signing_cert
    chain, problems = _chain(status, cert)
    chain_at = "now"
    if intact and kind == "signature" and chain == "invalid":
        try:
            then = await _at_timestamp(sig, status, ctx_at)
        except Exception as exc:  # hostile input: see wallet.formats.untrusted
            parser_failed(exc, "pdf signature timestamp")
            then = None
        if then is not None and then[0] == "anchored":
            (chain, problems), chain_at = then, "signature_timestamp"
    if not intact:
        problems.insert(0, "pdf_signature_digest_mismatch" if not status.intact
                        else "pdf_signature_cryptographically_invalid")
    docmdp = None if kind == "timestamp" else sig.docmdp_level
    # pyHanko leaves docmdp_ok unset for document timestamps (it has no DocMDP of its own) and
    # where the difference analysis did not run: then only an untouched revision is fine
    docmdp_ok = (bool(status.docmdp_ok) if getattr(status, "docmdp_ok", None) is not None
                 else modification in HARMLESS)
    if modification not in HARMLESS:
        problems.append("pdf_changed_after_signing" if docmdp_ok and modification != "other"
                        else "pdf_modified_after_signing")
    signed_at, source, tst = None, None, "none"
    if kind == "timestamp":
        signed_at, source, tst = status.timestamp, "timestamp", "valid" if intact else "invalid"
    else:
        tst_status = status.timestamp_validity
        if tst_status is not None:
            tst = "valid" if tst_status.intact and tst_status.valid else "invalid"
            if tst == "valid":
                signed_at, source = tst_status.timestamp, "timestamp"
            else:
                problems.append("pdf_signature_timestamp_invalid")
        if signed_at is None and status.signer_reported_dt is not None:
            signed_at, source = status.signer_reported_dt, "claimed"
    return SignatureReport(
        field=name, kind=kind, integrity="valid" if intact else "invalid",
        modification=modification, coverage=_coverage(status.coverage), chain=chain,
        docmdp=None if docmdp is None else _DOCMDP.get(docmdp, str(docmdp)),
        docmdp_ok=docmdp_ok, signer=_name_parts(cert), signer_cert_der=cert.dump(),
        signed_at=signed_at, signing_time_source=source, timestamp=tst, chain_checked_at=chain_at,
        problems=tuple(dict.fromkeys(problems)))


async def verify_signatures(reader: PdfFileReader, *, anchors: Sequence[x509.Certificate],
                            now: datetime) -> tuple[list[SignatureReport], bool]:
    """Every filled signature field, in signing order, and whether the file carries LTV data.

    A filled field pyHanko will not evaluate (an unknown ``/SubFilter``, a ``/Contents`` that is
    not a CMS object, a missing ``/ByteRange``) is still reported — ``unsupported`` or
    ``invalid`` — so a file never looks "unsigned" or "valid" by hiding a signature from the
    checker."""
    try:
        fields = list(enumerate_sig_fields(reader, filled_status=True))
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        parser_failed(exc, "pdf form tree")
        return [_broken("?", "signature", "pdf_signature_fields_unreadable")], False
    ctx_at, ltv = _context(reader, anchors, now)
    found: list[tuple[int, SignatureReport]] = []
    for name, value, field_ref in fields:
        try:
            subfilter = value.get_object().get("/SubFilter")
        except Exception as exc:  # hostile input: see wallet.formats.untrusted
            parser_failed(exc, "pdf signature /SubFilter")
            subfilter = None
        if subfilter not in _SUBFILTERS:
            found.append((-1, SignatureReport(
                field=str(name), kind="signature", integrity="unsupported",
                modification="other", coverage="partial", chain="none",
                problems=("pdf_signature_unsupported",))))
            continue
        try:
            sig = EmbeddedPdfSignature(reader, field_ref, name)
            revision = sig.signed_revision
        except Exception as exc:  # hostile input: see wallet.formats.untrusted
            parser_failed(exc, "pdf signature dictionary")  # empty /Contents, bad /ByteRange ...
            found.append((-1, _broken(str(name), "signature", "pdf_signature_unreadable")))
            continue
        found.append((revision, await _one(sig, ctx_at)))
    found.sort(key=lambda pair: pair[0])
    return [report for _rev, report in found], ltv
