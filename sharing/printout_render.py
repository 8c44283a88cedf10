"""The printable form of a credential: an A4 PDF for people, with a QR code to its share link.

Drawn with fpdf2 (https://py-pdf.github.io/fpdf2/) and segno (QR code, ISO/IEC 18004, error
correction level M). Pure: the credential as ``GET /v1/credentials/{id}`` shows it and the link in,
bytes out.

Why it says, on every page, that it is *not* the issuer's signature: Satchel does not sign in the
issuer's name. The paper is a convenience for a reader; its authority is the share link in the QR
code, which serves the credential and checks it when opened. The text uses the PDF core fonts
(Latin-1): other characters are replaced by their closest Latin-1 form or ``?`` — the share link
shows them exactly.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import segno
from fpdf import FPDF

from wallet.microcred import ELEMENT_KEYS

__all__ = ["NOT_A_SIGNATURE", "render_printout"]

NOT_A_SIGNATURE = ("This printout is not signed by the issuer. It was made by the learner's wallet "
                   "(Satchel); its authority is the share link in the QR code, which shows the "
                   "credential and checks its signature when it is opened.")
_LABELS = {
    "learner": "Learner", "title": "Title", "issuer_country": "Country of the issuer",
    "awarding_body": "Awarding body", "issued_at": "Date of issuing",
    "learning_outcomes": "Learning outcomes", "workload": "Workload", "level": "Level",
    "assessment_type": "Type of assessment", "participation_form": "Form of participation",
    "quality_assurance": "Quality assurance", "prerequisites": "Prerequisites",
    "supervision": "Supervision and identity verification", "grade": "Grade",
    "stackability": "Integration / stackability", "further_information": "Further information",
}
_MAX_CHARS = 600


def _latin1(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    out = "".join(c for c in folded if not unicodedata.combining(c))
    out = out.replace("\u2013", "-").replace("\u2014", "-").replace("\u2019", "'")
    out = out.encode("latin-1", "replace").decode("latin-1")
    return out if len(out) <= _MAX_CHARS else out[:_MAX_CHARS] + "..."


def _label(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key in ("title", "label", "name", "text", "id", "uri", "url"):
            if isinstance(value.get(key), str) and value[key]:
                return str(value[key])
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _value(key: str, value: Any) -> str | None:
    """One element's value as a line of text (shapes: wallet.microcred.model)."""
    if value is None:
        return None
    if key == "workload" and isinstance(value, Mapping):
        parts = []
        if value.get("ects") is not None:
            parts.append(f"{value['ects']:g} ECTS" if isinstance(value["ects"], int | float)
                         else f"{value['ects']} ECTS")
        if value.get("hours") is not None:
            parts.append(f"{value['hours']} hours")
        return ", ".join(parts) or None
    if key == "level" and isinstance(value, Mapping):
        parts = [f"EQF {value['eqf']}" if value.get("eqf") is not None else "",
                 f"QF-EHEA {value['qf_ehea']}" if value.get("qf_ehea") else "",
                 f"NQF {value['nqf']}" if value.get("nqf") else ""]
        return ", ".join(p for p in parts if p) or None
    if key == "stackability" and isinstance(value, Mapping):
        items = [_label(i) for k in ("is_part_of", "has_part", "entitles_to")
                 for i in value.get(k) or ()]
        statement = value.get("statement")
        text = [str(statement)] if isinstance(statement, str | bool) else []
        return "; ".join([*text, *(i for i in items if i)]) or None
    if isinstance(value, list):
        labels = [_label(v) for v in value]
        return "; ".join(v for v in labels if v) or None
    return _label(value)


def _verification_lines(v: Mapping[str, Any], now: datetime) -> list[str]:
    problems = [p for p in v.get("problems") or () if isinstance(p, str)]
    lines = [f"As of {now.strftime('%Y-%m-%d %H:%M UTC')}, in the learner's wallet:",
             f"Signature: {v.get('signature')}.  Issuer trusted: "
             f"{'yes' if v.get('issuer_trusted') is True else 'no'}.  "
             f"Status: {v.get('status')}.  Last checked: {v.get('checked_at')}."]
    if problems:
        lines.append("Findings: " + ", ".join(problems[:12]))
    return lines


def render_printout(*, title: str | None, issuer: str, elements: Mapping[str, Any] | None,
                    verification: Mapping[str, Any], link_url: str, link_expires_at: str,
                    now: datetime, scope: str) -> bytes:
    """An A4 PDF of a credential (its title, issuer, Annex I ``elements`` as
    ``GET /v1/credentials/{id}`` shows them, and its ``verification``) pointing to ``link_url``."""
    pdf = FPDF(format="A4")
    pdf.set_title(_latin1(title or "Credential"))
    pdf.set_creator("Satchel")
    pdf.set_subject("Printable form of a credential (not signed by the issuer)")
    pdf.set_auto_page_break(auto=True, margin=20)
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin
    pdf.set_font("helvetica", "B", 18)
    pdf.multi_cell(width, 9, _latin1(title or "Credential"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 11)
    pdf.multi_cell(width, 6, _latin1(f"Issuer: {issuer}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    elements = elements or {}
    for key in ELEMENT_KEYS:
        element = elements.get(key) if isinstance(elements, Mapping) else None
        text = _value(key, element.get("value")) if isinstance(element, Mapping) else None
        if not text:
            continue
        pdf.set_font("helvetica", "B", 10)
        pdf.cell(62, 6, _latin1(_LABELS[key]))
        pdf.set_font("helvetica", "", 10)
        pdf.multi_cell(width - 62, 6, _latin1(text), new_x="LMARGIN", new_y="NEXT")
    missing = elements.get("missing_mandatory") if isinstance(elements, Mapping) else None
    if missing:
        pdf.set_font("helvetica", "I", 9)
        pdf.multi_cell(width, 5, _latin1("Mandatory elements this credential does not state: "
                                         + ", ".join(_LABELS.get(m, m) for m in missing)),
                       new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font("helvetica", "B", 11)
    pdf.cell(width, 7, "Verification", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("helvetica", "", 9)
    for line in _verification_lines(verification, now):
        pdf.multi_cell(width, 5, _latin1(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    qr = io.BytesIO()
    segno.make(link_url, error="m").save(qr, kind="png", scale=8, border=4)
    qr.seek(0)
    if pdf.get_y() > pdf.h - 90:
        pdf.add_page()
    top = pdf.get_y()
    pdf.image(qr, x=pdf.l_margin, y=top, w=55, h=55)
    pdf.set_xy(pdf.l_margin + 60, top)
    pdf.set_font("helvetica", "B", 10)
    pdf.multi_cell(width - 60, 5, "Check it online: scan the code or open", new_x="LMARGIN",
                   new_y="NEXT")
    pdf.set_x(pdf.l_margin + 60)
    pdf.set_font("courier", "", 8)
    pdf.multi_cell(width - 60, 4, link_url, new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(pdf.l_margin + 60)
    pdf.set_font("helvetica", "", 9)
    pdf.multi_cell(width - 60, 5, _latin1(f"{scope} The link expires {link_expires_at}."),
                   new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 60))
    pdf.set_font("helvetica", "B", 9)
    pdf.multi_cell(width, 5, NOT_A_SIGNATURE, border=1, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())
