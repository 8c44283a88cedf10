"""What a share-link view checked, and the one verdict drawn from it.

A view is checked offline each time it is served (:mod:`sharing.share_links` for SD-JWT,
:mod:`sharing.whole_credentials` for W3C credentials shared whole). The checks are facts
(``signature: valid``, ``issuer_key: self_asserted`` ...); the :class:`Verdict` is the decision a
viewer reads — "Verified" or "NOT verified", why, and whether the issuer it names is confirmed.
It is drawn here, once, by :func:`judge`, so every rendering of a view (the HTML page, the JSON
view, any later client) shows the same decision instead of re-deriving it from the facts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sharing.issuer_keys import IssuerKey

__all__ = ["DisclosureCheck", "DocumentCheck", "Verdict", "ViewCheck", "WholeCredentialCheck",
           "judge"]


@dataclass(frozen=True, slots=True)
class DisclosureCheck:
    """An SD-JWT presentation checked as a verifier would (RFC 9901 §7.3)."""

    signature: str  # valid | invalid | not_checked (no issuer key was kept)
    key_binding: str  # valid | invalid | none (the credential names no holder key) | not_checked
    issuer_trusted: bool | None  # the trust list vouches for the issuer (as found at import)
    problems: tuple[str, ...]  # intake's findings about the credential, e.g. about its status
    checked_at: str


@dataclass(frozen=True, slots=True)
class WholeCredentialCheck:
    """A W3C credential shared whole, in its JWT VP (see :mod:`sharing.whole_credentials`)."""

    signature: str | None  # valid | invalid, or the result at import when checked then
    signature_checked: str  # now | at_import
    key_binding: str  # the JWT VP: valid | invalid
    validity: str  # valid | expired | not_yet_valid | unknown
    holder_bound: bool  # the credential names the key that signed the VP
    issuer_trusted: bool | None
    key_source: str | None
    issuer_key: IssuerKey
    problems: tuple[str, ...]
    issuer_confirmed: bool  # a valid signature by the issuer's own key, or a trusted one
    checked_at: str


@dataclass(frozen=True, slots=True)
class DocumentCheck:
    """A signed PDF served as it was imported (see :mod:`sharing.pdf_links`)."""

    signature: str  # valid | invalid | unsupported (unsigned, or a signature Satchel cannot read)
    signature_checked: str  # now: the file's signatures are checked again at each view
    #: the worst change after signing: none | signature_maintenance | form_filling |
    #: annotations | other (absent when the file could not be read)
    modification: str | None
    issuer_trusted: bool  # every signer chains to an anchor (as intake judged it)
    issuer_key: IssuerKey  # issuer: an anchored signer; self_asserted: any other certificate
    problems: tuple[str, ...]
    issuer_confirmed: bool
    checked_at: str


ViewCheck = DisclosureCheck | WholeCredentialCheck | DocumentCheck


@dataclass(frozen=True, slots=True)
class Verdict:
    """The decision a viewer reads."""

    verified: bool
    explanation: str  # plain text: the checks behind the decision, said plainly
    #: whether the issuer the credential names is shown to have signed it; an unconfirmed issuer
    #: is only *named*, never presented as the one who issued it
    issuer_confirmed: bool


#: Whose key signed a whole credential, in words.
_KEY_WORDS: dict[str, str] = {
    "issuer": "signed with the issuer's own key",
    "self_asserted": "signed with a key the credential itself supplies",
    "not_issuer": "signed with a key that is not shown to be the issuer's",
    "unknown": "no issuer key could be established",
}


def _issuer_words(check: WholeCredentialCheck) -> str:
    """Who signed, said plainly: a valid signature by a key the credential brought along proves
    nothing about the issuer it names, unless the trust list pins that key."""
    said = _KEY_WORDS[check.issuer_key]
    if check.signature != "valid":
        return "the issuer is not confirmed"
    if check.issuer_confirmed:
        if check.issuer_key == "issuer":
            return said
        if check.issuer_key == "self_asserted":
            return f"{said}, which the trust list pins for this issuer"
        return "the trust list vouches for the issuer"
    return said + (", so the issuer is not confirmed: anyone can sign a credential that names "
                   "any issuer this way" if check.issuer_key == "self_asserted"
                   else ", so the issuer is not confirmed")


#: What changed in a PDF after it was signed (``DocumentCheck.modification``), in words.
_CHANGED: dict[str, str] = {
    "none": "unchanged since signing",
    "signature_maintenance": "since signing only timestamps and validation data were added",
    "form_filling": "CHANGED after signing (form fields filled, as the signer allowed: what you "
                    "see may differ from what was signed)",
    "annotations": "CHANGED after signing (annotations added, as the signer allowed: what you "
                   "see may differ from what was signed)",
    "other": "CHANGED after signing",
}


def _judge_document(check: DocumentCheck) -> Verdict:
    changed = check.modification or "other"
    signer = ("the signer's certificate leads to a trust anchor of this service"
              if check.issuer_trusted else
              "the signer's certificate is NOT anchored to a trust anchor of this service, so "
              "the signer is not confirmed")
    return Verdict(
        verified=(check.issuer_confirmed and check.signature == "valid"
                  and changed in ("none", "signature_maintenance")),
        explanation=(f"PDF signature {check.signature} (checked {check.checked_at}), "
                     f"{_CHANGED.get(changed, _CHANGED['other'])}; {signer}"),
        issuer_confirmed=check.issuer_confirmed)


def judge(check: ViewCheck) -> Verdict:
    """The verdict on one view: "Verified" only when every check passed — and, for a whole
    credential, only when the issuer it names is confirmed to have signed it."""
    if isinstance(check, DocumentCheck):
        return _judge_document(check)
    if isinstance(check, DisclosureCheck):
        # the issuer key was fetched from the issuer (metadata, anchored x5c) at import, never
        # taken from the credential: a valid signature is the issuer's
        return Verdict(
            verified=check.signature == "valid" and check.key_binding in ("valid", "none"),
            explanation=(f"issuer signature {check.signature}, holder binding "
                         f"{check.key_binding} (checked {check.checked_at})"),
            issuer_confirmed=True)
    when = ("checked now" if check.signature_checked == "now"
            else "as checked when the learner imported it")
    holder = ("signed by the key the credential names" if check.holder_bound
              else "the credential names no holder key")
    return Verdict(
        verified=(check.issuer_confirmed and check.signature == "valid"
                  and check.key_binding == "valid" and check.validity == "valid"),
        explanation=(f"{_issuer_words(check)}; credential signature {check.signature} ({when}), "
                     f"validity {check.validity}, presentation signature {check.key_binding} "
                     f"({holder}; checked {check.checked_at})"),
        issuer_confirmed=check.issuer_confirmed)
