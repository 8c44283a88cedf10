"""The intake's status policy: every entry counts, and the list must be the issuer's."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import VECTORS
from wallet.formats.model import CheckedCredential, StatusReference
from wallet.intake import CredentialIntake
from wallet.trust import TrustList


class NoNetwork:
    async def get(self, url: str, **kw: Any) -> Any:
        raise AssertionError("no network in this test")

    post_form = post_json = post_bytes = get


@pytest.fixture
def intake() -> CredentialIntake:
    return CredentialIntake(fetcher=NoNetwork(), trust=TrustList.empty())  # type: ignore[arg-type]


REV = StatusReference("bitstring_status_list", "https://s.example/1", 1, "revocation")
SUS = StatusReference("bitstring_status_list", "https://s.example/2", 1, "suspension")


@pytest.mark.parametrize(("answers", "expected"), [
    ({REV: "valid", SUS: "valid"}, "valid"),
    ({REV: "valid", SUS: "suspended"}, "suspended"),
    ({REV: "invalid", SUS: "suspended"}, "invalid"),
    ({REV: "valid", SUS: "unknown"}, "unknown"),
])
async def test_every_status_entry_counts(intake: CredentialIntake, monkeypatch: Any,
                                         answers: dict[StatusReference, str],
                                         expected: str) -> None:
    seen: list[tuple[StatusReference, str | None]] = []

    async def check(ref: StatusReference, *, issuer: str | None = None) -> str:
        seen.append((ref, issuer))
        return answers[ref]

    monkeypatch.setattr(intake.status, "check", check)
    assert await intake.check_refs([REV, SUS], issuer="did:web:uni.example") == expected
    assert {i for _, i in seen} == {"did:web:uni.example"}  # the issuer is always passed on
    assert await intake.check_refs([], issuer="x") == "none"


async def test_both_entries_of_a_real_edc_are_found(intake: CredentialIntake) -> None:
    raw = (VECTORS / "microcredentials/mynextid/substitute-degree-certificate/"
           "edc-dc-signed.jsonld").read_text(encoding="utf-8")
    doc = json.loads(json.loads(raw)["payload"])
    checked = CheckedCredential(format="ldp_vc", raw=raw, issuer="x", types=(), claims=doc,
                                signature="valid", status=None)
    assert {r.purpose for r in intake.status_refs(checked)} == {"revocation", "suspension"}
