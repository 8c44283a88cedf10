"""The ledger's event kinds are one vocabulary (``wallet.ports.ActivityKind``, which consent calls
``EventKind``), and their stored values never change: the ledger's hash chain covers each entry's
kind, so a changed value would make every chain written before it fail to verify."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, cast

import pytest

from consent.chain import GENESIS, ChainRow, ChainWalker, body_digest, entry_hash
from consent.errors import InvalidEvent
from consent.events import ConsentEvent, EventKind, event_kind
from wallet.ports import ActivityKind

#: Every kind a release before the shared enum stored, in the order of the chain below.
STORED = ("credential_received", "credential_accepted", "credential_declined",
          "credential_deleted", "presentation_sent", "presentation_declined",
          "presentation_failed", "share_link_created", "share_link_viewed", "share_link_revoked",
          "inbox_link_created", "inbox_link_revoked", "inbox_item_received",
          "inbox_item_expired", "consent_given", "consent_withdrawn", "export", "import",
          "erasure")
#: The head of that chain (one entry per kind, in order), computed by that release (7a66528).
HEAD = "a465d4c9884c20693b4fc648ee99f23b3cbb08fe66b3a0d8217b226afeb8bded"
_REF = "learner-ref-1"
CONSENT_DOC = Path(__file__).resolve().parents[2] / "docs" / "consent.md"


def _chain(kinds: list[str]) -> list[ChainRow]:
    rows, prev = [], GENESIS
    for seq, kind in enumerate(kinds, 1):
        entry_id, at_us = f"00000000-0000-4000-8000-{seq:012d}", 1_780_000_000_000_000 + seq
        sealed = f"sealed body {seq}".encode()
        digest = body_digest(sealed)
        hashed = entry_hash(learner_ref=_REF, entry_id=entry_id, seq=seq, prev_hash=prev,
                            kind=kind, at_us=at_us, counterparty_tag=None, body_digest=digest)
        rows.append(ChainRow(entry_id, seq, at_us, kind, None, sealed, digest, prev, hashed))
        prev = hashed
    return rows


def test_consent_and_the_producers_name_the_same_enum() -> None:
    assert EventKind is ActivityKind


@pytest.mark.parametrize("stored", STORED)
def test_every_stored_kind_reads_back_as_the_same_value(stored: str) -> None:
    kind = event_kind(stored)
    assert kind.value == stored and str(kind) == stored
    event = ConsentEvent(kind=kind)
    assert event.to_json()["kind"] == stored
    assert ConsentEvent.from_json(event.to_json(), kind=stored).kind is kind


def test_a_chain_written_before_the_enum_moved_verifies_identically() -> None:
    # what the producers write now (the members) hashes as the stored strings did
    written_now = _chain([EventKind(stored) for stored in STORED])
    assert written_now[-1].entry_hash == HEAD
    # and the stored rows (kinds read back as text) verify, link by link, to the same head
    walker = ChainWalker(_REF, erased=False)
    for row in _chain(list(STORED)):
        walker.feed(row)
    assert walker.first_bad_seq is None, walker.reason
    assert walker.prev_hash == HEAD and walker.length == len(STORED)


@pytest.mark.parametrize("unknown", ["credential_recieved", "CREDENTIAL_RECEIVED", ""])
def test_an_unknown_kind_is_an_invalid_event(unknown: str) -> None:
    with pytest.raises(InvalidEvent):
        event_kind(unknown)
    with pytest.raises(InvalidEvent):
        ConsentEvent(kind=cast(Any, unknown))  # what a cast past the type checker lets through


def _documented_kinds() -> list[str]:
    """The first column of the "Kinds" table of docs/consent.md, in order."""
    section = CONSENT_DOC.read_text(encoding="utf-8").split("\n### Kinds\n", 1)[1]
    section = section.split("\n#", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", section, re.M)


def test_the_consent_page_lists_every_kind_and_no_other() -> None:
    documented = _documented_kinds()
    assert len(documented) == len(set(documented))
    assert documented == [kind.value for kind in EventKind]  # in the enum's order
