"""An inbox link created before revision 0006 (its label in the vault, not sealed into its row)
moves its label into its row at the learner's next list (wallet.receive.earlier_links), so that
revoking it is then one SQL transaction, like any link's (it was 2 commits: the vault label was
deleted after the row). Revoked before any list moved it, it is one SQL transaction too: the
vault copy goes at the next list (a leftover). Both backends; a process dying between the
steps loses nothing and shows nothing revoked."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from holder_api.appkeys import SERVICES, WIRING
from tests.holder_api.api_support import earlier_inbox_link
from tests.holder_api.commit_counter import count_commits
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE, auth, login, sign_up
from wallet.accounts.service import LearnerSession
from wallet.crypto import seal_to_inbox
from wallet.errors import BadInput, Unavailable
from wallet.receive import earlier_links
from wallet.receive.earlier_links import VAULT_COPY
from wallet.receive.inbox import LINK_CATEGORY
from wallet.receive.inbox_store import InboxStore
from wallet.receive.tables import inbox_link_leftovers, inbox_links
from wallet.row_records import open_row_record
from wallet.vault.learner import SealedRecordRepository

LABEL = "Earlier University"


class Crash(BaseException):  # noqa: N818 - it stands for the process dying, not an error
    """The process dies right here: nothing after it runs."""


async def _session(client: TestClient[Any, Any], name: str) -> tuple[str, LearnerSession]:
    await sign_up(client, name)
    token = await login(client, name)
    return token, await client.app[SERVICES].accounts.authenticate(token)


async def _where_the_label_is(client: TestClient[Any, Any], session: LearnerSession,
                              link_id: str) -> tuple[dict[str, Any] | None, list[str]]:
    """(the record sealed into the link's row, opened; the ids of the vault's link labels)."""
    async with client.app[WIRING].stores.engine.connect() as conn:
        sealed = (await conn.execute(select(inbox_links.c.sealed_record).where(
            inbox_links.c.id == link_id))).scalar_one()
    vault = client.app[WIRING].stores.vault.for_learner(session.learner_id, session.dek)
    in_vault = [i for i, _ in await vault.records(LINK_CATEGORY).list()]
    row = None if sealed is None else open_row_record(session.dek, "inbox_links", link_id,
                                                       sealed)
    return row, in_vault


async def _leftovers(client: TestClient[Any, Any], learner_id: str) -> list[str]:
    async with client.app[WIRING].stores.engine.connect() as conn:
        return list((await conn.execute(select(inbox_link_leftovers.c.id).where(
            inbox_link_leftovers.c.learner_id == learner_id))).scalars())


async def _in_vault(client: TestClient[Any, Any], session: LearnerSession) -> list[str]:
    vault = client.app[WIRING].stores.vault.for_learner(session.learner_id, session.dek)
    return [i for i, _ in await vault.records(LINK_CATEGORY).list()]


async def _listed(client: TestClient[Any, Any], token: str) -> list[tuple[str, str | None]]:
    r = await client.get("/v1/inbox-links", headers=auth(token))
    assert r.status == 200, await r.text()
    return sorted((i["id"], i["label"]) for i in (await r.json())["items"])


async def _revoked_in_one_commit(client: TestClient[Any, Any], token: str,
                                 session: LearnerSession, link_id: str) -> None:
    with count_commits(answers=link_id) as commits:
        r = await client.delete(f"/v1/inbox-links/{link_id}", headers=auth(token))
        assert r.status == 204, await r.text()
    # the row's deletion (its sealed label with it) and its entry: one SQL transaction, and no
    # vault commit after it (there was one: the vault label's deletion)
    assert commits.answered == [((), 1)] and (commits.vault, commits.sql) == ([], 1)
    events = await client.app[WIRING].consent.ledger.events(
        session.learner_id, session.dek, kinds=["inbox_link_revoked"])
    assert [e.event.counterparty_name for e in events.items if e.event is not None] == [LABEL]


async def test_an_earlier_link_listed_once_is_revoked_in_one_commit(
        client: TestClient[Any, Any]) -> None:
    token, session = await _session(client, "el-listed")
    link_id = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    assert await _where_the_label_is(client, session, link_id) == (None, [link_id])
    r = await client.get("/v1/inbox-links", headers=auth(token))
    assert r.status == 200
    assert [(i["id"], i["label"]) for i in (await r.json())["items"]] == [(link_id, LABEL)]
    row, in_vault = await _where_the_label_is(client, session, link_id)
    assert row is not None and row["label"] == LABEL and VAULT_COPY not in row
    assert in_vault == []
    await _revoked_in_one_commit(client, token, session, link_id)


def _dies_at(monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """The process dies in one step of the move: right after sealing the label into the row
    (``row``), removing the vault copy (``vault``), sealing the row's record again unmarked
    (``unmark``, before it is written)."""
    if step == "vault":
        async def dies(*_args: Any, **_kwargs: Any) -> None:
            raise Crash
        monkeypatch.setattr(SealedRecordRepository, "discard", dies)
        return
    seal_records, calls = InboxStore.seal_records, []

    async def dies_at_call(self: InboxStore, *args: Any, **kwargs: Any) -> set[str]:
        calls.append(1)
        if step == "unmark" and len(calls) == 2:
            raise Crash
        written = await seal_records(self, *args, **kwargs)
        if step == "row":  # the row committed, nothing after it ran
            raise Crash
        return written

    monkeypatch.setattr(InboxStore, "seal_records", dies_at_call)


@pytest.mark.parametrize("step", ["row", "vault", "unmark"])
async def test_a_move_cut_short_loses_no_label(client: TestClient[Any, Any],
                                               monkeypatch: pytest.MonkeyPatch,
                                               step: str) -> None:
    token, session = await _session(client, f"el-{step}")
    inbox = client.app[SERVICES].receive.inbox
    link_id = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    with monkeypatch.context() as dying:
        _dies_at(dying, step)
        with pytest.raises(Crash):
            await inbox.list_links(session.learner_id, session.dek)
    row, in_vault = await _where_the_label_is(client, session, link_id)
    assert in_vault == ([] if step == "unmark" else [link_id])
    assert row is not None and row["label"] == LABEL and row[VAULT_COPY] is True
    # the next list shows the label and finishes the move
    assert [(link.id, link.label) for link in await inbox.list_links(
        session.learner_id, session.dek)] == [(link_id, LABEL)]
    row, in_vault = await _where_the_label_is(client, session, link_id)
    assert row is not None and row["label"] == LABEL and VAULT_COPY not in row
    assert in_vault == []
    await _revoked_in_one_commit(client, token, session, link_id)


async def test_a_half_moved_link_revoked_leaves_no_vault_label(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Step 2 failed (a vault outage): the row holds the marked record and the vault its copy.
    Revoking it (one commit) names it a leftover, and the next list deletes the vault copy."""
    token, session = await _session(client, "el-half")
    link_id = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    with monkeypatch.context() as outage:
        async def unavailable(*_args: Any, **_kwargs: Any) -> None:
            raise Unavailable("the vault store is unavailable")
        outage.setattr(SealedRecordRepository, "discard", unavailable)
        r = await client.get("/v1/inbox-links", headers=auth(token))
        assert r.status == 200
    row, in_vault = await _where_the_label_is(client, session, link_id)
    assert row is not None and row[VAULT_COPY] is True and in_vault == [link_id]
    await _revoked_in_one_commit(client, token, session, link_id)
    assert await _leftovers(client, session.learner_id) == [link_id]
    assert await _listed(client, token) == []
    assert await _in_vault(client, session) == []
    assert await _leftovers(client, session.learner_id) == []


