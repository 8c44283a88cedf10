"""The list's JSON text (holder_api.serialise.credentials.credential_list): each summary's text is
made once and kept, and the page is exactly what encoding the page's dictionary gives."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

import holder_api.serialise.credentials as serialise
from holder_api.serialise.credentials import JSON_ENCODE, credential_list, credential_summary
from wallet.learner_cache import LearnerCache, forget_learner
from wallet.vault import CredentialSummary

T0 = datetime(2026, 1, 1, 12, 30, 5, 123456, tzinfo=UTC)


def summary(n: int, **fields: object) -> CredentialSummary:
    base = CredentialSummary(
        id=f"urn:uuid:{n}", format="jwt_vc_json",
        types=("VerifiableCredential", "OpenBadgeCredential"), issuer="https://uni.example",
        title=f"Course {n}", issued_at=T0 - timedelta(days=n), expires_at=None, status="valid",
        added_at=T0 + timedelta(seconds=n))
    return dataclasses.replace(base, **fields)


PAGE = [
    summary(1),
    summary(2, title="Zertifikat für Ä — 学位 \"quoted\" \\ back\nline", title_lang="de",
            awarding_body="Universität Wien", awarding_body_lang="de", verified="trusted"),
    summary(3, title=None, types=("VerifiableCredential",), search_text="python",
            expires_at=T0 + timedelta(days=365), verified="no_key"),
    summary(4, types=(), issued_at=None, added_at=datetime(2026, 2, 1, tzinfo=timezone(
        timedelta(hours=2))), issuer="did:web:issuer.example%3A8443"),
]


@pytest.mark.parametrize("cursor", [None, "eyJhYmMiOjF9"])
def test_the_page_text_is_the_encoded_page(cursor: str | None) -> None:
    want = JSON_ENCODE({"items": [credential_summary(c) for c in PAGE], "next_cursor": cursor})
    assert credential_list("ada", PAGE, cursor) == want
    assert credential_list("ada", PAGE, cursor) == want  # the kept texts, the same page
    assert json.loads(want)["items"][1]["title"] == PAGE[1].title
    assert credential_list("ada", [], cursor) == JSON_ENCODE({"items": [], "next_cursor": cursor})


def test_a_changed_summary_gets_its_own_text(monkeypatch: pytest.MonkeyPatch) -> None:
    texts: LearnerCache[int, tuple[CredentialSummary, str]] = LearnerCache(2)
    monkeypatch.setattr(serialise, "SUMMARY_TEXTS", texts)
    credential_list("ada", PAGE[:2], None)
    revoked = dataclasses.replace(PAGE[0], status="revoked")
    text = credential_list("ada", [revoked, PAGE[0]], None)
    assert json.loads(text)["items"][0]["status"] == "revoked"
    assert json.loads(text)["items"][1]["status"] == "valid"
    assert len(texts) == 2  # bounded: the oldest went first


def test_texts_are_kept_per_learner(monkeypatch: pytest.MonkeyPatch) -> None:
    texts: LearnerCache[int, tuple[CredentialSummary, str]] = LearnerCache(8)
    monkeypatch.setattr(serialise, "SUMMARY_TEXTS", texts)
    credential_list("ada", PAGE[:1], None)
    credential_list("bob", PAGE[:1], None)  # the same summary value: its own entry
    assert texts.learner_size("ada") == texts.learner_size("bob") == 1
    forget_learner("ada")
    assert texts.learner_size("ada") == 0 and texts.learner_size("bob") == 1
