"""A PDF credential checked end to end: parse, every signature, the verdict, metadata, attachments.

The verdict (fail closed, the same policy as the other formats in :mod:`wallet.intake`):

- ``unsigned``: no signature field is filled (a document timestamp alone is not an issuer's
  signature);
- ``invalid``: a signature's digest, CMS signature or ``/ByteRange`` does not hold;
- ``modified``: something was appended after a signature that its DocMDP level does not allow, or
  that pyHanko's difference analysis cannot classify as harmless (``other``) — the incremental
  saving, signature wrapping and shadow attack classes all end here or in ``invalid``;
- ``unsupported``: a signature Satchel cannot evaluate (an unknown ``/SubFilter``);
- ``valid``: every signature holds and every later change is allowed. Allowed but *visible*
  changes (form filling, annotations after a certification that permits them) keep ``valid`` and
  add the problem ``pdf_changed_after_signing``: what is shown may differ from what was signed.

``issuer_trusted`` is true only for a ``valid`` document whose every signature chains to a
configured anchor and is not revoked by the file's own revocation data.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from cryptography import x509

from wallet.formats.model import PdfReport
from wallet.formats.pdf.attachments import Attachment, list_attachments
from wallet.formats.pdf.document import DEFAULT_MAX_PDF_BYTES, open_pdf
from wallet.formats.pdf.metadata import document_claims
from wallet.formats.pdf.signatures import SignatureReport, verify_signatures

__all__ = ["CheckedPdf", "Verdict", "check_pdf", "check_pdf_off_loop"]

Verdict = Literal["valid", "invalid", "modified", "unsupported", "unsigned"]


@dataclass(frozen=True, slots=True)
class CheckedPdf:
    data: bytes
    verdict: Verdict
    signatures: list[SignatureReport]
    ltv: bool
    claims: dict[str, Any]
    attachments: list[Attachment]
    problems: tuple[str, ...] = ()
    issuer: str = "unknown"
    issuer_trusted: bool = False
    signed_at: datetime | None = None
    signer_cert_der: bytes | None = None
    title: str | None = None
    types: tuple[str, ...] = field(default=("PdfDocument",))

    def report(self) -> PdfReport:
        """What ``verification.pdf`` shows."""
        return {"verdict": self.verdict, "ltv_data": self.ltv, "revocation_checked": "offline",
                "signatures": [s.to_json() for s in self.signatures]}


def _verdict(reports: Sequence[SignatureReport]) -> Verdict:
    if not any(r.kind == "signature" for r in reports):
        return "unsigned"
    if any(r.integrity == "invalid" for r in reports):
        return "invalid"
    if any(r.integrity == "valid" and not r.allowed_changes for r in reports):
        return "modified"
    if any(r.integrity == "unsupported" for r in reports):
        return "unsupported"
    return "valid"


async def check_pdf(data: bytes, *, anchors: Sequence[x509.Certificate], now: datetime,
                    max_bytes: int = DEFAULT_MAX_PDF_BYTES) -> CheckedPdf:
    """Everything about ``data`` (the bytes as received). Raises only the 4xx classes of
    :mod:`.errors` for a file that is not a readable, unencrypted PDF of bounded size; a bad
    signature is a verdict, not an exception (the caller decides what to refuse)."""
    opened = open_pdf(data, max_bytes=max_bytes)
    reports, ltv = await verify_signatures(opened.reader, anchors=anchors, now=now)
    verdict = _verdict(reports)
    signed = [r for r in reports if r.kind == "signature"]
    first = signed[0] if signed else None
    problems = [p for r in reports for p in r.problems]
    if verdict == "unsigned":
        problems.insert(0, "pdf_unsigned")
    attachments, attachment_problems = list_attachments(opened.reader)
    claims = document_claims(opened.reader, first.signer if first else None,
                             first.signed_at if first else None)
    trusted = verdict == "valid" and all(r.chain == "anchored" for r in signed)
    issuer = "unknown"
    if first is not None and first.signer:
        issuer = (first.signer.get("organization") or first.signer.get("common_name")
                  or first.signer.get("name") or "unknown")
    title = claims.get("title") if isinstance(claims.get("title"), str) else None
    return CheckedPdf(
        data=opened.data, verdict=verdict, signatures=reports, ltv=ltv, claims=claims,
        attachments=attachments, problems=tuple(dict.fromkeys([*problems, *attachment_problems])),
        issuer=issuer, issuer_trusted=trusted, signed_at=first.signed_at if first else None,
        signer_cert_der=first.signer_cert_der if first else None, title=title)


#: Above this size a check runs in a worker thread (see :func:`check_pdf_off_loop`).
OFF_LOOP_BYTES = 2 * 1024 * 1024


async def check_pdf_off_loop(data: bytes, *, anchors: Sequence[x509.Certificate], now: datetime,
                             max_bytes: int = DEFAULT_MAX_PDF_BYTES) -> CheckedPdf:
    """:func:`check_pdf`, in a worker thread for a file over :data:`OFF_LOOP_BYTES`.

    Parsing and hashing a PDF is CPU work, about 10 ms per MiB here (pyHanko's validation is
    async only in name when nothing is fetched). Up to 2 MiB that is a stall like any other
    request's work, and the thread hand-off would cost more than it saves (measured: 15–25 %
    of a 1 MiB check on a loaded machine, bench/bench_pdf.py); a 10 MiB upload, though, would
    hold every other request for 100 ms, so it goes to a thread (where it still shares the GIL,
    but yields the loop every switch interval)."""
    if len(data) <= OFF_LOOP_BYTES:
        return await check_pdf(data, anchors=anchors, now=now, max_bytes=max_bytes)
    return await asyncio.to_thread(lambda: asyncio.run(check_pdf(
        data, anchors=anchors, now=now, max_bytes=max_bytes)))