async def test_an_earlier_link_never_listed_is_revoked_in_one_commit(
        client: TestClient[Any, Any]) -> None:
    """Revoked before any list moved its label: the row's deletion, its ledger entry (with the
    label, read from the vault) and the leftover, one SQL transaction, no vault commit. The
    label is never shown again, not even by an item pushed through the link before; the next
    list removes the vault copy and forgets the leftover."""
    token, session = await _session(client, "el-never")
    inbox = client.app[SERVICES].receive.inbox
    link_id = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    kept = await earlier_inbox_link(client, session.learner_id, session.dek, "Kept College")
    public = bytes(await inbox._inbox_public_key(session.learner_id))
    item_id = str(uuid.uuid4())
    await inbox.store.add_item(item_id, session.learner_id, link_id, datetime.now(UTC),
                               seal_to_inbox(public, b'{"kind":"offer","offer":{}}'))
    await _revoked_in_one_commit(client, token, session, link_id)
    assert sorted(await _in_vault(client, session)) == sorted([link_id, kept])
    assert await _leftovers(client, session.learner_id) == [link_id]
    assert (await inbox.open_item(session.learner_id, session.dek, item_id))[1] is None
    assert await _listed(client, token) == [(kept, "Kept College")]
    assert await _in_vault(client, session) == []
    assert await _leftovers(client, session.learner_id) == []
    assert await _listed(client, token) == [(kept, "Kept College")]


