"""The ledger never under-records: its entry is written before the data it describes, or with it.

Nothing here writes its entry first any more; each writes it in the same transaction as the data
it describes, and each test makes that transaction die as a crash would (an error nothing
handles), then checks that neither the data nor the entry committed. Where the data lives in the
vault (an imported, deleted or accepted credential, a declined offer) the entry is staged in the
vault's ledger outbox in the vault transaction (docs/consent.md): a crash in that commit leaves
neither, a crash after it leaves both, and the learner's next read of the ledger names the
change. Where the data is a row in the ledger's own SQL database (an inbox link, an inbox item, a
share link) the entry is appended in the transaction that writes the row: a crash while the
entry is written, or after the row is written but before the commit, leaves neither. (Before
issue 14, item 1 these wrote the entry in a transaction of its own first: the tests then showed
that a crash in the ledger write left the data untouched.) Stopping a disclosure is the one
nuance: when the ledger cannot record a revocation, the link is revoked anyway and the answer is
503. The crash test in ``test_crash.py`` proves the same with a real process killed at random
points.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, select

from consent.errors import LedgerUnavailable
from consent.ledger import Ledger
from holder_api.appkeys import SERVICES, WIRING
from sharing.share_tables import share_link_views, share_links
from tests.holder_api.api_support import earlier_inbox_link, put_credential
from tests.holder_api.present_support import OB_SAMPLE
from tests.support.http_api import auth, login, sign_up
from tests.wallet.oid4vci_support import Issuer
from wallet.accounts.service import LearnerSession
from wallet.errors import Unavailable
from wallet.intake import IntakeResult
from wallet.ledger_outbox import LedgerOutbox
from wallet.receive import InboxService
from wallet.receive.inbox import LINK_CATEGORY
from wallet.vault.askar import AskarRecordStore
from wallet.vault.learner import Write


class Crash(BaseException):  # noqa: N818 - it stands for the process dying, not an error
    """The process dies right here: nothing after it runs, and no ``except Exception``
    boundary (the consent service's fail-closed one) turns it into an answer."""


async def _crash(*_args: Any, **_kwargs: Any) -> None:
    raise Crash


async def _down(*_args: Any, **_kwargs: Any) -> None:
    raise LedgerUnavailable("simulated outage")


def _dying_appending(appending: Any) -> Any:
    """``Ledger.appending`` as it runs when the process dies after the entry and what the caller
    wrote on its connection (a feature's rows), before the transaction commits."""
    @contextlib.asynccontextmanager
    async def dies(self: Ledger, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with appending(self, *args, **kwargs) as written:
            yield written
            raise Crash
    return dies


def _break_ledger(monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    """``at_ledger``: the process dies while the ledger writes an entry (in its transaction);
    ``before_ledger_commit``: it dies after the entry and the caller's rows, before the commit;
    ``down``: every ledger write fails as an outage does (503)."""
    if how == "before_ledger_commit":
        monkeypatch.setattr(Ledger, "appending", _dying_appending(Ledger.appending))
    else:
        monkeypatch.setattr(Ledger, "_insert", staticmethod(_crash if how == "at_ledger"
                                                            else _down))


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


async def _kinds(client: TestClient[Any, Any], session: LearnerSession) -> list[str]:
    page = await client.app[WIRING].consent.ledger.events(session.learner_id, session.dek,
                                                          limit=200)
    return [e.kind.value for e in page.items]


async def test_a_declined_offer_goes_with_its_entry(
        app: TestClient[Any, Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch,
        crash_in_vault_commit: Callable[[bool], None]) -> None:
    services = app.app[SERVICES]
    token, session = await _session(app, "lf-decline")
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    offer_id = (await r.json())["id"]
    monkeypatch.setattr(LedgerOutbox, "flush_soon", lambda *_args: None)  # dies after the commit
    crash_in_vault_commit(True)
    with pytest.raises(Crash):
        await services.receive.decline_offer(session.learner_id, session.dek, offer_id)
    crash_in_vault_commit(False)
    assert (await app.get(f"/v1/offers/{offer_id}", headers=auth(token))).status == 200
    assert "credential_declined" not in await _kinds(app, session)
    await services.receive.decline_offer(session.learner_id, session.dek, offer_id)
    assert (await app.get(f"/v1/offers/{offer_id}", headers=auth(token))).status == 404
    assert (await _kinds(app, session)).count("credential_declined") == 1


async def _inbox(client: TestClient[Any, Any], name: str
                 ) -> tuple[LearnerSession, InboxService, str, str]:
    """A learner with one live inbox link and one item pushed through it: (session, inbox,
    link id, item id)."""
    token, session = await _session(client, name)
    inbox = client.app[SERVICES].receive.inbox
    r = await client.post("/v1/inbox-links", json={"label": "Kept University"},
                          headers=auth(token))
    assert r.status == 201
    kept = (await r.json())["id"]
    path = "/i/" + (await r.json())["url"].rsplit("/i/", 1)[1]
    r = await client.post(path, json={"credential": {"pushed": True}})
    assert r.status in (201, 202), await r.text()
    [item] = await inbox.items(session.learner_id, session.dek)
    return session, inbox, kept, item.id


async def _inbox_writes_all_die(client: TestClient[Any, Any], session: LearnerSession,
                                inbox: InboxService, kept: str, item_id: str) -> None:
    """Create, revoke and decline each die: no link, no revocation, no decline, no entry."""
    before = await _kinds(client, session)
    with pytest.raises(Crash):
        await inbox.create_link(session.learner_id, session.dek, "Never University")
    assert await inbox.store.link_ids(session.learner_id) == {kept}
    assert [link.label for link in await inbox.list_links(session.learner_id, session.dek)] \
        == ["Kept University"]
    with pytest.raises(Crash):
        await inbox.revoke_link(session.learner_id, session.dek, kept)
    assert await inbox.store.link_ids(session.learner_id) == {kept}
    with pytest.raises(Crash):
        await client.app[SERVICES].receive.decline_item(session.learner_id, session.dek,
                                                        item_id)
    assert [i.id for i in await inbox.items(session.learner_id, session.dek)] == [item_id]
    assert await _kinds(client, session) == before


async def test_inbox_links_and_items_change_only_with_their_entry(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    session, inbox, kept, item_id = await _inbox(client, "lf-inbox")
    for crash in ("at_ledger", "before_ledger_commit"):
        with monkeypatch.context() as m:
            _break_ledger(m, crash)
            await _inbox_writes_all_die(client, session, inbox, kept, item_id)
    # and nothing was left half done: each works, once, with its entry
    services = client.app[SERVICES]
    await services.receive.decline_item(session.learner_id, session.dek, item_id)
    await inbox.revoke_link(session.learner_id, session.dek, kept)
    assert await inbox.store.link_ids(session.learner_id) == set()
    kinds = await _kinds(client, session)
    assert kinds.count("credential_declined") == kinds.count("inbox_link_revoked") == 1


async def test_an_inbox_link_is_revoked_even_when_the_ledger_is_down(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    session, inbox, kept, _item_id = await _inbox(client, "lf-inbox-down")
    _break_ledger(monkeypatch, "down")
    with pytest.raises(Unavailable):
        await inbox.revoke_link(session.learner_id, session.dek, kept)
    assert await inbox.store.link_ids(session.learner_id) == set()


async def _imported(client: TestClient[Any, Any], token: str) -> str:
    """The id of an Open Badge imported through the API."""
    r = await client.post("/v1/credentials", json={
        "raw": OB_SAMPLE.read_text(encoding="utf-8")}, headers=auth(token))
    assert r.status == 201, await r.text()
    return str((await r.json())["id"])


async def _share_link_row(client: TestClient[Any, Any], session: LearnerSession) -> str:
    link_id, now = str(uuid.uuid4()), datetime.now(UTC)
    async with client.app[WIRING].stores.engine.begin() as conn:
        await conn.execute(insert(share_links).values(
            id=link_id, learner_id=session.learner_id, lookup_hash=uuid.uuid4().hex,
            created_at=now, expires_at=now + timedelta(hours=1), max_views=3, views=0,
            revoked=False, sealed=b"sealed"))
    return link_id


async def _revoked(client: TestClient[Any, Any], link_id: str) -> bool:
    async with client.app[WIRING].stores.engine.connect() as conn:
        return bool((await conn.execute(select(share_links.c.revoked).where(
            share_links.c.id == link_id))).scalar_one())


async def _dies_unrecorded(client: TestClient[Any, Any], session: LearnerSession,
                           monkeypatch: pytest.MonkeyPatch, crash: str,
                           write: Callable[[], Awaitable[object]]) -> None:
    """``write`` dies with the ledger broken as ``crash`` says, and the ledger names nothing
    new."""
    before = await _kinds(client, session)
    _break_ledger(monkeypatch, crash)
    with pytest.raises(Crash):
        await write()
    assert await _kinds(client, session) == before


@pytest.mark.parametrize("crash", ["at_ledger", "before_ledger_commit"])
async def test_a_share_link_is_revoked_only_with_its_entry(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch, crash: str) -> None:
    services = client.app[SERVICES]
    _token, session = await _session(client, "lf-share")
    link_id = await _share_link_row(client, session)
    await _dies_unrecorded(client, session, monkeypatch, crash, lambda: services.share_links.revoke(
        session.learner_id, session.dek, link_id))
    assert not await _revoked(client, link_id)


async def test_a_share_link_is_revoked_even_when_the_ledger_is_down(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    services = client.app[SERVICES]
    _token, session = await _session(client, "lf-share-down")
    link_id = await _share_link_row(client, session)
    _break_ledger(monkeypatch, "down")
    with pytest.raises(Unavailable):
        await services.share_links.revoke(session.learner_id, session.dek, link_id)
    assert await _revoked(client, link_id)


@pytest.mark.parametrize("crash", ["at_ledger", "before_ledger_commit"])
async def test_a_share_link_is_never_servable_without_its_entry(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch, crash: str) -> None:
    services = client.app[SERVICES]
    token, session = await _session(client, "lf-share-create")
    cid = await _imported(client, token)
    await _dies_unrecorded(client, session, monkeypatch, crash, lambda: services.share_links.create(
        session.learner_id, session.dek, cid, [()]))
    async with client.app[WIRING].stores.engine.connect() as conn:
        rows = (await conn.execute(select(share_links.c.id).where(
            share_links.c.learner_id == session.learner_id))).all()
    assert rows == []  # nothing servable
    assert await services.share_links.list(session.learner_id, session.dek) == []


async def test_a_share_link_view_leaves_its_queue_only_with_its_entry(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    services = client.app[SERVICES]
    token, session = await _session(client, "lf-share-view")
    link = await services.share_links.create(session.learner_id, session.dek,
                                             await _imported(client, token), [()])
    r = await client.get("/s/" + link.url.rsplit("/s/", 1)[1],
                         headers={"Accept": "application/json"})
    assert r.status == 200, await r.text()
    queued = select(share_link_views.c.id).where(
        share_link_views.c.learner_id == session.learner_id)
    engine = client.app[WIRING].stores.engine
    with monkeypatch.context() as m:
        _break_ledger(m, "before_ledger_commit")
        with pytest.raises(Crash):
            await services.share_links.drain_views(session.learner_id, session.dek)
    wiring = client.app[WIRING]
    ref = wiring.stores.keys.learner_ref(session.learner_id)

    async def viewed() -> int:  # the ledger as it is (no catch-up before reading)
        page = await wiring.consent.service.history(ref, session.dek, kind="share_link_viewed")
        return len(page.items)

    async with engine.connect() as conn:
        assert len((await conn.execute(queued)).all()) == 1  # still queued, not lost
    assert await viewed() == 0
    assert await services.share_links.drain_views(session.learner_id, session.dek) == 1
    async with engine.connect() as conn:
        assert (await conn.execute(queued)).all() == []
    assert await viewed() == 1


async def test_a_link_that_never_came_to_be_leaves_nothing(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """A link's record (the label, what the list shows) is sealed into its row, written with its
    entry: when they cannot be written (the ledger down: 503) nothing is, in either store."""
    services = client.app[SERVICES]
    token, session = await _session(client, "lf-no-record")
    cid = await _imported(client, token)
    vault = client.app[WIRING].stores.vault.for_learner(session.learner_id, session.dek)
    _break_ledger(monkeypatch, "down")
    with pytest.raises(Unavailable):
        await services.receive.inbox.create_link(session.learner_id, session.dek, "Gone Uni")
    with pytest.raises(Unavailable):
        await services.share_links.create(session.learner_id, session.dek, cid, [()])
    assert await vault.records(LINK_CATEGORY).list() == []
    assert await vault.records("share-links").list() == []
    assert await services.receive.inbox.store.link_ids(session.learner_id) == set()
    async with client.app[WIRING].stores.engine.connect() as conn:
        assert (await conn.execute(select(share_links.c.id).where(
            share_links.c.learner_id == session.learner_id))).all() == []


async def _earlier_links(client: TestClient[Any, Any], session: LearnerSession,
                         cid: str) -> tuple[str, str]:
    """An inbox link and a share link as a release before the records moved into the rows
    created them: their rows without ``sealed_record``, their records in the vault. (inbox
    link id, share link id)"""
    vault = client.app[WIRING].stores.vault.for_learner(session.learner_id, session.dek)
    inbox_link = await earlier_inbox_link(client, session.learner_id, session.dek,
                                          "Earlier University")
    share_link, now = await _share_link_row(client, session), datetime.now(UTC)
    await vault.records("share-links").put(share_link, {
        "credential_id": cid, "claims": [[]], "whole_credential": True,
        "created_at": now.isoformat()})
    return inbox_link, share_link


async def test_links_created_before_their_records_moved_into_their_rows(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """Listed with their vault records beside the links made since (an earlier inbox link's
    label then moves into its row: tests/holder_api/test_earlier_inbox_links.py); an earlier
    inbox link revoked before any list moved its label writes nothing to the vault (the row,
    the entry and a leftover: one SQL commit), so vault writes failing do not touch it; its
    vault label is never listed again and goes at the next list."""
    services = client.app[SERVICES]
    inbox = services.receive.inbox
    token, session = await _session(client, "lf-earlier")
    cid = await _imported(client, token)
    earlier, earlier_share = await _earlier_links(client, session, cid)
    labels = client.app[WIRING].stores.vault.for_learner(
        session.learner_id, session.dek).records(LINK_CATEGORY)

    tried: list[str] = []

    def vault_down(write: str) -> Callable[..., Awaitable[None]]:
        async def fails(*_args: Any, **_kwargs: Any) -> None:
            tried.append(write)
            raise Unavailable("simulated vault outage")
        return fails

    with monkeypatch.context() as patched:
        for write in ("insert", "replace", "upsert", "remove", "apply"):
            patched.setattr(AskarRecordStore, write, vault_down(write))
        await inbox.revoke_link(session.learner_id, session.dek, earlier)
    assert tried == []  # was ["remove"]: the label deleted after the row
    assert [i for i, _ in await labels.list()] == [earlier]  # until the next list
    await earlier_inbox_link(client, session.learner_id, session.dek, "Second University")
    await inbox.create_link(session.learner_id, session.dek, "Now University")
    assert sorted(link.label or "" for link in await inbox.list_links(
        session.learner_id, session.dek)) == ["Now University", "Second University"]
    assert await labels.list() == []
    await services.share_links.create(session.learner_id, session.dek, cid, [()])
    assert [(s.credential_id, s.whole_credential) for s in await services.share_links.list(
        session.learner_id, session.dek)] == [(cid, True)] * 2
    assert earlier_share in {s.id for s in await services.share_links.list(
        session.learner_id, session.dek)}
    events = await client.app[WIRING].consent.ledger.events(
        session.learner_id, session.dek, kinds=["inbox_link_revoked"])
    assert [e.event.counterparty_name for e in events.items if e.event is not None] \
        == ["Earlier University"]
