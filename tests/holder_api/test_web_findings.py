"""The verification findings on a credential's page are in the page's language: every code a
verifier can record has a catalogue message (the codes are read from the source, see
``findings_support``), shown with the code itself beside it for support."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.web import data
from holder_api.web.findings import FINDING_PREFIXES, FINDING_WORDS, finding_text
from holder_api.web.i18n import gettext_for
from holder_api.web.problems import PROBLEM_WORDS
from tests.holder_api.findings_support import finding_codes
from tests.holder_api.present_support import Peer
from tests.holder_api.web_support import Page, holder_jwk, imported, signed_up
from wallet.formats.jsonld.canon import TermNotCovered
from wallet.intake import STATUS_PROBLEMS

PEER_HOST = "localhost"


def _subclasses(cls: type[TermNotCovered]) -> set[type[TermNotCovered]]:
    return {cls}.union(*(_subclasses(s) for s in cls.__subclasses__()))


#: what the source walk finds, a prefix (``x_*``) made concrete
WALKED = {c.replace("*", "expired") for c in finding_codes()}
#: codes that reach the findings from elsewhere: the status problems intake keeps, and a
#: service error's code a proof check records as it is (a JSON-LD term no proof can cover)
CARRIED = set(STATUS_PROBLEMS) | {cls.code for cls in _subclasses(TermNotCovered)}
#: what records written before a finding became a code still hold
LEGACY = {"the credential is not bound to a holder key (no cnf.jwk)"}
EVERY = sorted(WALKED | CARRIED | LEGACY)


def test_the_walk_finds_the_findings_of_every_verifier() -> None:
    assert len(WALKED) > 60
    assert {"expired", "issuer_key_self_asserted", "x5c_not_issuer", "signature_mismatch",
            "proof_created_in_future", "pdf_changed_after_signing", "pdf_signer_revoked",
            "pdf_signer_certificate_expired", "holder_key_missing", "signing_time_unconfirmed",
            "pdf_attached_credential_refused"} <= WALKED
    assert not any(" " in c for c in WALKED)  # codes, not sentences


def test_every_finding_has_a_catalogue_message() -> None:
    prefixed = {c for c in EVERY if any(c.startswith(p) for p in FINDING_PREFIXES)}
    assert sorted(set(EVERY) - FINDING_WORDS.keys() - PROBLEM_WORDS.keys() - prefixed) == []
    assert sorted(WALKED - FINDING_WORDS.keys() - prefixed) == []  # a verifier's own: here


def _findings(page: Page) -> dict[str, str]:
    """code -> the text of its list item, as the page shows them."""
    return {e["data-code"]: e["#text"] for e in page.elements
            if e.get("data-testid") == "finding"}


async def test_the_spanish_page_shows_every_finding_in_spanish(
        app: TestClient[Any, Any], peer: Peer, monkeypatch: pytest.MonkeyPatch) -> None:
    unknown = "finding_from_a_newer_satchel"
    get_credential = data.get_credential

    async def with_every_finding(*args: Any, **kwargs: Any) -> dict[str, Any]:
        cred = await get_credential(*args, **kwargs)
        return {**cred, "verification": {**cred["verification"],
                                         "problems": [*EVERY, unknown]}}

    ada, _ = await signed_up(app)
    try:
        cid = await imported(app, ada, peer.issue(await holder_jwk(app, ada)))
        plain = await ada.get(f"/credentials/{cid}")
        assert _findings(plain) == {}  # this credential has none of its own
        monkeypatch.setattr(data, "get_credential", with_every_finding)

        es, en = gettext_for("es"), gettext_for("en")
        english = {en(w) for w in (*FINDING_WORDS.values(), *PROBLEM_WORDS.values(),
                                   *FINDING_PREFIXES.values())}
        page = await ada.get(f"/credentials/{cid}", headers={"Accept-Language": "es"})
        shown = _findings(page)
        assert sorted(shown) == sorted([*EVERY, unknown])
        for code in EVERY:
            spanish = finding_text(code, es)
            assert spanish not in english, code
            # the message, then the code as it is (for support)
            assert shown[code] == f"{spanish} {code}", code
            assert f"<code>{code}</code>" in page.html
        assert shown[unknown] == (
            f"Una observación que este monedero no sabe describir: su código está al lado. "
            f"{unknown}")
        page = await ada.get(f"/credentials/{cid}", headers={"Accept-Language": "en"})
        assert {c: t.removesuffix(f" {c}") for c, t in _findings(page).items()} == {
            c: finding_text(c, en) for c in [*EVERY, unknown]}
        assert all(finding_text(c, en) in english for c in EVERY)
    finally:
        await ada.close()