@pytest.mark.parametrize("step", ["vault", "forget"])
async def test_a_leftover_removal_cut_short_shows_nothing_and_finishes_later(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch, step: str) -> None:
    """The list after a revocation dies removing the vault copy (``vault``) or right after,
    before forgetting the leftover (``forget``): the revoked link's label is shown by no list,
    and the next list finishes (removing a vault copy already gone is no error)."""
    token, session = await _session(client, f"el-left-{step}")
    inbox = client.app[SERVICES].receive.inbox
    link_id = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    await _revoked_in_one_commit(client, token, session, link_id)

    async def dies(*_args: Any, **_kwargs: Any) -> None:
        raise Crash

    with monkeypatch.context() as dying:
        if step == "vault":
            dying.setattr(SealedRecordRepository, "discard", dies)
        else:
            dying.setattr(InboxStore, "forget_leftovers", dies)
        with pytest.raises(Crash):
            await inbox.list_links(session.learner_id, session.dek)
    assert await _in_vault(client, session) == ([link_id] if step == "vault" else [])
    assert await _leftovers(client, session.learner_id) == [link_id]
    assert await _listed(client, token) == []
    assert await _in_vault(client, session) == []
    assert await _leftovers(client, session.learner_id) == []


async def test_erasure_removes_a_leftover(client: TestClient[Any, Any]) -> None:
    """An account erased after revoking an earlier link no list has seen: no leftover row, and
    the vault copy went with the learner's vault."""
    token, session = await _session(client, "el-erase")
    link_id = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    await _revoked_in_one_commit(client, token, session, link_id)
    assert await _leftovers(client, session.learner_id) == [link_id]
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE}, headers=auth(token))
    assert r.status == 204, await r.text()
    assert await _leftovers(client, session.learner_id) == []
    assert not await client.app[WIRING].stores.vault.has_profile(session.learner_id)


