"""Credentials on the wire: summaries (lists), details (one credential), the portfolio."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from holder_api.serialise.common import iso_or_none
from wallet.credentials import CredentialDetail
from wallet.learner_cache import LearnerCache
from wallet.microcred import Portfolio
from wallet.vault import CredentialSummary, StoredCredential

__all__ = ["JSON_ENCODE", "SUMMARY_TEXTS", "credential_detail", "credential_list", "credential_summary",
           "portfolio"]

_GENERIC_TYPES = {"VerifiableCredential", "VerifiableAttestation"}
#: The one encoder of every JSON response (``json.dumps`` with options builds one per call).
JSON_ENCODE = json.JSONEncoder(separators=(",", ":")).encode
#: How many summaries' JSON texts :func:`credential_list` keeps (every learner together).
SUMMARY_TEXTS_MAX = 4096
#: Each learner's summaries' texts (wallet.learner_cache: never shared between learners, dropped
#: with the learner's opened summaries, and after the token lifetime unused), keyed by the
#: summary object's identity: the vault hands out the same object for the same sealed row while
#: it keeps it opened (wallet.vault.credentials.OPENED_SUMMARIES), and hashing and comparing a
#: summary's fifteen fields for each of a page's rows cost more than encoding a few of them.
#: Each entry holds its summary, so the identity is not reused while the entry lives.
SUMMARY_TEXTS: LearnerCache[int, tuple[CredentialSummary, str]] = LearnerCache(SUMMARY_TEXTS_MAX)


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


def credential_list(learner_id: str, items: Sequence[CredentialSummary],
                    next_cursor: str | None) -> str:
    """A page of the list as JSON text: exactly ``JSON_ENCODE({"items": [credential_summary(c)
    ...], "next_cursor": next_cursor})``, each summary's text made once.

    A list writes the same summaries on every request (its rows change only when a credential
    is written), so each one's text is kept for the learner in :data:`SUMMARY_TEXTS`, which is
    bounded in size and time and dropped with the learner's session like the vault's opened
    summaries (wallet.vault.credentials). A summary the vault opened anew (its row changed, or it
    left the vault's cache) is another object: its text is made again.
    """
    kept = SUMMARY_TEXTS.entries(learner_id)
    texts = []
    for c in items:
        entry = kept.get(id(c))
        if entry is None or entry[0] is not c:
            entry = (c, JSON_ENCODE(credential_summary(c)))
            kept.put(id(c), entry)
        texts.append(entry[1])
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
