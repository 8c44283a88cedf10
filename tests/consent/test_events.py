"""ConsentEvent: claim paths in, claim values out — and the pure chain/receipt helpers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent.chain import GENESIS, ChainRow, ChainWalker, body_digest, entry_hash
from consent.errors import InvalidEvent
from consent.events import ConsentEvent, EventKind, path_label
from wallet.errors import BadInput

NAME = st.from_regex(re.compile(r"[a-z_][a-zA-Z0-9_]{0,20}"), fullmatch=True)
ELEMENT = st.one_of(NAME, st.integers(min_value=0, max_value=1000), st.none())
PATH = st.lists(ELEMENT, min_size=1, max_size=6)


@given(st.lists(PATH, max_size=8), st.sampled_from(list(EventKind)))
def test_valid_paths_round_trip(paths: list[list[object]], kind: EventKind) -> None:
    event = ConsentEvent(kind=kind, counterparty="did:web:v.example", claims=paths)
    assert [list(p) for p in event.claims] == paths
    again = ConsentEvent.from_json(event.to_json())
    assert again == event
    assert again.to_json() == event.to_json()


@pytest.mark.parametrize("claims", [
    ["given_name"],                                  # a bare string: a value, not a path
    [{"path": ["given_name"], "value": "Alice"}],    # DCQL-with-values shape
    [["given_name", "Alice Smith"]],                 # whitespace
    [["email", "alice@example.org"]],                # e-mail
    [["birthdate", "1999-04-01"]],                   # date
    [["phone", "+44 20 7946 0958"]],                 # phone number
    [["student_id", "20231234"]],                    # a number as a string
    [["homepage", "https://alice.example"]],         # URL
    [["degree", 3.7]],                               # float
    [["is_adult", True]],                            # boolean
    [["grades", -1]],                                # negative index
    [[]],                                            # empty path
    [["a" * 129]],                                   # too long for a name
    [["nested", ["x"]]],                             # nested list
    "given_name",                                    # not a list at all
])
def test_value_like_claims_are_refused(claims: object) -> None:
    with pytest.raises(InvalidEvent) as info:
        ConsentEvent(kind=EventKind.PRESENTATION_SENT, claims=claims)  # type: ignore[arg-type]
    assert isinstance(info.value, BadInput)
    assert "Alice" not in str(info.value) and "alice" not in str(info.value)


@pytest.mark.parametrize("kw", [
    {"details": {"value": "x"}},
    {"details": {"claim_values": ["x"]}},
    {"details": {"nested": {"a": 1}}},
    {"details": {"bad key!": 1}},
    {"details": {f"k{i}": i for i in range(30)}},
    {"legal_basis": "because"},
    {"kind": "presentation_leaked"},
    {"credential_ids": "cred-1"},
    {"credential_ids": ["has space"]},
    {"data_categories": ["free text category"]},
    {"policy_url": "http://plain.example/policy"},
    {"counterparty": ""},
    {"purpose": "x" * 5000},
    {"sensitive": "yes"},
])
def test_malformed_events_are_refused(kw: dict) -> None:
    base: dict = {"kind": EventKind.CONSENT_GIVEN}
    base.update(kw)
    with pytest.raises(InvalidEvent):
        ConsentEvent(**base)


def test_from_json_refuses_unknown_members_and_kind_mismatch() -> None:
    good = ConsentEvent(kind=EventKind.EXPORT).to_json()
    with pytest.raises(InvalidEvent):
        ConsentEvent.from_json({**good, "claim_value": "x"})
    with pytest.raises(InvalidEvent):
        ConsentEvent.from_json(good, kind="import")


def test_path_label() -> None:
    assert path_label(("degrees", None, "type")) == "degrees[].type"
    assert path_label(("address", "locality")) == "address.locality"
    assert path_label(("nationalities", 0)) == "nationalities[0]"


def test_entry_hash_is_domain_separated_and_covers_every_field() -> None:
    base = dict(learner_ref="a", entry_id="e1", seq=1, prev_hash=GENESIS, kind="export",
                at_us=1_700_000_000_000_000, counterparty_tag=None,
                body_digest=body_digest(b"body"))
    h = entry_hash(**base)  # type: ignore[arg-type]
    changes = {"learner_ref": "b", "entry_id": "e2", "seq": 2, "prev_hash": "11" * 32,
               "kind": "import", "at_us": 1_700_000_000_000_001, "counterparty_tag": "22" * 32,
               "body_digest": body_digest(b"other")}
    for key, value in changes.items():
        assert entry_hash(**{**base, key: value}) != h, key  # type: ignore[arg-type]
    # length prefixes: moving a byte between two string fields changes the hash
    assert entry_hash(**{**base, "learner_ref": "ae", "entry_id": "1"}) != \
        entry_hash(**{**base, "learner_ref": "a", "entry_id": "e1"})  # type: ignore[arg-type]


def test_walker_reports_first_bad_of_several() -> None:
    rows, prev = [], GENESIS
    for seq in range(1, 6):
        body = bytes([seq])
        h = entry_hash(learner_ref="a", entry_id=f"e{seq}", seq=seq, prev_hash=prev, kind="export",
                       at_us=seq, counterparty_tag=None, body_digest=body_digest(body))
        rows.append(ChainRow(f"e{seq}", seq, seq, "export", None, body, body_digest(body), prev, h))
        prev = h
    rows[1] = ChainRow(**{**{f: getattr(rows[1], f) for f in ChainRow.__slots__},
                          "sealed_body": b"x"})
    rows[3] = ChainRow(**{**{f: getattr(rows[3], f) for f in ChainRow.__slots__}, "kind": "y"})
    walker = ChainWalker("a", erased=False)
    for r in rows:
        walker.feed(r)
    report = walker.finish(None, head_columns=None, last_kind="export")
    assert not report.valid and report.first_bad_seq == 2 and report.length == 5


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=4),
    max_leaves=12)


@given(JSON, JSON)
def test_arbitrary_json_either_builds_or_is_refused_typed(claims: object, details: object) -> None:
    try:
        event = ConsentEvent.from_json({"kind": "presentation_sent", "claims": claims,
                                        "details": details})
    except InvalidEvent:
        return
    for path in event.claims:
        assert all(e is None or isinstance(e, str | int) and not isinstance(e, bool)
                   for e in path)
