"""The vault (wallet.vault): one contract suite run against memory, Askar/SQLite, Askar/PostgreSQL.

Plus what only a real store can show: at-rest canaries (files on disk, ``pg_dump``), the DEK layer
underneath Askar's own encryption, store keys and reopening.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import logging
import os
import stat
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from aries_askar import AskarError, AskarErrorCode, Session, Store, bindings
from aries_askar.store import OpenSession
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.askar_codes import garble
from tests.pg_wire import counting_proxy
from tests.support.backends import Backend, fresh_backend
from wallet.crypto import DecryptionFailed, VaultKey, generate_holder_key
from wallet.errors import BadInput, Conflict, NotFound, Unavailable
from wallet.jose import b64url_decode, b64url_encode, public_key_from_jwk, verify_raw
from wallet.learner_cache import LearnerCache
from wallet.vault import (
    CredentialQuery,
    CredentialSummary,
    InMemoryVault,
    LearnerVault,
    StoredCredential,
    VaultBackend,
    VaultStore,
    generate_store_key,
    load_or_create_store_key,
)
from wallet.vault.learner import Write
from wallet.vault.model import sort_key

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SUMMARIES = "credential_summary"  # the Askar category of the summary rows
OB = "OpenBadgeCredential"
VC = "VerifiableCredential"


def cred(n: int, *, added: datetime | None = None, fmt: str = "jwt_vc_json",
         types: tuple[str, ...] = (VC, OB), issuer: str = "https://uni.example",
         title: str | None = None, **data: Any) -> StoredCredential:
    return StoredCredential(
        id=f"urn:uuid:cred-{n:04d}", format=fmt, raw=f"eyJ.raw-{n}.sig", types=types,
        issuer=issuer, title=title if title is not None else f"Badge {n}",
        issued_at=T0 - timedelta(days=n), expires_at=None, status="valid",
        added_at=added or T0 + timedelta(minutes=n), data=dict(data),
    )


def _watch_fetch_all(rs: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The categories every ``fetch_all`` of ``rs``'s class reads from now on, in order."""
    read: list[str] = []
    fetch_all = type(rs).fetch_all

    async def watched(self: Any, category: str, tag_filter: Any = None) -> Any:
        read.append(category)
        return await fetch_all(self, category, tag_filter)

    monkeypatch.setattr(type(rs), "fetch_all", watched)
    return read


# ---------------------------------------------------------------------------------------------
# The contract


