"""An inbox link created before revision 0006 (its label in the vault, not sealed into its row)
moves its label into its row at the learner's next list (wallet.receive.earlier_links), so that
revoking it is then one SQL transaction, like any link's (it was 2 commits: the vault label was
deleted after the row). Both backends; a process dying between the move's steps loses nothing."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from holder_api.appkeys import SERVICES, WIRING
from tests.holder_api.api_support import earlier_inbox_link
from tests.holder_api.commit_counter import count_commits
from tests.holder_api.conftest import auth, login, sign_up
from wallet.accounts.service import LearnerSession
from wallet.receive.earlier_links import VAULT_COPY
from wallet.receive.inbox import LINK_CATEGORY
from wallet.receive.inbox_store import InboxStore
from wallet.receive.tables import inbox_links
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
    """The process dies in one step of the move: sealing the label into the row (``row``),
    removing the vault copy (``vault``), sealing the row's record again unmarked (``unmark``)."""
    if step == "vault":
        async def dies(*_args: Any, **_kwargs: Any) -> None:
            raise Crash
        monkeypatch.setattr(SealedRecordRepository, "discard", dies)
        return
    seal_records, calls = InboxStore.seal_records, []

    async def dies_at_call(self: InboxStore, *args: Any, **kwargs: Any) -> set[str]:
        calls.append(1)
        if len(calls) == (1 if step == "row" else 2):
            raise Crash
        return await seal_records(self, *args, **kwargs)

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
    assert (row is None) == (step == "row")  # the label is somewhere, whatever step died
    if step != "unmark":
        assert in_vault == [link_id]
    if row is not None:
        assert row["label"] == LABEL and row[VAULT_COPY] is True
    # the next list shows the label and finishes the move
    assert [(link.id, link.label) for link in await inbox.list_links(
        session.learner_id, session.dek)] == [(link_id, LABEL)]
    row, in_vault = await _where_the_label_is(client, session, link_id)
    assert row is not None and row["label"] == LABEL and VAULT_COPY not in row
    assert in_vault == []
    await _revoked_in_one_commit(client, token, session, link_id)
