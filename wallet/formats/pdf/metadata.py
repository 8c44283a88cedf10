"""What a signed PDF says about itself, when no machine-readable credential is attached.

Read from the document's XMP packet (ISO 16684-1, parsed by pyHanko without entity resolution) or,
failing that, its ``/Info`` dictionary (ISO 32000-2 §14.3.3), plus the signer's certificate. These
become the PDF credential's ``claims``; the Annex I elements they can fill are few — the title, the
date of issuing (the signing time) and the awarding body with its country (the signer's
certificate subject, ``inferred``: a seal names an organisation, not necessarily the awarding
body) — so ``missing_mandatory`` says plainly what a PDF alone does not state in machine-readable
form (the learner, learning outcomes, workload, ...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pyhanko.pdf_utils.metadata.info import view_from_info_dict
from pyhanko.pdf_utils.metadata.model import DocumentMetadata
from pyhanko.pdf_utils.reader import PdfFileReader

from wallet.formats.untrusted import parser_failed
from wallet.microcred import Element, Elements

__all__ = ["document_claims", "elements_from_claims"]

_MAX_TEXT = 2000


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text[:_MAX_TEXT] if text else None


def _when(value: Any) -> str | None:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return _text(value)


def _xmp(reader: PdfFileReader) -> DocumentMetadata | None:
    try:
        return reader.document_meta_view
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        parser_failed(exc, "pdf XMP metadata")  # a broken packet: none
        return None


def _info(reader: PdfFileReader) -> DocumentMetadata | None:
    try:
        info = reader.trailer_view.get("/Info")
        return view_from_info_dict(info.get_object(), strict=False) if info is not None else None
    except Exception as exc:  # hostile input: see wallet.formats.untrusted
        parser_failed(exc, "pdf /Info")  # a broken dictionary: none
        return None


def document_claims(reader: PdfFileReader, signer: dict[str, str] | None,
                    signed_at: datetime | None) -> dict[str, Any]:
    """The document's metadata and signer as a JSON object (absent values are left out)."""
    out: dict[str, Any] = {}
    # XMP first (it is the newer, Unicode-safe record), then /Info for what XMP lacks: a signer
    # that adds an XMP packet with only a modification date must not hide the /Info title
    for meta in (_xmp(reader), _info(reader)):
        if meta is None:
            continue
        for key in ("title", "author", "subject", "creator"):
            value = _text(getattr(meta, key, None))
            if value is not None:
                out.setdefault(key, value)
        keywords = [k for k in (_text(k) for k in (meta.keywords or ())[:50]) if k]
        if keywords:
            out.setdefault("keywords", keywords)
        created = _when(meta.created)
        if created is not None:
            out.setdefault("created", created)
    if signer:
        out["signer"] = dict(signer)
    if signed_at is not None:
        out["signed_at"] = _when(signed_at)
    return out


def elements_from_claims(claims: dict[str, Any]) -> Elements:
    found: dict[str, Element] = {}
    if "title" in claims:
        found["title"] = Element(claims["title"], "$.title", "native")
    elif "subject" in claims:
        found["title"] = Element(claims["subject"], "$.subject", "inferred")
    if "signed_at" in claims:
        found["issued_at"] = Element(claims["signed_at"], "$.signed_at", "inferred")
    signer = claims.get("signer")
    if isinstance(signer, dict):
        name = signer.get("organization") or signer.get("common_name") or signer.get("name")
        country = signer.get("country")
        found["awarding_body"] = Element(
            [{"id": None, "name": name, "country": country}], "$.signer", "inferred")
        if isinstance(country, str) and len(country) == 2:
            found["issuer_country"] = Element([country.upper()], "$.signer.country", "inferred")
    return Elements.build(found, "pdf")