class VaultContract:
    """Every VaultBackend must pass these. Subclasses provide the ``store`` fixture."""

    @pytest.fixture
    async def alice(self, store: VaultBackend) -> LearnerVault:
        await store.create_profile("alice")
        return store.for_learner("alice", VaultKey.generate())

    async def test_is_a_vault_backend(self, store: VaultBackend) -> None:
        assert isinstance(store, VaultBackend)
        await store.ping()

    async def test_put_get_round_trip(self, alice: LearnerVault) -> None:
        c = StoredCredential(
            id="urn:uuid:1", format="dc+sd-jwt", raw="eyJhbGciOi.x~WyJz\u00e9\u00df~ \r\n\t~",
            types=("https://example.org/diploma",), issuer="https://uni.example",
            title="Diplôme",
            issued_at=datetime(2025, 5, 1, 12, tzinfo=timezone(timedelta(hours=2))),
            expires_at=T0 + timedelta(days=365), status="valid", added_at=T0,
            data={"claims": {"given_name": "Ada", "n": [1, 2.5, None, True]},
                  "elements": {"ects": 5}},
        )
        await alice.credentials.put(c)
        got = await alice.credentials.get("urn:uuid:1")
        assert got == c
        assert got.raw == c.raw  # byte for byte
        assert got.issued_at is not None and got.issued_at.utcoffset() == timedelta(hours=2)

    async def test_atomic_writes_commit_together_or_not_at_all(self,
                                                             alice: LearnerVault) -> None:
        offers = alice.records("offer")
        await offers.put("o1", {"state": "pending"})
        await alice.credentials.put(cred(1))
        with pytest.raises(Conflict):  # the third write fails at the commit ...
            async with alice.atomic() as tx:
                await tx.records("offer").delete("o1")
                await tx.credentials.put(cred(2))
                await tx.credentials.put(cred(1))
        # ... so neither of the first two happened
        assert await offers.get("o1") == {"state": "pending"}
        assert [c.id for c in (await alice.credentials.list()).items] == [cred(1).id]
        with pytest.raises(RuntimeError):  # a block that raises writes nothing
            async with alice.atomic() as tx:
                await tx.credentials.put(cred(3))
                raise RuntimeError("changed my mind")
        assert await alice.credentials.count() == 1
        async with alice.atomic() as tx:
            await tx.records("offer").delete("o1")
            await tx.credentials.put(cred(2))
            await tx.records("offer").put("o2", {"state": "x"}, overwrite=True)
            await tx.credentials.replace(dataclasses.replace(cred(1), status="revoked"))
        assert await offers.list() == [("o2", {"state": "x"})]
        assert (await alice.credentials.get(cred(1).id)).status == "revoked"
        assert await alice.credentials.count() == 2

    async def test_errors(self, alice: LearnerVault) -> None:
        await alice.credentials.put(cred(1))
        with pytest.raises(Conflict):
            await alice.credentials.put(cred(1))
        with pytest.raises(NotFound):
            await alice.credentials.get("urn:uuid:nope")
        with pytest.raises(NotFound):
            await alice.credentials.delete("urn:uuid:nope")
        with pytest.raises(NotFound):
            await alice.credentials.replace(cred(2))
        with pytest.raises(BadInput):
            await alice.credentials.get("")

    async def test_delete_count_all(self, alice: LearnerVault) -> None:
        for n in range(5):
            await alice.credentials.put(cred(n))
        assert await alice.credentials.count() == 5
        await alice.credentials.delete(cred(2).id)
        assert await alice.credentials.count() == 4
        everything = await alice.credentials.all()
        assert [c.id for c in everything] == [cred(n).id for n in (4, 3, 1, 0)]
        with pytest.raises(NotFound):
            await alice.credentials.get(cred(2).id)

    async def test_replace_updates_status_and_index(self, alice: LearnerVault) -> None:
        await alice.credentials.put(cred(1))
        moved = dataclasses.replace(cred(1, issuer="https://other.example"), status="revoked")
        await alice.credentials.replace(moved)
        assert (await alice.credentials.get(moved.id)).status == "revoked"
        assert await alice.credentials.count() == 1
        by_old = await alice.credentials.list(CredentialQuery(issuer="https://uni.example"))
        by_new = await alice.credentials.list(CredentialQuery(issuer="https://other.example"))
        assert by_old.items == [] and [c.id for c in by_new.items] == [moved.id]

    async def test_list_order_newest_first_ties_by_id(self, alice: LearnerVault) -> None:
        same = T0 + timedelta(hours=5)
        for n in (3, 1, 2):
            await alice.credentials.put(cred(n, added=same))
        await alice.credentials.put(cred(9, added=T0))
        await alice.credentials.put(cred(7, added=T0 + timedelta(days=1)))
        page = await alice.credentials.list()
        assert [c.id for c in page.items] == [cred(n).id for n in (7, 1, 2, 3, 9)]
        assert page.next_cursor is None

    async def test_list_order_is_sort_keys_across_utc_offsets(self, alice: LearnerVault) -> None:
        """The page sorts by instant, as sort_key counts it, whatever offset a time was written
        with (the same instant at two offsets ties, and goes by id)."""
        plus2 = timezone(timedelta(hours=2))
        times = {1: T0, 2: T0.astimezone(plus2), 3: (T0 + timedelta(minutes=30)).astimezone(plus2),
                 4: T0 + timedelta(minutes=90), 5: T0 - timedelta(microseconds=1)}
        for n, added in times.items():
            await alice.credentials.put(cred(n, added=added))
        want = sorted((cred(n, added=a) for n, a in times.items()), key=sort_key)
        for page in (await alice.credentials.list(), await alice.credentials.list_summaries()):
            assert [c.id for c in page.items] == [c.id for c in want]

    async def test_pagination_walks_everything_once(self, alice: LearnerVault) -> None:
        for n in range(23):
            await alice.credentials.put(cred(n, added=T0 + timedelta(minutes=n // 2)))
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await alice.credentials.list(limit=5, cursor=cursor)
            assert len(page.items) <= 5
            seen += [c.id for c in page.items]
            pages += 1
            cursor = page.next_cursor
            if cursor is None:
                break
        assert pages == 5
        assert seen == [c.id for c in await alice.credentials.all()]
        assert len(set(seen)) == 23

    async def test_cursor_is_opaque_and_tamper_evident(self, alice: LearnerVault) -> None:
        for n in range(4):
            await alice.credentials.put(cred(n))
        page = await alice.credentials.list(limit=2)
        cursor = page.next_cursor
        assert cursor is not None and "cred" not in cursor
        raw = bytearray(b64url_decode(cursor))
        raw[-3] ^= 1
        for bad in (b64url_encode(bytes(raw)), cursor + "A", "%%%", "", cursor[:10]):
            with pytest.raises(BadInput):
                await alice.credentials.list(limit=2, cursor=bad)
        with pytest.raises(BadInput):  # a cursor only works for the query it came from
            await alice.credentials.list(CredentialQuery(format="jwt_vc_json"), limit=2,
                                         cursor=cursor)
        for limit in (0, -1, 10_000):
            with pytest.raises(BadInput):
                await alice.credentials.list(limit=limit)

    async def test_filters(self, alice: LearnerVault) -> None:
        await alice.credentials.put(cred(1, fmt="dc+sd-jwt", types=("urn:eu:diploma",),
                                         issuer="https://a.example", title="Master in Law"))
        await alice.credentials.put(cred(2, types=(VC, OB), issuer="https://b.example",
                                         title="Python basics", search_text="ESCO: programming"))
        await alice.credentials.put(cred(3, types=(VC, "EuropeanDigitalCredential"),
                                         fmt="ldp_vc", issuer="https://a.example", title="Law"))

        async def ids(**q: str) -> list[int]:
            page = await alice.credentials.list(CredentialQuery(**q))
            return sorted(int(c.id[-4:]) for c in page.items)

        assert await ids() == [1, 2, 3]
        assert await ids(format="dc+sd-jwt") == [1]
        assert await ids(type=VC) == [2, 3]
        assert await ids(type=OB) == [2]
        assert await ids(type="OpenBadge") == []  # exact, not prefix
        assert await ids(issuer="https://a.example") == [1, 3]
        assert await ids(issuer="https://a.example", type=VC) == [3]
        assert await ids(issuer="https://a.example", format="ldp_vc", type=VC) == [3]
        assert await ids(text="law") == [1, 3]
        assert await ids(text="PROGRAMMING") == [2]  # data["search_text"]
        assert await ids(text="b.example") == [2]
        assert await ids(text="europeandigital") == [3]
        assert await ids(text="law", format="dc+sd-jwt") == [1]
        assert await ids(text="nothing like it") == []

    async def test_holder_keys(self, alice: LearnerVault) -> None:
        assert await alice.holder_keys.list() == []
        es, ed = generate_holder_key("ES256"), generate_holder_key("EdDSA")
        await alice.holder_keys.put(es)
        await alice.holder_keys.put(ed)
        with pytest.raises(Conflict):
            await alice.holder_keys.put(es)
        got = await alice.holder_keys.get(es.kid)
        assert (got.kid, got.did, got.alg) == (es.kid, es.did, "ES256")
        assert verify_raw("ES256", public_key_from_jwk(es.public_jwk), b"m", got.sign(b"m"))
        assert {k.kid for k in await alice.holder_keys.list()} == {es.kid, ed.kid}
        with pytest.raises(NotFound):
            await alice.holder_keys.get("unknown-kid")
        await alice.holder_keys.delete(ed.kid)
        assert [k.kid for k in await alice.holder_keys.list()] == [es.kid]
        assert await alice.credentials.count() == 0  # categories do not mix

    async def test_sealed_records(self, alice: LearnerVault) -> None:
        inbox = alice.records("inbox")
        await inbox.put("i1", {"offer": "x", "n": 1}, index={"state": "pending", "from": "uni"})
        await inbox.put("i2", {"offer": "y"}, index={"state": "pending", "from": "college"})
        await inbox.put("i3", {"offer": "z"}, index={"state": "accepted", "from": "uni"})
        with pytest.raises(Conflict):
            await inbox.put("i1", {})
        assert await inbox.get("i1") == {"offer": "x", "n": 1}
        assert [i for i, _ in await inbox.find(state="pending")] == ["i1", "i2"]
        assert await inbox.find(state="pending", **{"from": "uni"}) == [("i1", {"offer": "x",
                                                                               "n": 1})]
        assert await inbox.find(state="rejected") == []
        assert [i for i, _ in await inbox.list()] == ["i1", "i2", "i3"]
        await inbox.replace("i1", {"offer": "x", "n": 2}, index={"state": "accepted"})
        assert [i for i, _ in await inbox.find(state="accepted")] == ["i1", "i3"]
        await inbox.put("i1", {"gone": True}, overwrite=True)
        await inbox.put("i4", {"new": True}, overwrite=True)
        assert await inbox.get("i1") == {"gone": True}
        assert await inbox.count() == 4
        await inbox.delete("i2")
        with pytest.raises(NotFound):
            await inbox.get("i2")
        with pytest.raises(NotFound):
            await inbox.delete("i2")
        with pytest.raises(NotFound):
            await inbox.replace("i2", {})
        # another category with the same ids and index values sees nothing of these
        assert await alice.records("offers").list() == []
        assert await alice.records("offers").find(state="accepted") == []

    async def test_numbered_records(self, alice: LearnerVault) -> None:
        """Each numbered record takes its counter's next number in its own transaction: one at a
        time, several in one atomic block (in order), all or nothing, never a number twice."""
        log = alice.records("log")
        await log.put_numbered("e0", lambda n: {"n": n}, counter="log-seq")
        async with alice.atomic() as tx:
            for i in (1, 2):
                await tx.records("log").put_numbered(f"e{i}", lambda n: {"n": n},
                                                     counter="log-seq")
        with pytest.raises(Conflict):  # the insert fails: the counter does not move either
            await log.put_numbered("e0", lambda n: {"n": n}, counter="log-seq")
        with pytest.raises(RuntimeError):
            async with alice.atomic() as tx:
                await tx.records("log").put_numbered("e9", lambda n: {"n": n}, counter="log-seq")
                raise RuntimeError("the block fails: nothing is written")
        await asyncio.gather(*(log.put_numbered(f"e{i}", lambda n: {"n": n}, counter="log-seq")
                               for i in range(3, 9)))
        numbers = {i: b["n"] for i, b in await log.list()}
        assert sorted(numbers.values()) == list(range(9)) and "e9" not in numbers
        assert [numbers[f"e{i}"] for i in range(3)] == [0, 1, 2]
        assert await log.count() == 9  # the counter lives in its own category
        assert [b for _, b in await alice.records("log-seq").list()] == [{"next": 9}]

    async def test_numbered_records_tell_what_their_category_held(
            self, alice: LearnerVault) -> None:
        """``counted``: the records of the category when the number was taken, the record
        itself not included (inside one block, the ones it inserted before count)."""
        log, seen = alice.records("log"), list[int]()
        await log.put_numbered("e0", lambda n: {"n": n}, counter="log-seq", counted=seen.append)
        await log.put_numbered("e1", lambda n: {"n": n}, counter="log-seq", counted=seen.append)
        async with alice.atomic() as tx:
            for i in (2, 3):
                await tx.records("log").put_numbered(f"e{i}", lambda n: {"n": n},
                                                     counter="log-seq", counted=seen.append)
        await log.delete("e0")
        await log.delete("e1")
        await log.put_numbered("e4", lambda n: {"n": n}, counter="log-seq", counted=seen.append)
        assert seen == [0, 1, 2, 3, 2]

    async def test_reads_in_one_session(self, alice: LearnerVault) -> None:
        """:meth:`LearnerVault.reading`: the same answers as outside it; writes through it are
        made as outside it."""
        key = generate_holder_key()
        await alice.holder_keys.put(key)
        await alice.records("offers").put("o1", {"a": 1}, index={"state": "new"})
        async with alice.reading() as r:
            assert await r.records("offers").get("o1") == {"a": 1}
            assert await r.records("offers").find(state="new") == [("o1", {"a": 1})]
            assert [k.kid for k in await r.holder_keys.list()] == [key.kid]
            assert await r.records("offers").count() == 1
            with pytest.raises(NotFound):
                await r.records("offers").get("o2")
            await r.records("offers").put("o2", {"b": 2})
            assert await r.records("offers").get("o2") == {"b": 2}
        assert [i for i, _ in await alice.records("offers").list()] == ["o1", "o2"]

    async def test_record_input_checks(self, alice: LearnerVault) -> None:
        for bad_category in ("", "Inbox", "../x", "a" * 65, "~plain"):
            with pytest.raises(BadInput):
                alice.records(bad_category)
        recs = alice.records("settings")
        with pytest.raises(BadInput):
            await recs.put("s", {"x": 1}, index={"~plain": "v"})
        with pytest.raises(BadInput):
            await recs.put("s", {"x": {1, 2}})
        with pytest.raises(BadInput):
            await recs.find()
        with pytest.raises(BadInput):
            await recs.put("s", {"x": float("nan")})

    async def test_learners_are_isolated(self, store: VaultBackend, alice: LearnerVault) -> None:
        await store.create_profile("bob")
        dek = VaultKey.generate()
        bob = store.for_learner("bob", dek)
        await alice.credentials.put(cred(1))
        await alice.records("inbox").put("i", {"a": 1}, index={"k": "v"})
        assert await bob.credentials.count() == 0
        assert (await bob.credentials.list()).items == []
        with pytest.raises(NotFound):
            await bob.credentials.get(cred(1).id)
        assert await bob.records("inbox").list() == []
        await bob.credentials.put(cred(1, title="Bob's"))  # same id, no conflict across learners
        assert (await alice.credentials.get(cred(1).id)).title == "Badge 1"
        # even with the *same* DEK, profiles do not see each other
        await store.create_profile("carol")
        carol = store.for_learner("carol", dek)
        assert (await carol.credentials.list()).items == []

    async def test_wrong_dek_cannot_open(self, store: VaultBackend, alice: LearnerVault) -> None:
        await alice.credentials.put(cred(1))
        await alice.holder_keys.put(generate_holder_key())
        await alice.records("inbox").put("i", {"a": 1}, index={"k": "v"})
        intruder = store.for_learner("alice", VaultKey.generate())
        with pytest.raises(DecryptionFailed):
            await intruder.credentials.get(cred(1).id)
        with pytest.raises(DecryptionFailed):
            await intruder.credentials.list()
        with pytest.raises(DecryptionFailed):
            await intruder.holder_keys.list()
        with pytest.raises(DecryptionFailed):
            await intruder.records("inbox").get("i")
        # blinded tags do not match under another key: filters find nothing rather than rows
        assert (await intruder.credentials.list(CredentialQuery(type=OB))).items == []
        assert await intruder.records("inbox").find(k="v") == []

    async def test_profiles(self, store: VaultBackend) -> None:
        await store.create_profile("dave")
        with pytest.raises(Conflict):
            await store.create_profile("dave")
        dave = store.for_learner("dave", VaultKey.generate())
        await dave.credentials.put(cred(1))
        await store.remove_profile("dave")
        with pytest.raises(NotFound):
            await store.remove_profile("dave")
        ghost = store.for_learner("nobody", VaultKey.generate())
        for op in (ghost.credentials.count(), ghost.credentials.put(cred(1)),
                   ghost.credentials.list(), dave.credentials.get(cred(1).id)):
            with pytest.raises(NotFound):
                await op
        await store.create_profile("dave")  # a removed learner id can start again, empty
        assert await store.for_learner("dave", VaultKey.generate()).credentials.count() == 0

    async def test_summaries_match_records(self, alice: LearnerVault) -> None:
        for n in range(7):
            await alice.credentials.put(cred(n, added=T0 + timedelta(minutes=n // 2),
                                             search_text=f"skill {n}", claims={"secret": n}))
        full = await alice.credentials.list(limit=3)
        page = await alice.credentials.list_summaries(limit=3)
        assert page.items == [c.summary() for c in full.items]
        assert page.items[0].search_text == "skill 6"
        assert not hasattr(page.items[0], "raw") and not hasattr(page.items[0], "data")
        # cursors are interchangeable between the two
        assert page.next_cursor is not None and full.next_cursor is not None
        rest = await alice.credentials.list(limit=10, cursor=page.next_cursor)
        rest_s = await alice.credentials.list_summaries(limit=10, cursor=full.next_cursor)
        assert [c.id for c in rest.items] == [c.id for c in rest_s.items]
        assert len(rest.items) == 4 and rest.next_cursor is None
        assert [c.id for c in (await alice.credentials.list_summaries(
            CredentialQuery(text="SKILL 2"))).items] == [cred(2).id]

    async def test_summaries_follow_every_write(self, alice: LearnerVault) -> None:
        await alice.credentials.put(cred(1))
        await alice.credentials.put(cred(2))
        await alice.credentials.replace(dataclasses.replace(cred(1), title="Renamed",
                                                            status="revoked"))
        s = {c.id: c for c in (await alice.credentials.list_summaries()).items}
        assert (s[cred(1).id].title, s[cred(1).id].status) == ("Renamed", "revoked")
        await alice.credentials.delete(cred(2).id)
        assert [c.id for c in (await alice.credentials.list_summaries()).items] == [cred(1).id]

    async def test_values_in_the_earlier_layout_still_open(self, store: VaultBackend) -> None:
        """Records sealed whole (before summaries existed) are listed, read and replaced."""
        await store.create_profile("olga")
        dek = VaultKey.generate()
        olga = store.for_learner("olga", dek)
        await olga.credentials.put(cred(1))
        rs = olga._store
        old = cred(2, title="Old one", search_text="legacy skill", claims={"a": 1})
        await rs.insert("credential", old.id, dek.seal(
            old.to_bytes(), b"satchel/vault/v1\x00credential\x00" + old.id.encode()),
            olga.credentials._tags(old))
        page = await olga.credentials.list_summaries(CredentialQuery(text="legacy"))
        assert page.items == [old.summary()]
        assert await olga.credentials.get(old.id) == old
        assert [c.id for c in (await olga.credentials.list(CredentialQuery(type=OB))).items] == [
            old.id, cred(1).id]
        await olga.credentials.replace(dataclasses.replace(old, status="revoked"))
        blob = await rs.fetch("credential", old.id)
        assert blob is not None and blob.startswith(b"SCv2")  # rewritten in the new layout
        assert (await olga.credentials.list_summaries()).items[0].status == "revoked"

    async def test_summary_rows_are_written_with_their_credential(self,
                                                                  alice: LearnerVault) -> None:
        """Each credential's sealed summary is also a row of its own (what an unfiltered list
        reads), put, replaced and removed in the credential's own transaction."""
        rs = alice._store

        async def summary_rows() -> dict[str, bytes]:
            return dict(await rs.fetch_all(SUMMARIES))

        await alice.credentials.put(cred(1))
        await alice.credentials.put(cred(2))
        row = await rs.fetch("credential", cred(1).id)
        assert row is not None
        rows = await summary_rows()
        assert set(rows) == {cred(1).id, cred(2).id}
        assert row[8:8 + len(rows[cred(1).id])] == rows[cred(1).id]  # the same sealed summary
        with pytest.raises(Conflict):  # a duplicate leaves the first summary row alone
            await alice.credentials.put(cred(1, title="Other"))
        assert (await summary_rows())[cred(1).id] == rows[cred(1).id]
        await alice.credentials.replace(dataclasses.replace(cred(1), status="revoked"))
        assert (await summary_rows())[cred(1).id] != rows[cred(1).id]
        with pytest.raises(NotFound):
            await alice.credentials.replace(cred(3))
        await alice.credentials.delete(cred(2).id)
        assert set(await summary_rows()) == {cred(1).id}
        with pytest.raises(NotFound):
            await alice.credentials.delete(cred(2).id)
        # a failed transaction writes neither row
        with pytest.raises(Conflict):
            async with alice.atomic() as tx:
                await tx.credentials.put(cred(4))
                await tx.credentials.put(cred(1))
        assert set(await summary_rows()) == {cred(1).id}
        assert await alice.credentials.count() == 1

    async def test_unfiltered_lists_read_only_the_summary_rows(self, alice: LearnerVault,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
        for n in range(5):
            await alice.credentials.put(cred(n, search_text=f"skill {n}"))
        rs = alice._store
        read = _watch_fetch_all(rs, monkeypatch)
        first = await alice.credentials.list_summaries(limit=3)  # completes the summary rows
        assert read == [SUMMARIES, "credential"]
        assert (await rs.fetch(SUMMARIES, "")) is not None
        read.clear()
        again = await alice.credentials.list_summaries(limit=3)
        assert read == [SUMMARIES] and again == first
        assert [c.id for c in first.items] == [cred(n).id for n in (4, 3, 2)]
        rest = await alice.credentials.list_summaries(cursor=first.next_cursor)
        assert [c.id for c in rest.items] == [cred(1).id, cred(0).id]
        assert rest.next_cursor is None
        assert [c.id for c in (await alice.credentials.list_summaries(
            CredentialQuery(text="SKILL 3"))).items] == [cred(3).id]
        read.clear()  # a filter narrows the credential rows by their blinded tags instead
        assert len((await alice.credentials.list_summaries(CredentialQuery(type=OB))).items) == 5
        assert read == ["credential"]

    async def test_summary_rows_are_completed_for_an_earlier_vault(self,
                                                                   store: VaultBackend) -> None:
        """A vault written before summary rows (whole records and summary-first rows alike) is
        listed from its credential rows, then given its summary rows in one transaction."""
        await store.create_profile("olga")
        dek = VaultKey.generate()
        olga = store.for_learner("olga", dek)
        rs = olga._store
        old = cred(1, title="Old one", search_text="legacy skill")
        await rs.insert("credential", old.id, dek.seal(
            old.to_bytes(), b"satchel/vault/v1\x00credential\x00" + old.id.encode()),
            olga.credentials._tags(old))
        packed = cred(2)
        await olga.credentials.put(packed)
        await rs.remove(SUMMARIES, packed.id)  # as a summary-first row was written before
        gone = cred(3)
        await olga.credentials.put(gone)
        await rs.remove("credential", gone.id)  # a summary row left without its credential
        stale = cred(4)
        await olga.credentials.put(stale)
        before = await rs.fetch(SUMMARIES, stale.id)
        assert before is not None
        stale = dataclasses.replace(stale, status="revoked")
        await olga.credentials.replace(stale)
        await rs.replace(SUMMARIES, stale.id, before, {})  # a summary row behind its credential
        want = [stale.summary(), packed.summary(), old.summary()]
        assert (await olga.credentials.list_summaries()).items == want
        assert set(dict(await rs.fetch_all(SUMMARIES))) == {"", old.id, packed.id, stale.id}
        assert (await olga.credentials.list_summaries()).items == want  # from the summary rows
        await olga.credentials.delete(old.id)
        assert (await olga.credentials.list_summaries()).items == want[:2]

    async def test_write_mode_lists_the_credential_rows_and_writes_no_marker(
            self, alice: LearnerVault, monkeypatch: pytest.MonkeyPatch) -> None:
        """Phase 1 of the upgrade (SATCHEL_SUMMARY_ROWS=write): the summary rows follow every
        write, but lists read the credential rows and never write the marker."""
        w = LearnerVault("alice", alice._store, alice._dek, summary_rows="write")
        for n in range(3):
            await w.credentials.put(cred(n))
        async with w.atomic() as tx:
            await tx.credentials.put(cred(3))
        await w.credentials.replace(dataclasses.replace(cred(1), status="revoked"))
        await w.credentials.delete(cred(0).id)
        rs = alice._store
        assert set(dict(await rs.fetch_all(SUMMARIES))) == {cred(n).id for n in (1, 2, 3)}
        await rs.remove(SUMMARIES, cred(2).id)  # a summary row missing: the list does not care
        fetch_all = type(rs).fetch_all
        read = _watch_fetch_all(rs, monkeypatch)
        page = await w.credentials.list_summaries(limit=2)
        assert [c.id for c in page.items] == [cred(3).id, cred(2).id]
        rest = await w.credentials.list_summaries(cursor=page.next_cursor)
        assert rest.items == [dataclasses.replace(cred(1), status="revoked").summary()]
        assert read == ["credential", "credential"]
        assert await rs.fetch(SUMMARIES, "") is None  # no marker: nothing is completed
        assert set(dict(await fetch_all(rs, SUMMARIES))) == {cred(1).id, cred(3).id}

    @pytest.mark.parametrize("writer", ["old release", "new release"])
    async def test_rolling_upgrade_through_write_then_read(self, store: VaultBackend,
                                                           writer: str) -> None:
        """Replicas of the earlier release (credential rows without summary rows) and of this
        one in ``write`` mode serve the same learner; once every replica reads (``read``), the
        first list repairs the summary rows and every list names exactly the credentials."""
        await store.create_profile("olga")
        dek = VaultKey.generate()
        w = store.for_learner("olga", dek)
        w = LearnerVault("olga", w._store, dek, summary_rows="write")  # a new replica, phase 1
        rs = w._store

        async def old_put(c: StoredCredential) -> None:  # what the earlier release wrote
            await rs.insert("credential", c.id, w.credentials._seal(c)[1], w.credentials._tags(c))

        async def old_replace(c: StoredCredential) -> None:
            await rs.replace("credential", c.id, w.credentials._seal(c)[1], w.credentials._tags(c))

        want: dict[str, StoredCredential] = {}

        async def listed(v: LearnerVault) -> list[CredentialSummary]:
            return (await v.credentials.list_summaries()).items

        def expected() -> list[CredentialSummary]:
            return sorted((c.summary() for c in want.values()), key=lambda c: c.id, reverse=True)

        for n in range(1, 4):
            await w.credentials.put(cred(n))
            want[cred(n).id] = cred(n)
        assert await listed(w) == expected()
        await old_put(cred(4))  # inserted by an earlier replica: no summary row
        want[cred(4).id] = cred(4)
        assert await listed(w) == expected()
        await rs.remove("credential", cred(2).id)  # deleted by an earlier replica: the summary
        del want[cred(2).id]  # row stays behind
        assert await listed(w) == expected()
        revoked = dataclasses.replace(cred(3), status="revoked")
        await old_replace(revoked)  # replaced by an earlier replica: the summary row is stale
        want[revoked.id] = revoked
        assert await listed(w) == expected()
        if writer == "new release":  # this release writes over what the earlier one left
            await w.credentials.replace(dataclasses.replace(cred(4), status="suspended"))
            want[cred(4).id] = dataclasses.replace(cred(4), status="suspended")
            await w.credentials.put(cred(5))
            want[cred(5).id] = cred(5)
            await w.credentials.delete(cred(1).id)
            del want[cred(1).id]
        assert await listed(w) == expected()
        assert await rs.fetch(SUMMARIES, "") is None
        # phase 2: no earlier replica is left; every replica now reads the summary rows
        r = LearnerVault("olga", rs, dek, summary_rows="read")
        assert await listed(r) == expected()  # from the credential rows, then repaired
        assert await rs.fetch(SUMMARIES, "") is not None
        summaries = dict(await rs.fetch_all(SUMMARIES))
        assert set(summaries) == {"", *want}
        assert [r.credentials._open_summary_row(i, summaries[i]) for i in sorted(want)] == [
            want[i].summary() for i in sorted(want)]
        assert await listed(r) == expected()  # from the summary rows alone
        await w.credentials.delete(cred(4).id)  # a replica still in write mode keeps them right
        del want[cred(4).id]
        await r.credentials.put(cred(6))
        want[cred(6).id] = cred(6)
        assert await listed(r) == expected() == await listed(w)

    async def test_summary_rows_are_not_completed_over_a_change(self,
                                                                alice: LearnerVault) -> None:
        """The completing transaction commits only if every credential row is still as read."""
        await alice.credentials.put(cred(1))
        await alice.credentials.put(cred(2))
        rs = alice._store
        await rs.remove(SUMMARIES, cred(1).id)
        await rs.remove(SUMMARIES, cred(2).id)
        summary_rows = await rs.fetch_all(SUMMARIES)
        rows = await rs.fetch_all("credential")
        await alice.credentials.replace(dataclasses.replace(cred(1), status="revoked"))
        await alice.credentials._complete_summaries(summary_rows, rows)  # too late: nothing
        assert dict(await rs.fetch_all(SUMMARIES)).keys() == {cred(1).id}
        await alice.credentials.delete(cred(1).id)
        await alice.credentials._complete_summaries(summary_rows, rows)
        assert await rs.fetch_all(SUMMARIES) == []
        assert [c.id for c in (await alice.credentials.list_summaries()).items] == [cred(2).id]
        assert set(dict(await rs.fetch_all(SUMMARIES))) == {"", cred(2).id}

    async def test_expect_guards_a_transaction(self, alice: LearnerVault) -> None:
        rs = alice._store
        await rs.insert("x", "a", b"one", {})
        await rs.apply([Write("expect", "x", "a", b"one"), Write("expect", "x", "b"),
                        Write("insert", "x", "c", b"three"), Write("discard", "x", "none")])
        assert await rs.fetch("x", "c") == b"three"
        for guard in (Write("expect", "x", "a", b"two"), Write("expect", "x", "a"),
                      Write("expect", "x", "b", b"one")):
            with pytest.raises(Conflict):
                await rs.apply([Write("insert", "x", "d", b"four"), guard])
            assert await rs.fetch("x", "d") is None

    async def test_a_bad_completion_marker_is_not_trusted(self, store: VaultBackend) -> None:
        await store.create_profile("pia")
        dek = VaultKey.generate()
        pia = store.for_learner("pia", dek)
        await pia.credentials.put(cred(1))
        await pia.credentials.list_summaries()  # completes
        await store.create_profile("quinn")
        quinn = store.for_learner("quinn", VaultKey.generate())
        await quinn.credentials.list_summaries()  # completes an empty vault
        rs = pia._store
        await rs.remove(SUMMARIES, cred(1).id)
        marker = await quinn._store.fetch(SUMMARIES, "")
        assert marker is not None
        await rs.replace(SUMMARIES, "", marker, {})  # another learner's marker does not open
        assert [c.id for c in (await pia.credentials.list_summaries()).items] == [cred(1).id]
        assert set(dict(await rs.fetch_all(SUMMARIES))) == {"", cred(1).id}

    async def test_halves_are_bound_to_their_id_and_write(self, alice: LearnerVault) -> None:
        await alice.credentials.put(cred(1))
        await alice.credentials.put(cred(2))
        rs = alice._store
        one, two = [await rs.fetch("credential", cred(n).id) for n in (1, 2)]
        assert isinstance(one, bytes) and isinstance(two, bytes)
        await rs.replace("credential", cred(2).id, one, {})
        with pytest.raises(DecryptionFailed):  # a whole value moved under another id
            await alice.credentials.list_summaries()
        with pytest.raises(DecryptionFailed):
            await alice.credentials.get(cred(2).id)
        # an older write's summary spliced onto a newer write's record: the record refuses
        await rs.replace("credential", cred(2).id, two, {})
        await alice.credentials.replace(dataclasses.replace(cred(2), status="revoked"))
        newer = await rs.fetch("credential", cred(2).id)
        assert newer is not None
        n_old, n_new = (int.from_bytes(b[4:8], "big") for b in (two, newer))
        spliced = two[:8 + n_old] + newer[8 + n_new:]
        await rs.replace("credential", cred(2).id, spliced, {})
        with pytest.raises(DecryptionFailed):
            await alice.credentials.get(cred(2).id)
        for bad in (b"SCv2", b"SCv2\x00\x00\x00\xff" + one[8:], one[:-1], b"", b"x" * 40):
            await rs.replace("credential", cred(2).id, bad, {})
            with pytest.raises(DecryptionFailed):
                await alice.credentials.list_summaries()
        # a summary row moved under another id does not open either
        await rs.replace("credential", cred(2).id, two, {})
        assert len((await alice.credentials.list_summaries()).items) == 2  # summary rows now
        s1 = await rs.fetch(SUMMARIES, cred(1).id)
        assert s1 is not None
        await rs.replace(SUMMARIES, cred(2).id, s1, {})
        with pytest.raises(DecryptionFailed):
            await alice.credentials.list_summaries()

    async def test_an_unchanged_summary_is_opened_once(self, alice: LearnerVault,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
        """A list opens only the summaries written since the last one (the process keeps what
        it opened, keyed by DEK, name and sealed bytes); nothing opened under one DEK serves
        another."""
        for n in (1, 2, 3):
            await alice.credentials.put(cred(n))
        first = await alice.credentials.list_summaries()  # opens them, completes the rows
        opened: list[bytes] = []
        parse = CredentialSummary.from_bytes
        monkeypatch.setattr(CredentialSummary, "from_bytes",
                            lambda blob: opened.append(blob) or parse(blob))
        assert await alice.credentials.list_summaries() == first  # from the summary rows
        assert opened == []
        await alice.credentials.replace(dataclasses.replace(cred(2), status="revoked"))
        page = await alice.credentials.list_summaries()
        assert len(opened) == 1  # the rewritten summary, and only it
        assert [c.status for c in page.items] == ["valid", "revoked", "valid"]
        intruder = LearnerVault("alice", alice._store, VaultKey.generate())
        with pytest.raises(DecryptionFailed):
            await intruder.credentials.list_summaries()

    async def test_closed_store_is_unavailable(self, store: VaultBackend) -> None:
        await store.create_profile("erin")
        erin = store.for_learner("erin", VaultKey.generate())
        await store.close()
        with pytest.raises(Unavailable):
            await store.ping()
        with pytest.raises(Unavailable):
            await erin.credentials.count()


class TestInMemoryVault(VaultContract):
    @pytest.fixture
    async def store(self) -> AsyncIterator[VaultBackend]:
        s = InMemoryVault()
        yield s
        await s.close()


class TestAskarVault(VaultContract):
    @pytest.fixture
    async def store(self, backend: Backend) -> AsyncIterator[VaultBackend]:
        s = await VaultStore.open(backend.vault_uri, generate_store_key())
        yield s
        await s.close()


async def test_a_backend_hands_its_summary_rows_mode_to_every_learner(backend: Backend) -> None:
    askar = await VaultStore.open(backend.vault_uri, generate_store_key(), summary_rows="write")
    memory = InMemoryVault(summary_rows="write")
    try:
        for store in (askar, memory, InMemoryVault()):
            await store.create_profile("ruth")
            ruth = store.for_learner("ruth", VaultKey.generate())
            await ruth.credentials.put(cred(1))
            assert [c.id for c in (await ruth.credentials.list_summaries()).items] == [cred(1).id]
            async with ruth.atomic() as tx:
                assert tx.credentials.summary_rows == ruth.credentials.summary_rows
            marker = await ruth._store.fetch(SUMMARIES, "")
            assert (marker is None) == (store in (askar, memory))  # write mode: no marker
    finally:
        await askar.close()
    with pytest.raises(BadInput):
        InMemoryVault(summary_rows="both")  # type: ignore[arg-type]
    with pytest.raises(BadInput):
        await VaultStore.open(backend.vault_uri, generate_store_key(),
                              summary_rows="Read")  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# At rest


def _forms(canary: str) -> set[bytes]:
    """The canary in plain text, and every base64 / base64url alignment of it."""
    raw = canary.encode()
    out = {raw}
    for shift in range(3):
        enc = base64.b64encode(b"\0" * shift + raw).decode()
        start, end = (shift * 4 + 2) // 3, ((shift + len(raw)) // 3) * 4
        frag = enc[start:end]
        out |= {frag.encode(), frag.replace("+", "-").replace("/", "_").encode()}
    return out


CANARIES = {
    "raw": "CANARY-RAW-7f3a9c1e5b2d4f60",
    "claim": "CANARY-CLAIM-Grace-Hopper-1906",
    "title": "CANARY-TITLE-MSc-Cryptography",
    "issuer": "https://canary-issuer-4b1d.example",
    "type": "CanaryTypeCredential9e2f",
    "search": "CANARY-SEARCH-esco-skill-0042",
    "record": "CANARY-RECORD-share-link-1a2b",
}


async def _fill_with_canaries(store: VaultStore) -> None:
    await store.create_profile("canary-learner")
    vault = store.for_learner("canary-learner", VaultKey.generate())
    c = StoredCredential(
        id="urn:uuid:canary", format="jwt_vc_json", raw=f"eyJ.{CANARIES['raw']}.sig",
        types=(VC, CANARIES["type"]), issuer=CANARIES["issuer"], title=CANARIES["title"],
        issued_at=T0, expires_at=None, status="valid", added_at=T0,
        data={"claims": {"name": CANARIES["claim"]}, "search_text": CANARIES["search"]},
    )
    await vault.credentials.put(c)
    await vault.records("share_links").put("s1", {"note": CANARIES["record"]},
                                           index={"issuer": CANARIES["issuer"]})
    # sanity: the canaries are really in there, and searchable while unlocked
    assert (await vault.credentials.get(c.id)).raw == c.raw
    assert len((await vault.credentials.list(CredentialQuery(type=CANARIES["type"]))).items) == 1


def _hits(blob: bytes) -> list[str]:
    return [name for name, canary in CANARIES.items() if any(f in blob for f in _forms(canary))]


def test_canary_forms_detect_encodings() -> None:
    """The detector itself: it finds a canary inside base64/base64url of a longer text."""
    text = ("xx" + CANARIES["claim"] + "yy").encode()
    for shift in range(3):
        padded = b"a" * shift + text
        assert _hits(base64.b64encode(padded)) == ["claim"]
        assert _hits(base64.urlsafe_b64encode(padded)) == ["claim"]
    assert _hits(b"nothing") == []


async def test_no_canary_at_rest_sqlite(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    store = await VaultStore.open(f"sqlite://{data}/vault.db", load_or_create_store_key(data))
    await _fill_with_canaries(store)
    await store.close()
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any(p.name == "vault.db" for p in files)
    assert sum(p.stat().st_size for p in files) > 10_000
    for p in files:
        assert _hits(p.read_bytes()) == [], p.name


async def test_no_canary_at_rest_backend(backend: Backend) -> None:
    store = await VaultStore.open(backend.vault_uri, generate_store_key())
    await _fill_with_canaries(store)
    await store.close()
    if backend.kind == "sqlite":
        blobs = [p.read_bytes() for p in backend.data_dir.rglob("*") if p.is_file()]
    else:
        proc = await asyncio.create_subprocess_exec(
            "pg_dump", "-h", "127.0.0.1", "-U", "postgres", backend.pg_databases[0],
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await proc.communicate()
        assert proc.returncode == 0, err.decode()
        assert b"items" in out and b"canary-learner" in out  # it is the vault we filled
        blobs = [out]
    assert blobs
    for blob in blobs:
        assert _hits(blob) == []


async def test_store_key_alone_reveals_nothing(tmp_path: Path) -> None:
    """Someone holding the Askar store key reads sealed values and blinded tags only."""
    uri, key = f"sqlite://{tmp_path}/vault.db", generate_store_key()
    store = await VaultStore.open(uri, key)
    await _fill_with_canaries(store)
    await store.close()
    raw = await Store.open(uri, "raw", key)
    async with raw.session("canary-learner") as s:
        entries = [e for c in ("credential", "credential_summary", "rec:share_links")
                   for e in await s.fetch_all(c)]
        seen = b"".join(bytes(e.raw_value) + repr(e.tags).encode() + e.name.encode()
                        for e in entries)
    await raw.close()
    assert len(entries) == 3  # the credential, its summary row, the share link
    assert _hits(seen) == []
    assert b"VerifiableCredential" not in seen and b"jwt_vc_json" not in seen


# ---------------------------------------------------------------------------------------------
# Store keys and reopening


def test_load_or_create_store_key(tmp_path: Path) -> None:
    data = tmp_path / "fresh"
    key = load_or_create_store_key(data)
    path = data / "store.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_store_key(data) == key
    assert key != load_or_create_store_key(tmp_path / "other")
    os.chmod(path, 0o644)
    assert load_or_create_store_key(data) == key
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("")
    with pytest.raises(Unavailable):
        load_or_create_store_key(data)


async def test_reopen_needs_the_same_store_key(tmp_path: Path) -> None:
    uri, key = f"sqlite://{tmp_path}/vault.db", generate_store_key()
    dek = VaultKey.generate()
    store = await VaultStore.open(uri, key)
    await store.create_profile("l")
    await store.for_learner("l", dek).credentials.put(cred(1))
    await store.close()
    store = await VaultStore.open(uri, key, provision=False)
    assert (await store.for_learner("l", dek).credentials.get(cred(1).id)) == cred(1)
    await store.close()
    with pytest.raises(Unavailable):
        await VaultStore.open(uri, generate_store_key(), provision=False)
    with pytest.raises(NotFound):
        await VaultStore.open(f"sqlite://{tmp_path}/absent.db", key, provision=False)
    with pytest.raises(BadInput):
        await VaultStore.open(uri, "")


@pytest.mark.parametrize("plain", [
    b"", b"{}", b"[]", b"null", b'"s1"', b"\xff", b'["s1"]', b'{"v": 1}',
    b'["s1","id","f",["t"],"i",null,null,null,"valid","2026-01-01T00:00:00",null]',  # naive
    b'["s1","id","f","t","i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null]',
    b'["s1","id","f",[1],"i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null]',
    b'["s2","id","f",["t"],"i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null]',
    b'["s1","id","f",["t"],"i",7,null,null,"valid","2026-01-01T00:00:00+00:00",null]',
    b'["s1","id","f",["t"],"i",null,"soon",null,"valid","2026-01-01T00:00:00+00:00",null]',
    b'["s1","id","f",["t"],"i",null,null,null,"valid",null,null]',
    b'["s2","id","f",["t"],"i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null,7,null]',
    b'["s2","id","f",["t"],"i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null,null,1]',
    b'["s1","id","f",["t"],"i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null,"a",'
    b'"b"]',  # a v1 array is never longer than v1
    b'["s4","id","f",["t"],"i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null,null,'
    b'null,null,null]',
    b'["s3","id","f",["t"],"i",null,null,null,"valid","2026-01-01T00:00:00+00:00",null,null,'
    b'null]',  # a v3 array holds the two languages
    b'["s3","id","f",["t"],"i","T",null,null,"valid","2026-01-01T00:00:00+00:00",null,null,'
    b'null,["es"],null]',
])
def test_malformed_summaries_fail_closed(plain: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        CredentialSummary.from_bytes(plain)


def test_opened_summaries_are_bounded() -> None:
    opened: LearnerCache[bytes, CredentialSummary] = LearnerCache(2)
    summaries = [cred(n).summary() for n in (1, 2, 3)]
    kept = opened.entries("alice")
    for i, summary in enumerate(summaries):
        kept.put(bytes([i]), summary)
    assert len(opened) == 2  # the oldest went first
    assert kept.get(b"\x00") is None and kept.get(b"\x02") == summaries[2]


def test_summary_round_trip() -> None:
    s = cred(5, search_text="python").summary()
    assert CredentialSummary.from_bytes(s.to_bytes()) == s
    assert s.search_text == "python" and cred(6).summary().search_text is None


def test_summary_v2_carries_awarding_body_and_verification() -> None:
    elements = {"awarding_body": {"value": [{"id": "https://uni.example", "name": None},
                                            {"id": None, "name": "Ghent Data School"}],
                                  "coverage": "native"}}
    trusted = cred(7, elements=elements,
                   verification={"signature": "valid", "issuer_trusted": True}).summary()
    assert (trusted.awarding_body, trusted.verified) == ("Ghent Data School", "trusted")
    assert trusted.to_bytes().startswith(b'["s3",')
    assert CredentialSummary.from_bytes(trusted.to_bytes()) == trusted
    untrusted = cred(8, verification={"signature": "valid", "issuer_trusted": False}).summary()
    assert (untrusted.awarding_body, untrusted.verified) == (None, "untrusted")
    assert cred(9, verification={"signature": "no_key", "issuer_trusted": True}
                ).summary().verified == "no_key"
    assert cred(10, elements=None, verification="?").summary().verified is None
    assert CredentialSummary.from_bytes(untrusted.to_bytes()) == untrusted


def test_summary_v3_records_the_languages_of_title_and_awarding_body() -> None:
    claims = {"credentialSubject": {"achievement": {
        "name": {"es": "Análisis de datos", "en": "Data analysis"},
        "creator": {"name": [{"@value": "Universidad de Gante", "@language": "es"}]}}}}
    elements = {"awarding_body": {"value": [{"id": None, "name": "Universidad de Gante"}],
                                  "coverage": "native"}}
    s = cred(11, title="Análisis de datos", claims=claims, elements=elements,
             languages=["es", "en"]).summary()
    assert (s.title_lang, s.awarding_body_lang) == ("es", "es")
    assert CredentialSummary.from_bytes(s.to_bytes()) == s
    # a text the same in two languages: the one it was picked in (the record's languages)
    same = {"name": {"en": "Python", "es": "Python"}}
    assert cred(12, title="Python", claims=same, languages=["es"]).summary().title_lang == "es"
    assert cred(13, title="Python", claims=same, languages=["en"]).summary().title_lang == "en"
    # untagged texts (a plain string) have no language
    plain = cred(14, title="Data", claims={"name": "Data"}).summary()
    assert (plain.title_lang, plain.awarding_body_lang) == (None, None)
    # a value object's @language is kept only when it is a language tag
    odd = {"name": {"@value": "Data", "@language": "x" * 5000}}
    assert cred(15, title="Data", claims=odd).summary().title_lang is None


def test_v2_summaries_still_load() -> None:
    """Records sealed before v3 list as before: no languages of title and awarding body."""
    s = CredentialSummary.from_bytes(
        b'["s2","id","f",["t"],"i","T",null,null,"valid","2026-01-01T00:00:00+00:00","x",'
        b'"Uni","trusted"]')
    assert (s.title, s.awarding_body, s.verified) == ("T", "Uni", "trusted")
    assert (s.title_lang, s.awarding_body_lang) == (None, None)
    assert s.added_at == datetime(2026, 1, 1, tzinfo=UTC)


def test_v1_summaries_still_load() -> None:
    """Records sealed before v2 list as before: no awarding body, no verification word."""
    s = CredentialSummary.from_bytes(
        b'["s1","id","f",["t"],"i","T",null,null,"valid","2026-01-01T00:00:00+00:00","x"]')
    assert (s.id, s.issuer, s.title, s.search_text) == ("id", "i", "T", "x")
    assert (s.awarding_body, s.verified) == (None, None)
    assert s.added_at == datetime(2026, 1, 1, tzinfo=UTC)


#: A record's plaintext as Satchel sealed it before ``issuer_jwk``, ``status_refs`` and
#: ``portfolio_items`` existed (the ``data`` members were added over time; none is required).
_EARLY_RECORD = (
    b'{"v":1,"id":"urn:uuid:early","format":"jwt_vc_json","raw":"eyJhbGciOiJFUzI1NiJ9.e30.sig",'
    b'"types":["VerifiableCredential","OpenBadgeCredential"],"issuer":"did:example:uni",'
    b'"title":"Early","issued_at":"2025-01-01T00:00:00+00:00","expires_at":null,'
    b'"status":"valid","added_at":"2025-01-02T00:00:00+00:00","data":{"claims":{"a":1},'
    b'"disclosable":[],"elements":null,"languages":["en"],"search_text":"early skill",'
    b'"holder_jwk":null,"status_ref":null,"source":"import","verification":'
    b'{"signature":"valid","issuer_trusted":true,"status":"valid",'
    b'"checked_at":"2025-01-02T00:00:00Z"}}}')


def test_a_record_from_before_the_later_data_members_reads_and_keeps_its_bytes() -> None:
    from wallet.credentials import CredentialDetail

    c = StoredCredential.from_bytes(_EARLY_RECORD)
    assert "issuer_jwk" not in c.data and "status_refs" not in c.data
    assert "portfolio_items" not in c.data
    s = c.summary()
    assert (s.search_text, s.verified, s.awarding_body) == ("early skill", "trusted", None)
    assert CredentialSummary.from_bytes(s.to_bytes()) == s
    d = CredentialDetail.of(c)
    assert (d.claims, d.disclosable, d.elements) == ({"a": 1}, [], None)
    assert d.verification["signature"] == "valid"
    assert c.to_bytes() == _EARLY_RECORD  # the layout on disk did not change with the types


def test_a_record_without_data_reads_as_unchecked() -> None:
    from wallet.credentials import CredentialDetail

    start, end = _EARLY_RECORD.index(b'"data":'), len(_EARLY_RECORD) - 1
    bare = StoredCredential.from_bytes(_EARLY_RECORD[:start] + b'"data":{}' + _EARLY_RECORD[end:])
    assert bare.summary().verified is None and bare.summary().search_text is None
    d = CredentialDetail.of(bare)
    assert (d.claims, d.disclosable, d.elements) == ({}, [], None)
    assert d.verification == {"signature": "unsupported", "issuer_trusted": False,
                              "status": "valid", "checked_at": None}


def test_stored_credential_validation() -> None:
    with pytest.raises(BadInput):
        StoredCredential(id="x", format="f", raw="r", types=("t",), issuer="i", title=None,
                         issued_at=None, expires_at=None, status="valid",
                         added_at=datetime(2026, 1, 1))  # naive
    with pytest.raises(BadInput):
        StoredCredential(id="x", format="f", raw="r", types=["t"],  # type: ignore[arg-type]
                         issuer="i", title=None, issued_at=None, expires_at=None,
                         status="valid", added_at=T0)
    with pytest.raises(BadInput):
        StoredCredential(id="", format="f", raw="r", types=(), issuer="i", title=None,
                         issued_at=None, expires_at=None, status="valid", added_at=T0)
    with pytest.raises(BadInput):
        CredentialQuery(text="x" * 5000)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
async def test_cursor_parser_fails_closed(cursor: str) -> None:
    """Any client-supplied cursor string is either refused with BadInput or (never) accepted."""
    store = InMemoryVault()
    await store.create_profile("h")
    vault = store.for_learner("h", VaultKey.from_bytes(b"k" * 32))
    with pytest.raises(BadInput):
        await vault.credentials.list(cursor=cursor)


async def test_busy_writes_are_retried_then_reported() -> None:
    """A write that meets a locked SQLite database is retried; a lasting one is a 503."""
    from aries_askar import AskarError, AskarErrorCode

    from wallet.vault import askar_records as askar_mod

    calls = 0

    async def flaky() -> None:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise AskarError(AskarErrorCode.BACKEND, "database is locked")

    await askar_mod._retry(flaky)
    assert calls == 3

    async def duplicate() -> None:
        raise AskarError(AskarErrorCode.DUPLICATE, "duplicate")

    with pytest.raises(AskarError):  # not transient: straight through, for _raise to map
        await askar_mod._retry(duplicate)


def test_an_unavailable_store_is_logged_with_askar_s_reason(caplog: pytest.LogCaptureFixture) -> None:
    """The 503 says little on purpose; the log keeps Askar's code and message for the operator."""
    from aries_askar import AskarError, AskarErrorCode

    from wallet.vault import askar_records as askar_mod

    with caplog.at_level(logging.WARNING, logger="wallet.vault.askar"), \
            pytest.raises(Unavailable, match="vault store is unavailable"):
        askar_mod._raise(AskarError(AskarErrorCode.BACKEND, "pool timed out while waiting"))
    (record,) = caplog.records
    assert record.askar_code == "BACKEND"  # type: ignore[attr-defined]
    assert record.askar_error == "pool timed out while waiting"  # type: ignore[attr-defined]
    caplog.clear()
    with pytest.raises(Unavailable):  # a code that may be another call's: never NotFound
        askar_mod._raise(AskarError(AskarErrorCode.NOT_FOUND, "no such record"))
    assert [r.askar_code for r in caplog.records] == ["NOT_FOUND"]  # type: ignore[attr-defined]


async def test_a_missing_vault_is_not_logged(tmp_path: Path,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A missing vault is an expected outcome (NotFound), not a store failure to log."""
    store = await VaultStore.open(f"sqlite://{tmp_path}/v.db", generate_store_key())
    try:
        with caplog.at_level(logging.WARNING, logger="wallet.vault.askar"), \
                pytest.raises(NotFound):
            await store.for_learner("ghost", VaultKey.generate()).credentials.count()
        assert caplog.records == []
    finally:
        await store.close()


async def test_an_unfiltered_list_on_postgresql_is_one_statement(tmp_path: Path) -> None:
    """The list every authenticated ``GET /v1/credentials`` makes (bench/scale.py): one
    statement on the vault database once the profile's key is cached — not Askar's session
    check before it (``SELECT COUNT(*) FROM profiles``). What the list shows is unchanged, and a
    vault removed through the store is missing at once."""
    async with fresh_backend("postgres", tmp_path) as backend, counting_proxy() as (port, wire):
        store = await VaultStore.open(backend.vault_uri.replace(":5432/", f":{port}/"),
                                      generate_store_key())
        try:
            await store.create_profile("lena")
            lena = store.for_learner("lena", VaultKey.generate())
            for n in range(3):
                await lena.credentials.put(cred(n))
            first = await lena.credentials.list_summaries(limit=2)  # writes the marker
            wire.clear()
            for _ in range(4):
                assert await lena.credentials.list_summaries(limit=2) == first
            db = backend.pg_databases[0]
            assert wire.statements[db] == 4  # (each pooled connection prepares it once)
            assert [t.split(",")[0] for t in wire.texts[db]] == ["SELECT id"]
            await store.remove_profile("lena")
            with pytest.raises(NotFound):
                await lena.credentials.list_summaries()
        finally:
            await store.close()


@pytest.mark.parametrize("query", ["", "?max_connections=4",
                                   "?options%5Bplan_cache_mode%5D=force_custom_plan"])
async def test_vault_connections_to_postgresql_plan_once(tmp_path: Path, query: str) -> None:
    """Askar's scans filter ``(category = $3 OR $3 IS NULL)``: PostgreSQL's generic plan for
    that reads the learner's rows by profile, and its estimate loses to a plan made for the
    values, so by default every list is planned again (~0.1-0.25 ms of the server's CPU, more
    than running it). Vault connections ask for generic plans unless the URI sets
    ``plan_cache_mode`` itself (docs/operations.md)."""
    async with fresh_backend("postgres", tmp_path) as backend, counting_proxy() as (port, wire):
        store = await VaultStore.open(
            backend.vault_uri.replace(":5432/", f":{port}/") + query, generate_store_key())
        try:
            await store.create_profile("pia")
            pia = store.for_learner("pia", VaultKey.generate())
            await pia.credentials.put(cred(1))
            assert [c.id for c in (await pia.credentials.list_summaries()).items] == [cred(1).id]
        finally:
            await store.close()
        opened = wire.options[backend.pg_databases[0]]
        mode = "force_custom_plan" if "plan_cache_mode" in query else "force_generic_plan"
        assert opened and all(o.count("plan_cache_mode") == 1 for o in opened)
        assert all(f"-c plan_cache_mode={mode}" in o for o in opened), opened


async def test_an_upsert_does_not_trust_the_code_of_a_failed_replace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Askar's binding reads a failed call's error from a global slot another thread may have
    overwritten: with many calls in flight (bench/scale.py signing in 8 learners at once) a
    replace of a missing row came back as ``AskarError(SUCCESS, 'None')`` instead of
    ``NOT_FOUND``, and the upsert that should then insert failed as ``Unavailable`` — the
    summary-rows marker went unwritten. An upsert inserts after any failed replace; a real
    failure still fails the insert."""
    store = await VaultStore.open(f"sqlite://{tmp_path}/v.db", generate_store_key())
    try:
        await store.create_profile("uma")
        uma = store.for_learner("uma", VaultKey.generate())
        await uma.credentials.put(cred(1))
        garble(monkeypatch, "replace", AskarErrorCode.SUCCESS)
        await uma.credentials.list_summaries()  # writes the marker: an upsert in a transaction
        assert await uma._store.fetch(SUMMARIES, "") is not None
        await uma.records("settings").put("s", {"a": 1}, overwrite=True)  # a session upsert
        await uma.records("settings").put("s", {"a": 2}, overwrite=True)
        assert await uma.records("settings").get("s") == {"a": 2}
    finally:
        await store.close()


async def test_a_duplicate_insert_is_told_by_the_store_not_by_the_error_code(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A duplicate whose failure carries another call's code (``SUCCESS``) is still a Conflict
    (the replay guard of a presentation answer is such an insert), and a failure that carries
    ``DUPLICATE`` while the record is absent is the store's (``Unavailable``), not a Conflict:
    decided by whether the record is there after the failed insert, in a session and in a
    transaction."""
    store = await VaultStore.open(backend.vault_uri, generate_store_key())
    try:
        await store.create_profile("vic")
        vic = store.for_learner("vic", VaultKey.generate())
        answers = vic.records("answers")
        await vic.credentials.put(cred(1))
        await answers.put("r1", {"outcome": "sent"})
        garble(monkeypatch, "insert", AskarErrorCode.SUCCESS)  # a duplicate reported as success
        with pytest.raises(Conflict):
            await vic.credentials.put(cred(1))  # a transaction
        with pytest.raises(Conflict):
            await answers.put("r1", {"outcome": "declined"})  # a session
        monkeypatch.undo()
        garble(monkeypatch, "insert", AskarErrorCode.DUPLICATE, run=False)  # the store failed
        with pytest.raises(Unavailable):
            await vic.credentials.put(cred(2))
        with pytest.raises(Unavailable):
            await answers.put("r2", {"outcome": "sent"})
        monkeypatch.undo()
        assert await answers.get("r1") == {"outcome": "sent"}
        assert [c.id for c in (await vic.credentials.list()).items] == [cred(1).id]
        with pytest.raises(NotFound):
            await answers.get("r2")
    finally:
        await store.close()


async def test_a_missing_record_is_told_by_the_store_not_by_the_error_code(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """``discard`` (remove a record that may be absent) goes on when the record is absent after
    the failed remove, whatever the code (``SUCCESS`` here: the transaction failed before); a
    remove that failed with the record still there fails the transaction even when the code
    says ``NOT_FOUND`` (it committed before, leaving the record). Removes likewise: NotFound
    only when the record is absent."""
    store = await VaultStore.open(backend.vault_uri, generate_store_key())
    try:
        await store.create_profile("wes")
        rs = store.for_learner("wes", VaultKey.generate())._store
        await rs.insert("note", "here", b"x", {})
        garble(monkeypatch, "remove", AskarErrorCode.SUCCESS)  # a missing row reported as success
        await rs.apply([Write("discard", "note", "absent"), Write("insert", "note", "new", b"y")])
        assert await rs.fetch("note", "new") == b"y"
        with pytest.raises(NotFound):
            await rs.remove("note", "absent")
        with pytest.raises(NotFound):
            await rs.apply([Write("remove", "note", "absent")])
        monkeypatch.undo()
        garble(monkeypatch, "remove", AskarErrorCode.NOT_FOUND, run=False)  # the store failed
        with pytest.raises(Unavailable):
            await rs.apply([Write("discard", "note", "here"),
                            Write("insert", "note", "newer", b"z")])
        with pytest.raises(Unavailable):
            await rs.remove("note", "here")
        monkeypatch.undo()
        assert await rs.fetch("note", "here") == b"x"
        assert await rs.fetch("note", "newer") is None
    finally:
        await store.close()


async def test_two_upserts_creating_one_record_at_once_both_succeed(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """Upsert A's replace finds no record, upsert B inserts it, A's insert then finds it there:
    the record exists now, so A replaces it (was ``Unavailable``, logged as the vault store
    being down: two first lists writing the summary marker at once, a dead letter set aside)."""
    store = await VaultStore.open(backend.vault_uri, generate_store_key())
    try:
        await store.create_profile("xan")
        rs = store.for_learner("xan", VaultKey.generate())._store
        real, raced = Session.replace, []

        async def replace_then_b_inserts(self: Session, *args: Any, **kwargs: Any) -> Any:
            try:
                return await real(self, *args, **kwargs)
            except AskarError:
                if not raced:  # B's upsert: its replace missed too, its insert commits first
                    raced.append(1)
                    await rs.insert("note", args[1], b"b", {})
                raise

        monkeypatch.setattr(Session, "replace", replace_then_b_inserts)
        await rs.upsert("note", "n", b"a", {})
        assert raced and await rs.fetch("note", "n") == b"a"  # A wrote last
        if backend.kind == "postgres":  # in a transaction too (SQLite's would hold B back)
            raced.clear()
            await rs.apply([Write("upsert", "note", "t", b"a")])
            assert raced and await rs.fetch("note", "t") == b"a"
    finally:
        await store.close()


def _profile_calls(rs: Any) -> dict[str, Any]:
    """Every kind of call a learner's record store makes on its profile, each made anew."""
    async def read_in_session() -> Any:
        async with rs.reading() as r:
            return await r.fetch("note", "n")

    return {
        "session fetch": lambda: rs.fetch("note", "n"),
        "session count": lambda: rs.count("note"),
        "session insert": lambda: rs.insert("note", "new", b"x", {}),
        "session upsert": lambda: rs.upsert("note", "n", b"x", {}),
        "scan": lambda: rs.fetch_all("note"),
        "transaction": lambda: rs.apply([Write("insert", "note", "tx", b"x")]),
        "reading": read_in_session,
    }


async def _each_fails(calls: dict[str, Any], error: type[Exception]) -> None:
    for name, call in calls.items():
        with pytest.raises(error):
            await call()
            pytest.fail(name)


async def test_a_missing_vault_is_told_by_the_store_not_by_the_error_code(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A call on a learner's profile that fails is ``NotFound`` when the store's profiles do not
    hold the profile, whatever the code (the binding may hand over another call's: ``SUCCESS``
    here), and the store's failure (``Unavailable``) when they do, even when the code says
    ``NOT_FOUND``: an erasure must not take a failed removal for a vault already gone. When the
    lookup fails too, ``Unavailable``. The profile is looked up only after a failure: a
    learner's calls that succeed never look."""
    store = await VaultStore.open(backend.vault_uri, generate_store_key())
    try:
        await store.create_profile("zoe")
        zoe = store.for_learner("zoe", VaultKey.generate())._store
        ghost = store.for_learner("ghost", VaultKey.generate())._store
        await zoe.insert("note", "n", b"zoe", {})
        looked_up: list[str] = []
        rename_profile = bindings.store_rename_profile

        async def counted(handle: Any, from_name: str, to_name: str) -> bool:
            looked_up.append(from_name)
            return await rename_profile(handle, from_name, to_name)

        monkeypatch.setattr(bindings, "store_rename_profile", counted)
        for call in _profile_calls(zoe).values():
            await call()
        await zoe.remove("note", "new")
        assert looked_up == []  # the fast path never looks
        garble(monkeypatch, "_open", AskarErrorCode.SUCCESS, on=OpenSession)
        garble(monkeypatch, "scan_start", AskarErrorCode.SUCCESS, on=bindings)
        for name, call in _profile_calls(ghost).items():
            with pytest.raises(NotFound, match="no vault"):
                await call()
            assert looked_up, name
            looked_up.clear()
        garble(monkeypatch, "remove_profile", AskarErrorCode.SUCCESS, run=False, on=Store)
        with pytest.raises(NotFound):
            await store.remove_profile("ghost")
        monkeypatch.undo()
        garble(monkeypatch, "_open", AskarErrorCode.NOT_FOUND, run=False, on=OpenSession)
        garble(monkeypatch, "scan_start", AskarErrorCode.NOT_FOUND, run=False, on=bindings)
        garble(monkeypatch, "remove_profile", AskarErrorCode.NOT_FOUND, run=False, on=Store)
        await _each_fails({**_profile_calls(zoe),
                           "removal": lambda: store.remove_profile("zoe")}, Unavailable)
        garble(monkeypatch, "store_rename_profile", AskarErrorCode.NOT_FOUND, run=False,
               on=bindings)
        await _each_fails({**_profile_calls(ghost),
                           "removal": lambda: store.remove_profile("ghost")}, Unavailable)
        monkeypatch.undo()
        assert await store.has_profile("zoe") and not await store.has_profile("ghost")
        assert await zoe.fetch("note", "n") == b"x"
        assert await zoe.fetch("note", "tx") == b"x" and await zoe.fetch("note", "new") is None
    finally:
        await store.close()


async def test_a_missing_vault_is_one_name_looked_up_whatever_the_learners(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lookup after a failed call on a learner's profile reads that one name, with 1 or 301
    learners alike: the profile names Askar hands back (every one of them, from the list of
    profiles, before) and, on PostgreSQL, the rows the server reports on the wire (one statement,
    through the unique index on the name: 0 rows for a vault that is not there, 1 for one that is,
    where the list returned all 301). The answer is the profiles table's: a profile without an
    account row (a crashed sign-up's) is there, one removed (an erasure's first steps, while its
    account row waits) is not."""
    async with contextlib.AsyncExitStack() as stack:
        uri, wire, db = backend.vault_uri, None, ""
        if backend.kind == "postgres":
            port, wire = await stack.enter_async_context(counting_proxy())
            uri, db = uri.replace(":5432/", f":{port}/"), backend.pg_databases[0]
        store = await VaultStore.open(uri, generate_store_key())
        stack.push_async_callback(store.close)
        names_back: list[int] = []  # per Askar call on the profiles: the names it hands back
        for name in ("store_list_profiles", "store_rename_profile"):
            real = getattr(bindings, name)

            async def counted(*args: Any, _real: Any = real) -> Any:
                result = await _real(*args)
                names_back.append(len(result) if isinstance(result, list) else 0)
                return result

            monkeypatch.setattr(bindings, name, counted)
        ghost = store.for_learner("ghost", VaultKey.generate())._store
        await store.create_profile("crashed")  # a crashed sign-up's: no account row anywhere
        work: list[tuple[list[int], int, int]] = []  # (names back, statements, rows) per lookup
        for more in (0, 300):
            for n in range(more):
                await store.create_profile(f"learner-{n}")
            names_back.clear()
            if wire is not None:
                wire.clear()
            with pytest.raises(NotFound, match="no vault"):
                await ghost.count("note")
            work.append((list(names_back), wire.statements[db] if wire else 0,
                         wire.rows[db] if wire else 0))
        assert work[0][0] == work[1][0] == [0], work  # one lookup, no list of names
        if wire is not None:  # the failed session's own statements, then the lookup's one row
            assert work[0][1:] == work[1][1:] == (2, 0), work  # the session's, the lookup's
            assert "UPDATE profiles SET name=$1 WHERE name=$2" in wire.texts[db]
            assert not any("FROM profiles" in t and "WHERE" not in t for t in wire.texts[db])
        # the truth after an erasure and a crashed sign-up: the store's, not the accounts'
        assert await store.has_profile("crashed") and not await store.has_profile("ghost")
        await store.remove_profile("crashed")
        assert not await store.has_profile("crashed")
        with pytest.raises(NotFound, match="no vault"):
            await store.for_learner("crashed", VaultKey.generate())._store.count("note")


async def test_a_failed_write_whose_lookup_fails_too_is_unavailable(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a failed insert, remove or replace the record is looked up; when that lookup fails
    as well the store cannot say what it holds, so the failure is the store's (Unavailable),
    never a Conflict or NotFound, whether the code claims that outcome or is another call's."""
    store = await VaultStore.open(backend.vault_uri, generate_store_key())
    try:
        await store.create_profile("yun")
        rs = store.for_learner("yun", VaultKey.generate())._store
        await rs.insert("note", "here", b"x", {})
        garble(monkeypatch, "fetch", AskarErrorCode.NOT_FOUND, run=False)
        for claimed in (True, False):  # the code claims the outcome, or another call's SUCCESS
            garble(monkeypatch, "insert",
                   AskarErrorCode.DUPLICATE if claimed else AskarErrorCode.SUCCESS, run=False)
            for method in ("remove", "replace"):
                garble(monkeypatch, method,
                       AskarErrorCode.NOT_FOUND if claimed else AskarErrorCode.SUCCESS, run=False)
            with pytest.raises(Unavailable):
                await rs.insert("note", "here", b"y", {})
            with pytest.raises(Unavailable):
                await rs.remove("note", "here")
            with pytest.raises(Unavailable):
                await rs.replace("note", "here", b"y", {})
            with pytest.raises(Unavailable):
                await rs.apply([Write("insert", "note", "new", b"z")])
            with pytest.raises(Unavailable):
                await rs.apply([Write("remove", "note", "here")])
        monkeypatch.undo()
        assert await rs.fetch("note", "here") == b"x"
        assert await rs.fetch("note", "new") is None
    finally:
        await store.close()
