"""Inbox and share links whose record (sealed into their row, :mod:`wallet.row_records`) is
missing or does not open are still listed, by id, and still revocable (both backends).

A schema downgrade below 0006/0007 drops the ``sealed_record`` columns (docs/operations.md): the
upgrade again finds the rows without a record, in the row or in the vault. Such a link still
takes pushes (an inbox link) or views (a share link), so hiding it from the learner's list would
leave a live capability nobody can see or revoke. A record that does not open (a tampered row, a
value copied from another row) must not stop the list, nor a revocation (the label is only for
the ledger entry's counterparty name). And a label that is no Unicode text (a lone surrogate,
JSON ``"\\ud800"``) is a 400, never a 500.
"""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, update

from holder_api.appkeys import SERVICES, WIRING
from sharing.share_tables import share_links
from tests.holder_api.receive_support import inbox_link
from tests.support.http_api import assert_problem, auth, login, sign_up
from wallet.accounts.service import LearnerSession
from wallet.crypto import VaultKey
from wallet.errors import BadInput
from wallet.receive.inbox_store import InboxStore
from wallet.receive.tables import inbox_links
from wallet.row_records import seal_row_record

#: a value that does not open as any row's record (random bytes of a sealed record's length)
GARBAGE = bytes(range(80))


async def _session(client: TestClient[Any, Any], name: str) -> tuple[str, LearnerSession]:
    await sign_up(client, name)
    token = await login(client, name)
    return token, await client.app[SERVICES].accounts.authenticate(token)


async def _inbox_row(client: TestClient[Any, Any], session: LearnerSession,
                     sealed_record: bytes | None, at: datetime) -> str:
    """A live inbox link row as a downgrade and upgrade leave it (``None``), or with a record
    that does not open; no label in the vault either."""
    link_id = str(uuid.uuid4())
    async with client.app[WIRING].stores.engine.begin() as conn:
        await conn.execute(inbox_links.insert().values(
            id=link_id, learner_id=session.learner_id, token_hash=uuid.uuid4().hex,
            created_at=at, sealed_record=sealed_record))
    return link_id


async def _share_row(client: TestClient[Any, Any], session: LearnerSession,
                     sealed_record: bytes | None) -> str:
    link_id, now = str(uuid.uuid4()), datetime.now(UTC)
    async with client.app[WIRING].stores.engine.begin() as conn:
        await conn.execute(insert(share_links).values(
            id=link_id, learner_id=session.learner_id, lookup_hash=uuid.uuid4().hex,
            created_at=now, expires_at=now + timedelta(hours=1), max_views=3, views=0,
            revoked=False, sealed=b"sealed", sealed_record=sealed_record))
    return link_id


async def _revoked_names(client: TestClient[Any, Any], session: LearnerSession) -> list[Any]:
    page = await client.app[WIRING].consent.ledger.events(
        session.learner_id, session.dek, kinds=["inbox_link_revoked"])
    return sorted((e.event.details["link_id"], e.event.counterparty_name)
                  for e in page.items if e.event is not None)


async def test_inbox_links_without_a_readable_record_are_listed_and_revoked(
        client: TestClient[Any, Any]) -> None:
    token, session = await _session(client, "lr-inbox")
    kept, _path = await inbox_link(client, token, "Kept University")
    at = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    dropped = await _inbox_row(client, session, None, at)  # the downgrade dropped its record
    r = await client.get("/v1/inbox-links", headers=auth(token))
    assert {i["id"] for i in (await r.json())["items"]} == {kept, dropped}  # not hidden
    bad = await _inbox_row(client, session, GARBAGE, at)  # its record does not open
    copied = await _inbox_row(client, session, seal_row_record(
        session.dek, "inbox_links", kept, {"label": "Kept University"}), at)  # another row's

    r = await client.get("/v1/inbox-links", headers=auth(token))
    assert r.status == 200, await r.text()
    listed = {i["id"]: (i["label"], i["created_at"]) for i in (await r.json())["items"]}
    assert listed.pop(kept)[0] == "Kept University"
    assert listed == {i: (None, "2026-03-01T12:00:00Z") for i in (dropped, bad, copied)}

    for link_id in (dropped, bad, copied):
        r = await client.delete(f"/v1/inbox-links/{link_id}", headers=auth(token))
        assert r.status == 204, await r.text()
    r = await client.get("/v1/inbox-links", headers=auth(token))
    assert [i["id"] for i in (await r.json())["items"]] == [kept]
    assert await _revoked_names(client, session) == sorted(
        (i, None) for i in (dropped, bad, copied))  # recorded, without a label


async def test_share_links_without_a_readable_record_are_listed_and_revoked(
        client: TestClient[Any, Any]) -> None:
    token, session = await _session(client, "lr-share")
    good = await _share_row(client, session, seal_row_record(
        session.dek, "share_links", "placeholder", {}))  # sealed for another row: no record
    async with client.app[WIRING].stores.engine.begin() as conn:
        await conn.execute(update(share_links).where(share_links.c.id == good).values(
            sealed_record=seal_row_record(session.dek, "share_links", good, {
                "credential_id": "urn:uuid:c1", "claims": [["name"]],
                "whole_credential": False})))
    dropped = await _share_row(client, session, None)
    bad = await _share_row(client, session, GARBAGE)

    r = await client.get("/v1/share-links", headers=auth(token))
    assert r.status == 200, await r.text()
    listed = {i["id"]: (i.get("credential_id"), i["state"]) for i in (await r.json())["items"]}
    assert listed == {good: ("urn:uuid:c1", "active"), dropped: (None, "active"),
                      bad: (None, "active")}
    for link_id in (dropped, bad):
        r = await client.delete(f"/v1/share-links/{link_id}", headers=auth(token))
        assert r.status == 204, await r.text()
    states = {s.id: s.state for s in await client.app[SERVICES].share_links.list(
        session.learner_id, session.dek)}
    assert states == {good: "active", dropped: "revoked", bad: "revoked"}


async def test_a_label_that_is_no_unicode_text_is_a_400(client: TestClient[Any, Any]) -> None:
    token, session = await _session(client, "lr-surrogate")
    r = await client.post("/v1/inbox-links", data=b'{"label": "Uni \\ud800"}',
                          headers={**auth(token), "Content-Type": "application/json"})
    body = await assert_problem(r, 400, "invalid_request")
    assert "\\ud800" not in body["detail"]
    assert await client.app[SERVICES].receive.inbox.store.link_ids(session.learner_id) == set()


def test_sealing_text_utf8_cannot_encode_is_bad_input() -> None:
    dek = VaultKey.generate()
    with pytest.raises(BadInput):
        seal_row_record(dek, "inbox_links", "K1", {"label": "\ud800"})


async def test_sealed_vault_record_with_a_lone_surrogate_is_bad_input(
        client: TestClient[Any, Any]) -> None:
    _token, session = await _session(client, "lr-vault-surrogate")
    vault = client.app[WIRING].stores.vault.for_learner(session.learner_id, session.dek)
    with pytest.raises(BadInput):
        await vault.records("settings").put("s1", {"note": "\udfff"})


def test_no_live_inbox_link_is_written_without_its_record() -> None:
    parameter = inspect.signature(InboxStore.add_link_in).parameters["sealed_record"]
    assert parameter.default is inspect.Parameter.empty
    assert parameter.annotation == "bytes"
