"""OpenID4VP presentation requests on the wire: a request described, the list, the answers."""

from __future__ import annotations

from typing import Any

from sharing.request_results import Declined, PdfOnly, RequestDescription, RequestSummary, Sent, Verifier

__all__ = ["declined", "request_description", "request_summary", "sent", "verifier"]


def verifier(v: Verifier) -> dict[str, Any]:
    return {"client_id": v.client_id, "name": v.name, "name_source": v.name_source,
            "authenticated": v.authenticated, "trusted": v.trusted, "prefix": v.prefix,
            "response_uri": v.response_uri}


def _pdf_only(p: PdfOnly | None) -> dict[str, Any]:
    if p is None:
        return {}
    return {"reason": p.reason, "reason_detail": p.detail,
            "pdf_credential_ids": list(p.pdf_credential_ids)}


def request_description(d: RequestDescription) -> dict[str, Any]:
    result = d.match
    queries = []
    for cq in result.query.credentials:
        qm = result.queries[cq.id]
        queries.append({
            "id": cq.id, "format": cq.format, "required": cq.id in d.required,
            "multiple": qm.multiple, "matched": qm.matched,
            "options": [{"credential_id": o.credential_id,
                         "claims": [{"path": list(c.path), "value": c.value} for c in o.claims],
                         "full_credential": o.full_credential,
                         # the format cannot disclose selectively: every claim goes out
                         "whole_credential": o.full_credential}
                        for o in qm.options],
            **_pdf_only(d.pdf_only.get(cq.id)),
        })
    who = verifier(d.verifier)
    if d.verifier_names:  # its name in other languages (client_name#<tag>)
        who["names"] = dict(d.verifier_names)
    return {"id": d.id, "verifier": who, "purpose": d.purpose,
            "satisfiable": result.satisfiable, "queries": queries,
            "credential_sets": [{"required": cs.required,
                                 "options": [list(o) for o in cs.options]}
                                for cs in result.credential_sets],
            "state": d.state, "expires_at": d.expires_at}


def request_summary(r: RequestSummary) -> dict[str, Any]:
    return {"id": r.id, "verifier": None if r.verifier is None else verifier(r.verifier),
            "purpose": r.purpose, "state": r.state, "created_at": r.created_at,
            "expires_at": r.expires_at}


def sent(s: Sent) -> dict[str, Any]:
    out: dict[str, Any] = {"status": "sent", "event_id": s.event_id}
    if s.redirect_uri is not None:
        out["redirect_uri"] = s.redirect_uri
    return out


def declined(d: Declined) -> dict[str, Any]:
    return {"status": "declined", "delivered": d.delivered, "event_id": d.event_id}
