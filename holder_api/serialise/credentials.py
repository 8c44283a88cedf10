"""Credentials on the wire: summaries (lists), details (one credential), the portfolio."""

from __future__ import annotations

from typing import Any

from holder_api.serialise.common import iso_or_none
from wallet.credentials import CredentialDetail
from wallet.microcred import Portfolio
from wallet.vault import CredentialSummary, StoredCredential

__all__ = ["credential_detail", "credential_summary", "portfolio"]

_GENERIC_TYPES = {"VerifiableCredential", "VerifiableAttestation"}


def _main_type(types: tuple[str, ...]) -> str | None:
    specific = [t for t in types if t not in _GENERIC_TYPES] or list(types)
    return specific[-1] if specific else None


def credential_summary(c: StoredCredential | CredentialSummary) -> dict[str, Any]:
    s = c if isinstance(c, CredentialSummary) else c.summary()
    return {
        "id": c.id,
        "format": c.format,
        "type": _main_type(c.types),
        "types": list(c.types),
        "issuer": c.issuer,
        "title": c.title,
        "issued_at": iso_or_none(c.issued_at),
        "expires_at": iso_or_none(c.expires_at),
        "status": c.status,
        "added_at": iso_or_none(c.added_at),
        "awarding_body": s.awarding_body,
        "verified": s.verified,
        "title_lang": s.title_lang,
        "awarding_body_lang": s.awarding_body_lang,
    }


def credential_detail(d: CredentialDetail) -> dict[str, Any]:
    out = credential_summary(d.credential)
    out.update({"raw": d.credential.raw, "claims": d.claims, "disclosable": d.disclosable,
                "elements": d.elements, "verification": d.verification})
    return out


def portfolio(p: Portfolio) -> dict[str, Any]:
    return {"credentials": [{"id": c.id, "title": c.title, "ects": c.ects, "eqf": c.eqf}
                            for c in p.credentials],
            "total_ects": p.total_ects, "by_eqf_level": p.by_eqf_level,
            "stacks": [{"id": s.id, "title": s.title, "credential_ids": s.credential_ids,
                        "whole_id": s.whole_id, "total_ects": s.total_ects} for s in p.stacks]}
