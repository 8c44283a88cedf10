"""A signed PDF becomes a credential: checked, its attached credentials admitted, records built.

The PDF's own signatures are checked by :func:`wallet.formats.pdf.check_pdf`; each attached file
that is a credential Satchel knows (EDC/ELM JSON-LD with JAdES, Open Badges, VC-JWT, SD-JWT VC)
goes through the ordinary :class:`~wallet.intake.CredentialIntake` — the same checks as
``POST /v1/credentials`` with that text — and is stored as a credential of its own, linked both
ways: ``verification.attached_to`` on it, ``claims.attached_credentials`` on the PDF. That attached
credential is what OpenID4VP can present; the PDF itself is shared by link.

Policy (fail closed; module :mod:`wallet.intake` for the other formats):

- not a readable, unencrypted PDF within the size limit: 4xx (:mod:`wallet.formats.pdf.errors`);
- no signature: refused (``pdf_unsigned``) unless the learner asked to keep an unsigned document;
  it is then stored with ``signature: "unsupported"``, ``issuer_trusted: false`` and the problem
  ``pdf_unsigned`` — never shown as verified;
- a signature that does not verify, or changes after signing its DocMDP level does not allow (or
  that cannot be told harmless): refused (``pdf_signature_invalid``,
  ``pdf_modified_after_signing``);
- an attached credential that is refused by the intake does not stop the PDF: it is listed with
  the refusal's code, and not stored.

The original bytes are kept exactly as received, base64-encoded in the sealed record's ``raw``
(the vault stores text); ``GET /v1/credentials/{id}`` therefore shows ``raw`` as base64 for
``format: "pdf"``, and share links serve the decoded bytes unchanged.
"""

from __future__ import annotations

import base64
import dataclasses
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from wallet.errors import SatchelError, UnsupportedFormat
from wallet.formats.detect import detect_format
from wallet.formats.model import PDF_FORMAT, SignatureState, Verification
from wallet.formats.pdf import (
    DEFAULT_MAX_PDF_BYTES,
    Attachment,
    CheckedPdf,
    PdfModifiedAfterSigning,
    PdfSignatureInvalid,
    PdfUnsigned,
    check_pdf_off_loop,
    elements_from_claims,
)
from wallet.intake import CredentialIntake
from wallet.microcred.portfolio import PortfolioRecord
from wallet.vault import StoredCredential

__all__ = ["PDF_FORMAT", "PdfAdmission", "PdfIntake", "attached_ids", "pdf_bytes",
           "pdf_portfolio_items", "retitled"]



def pdf_bytes(stored: StoredCredential) -> bytes:
    """The original PDF of a stored ``pdf`` credential, byte for byte."""
    return base64.b64decode(stored.raw, validate=True)


@dataclass(frozen=True, slots=True)
class PdfAdmission:
    pdf: StoredCredential
    attached: list[StoredCredential]


def pdf_portfolio_items(pdf_id: str, attached: Sequence[tuple[str, Sequence[PortfolioRecord]]]
                        ) -> list[PortfolioRecord]:
    """The PDF's place in the portfolio: that of the first attached credential (``(id, its
    portfolio records)``) that has one — the one its ``elements`` come from —, as the PDF's. The
    same ``document_id`` (or, where the attachment has none, the attachment's id in its place)
    makes the ECTS held twice, in the PDF and in its attachment, count once."""
    for attached_id, records in attached:
        if records:
            return [{**r, "credential_id": pdf_id,
                     "document_id": r.get("document_id") or f"credential:{attached_id}"}
                    for r in records]
    return []


def retitled(pdf: StoredCredential) -> StoredCredential | None:
    """A stored PDF with its own title (its metadata's), where it was stored with its
    attachment's (before 2026-12-07); None when its title is already right."""
    claims = pdf.data.get("claims")
    own = claims.get("title") if isinstance(claims, dict) else None
    if pdf.format != PDF_FORMAT or not isinstance(own, str) or not own or pdf.title == own:
        return None
    return dataclasses.replace(pdf, title=own)


def attached_ids(pdf: StoredCredential) -> list[str]:
    """The ids of the credentials a stored PDF carries, as its claims link them."""
    claims = pdf.data.get("claims")
    links = claims.get("attached_credentials") if isinstance(claims, dict) else None
    return [link["credential_id"] for link in links if isinstance(link, dict)
            and isinstance(link.get("credential_id"), str)] if isinstance(links, list) else []


def _iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def _credential_text(att: Attachment) -> str | None:
    """The attachment as credential text, if it looks like a format Satchel knows."""
    try:
        text = att.data.decode("utf-8-sig")
        detect_format(text)
    except (UnicodeDecodeError, UnsupportedFormat):
        return None
    return text


