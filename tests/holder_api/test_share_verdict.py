"""The share-link page and the JSON view never disagree about "Verified".

Both render the view's one :class:`~sharing.verdict.Verdict`. This walks every outcome a view's
check can have — each field over every value the checks in ``sharing`` produce (a superset of
the outcomes the share-link tests build through the API) — renders the HTML page and the JSON
view of the same view, and holds them to the same decision, the same explanation and the same
issuer line. It also holds the verdict to the checks: never "Verified" with a failed one.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from holder_api.serialise.share_links import share_page, share_view
from sharing.issuer_keys import IssuerKey
from sharing.share_links import SharedCredential, ShareView
from sharing.verdict import (
    DisclosureCheck,
    DocumentCheck,
    ViewCheck,
    WholeCredentialCheck,
    judge,
)

_KEYS: tuple[IssuerKey, ...] = ("issuer", "self_asserted", "not_issuer", "unknown")
_TRUSTED = (True, False, None)


def _disclosure_checks() -> Iterator[DisclosureCheck]:
    for signature, binding, trusted in itertools.product(
            ("valid", "invalid", "not_checked"), ("valid", "invalid", "none", "not_checked"),
            _TRUSTED):
        yield DisclosureCheck(signature, binding, trusted, ("status_unknown",),
                              "2026-01-01T00:00:00Z")


def _whole_checks() -> Iterator[WholeCredentialCheck]:
    for (signature, checked), binding, validity, bound, trusted, key, confirmed in \
            itertools.product((("valid", "now"), ("invalid", "now"), ("valid", "at_import"),
                               ("invalid", "at_import"), (None, "at_import")),
                              ("valid", "invalid"),
                              ("valid", "expired", "not_yet_valid", "unknown"), (True, False),
                              _TRUSTED, _KEYS, (True, False)):
        yield WholeCredentialCheck(signature, checked, binding, validity, bound, trusted,
                                   "did:web", key, (), confirmed, "2026-01-01T00:00:00Z")


def _document_checks() -> Iterator[DocumentCheck]:
    for signature, modification, trusted in itertools.product(
            ("valid", "invalid", "unsupported"),
            ("none", "signature_maintenance", "form_filling", "annotations", "other", None),
            (True, False)):
        key: IssuerKey = "issuer" if trusted else "self_asserted"
        yield DocumentCheck(signature, "now", modification, trusted, key, (),
                            signature == "valid" and trusted, "2026-01-01T00:00:00Z")


def _view(check: ViewCheck) -> ShareView:
    whole = isinstance(check, WholeCredentialCheck | DocumentCheck)
    credential: SharedCredential = {
        "id": "c1", "format": "ldp_vc" if whole else "dc+sd-jwt",
        "issuer": "https://university.example/<&>", "title": "Diploma", "types": [],
        "issuer_trusted": check.issuer_trusted is True}
    if whole:
        credential["whole_credential"] = True
    if isinstance(check, DocumentCheck):
        credential["document"] = "pdf"
        return ShareView("", check, judge(check), {"title": "Diploma"}, credential,
                         datetime(2026, 2, 1, tzinfo=UTC), 3,
                         document_url="https://satchel.example/s/t/document.pdf")
    return ShareView("presentation", check, judge(check), {"name": "Ada"}, credential,
                     datetime(2026, 2, 1, tzinfo=UTC), 3, raw="{}" if whole else None)


def _said(page: str) -> tuple[bool, str]:
    m = re.search(r"<p><b>(Verified|NOT verified)</b>: (.*?)\.</p>", page)
    assert m is not None, page
    return m.group(1) == "Verified", html.unescape(m.group(2))


def _agree(check: ViewCheck) -> dict[str, Any]:
    view = _view(check)
    page, body = share_page(view), share_view(view)
    verified, explanation = _said(page)
    verdict = body["verdict"]
    assert (verified, explanation) == (verdict["verified"], verdict["explanation"]), check
    issued_by = "<p>Issued by <b>" in page
    assert issued_by == verdict["issuer_confirmed"] != ("(not confirmed)" in page), check
    return dict(body["verified"])


def test_page_and_json_agree_over_every_sd_jwt_outcome() -> None:
    seen = set()
    for check in _disclosure_checks():
        facts = _agree(check)
        ok = judge(check).verified
        assert not ok or (facts["signature"] == "valid"
                          and facts["key_binding"] in ("valid", "none")), check
        seen.add(ok)
    assert seen == {True, False}


def test_page_and_json_agree_over_every_whole_credential_outcome() -> None:
    seen = set()
    for check in _whole_checks():
        facts = _agree(check)
        ok = judge(check).verified
        assert not ok or (facts["issuer_confirmed"] is True and facts["signature"] == "valid"
                          and facts["key_binding"] == "valid"
                          and facts["validity"] == "valid"), check
        seen.add((ok, facts["issuer_confirmed"]))
    assert seen == {(True, True), (False, True), (False, False)}


def test_an_unconfirmed_issuer_is_only_named() -> None:
    check = next(c for c in _whole_checks() if c.issuer_key == "self_asserted"
                 and c.signature == "valid" and not c.issuer_confirmed)
    page = share_page(_view(check))
    assert "Names <b>https://university.example/&lt;&amp;&gt;</b> as its issuer" in page
    assert "anyone can sign a credential that names any issuer this way" in page


def test_page_and_json_agree_over_every_pdf_outcome() -> None:
    """A PDF is "Verified" only with a valid signature, an anchored signer, and nothing changed
    after signing that alters what is shown (timestamps and validation data do not)."""
    seen = set()
    for check in _document_checks():
        facts = _agree(check)
        ok = judge(check).verified
        assert not ok or (facts["signature"] == "valid" and facts["issuer_confirmed"] is True
                          and facts["modification"] in ("none", "signature_maintenance")), check
        if check.modification in ("form_filling", "annotations", "other", None):
            assert "CHANGED after signing" in judge(check).explanation
        seen.add((ok, facts["issuer_confirmed"]))
        page = share_page(_view(check))
        assert 'href="https://satchel.example/s/t/document.pdf"' in page
    assert seen == {(True, True), (False, True), (False, False)}


def test_the_page_says_its_expiry_and_views_left_as_a_person_reads_them() -> None:
    """Not ``2026-02-01T00:00:00Z`` and ``view(s)``: a date and a count in words."""
    from dataclasses import replace

    view = _view(next(_disclosure_checks()))
    assert "This link expires 1 Feb 2026, 00:00 UTC; 3 views left." in share_page(view)
    assert "; 1 view left." in share_page(replace(view, views_left=1))
    assert "(s)" not in share_page(view)
