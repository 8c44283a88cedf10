"""Credentials on the wire: summaries (lists), details (one credential), the portfolio."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from holder_api.serialise.common import iso_or_none
from wallet.credentials import CredentialDetail
from wallet.microcred import Portfolio
from wallet.vault import CredentialSummary, StoredCredential

__all__ = ["JSON_ENCODE", "credential_detail", "credential_list", "credential_summary",
           "portfolio"]

_GENERIC_TYPES = {"VerifiableCredential", "VerifiableAttestation"}
#: The one encoder of every JSON response (``json.dumps`` with options builds one per call).
JSON_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
#: How many summaries' JSON texts :func:`credential_list` keeps.
SUMMARY_TEXTS_MAX = 4096
_summary_texts: dict[CredentialSummary, str] = {}


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


def credential_list(items: Sequence[CredentialSummary], next_cursor: str | None) -> str:
    """A page of the list as JSON text: exactly ``JSON_ENCODE({"items": [credential_summary(c)
    ...], "next_cursor": next_cursor})``, each summary's text made once.

    A list writes the same summaries on every request (its rows change only when a credential
    is written), so each one's text is kept, keyed by its value (a summary is a frozen
    dataclass: equal fields, equal text); bounded, oldest out first. Like the vault's opened
    summaries (wallet.vault.learner), it holds only what the server shows an unlocked learner.
    """
    texts = []
    for c in items:
        text = _summary_texts.get(c)
        if text is None:
            if len(_summary_texts) >= SUMMARY_TEXTS_MAX:
                del _summary_texts[next(iter(_summary_texts))]
            text = _summary_texts[c] = JSON_ENCODE(credential_summary(c))
        texts.append(text)
    return f'{{"items":[{",".join(texts)}],"next_cursor":{JSON_ENCODE(next_cursor)}}}'


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