async def test_a_label_that_cannot_be_sealed_holds_back_only_its_own_move(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    """One record the row cannot take (BadInput when sealed) stays in the vault, listed from
    there; the learner's other labels move (they all stayed, and every list tried again)."""
    token, session = await _session(client, "el-bad")
    good = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    bad = await earlier_inbox_link(client, session.learner_id, session.dek, "Unsealable")
    real = earlier_links.seal_row_record

    def refuses_bad(dek: Any, table: str, row_id: str, body: Any) -> bytes:
        if row_id == bad:
            raise BadInput("a row record must be JSON of Unicode text")
        return real(dek, table, row_id, body)

    monkeypatch.setattr(earlier_links, "seal_row_record", refuses_bad)
    r = await client.get("/v1/inbox-links", headers=auth(token))
    assert r.status == 200
    assert sorted((i["id"], i["label"]) for i in (await r.json())["items"]) == sorted(
        [(good, LABEL), (bad, "Unsealable")])
    row, in_vault = await _where_the_label_is(client, session, good)
    assert row is not None and row["label"] == LABEL and VAULT_COPY not in row
    assert in_vault == [bad]
    assert await _where_the_label_is(client, session, bad) == (None, [bad])
    logged = " ".join(f"{r.getMessage()} {r.__dict__}" for r in caplog.records
                      if r.name == earlier_links.__name__)
    assert bad in logged and "Unsealable" not in logged


async def test_opening_one_inbox_item_moves_no_label(client: TestClient[Any, Any]) -> None:
    """Only lists move labels (docs/receiving.md): opening one item (to accept or decline it)
    reads its link's label from the vault and writes nothing."""
    _token, session = await _session(client, "el-item")
    inbox = client.app[SERVICES].receive.inbox
    link_id = await earlier_inbox_link(client, session.learner_id, session.dek, LABEL)
    public = bytes(await inbox._inbox_public_key(session.learner_id))
    item_id = str(uuid.uuid4())
    await inbox.store.add_item(item_id, session.learner_id, link_id, datetime.now(UTC),
                               seal_to_inbox(public, b'{"kind":"offer","offer":{}}'))
    payload, label = await inbox.open_item(session.learner_id, session.dek, item_id)
    assert (payload["kind"], label) == ("offer", LABEL)
    assert await _where_the_label_is(client, session, link_id) == (None, [link_id])


async def test_two_lists_moving_labels_at_once_lose_none(make_client: AppFactory) -> None:
    """Two replicas list one learner's earlier links at the same time: both move (one writes
    each row, the other finds it written); every label is listed once by each, and ends in its
    row, unmarked, with no vault copy left."""
    one, two = await make_client(), await make_client()
    token, session = await _session(one, "el-both")
    labels = {await earlier_inbox_link(one, session.learner_id, session.dek, f"{LABEL} {n}"):
              f"{LABEL} {n}" for n in range(6)}
    answers = await asyncio.gather(*(c.get(path, headers=auth(token)) for c in (one, two)
                                     for path in ("/v1/inbox-links", "/v1/inbox-links")))
    for r in answers:
        assert r.status == 200, await r.text()
        assert sorted((i["id"], i["label"]) for i in (await r.json())["items"]) == sorted(
            labels.items())
    for link_id, label in labels.items():
        row, in_vault = await _where_the_label_is(one, session, link_id)
        assert row is not None and row["label"] == label and VAULT_COPY not in row
        assert in_vault == []


async def test_a_list_reading_the_vault_after_another_moved_the_labels_still_lists_them(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The race two lists at once can run into, made certain: replica one reads the rows (no
    record in them yet), then replica two moves every label into its row and out of the vault,
    then replica one reads the vault (nothing left there). Its answer still carries each label:
    it reads those rows again."""
    one, two = await make_client(), await make_client()
    token, session = await _session(one, "el-late")
    labels = {await earlier_inbox_link(one, session.learner_id, session.dek, f"{LABEL} {n}"):
              f"{LABEL} {n}" for n in range(3)}
    real_list = SealedRecordRepository.list
    raced = False

    async def list_after_the_other_replica_moved_them(self: SealedRecordRepository
                                                      ) -> list[tuple[str, dict[str, Any]]]:
        nonlocal raced
        if not raced:
            raced = True
            moved = await two.get("/v1/inbox-links", headers=auth(token))
            assert moved.status == 200
        return await real_list(self)

    monkeypatch.setattr(SealedRecordRepository, "list", list_after_the_other_replica_moved_them)
    r = await one.get("/v1/inbox-links", headers=auth(token))
    assert r.status == 200, await r.text()
    assert raced
    assert sorted((i["id"], i["label"]) for i in (await r.json())["items"]) == sorted(
        labels.items())
    for link_id in labels:
        row, in_vault = await _where_the_label_is(one, session, link_id)
        assert row is not None and row["label"] == labels[link_id]
        assert link_id not in in_vault
