"""The ledger never under-records: its entry is written before the data it describes, or with it.

Where the entry is written first, each test makes the ledger write itself fail as a crash would
(an error nothing handles), then checks that the write the entry describes did not happen: the
link is not live, the revoked link still works. Before, each of these wrote the data first: a
crash between the two writes (a ``kill -9``) left data the ledger never recorded. Imports and
deletions stage their entry in the same vault transaction as the credential (the ledger outbox,
docs/consent.md): a crash in that commit leaves neither, a crash after it leaves both, and the
learner's next read of the ledger names the credential. The crash test in ``test_crash.py``
proves the same with a real process killed at random points.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, select

from consent.recorder import LedgerActivityLog
from holder_api.appkeys import SERVICES, WIRING
from sharing.share_tables import share_links
from tests.holder_api.api_support import put_credential
from tests.holder_api.conftest import auth, login, sign_up
from wallet.accounts.service import LearnerSession
from wallet.intake import IntakeResult
from wallet.ledger_outbox import LedgerOutbox
from wallet.vault.askar import AskarRecordStore
from wallet.vault.learner import Write


class Crash(Exception):  # noqa: N818 - it stands for the process dying, not an error
    """The process dies right here: nothing after it runs, nothing catches it on purpose."""


@pytest.fixture
def crash_at_ledger(monkeypatch: pytest.MonkeyPatch) -> None:
    async def record(*_args: Any, **_kwargs: Any) -> str:
        raise Crash

    monkeypatch.setattr(LedgerActivityLog, "record", record)


async def _session(client: TestClient[Any, Any], name: str) -> tuple[str, LearnerSession]:
    await sign_up(client, name)
    token = await login(client, name)
    return token, await client.app[SERVICES].accounts.authenticate(token)


@pytest.fixture
def crash_in_vault_commit(monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """``crash(True)``: every vault transaction dies in its commit (``False``: they work)."""
    apply = AskarRecordStore.apply

    async def dies(store: AskarRecordStore, writes: Sequence[Write]) -> None:
        raise Crash

    def crash(on: bool) -> None:
        monkeypatch.setattr(AskarRecordStore, "apply", dies if on else apply)
    return crash


async def _named(client: TestClient[Any, Any], session: LearnerSession, kind: str) -> list[str]:
    page = await client.app[WIRING].consent.ledger.events(session.learner_id, session.dek,
                                                          kinds=[kind])
    return [cid for e in page.items if e.event is not None for cid in e.event.credential_ids]


async def test_import_stores_its_credential_and_entry_as_one(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch,
        crash_in_vault_commit: Callable[[bool], None]) -> None:
    services, wiring = client.app[SERVICES], client.app[WIRING]
    token, session = await _session(client, "lf-import")
    template = wiring.stores.vault.for_learner(session.learner_id, session.dek).credentials
    cid = await put_credential(client, token, title="Template")
    stored = dataclasses.replace(await template.get(cid), id=str(uuid.uuid4()))

    async def admit(*_args: Any, **_kwargs: Any) -> IntakeResult:
        return IntakeResult(checked=None, status="valid", issuer_trusted=False,  # type: ignore[arg-type]
                            stored=stored)

    monkeypatch.setattr(wiring.vault.intake, "admit", admit)
    monkeypatch.setattr(LedgerOutbox, "flush_soon", lambda *_args: None)  # dies after the commit
    crash_in_vault_commit(True)
    with pytest.raises(Crash):
        await services.credentials.import_credential(session.learner_id, session.dek, "{}")
    crash_in_vault_commit(False)
    assert [c.id for c in await template.all()] == [cid]
    assert await _named(client, session, "credential_received") == []
    await services.credentials.import_credential(session.learner_id, session.dek, "{}")
    assert {c.id for c in await template.all()} == {cid, stored.id}
    assert await _named(client, session, "credential_received") == [stored.id]


async def test_delete_removes_nothing_without_its_entry(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch,
        crash_in_vault_commit: Callable[[bool], None]) -> None:
    services = client.app[SERVICES]
    token, session = await _session(client, "lf-delete")
    cid = await put_credential(client, token, title="Kept")
    monkeypatch.setattr(LedgerOutbox, "flush_soon", lambda *_args: None)  # dies after the commit
    crash_in_vault_commit(True)
    with pytest.raises(Crash):
        await services.credentials.delete(session.learner_id, session.dek, cid)
    crash_in_vault_commit(False)
    creds = client.app[WIRING].stores.vault.for_learner(session.learner_id, session.dek).credentials
    assert (await creds.get(cid)).id == cid
    assert await _named(client, session, "credential_deleted") == []
    await services.credentials.delete(session.learner_id, session.dek, cid)
    assert [c.id for c in await creds.all()] == []
    assert await _named(client, session, "credential_deleted") == [cid]


async def test_inbox_links_change_only_after_their_entry(client: TestClient[Any, Any],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    services = client.app[SERVICES]
    token, session = await _session(client, "lf-inbox")
    inbox = services.receive.inbox
    r = await client.post("/v1/inbox-links", json={"label": "Kept University"},
                          headers=auth(token))
    assert r.status == 201
    kept = (await r.json())["id"]
    path = "/i/" + (await r.json())["url"].rsplit("/i/", 1)[1]
    r = await client.post(path, json={"credential": {"pushed": True}})
    assert r.status in (201, 202), await r.text()
    [item] = await inbox.items(session.learner_id, session.dek)

    async def crash(*_args: Any, **_kwargs: Any) -> str:
        raise Crash

    monkeypatch.setattr(LedgerActivityLog, "record", crash)
    with pytest.raises(Crash):
        await inbox.create_link(session.learner_id, session.dek, "Never University")
    assert await inbox.store.link_ids(session.learner_id) == {kept}
    with pytest.raises(Crash):
        await inbox.revoke_link(session.learner_id, session.dek, kept)
    assert await inbox.store.link_ids(session.learner_id) == {kept}
    with pytest.raises(Crash):
        await services.receive.decline_item(session.learner_id, session.dek, item.id)
    assert [i.id for i in await inbox.items(session.learner_id, session.dek)] == [item.id]


async def test_share_link_revocation_after_its_entry(client: TestClient[Any, Any],
                                                      crash_at_ledger: None) -> None:
    services = client.app[SERVICES]
    _token, session = await _session(client, "lf-share")
    link_id, now = str(uuid.uuid4()), datetime.now(UTC)
    engine = client.app[WIRING].stores.engine
    async with engine.begin() as conn:
        await conn.execute(insert(share_links).values(
            id=link_id, learner_id=session.learner_id, lookup_hash=uuid.uuid4().hex,
            created_at=now, expires_at=now + timedelta(hours=1), max_views=3, views=0,
            revoked=False, sealed=b"sealed"))
    with pytest.raises(Crash):
        await services.share_links.revoke(session.learner_id, session.dek, link_id)
    async with engine.connect() as conn:
        revoked = (await conn.execute(select(share_links.c.revoked).where(
            share_links.c.id == link_id))).scalar_one()
    assert revoked is False
