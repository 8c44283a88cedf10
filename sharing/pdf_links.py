"""Share links for signed PDF credentials: the original file, checked again at each view.

A PDF cannot be put in a verifiable presentation (OpenID4VP has no PDF format, and a JWT VP would
only wrap it), so a link to a PDF credential serves the document itself: the original bytes, the
signatures intact, at ``/s/{token}/document.pdf`` beside the verification page at ``/s/{token}``.
Like every whole-credential link it shares everything (``claims: [[]]``), and each fetch of the
page or the file is a view the ledger records.

What a view shows (``verified``), checked offline with pyHanko at that moment: ``signature``
(``valid`` only when every signature still holds and nothing changed after signing beyond what
the signer allowed), ``signature_checked: "now"``, ``modification`` (the worst change found) and
the signer chain as intake judged it against the configured anchors (``issuer_trusted``; the
public route has no anchors of its own and fetches nothing). ``issuer_key`` is ``issuer`` for an
anchored signer, ``self_asserted`` for any other: a certificate the file brings proves nothing by
itself.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sharing.issuer_keys import IssuerKey, issuer_confirmed
from sharing.presentations import StoredCredentialUnusable
from sharing.verdict import DocumentCheck
from wallet.errors import SatchelError
from wallet.formats.pdf import check_pdf_off_loop
from wallet.vault import StoredCredential

__all__ = ["check_pdf_view", "document_bytes", "pdf_payload"]

_ORDER = ("none", "signature_maintenance", "form_filling", "annotations", "other")


def document_bytes(payload: Mapping[str, Any]) -> bytes:
    try:
        return base64.b64decode(payload["raw"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        return b""


async def pdf_payload(stored: StoredCredential, now: datetime) -> dict[str, Any]:
    """What a PDF link seals: the file and its claims; refused if it no longer holds."""
    try:
        checked = await check_pdf_off_loop(base64.b64decode(stored.raw, validate=True),
                                           anchors=(), now=now)
    except (SatchelError, ValueError, binascii.Error) as exc:
        raise StoredCredentialUnusable("the stored PDF can no longer be read") from exc
    if checked.verdict in ("invalid", "modified"):
        raise StoredCredentialUnusable("the stored PDF's signature no longer verifies")
    return {"raw": stored.raw, "pdf_claims": stored.data.get("claims") or {}}


async def check_pdf_view(payload: Mapping[str, Any], *, now: datetime,
                         checked_at: str) -> tuple[DocumentCheck, dict[str, Any]]:
    """(``verified``, ``claims``) for a view of a PDF link (module docstring)."""
    cred = payload["credential"]
    trusted_at_import = cred.get("issuer_trusted") is True
    signature, modification = "invalid", None
    problems: list[str] = []
    try:
        checked = await check_pdf_off_loop(document_bytes(payload), anchors=(), now=now)
    except SatchelError:
        problems.append("credential_unreadable")
    else:
        signature = {"valid": "valid", "invalid": "invalid", "modified": "invalid"}.get(
            checked.verdict, "unsupported")
        modification = max((s.modification for s in checked.signatures), key=_ORDER.index,
                           default="none")
        # the chain findings depend on the anchors, which only intake had: not re-derived here
        problems += [p for p in checked.problems
                     if not p.startswith(("pdf_signer_not_anchored", "pdf_signer_self_signed"))]
    problems += [p for p in (payload.get("at_import") or {}).get("problems") or ()
                 if isinstance(p, str)]
    key: IssuerKey = "issuer" if trusted_at_import else "self_asserted"
    check = DocumentCheck(
        signature=signature, signature_checked="now", modification=modification,
        issuer_trusted=trusted_at_import, issuer_key=key,
        problems=tuple(dict.fromkeys(problems)),
        issuer_confirmed=issuer_confirmed(signature, key, trusted_at_import),
        checked_at=checked_at)
    claims = payload.get("pdf_claims")
    return check, dict(claims) if isinstance(claims, dict) else {}
