"""Share links on the wire: the link just created, the learner's list, and the public view —
as JSON for a machine and as an HTML page for a person, both rendering the view's one
:class:`~sharing.verdict.Verdict`."""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any

from holder_api.serialise.common import iso
from sharing.share_links import ShareLink, ShareLinkState, ShareView
from sharing.verdict import DisclosureCheck, DocumentCheck, Verdict, ViewCheck

__all__ = ["share_link", "share_link_state", "share_page", "share_view", "verdict"]


def share_link(link: ShareLink) -> dict[str, Any]:
    return {"id": link.id, "url": link.url, "expires_at": iso(link.expires_at),
            "max_views": link.max_views}


def share_link_state(link: ShareLinkState) -> dict[str, Any]:
    return {"id": link.id, "credential_id": link.credential_id, "claims": link.claims,
            "whole_credential": link.whole_credential, "created_at": iso(link.created_at),
            "expires_at": iso(link.expires_at), "max_views": link.max_views,
            "views": link.views, "state": link.state}


def _check(check: ViewCheck) -> dict[str, Any]:
    if isinstance(check, DocumentCheck):
        return {"signature": check.signature, "signature_checked": check.signature_checked,
                "document": "pdf", "modification": check.modification,
                "key_binding": "not_applicable", "validity": "valid", "whole_credential": True,
                "key_source": "pdf_signature", "issuer_trusted": check.issuer_trusted,
                "issuer_key": check.issuer_key, "problems": list(check.problems),
                "issuer_confirmed": check.issuer_confirmed, "checked_at": check.checked_at}
    if isinstance(check, DisclosureCheck):
        return {"signature": check.signature, "key_binding": check.key_binding,
                "issuer_trusted": check.issuer_trusted, "problems": list(check.problems),
                "checked_at": check.checked_at}
    return {"signature": check.signature, "signature_checked": check.signature_checked,
            "key_binding": check.key_binding, "validity": check.validity,
            "holder_bound": check.holder_bound, "issuer_trusted": check.issuer_trusted,
            "whole_credential": True, "key_source": check.key_source,
            "issuer_key": check.issuer_key, "problems": list(check.problems),
            "issuer_confirmed": check.issuer_confirmed, "checked_at": check.checked_at}


def verdict(v: Verdict) -> dict[str, Any]:
    return {"verified": v.verified, "explanation": v.explanation,
            "issuer_confirmed": v.issuer_confirmed}


def share_view(view: ShareView) -> dict[str, Any]:
    out: dict[str, Any] = {
        "presentation": view.presentation, "verified": _check(view.verified),
        "claims": view.claims, "credential": view.credential,
        "expires_at": iso(view.expires_at), "views_left": view.views_left}
    if view.raw is not None:
        out["raw"] = view.raw
    if view.document_url is not None:
        out["document_url"] = view.document_url
    out["verdict"] = verdict(view.verdict)
    return out


# ----------------------------------------------------------------------------- the HTML page

def _label(path: list[Any]) -> str:
    out = ""
    for p in path:
        out += ("." if out and isinstance(p, str) else "") + (
            p if isinstance(p, str) else "[]" if p is None else f"[{p}]")
    return out


_MAX_CELL = 600  # a data: URI image of an EDC is no reading matter; the JSON view has it whole


def _rows(claims: Any, prefix: list[Any]) -> list[tuple[str, str]]:
    """One row per leaf claim, nested objects and arrays flattened into dotted/indexed labels."""
    if isinstance(claims, dict) and claims:
        return [r for k, v in claims.items() for r in _rows(v, [*prefix, k])]
    if isinstance(claims, list) and claims:
        return [r for i, v in enumerate(claims) for r in _rows(v, [*prefix, i])]
    text = claims if isinstance(claims, str) else json.dumps(claims, ensure_ascii=False)
    if len(text) > _MAX_CELL:
        text = f"{text[:_MAX_CELL]}… ({len(text)} characters; the JSON view has all of them)"
    return [(_label(prefix), text)]


def _issued_by(view: ShareView) -> str:
    """"Issued by" only where the issuer is confirmed; otherwise the issuer is only named."""
    issuer = html.escape(str(view.credential.get("issuer")))
    if not view.verdict.issuer_confirmed:
        return f"<p>Names <b>{issuer}</b> as its issuer (not confirmed).</p>"
    trusted = " (trusted issuer)" if view.verified.issuer_trusted else ""
    return f"<p>Issued by <b>{issuer}</b>{trusted}.</p>"


def share_page(view: ShareView) -> str:
    e = html.escape
    cred = view.credential
    title = e(str(cred.get("title") or "Shared credential"))
    rows = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in _rows(view.claims, []))
    scope = ("<p>The whole credential is shared: this format cannot disclose claims "
             "selectively.</p>" if cred.get("whole_credential") is True else "")
    if view.document_url is not None:
        scope += (f'<p><a href="{e(view.document_url)}">The signed original (PDF)</a>: open it '
                  "to check its signature in your own PDF reader. Opening it counts as a view."
                  "</p>")
    said = "Verified" if view.verdict.verified else "NOT verified"
    views = f"{view.views_left} view{'' if view.views_left == 1 else 's'} left"
    return (
        '<!doctype html><html lang="en"><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title>"
        f"<style>{_STYLE}</style>"
        f"<main><h1>{title}</h1>"
        f"{_issued_by(view)}"
        f"<p><b>{said}</b>: {e(view.verdict.explanation)}.</p>{scope}"
        f"<table>{rows}</table>"
        f"<p>This link expires {e(_when(view.expires_at))}; {views}.</p></main>"
        "</html>")


#: A claim's name and its value side by side in fixed columns (a long dotted name wraps in its
#: own column instead of squeezing the values to a letter per line); on a phone, one under the
#: other. Inline: the page's CSP allows no other style (holder_api/headers.py).
_STYLE = ("body{font-family:sans-serif;line-height:1.4;max-width:48rem;margin:1.5rem auto;"
          "padding:0 1rem}table{border-collapse:collapse;width:100%;table-layout:fixed}"
          "th,td{text-align:left;vertical-align:top;padding:.3rem .5rem .3rem 0;"
          "overflow-wrap:anywhere;border-bottom:1px solid #ccc}th{width:40%}"
          "@media (max-width:36rem){th,td{display:block;width:auto}"
          "th{border-bottom:0;padding-bottom:0}}")


def _when(moment: datetime) -> str:
    """``1 Feb 2026, 00:00 UTC``: a person's reading of the expiry (the JSON has it exact)."""
    at = moment.astimezone(UTC)
    return f"{at.day} {_MONTHS[at.month - 1]} {at.year}, {at:%H:%M} UTC"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