class PdfIntake:
    def __init__(self, intake: CredentialIntake, *,
                 max_bytes: int = DEFAULT_MAX_PDF_BYTES) -> None:
        self._intake = intake
        self._max = max_bytes

    async def check(self, data: bytes, *, now: datetime) -> CheckedPdf:
        """The PDF checked against the intake's anchors (no refusal applied)."""
        return await check_pdf_off_loop(data, anchors=self._intake.x5c_anchors, now=now,
                                        max_bytes=self._max)

    async def admit(self, data: bytes, *, now: datetime, languages: Sequence[str] = ("en",),
                    keep_unsigned: bool = False, source: str = "import",
                    credential_id: str | None = None,
                    store_attachments: bool = True) -> PdfAdmission:
        """``credential_id`` keeps an id the learner already knows (GDPR import); there the
        attached credentials come in the bundle as credentials of their own, so
        ``store_attachments=False`` only reads them (for the elements), without new records."""
        checked = await self.check(data, now=now)
        if checked.verdict == "unsigned" and not keep_unsigned:
            raise PdfUnsigned("the PDF carries no signature; to keep it anyway as an unsigned "
                              "document (never shown as verified), send ?unsigned=keep")
        if checked.verdict == "invalid":
            raise PdfSignatureInvalid("a signature in the PDF does not verify (its digest, "
                                      "its signature value or its /ByteRange is wrong)")
        if checked.verdict == "modified":
            raise PdfModifiedAfterSigning(
                "the PDF was changed after it was signed, beyond what the signature allows")
        pdf_id = credential_id or str(uuid.uuid4())
        read: list[StoredCredential] = []
        links: list[dict[str, Any]] = []
        problems = list(checked.problems)
        for att in checked.attachments:
            text = _credential_text(att)
            if text is None:
                continue
            try:
                result = await self._intake.admit(text, languages=languages,
                                                  source="pdf_attachment")
            except SatchelError as exc:
                links.append({"file": att.name, "refused": exc.code})
                problems.append("pdf_attached_credential_refused")
                continue
            verification: Verification = {**result.stored.data["verification"],
                                          "attached_to": pdf_id}
            stored = dataclasses.replace(result.stored, data={**result.stored.data,
                                                              "verification": verification})
            read.append(stored)
            links.append({**({"credential_id": stored.id} if store_attachments else {}),
                          "file": att.name, "format": stored.format,
                          "signature": verification.get("signature")})
        return PdfAdmission(self._record(pdf_id, checked, read, links, problems, now,
                                         languages, source),
                            read if store_attachments else [])

    @staticmethod
    def _record(pdf_id: str, checked: CheckedPdf, attached: list[StoredCredential],
                links: list[dict[str, Any]], problems: list[str], now: datetime,
                languages: Sequence[str], source: str) -> StoredCredential:
        claims: dict[str, Any] = {**checked.claims, "attached_credentials": links}
        # the Annex I elements: those of the first attached credential that maps, else what
        # the document's metadata and signer say (with the mandatory ones missing, listed)
        elements = next((a.data["elements"] for a in attached
                         if isinstance(a.data.get("elements"), dict)), None)
        if elements is None:
            elements = elements_from_claims(checked.claims).to_json()
        # the document's own title (what the learner sees on it) before its attachment's
        title = checked.title or next((a.title for a in attached if a.title), None)
        signature: SignatureState = "valid" if checked.verdict == "valid" else "unsupported"
        text = " ".join(str(v) for k, v in checked.claims.items()
                        if k in ("title", "subject", "author", "keywords"))
        verification: Verification = {
            "signature": signature, "issuer_trusted": checked.issuer_trusted,
            "status": "none", "checked_at": _iso(now), "key_source": "pdf_signature",
            "problems": list(dict.fromkeys(problems)), "pdf": checked.report()}
        return StoredCredential(
            id=pdf_id, format=PDF_FORMAT, raw=base64.b64encode(checked.data).decode("ascii"),
            types=checked.types, issuer=checked.issuer, title=title,
            issued_at=checked.signed_at, expires_at=None, status="none", added_at=now,
            data={
                "claims": claims, "disclosable": [], "elements": elements,
                "languages": list(languages), "search_text": text,
                "portfolio_items": pdf_portfolio_items(
                    pdf_id, [(a.id, a.data.get("portfolio_items") or []) for a in attached]),
                "holder_jwk": None, "issuer_jwk": None, "status_ref": None, "status_refs": [],
                "source": source,
                "verification": verification,
            })
