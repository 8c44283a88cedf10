"""Credential rows as vaults hold them today, written by this version under a fixed key and
pinned byte for byte: each must still open, list and be found by its filters, whatever changes
in how a put writes (bench/bench_vault.py ``--put-cost``; docs/performance.md).

Pinned rows (DEK ``bytes(range(32))``): a credential row in the summary-first layout (``SCv2``,
its summary's length, the sealed summary, then the sealed record), its summary row, the
summary-rows marker, and a credential row in the earlier layout (the sealed record alone), with
the blinded tags each was written with. Blinding is deterministic, so the tags are pinned
exactly: a put whose tags came out otherwise would hide new records from filters that find old
ones.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from wallet.crypto import VaultKey
from wallet.vault import (
    CredentialQuery,
    InMemoryVault,
    LearnerVault,
    StoredCredential,
    VaultBackend,
    VaultStore,
    generate_store_key,
)
from wallet.vault.ports import Tags

DEK = VaultKey(bytes(range(32)))

PINNED = StoredCredential(
    id="urn:uuid:pinned-1", format="jwt_vc_json", raw="eyJhbGciOiJFUzI1NiJ9.e30.sig",
    types=("VerifiableCredential", "OpenBadgeCredential"), issuer="https://uni.example",
    title="Badge é", issued_at=datetime(2025, 5, 1, 10, tzinfo=UTC), expires_at=None,
    status="valid", added_at=datetime(2026, 1, 1, tzinfo=UTC),
    data={"claims": {"name": "Ada"}, "search_text": "python"})
#: the credential row of PINNED (summary-first layout)
PINNED_ROW = bytes.fromhex(
    "5343763200000102a3cb64fc53a3cd7e68582014d58c8fd35e36dbae585b7fb0588fec627127d118db6e8b49"
    "8a45206dd7cfe340a20f8c0ae1b3164c4faa124b912cd45c51faa495c860d18d109dd3886a1e470d46a5db6f"
    "9097121a19e0c5f891afd208548a9b621f33a15981fa88ba22614f09cc3c89f45563851575aea25035cfabb5"
    "3cc80b635a0c50a8d34da1f6e511ce6eb22dbd70a9411f5dba520ad7d11233eb3e989be017539b086fe9b59e"
    "b8d8822e74c6cd8679873f5dfac180d15a1c7e8c9825dabee046849b2db5fc47123aa712a4bf125fe6b2aae8"
    "60718c75d6c122c92ba3f524dde1a13c93bfd14c923530819fb5e4ceccf185b94b2e5b4bad0484e5efa45929"
    "0222788065d39c3c065183cf43fb5e983679bc08622f1c6dd138a6eed860248bc5735dd53923b8a8e82bb94f"
    "16660b8083edbb1b12ea95e844683d467d7dcaa7cf260f7f4428da364064d78b77ea67fffc1414e6f7da57ff"
    "866f9ed62b898aeb7b9a6db1a85f2931e852bc4b8d8183b873cb7f4aaca609290d3f7e6e61eba073471cdc91"
    "7b9e4cdd6e05ead09e8f378342670957c9eeb5a5be4708a1a23279d7d00e4f601d5352f03164d5673d0935c0"
    "19b4e8c189eac7148c169e7c0494bfabd9ccaef4c87c76d4129071a40c7cfa8c420f1f9c626f51037b4d2b73"
    "d818c471a612f73798456f5181034b77a417a48dee6a1730e41faad5c25563b777024d71754b792a7b0a5667"
    "fab5cbcfbf73d10e3c2bff2465eedf10f082bfaad0117819471983f30335d6b211eabcf7930a183e245739b0"
    "d73cae03406b6543a101f013eb4d9d9cb0ecc6c03ff23294264a6bb5bdf1c55c30c60fdc82074988ffa66a3d"
    "027045ff2ae4d67d1f8cc633037ec2f0a78d86544430b0229a1c14aa028144c1ebf4095ebadb7bc4452bf1f9"
    "394cc1c73ec7afa9c8bc029b80")
#: PINNED's summary row (the same sealed summary as the row's first half)
PINNED_SUMMARY = bytes.fromhex(
    "a3cb64fc53a3cd7e68582014d58c8fd35e36dbae585b7fb0588fec627127d118db6e8b498a45206dd7cfe340"
    "a20f8c0ae1b3164c4faa124b912cd45c51faa495c860d18d109dd3886a1e470d46a5db6f9097121a19e0c5f8"
    "91afd208548a9b621f33a15981fa88ba22614f09cc3c89f45563851575aea25035cfabb53cc80b635a0c50a8"
    "d34da1f6e511ce6eb22dbd70a9411f5dba520ad7d11233eb3e989be017539b086fe9b59eb8d8822e74c6cd86"
    "79873f5dfac180d15a1c7e8c9825dabee046849b2db5fc47123aa712a4bf125fe6b2aae860718c75d6c122c9"
    "2ba3f524dde1a13c93bfd14c923530819fb5e4ceccf185b94b2e5b4bad0484e5efa459290222")
PINNED_TAGS: Tags = {"f": "oKcaS_q4KeSm3MBgzP__Nw", "i": "EITC_CrfNdfsjDi74tn2Ew",
                     "t": ["GKTGiAIQ6_d5FvtC--NjCw", "S4kZwZLt5avFrPhaGN2PPQ"]}

OLD = StoredCredential(
    id="urn:uuid:pinned-0", format="ldp_vc", raw='{"a":1}', types=("VerifiableCredential",),
    issuer="did:web:old.example", title=None, issued_at=None, expires_at=None, status="valid",
    added_at=datetime(2025, 1, 1, tzinfo=UTC), data={})
#: OLD's credential row in the earlier layout (the sealed record alone, no summary row)
OLD_ROW = bytes.fromhex(
    "d61c15db54014cadaf9c1882bfa0d14716476b8573889cb6b01afa3a1a96f7b59c365ad4214e33a06b116acc"
    "12ad51497146c49f2c310b85796c89337ff4b551e5cb981a2cbd24cb9d516f5a28ee7dbeb97a03f603bf6f97"
    "9efd729b24c0bcf7683141ab8530b10cc0dab8537f86d8f154c817e1bbd1d5a4635981551bcf44176d789a29"
    "97c1db0f64c6046851d3e99cc846c6f3e7132cacb4b7f5cac9e38a16f81380c3834f5e6612d27c51339dbf8c"
    "61fda79f0bf76b7842207d1ae726828190086a8a112921b916561b1137e314aefacdcc5b4153d3e09f9125ad"
    "b3dba83f27fe8d9b58f36577067905a47ab89d9874cd3502f7a531ac6b882c0e949ea3da23cdfaabf3e61622"
    "8be07a9a2e52dc03108136dff52890128481474c272e")
OLD_TAGS: Tags = {"f": "QrVVCsXJ6LUFm0IyhsdiyA", "i": "5_LHcirQ4E46fwcJ4Dxx7w",
                  "t": ["GKTGiAIQ6_d5FvtC--NjCw"]}

#: the marker saying every credential of the learner has its summary row
MARKER = bytes.fromhex(
    "a6cf3ef03d407212b2721d991d085123d87c0e2277c0ba6ad80ae5ff8275b569b482c98c19237e3974058201"
    "1dff0e1cbbc3fecd3bedbbecf5d132ca3e82de12c636")


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[VaultBackend]:
    """The bytes are the vault's, handed to the store as they are: one Askar backend is enough
    here (the vault's own tests run every backend)."""
    if request.param == "memory":
        yield InMemoryVault()
        return
    s = await VaultStore.open(f"sqlite://{tmp_path}/pinned.db", generate_store_key())
    yield s
    await s.close()


async def _holding(store: VaultBackend, rows: list[tuple[str, str, bytes, Tags]]) -> LearnerVault:
    await store.create_profile("ada")
    vault = store.for_learner("ada", DEK)
    for category, name, value, tags in rows:
        await vault._store.insert(category, name, value, tags)
    return vault


def test_todays_writer_blinds_the_tags_as_pinned() -> None:
    repo = InMemoryVault().for_learner("x", DEK).credentials
    assert repo._tags(PINNED) == PINNED_TAGS
    assert repo._tags(OLD) == OLD_TAGS


async def test_pinned_rows_open_list_and_filter(store: VaultBackend) -> None:
    vault = await _holding(store, [("credential", PINNED.id, PINNED_ROW, PINNED_TAGS),
                                   ("credential", OLD.id, OLD_ROW, OLD_TAGS)])
    repo = vault.credentials
    assert await repo.get(PINNED.id) == PINNED
    assert await repo.get(OLD.id) == OLD
    # no marker: the first list reads the credential rows and completes the summary rows, the
    # second reads those
    for _ in range(2):
        assert (await repo.list_summaries()).items == [PINNED.summary(), OLD.summary()]
    assert [c.id for c in (await repo.list()).items] == [PINNED.id, OLD.id]
    for query, found in ((CredentialQuery(format="jwt_vc_json"), [PINNED.id]),
                         (CredentialQuery(format="ldp_vc"), [OLD.id]),
                         (CredentialQuery(issuer="https://uni.example"), [PINNED.id]),
                         (CredentialQuery(type="OpenBadgeCredential"), [PINNED.id]),
                         (CredentialQuery(type="VerifiableCredential"), [PINNED.id, OLD.id])):
        assert [c.id for c in (await repo.list(query)).items] == found, query
        assert [c.id for c in (await repo.list_summaries(query)).items] == found, query


async def test_pinned_summary_rows_and_marker_are_what_a_list_reads(store: VaultBackend) -> None:
    vault = await _holding(store, [("credential", PINNED.id, PINNED_ROW, PINNED_TAGS),
                                   ("credential_summary", PINNED.id, PINNED_SUMMARY, {}),
                                   ("credential_summary", "", MARKER, {})])
    assert (await vault.credentials.list_summaries()).items == [PINNED.summary()]
    # read from the summary rows: with the credential row gone the summary row still lists
    await vault._store.remove("credential", PINNED.id)
    assert (await vault.credentials.list_summaries()).items == [PINNED.summary()]


async def test_a_put_writes_the_pinned_layout(store: VaultBackend) -> None:
    """What a put writes has the pinned rows' layout (only the random nonces differ): the
    summary-first row, its summary row equal to the row's summary half, the pinned tags."""
    await store.create_profile("ada")
    vault = store.for_learner("ada", DEK)
    await vault.credentials.put(PINNED)
    row = await vault._store.fetch("credential", PINNED.id)
    summary = await vault._store.fetch("credential_summary", PINNED.id)
    assert row is not None and summary is not None
    assert len(row) == len(PINNED_ROW) and len(summary) == len(PINNED_SUMMARY)
    assert row[:8] == PINNED_ROW[:8] and row[8:8 + len(summary)] == summary
    assert await vault._store.fetch_all("credential", {"t": "GKTGiAIQ6_d5FvtC--NjCw"}) == [(PINNED.id, row)]
