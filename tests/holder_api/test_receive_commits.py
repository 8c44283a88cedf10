"""How many durable commits a pre-authorized OpenID4VCI acceptance costs, counted at the stores.

Each commit is an fsync (SQLite) or a WAL flush (PostgreSQL) on the learner's path. Counted inside
aries_askar (every committed Askar transaction, every write Askar commits on its own) and at the
SQL engine (every transaction commit that wrote), while ``POST /v1/offers/{id}/accept`` runs
against a real issuer — up to the moment its response is sent, and then once the work deferred
past the answer is done.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.holder_api.commit_counter import TRANSACTION, Commits, count_commits
from tests.holder_api.receive_support import learner, ledger, stored
from tests.support.http_api import auth
from tests.wallet.oid4vci_support import Issuer


@pytest.fixture
def commits() -> Iterator[Commits]:
    with count_commits(answers="/accept") as seen:
        yield seen


async def test_accepting_an_offer_commits_once_before_answering(
        app: TestClient[Any, Any], issuer: Issuer, commits: Commits) -> None:
    token = await learner(app)
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    offer_id = (await r.json())["id"]
    commits.clear()

    r = await app.post(f"/v1/offers/{offer_id}/accept", json={}, headers=auth(token))
    assert r.status == 200, await r.text()
    credential_id = (await r.json())["credentials"][0]["id"]
    # before the answer: one vault transaction holding the credential, the consumed offer and
    # the ledger entry staged in the outbox; nothing in the ledger's database (it was 1 + 1)
    assert commits.answered == [((TRANSACTION,), 0)]
    # after it: the staged entry moved to the ledger (one ledger transaction), then left the
    # outbox (one vault write, which Askar commits by itself)
    await app.app[WIRING].consent.outbox.drain()
    assert commits.sql == 1
    assert commits.vault == [TRANSACTION, "remove"]
    # and all of it is there
    assert [c["id"] for c in await stored(app, token)] == [credential_id]
    assert ("credential_accepted", issuer.credential_issuer) in await ledger(app, token)
    assert (await app.get(f"/v1/offers/{offer_id}", headers=auth(token))).status == 404


async def test_the_counter_counts_at_askar_itself(app: TestClient[Any, Any]) -> None:
    """Below every Satchel wrapper: a raw Askar write and a committed transaction each count once,
    a rolled-back transaction and a read count nothing."""
    askar = app.app[WIRING].stores.vault.askar
    profile = await askar.create_profile()
    with count_commits() as seen:
        async with askar.session(profile) as s:
            await s.insert("raw", "one", b"1")
            await s.fetch("raw", "one")
        async with askar.transaction(profile) as tx:
            await tx.insert("raw", "two", b"2")
            await tx.replace("raw", "one", b"1b")
            await tx.commit()
        async with askar.transaction(profile) as tx:
            await tx.insert("raw", "three", b"3")
            await tx.rollback()
        await askar.remove_profile(profile)
    assert seen.vault == ["insert", TRANSACTION, "remove_profile"]
    assert seen.sql == 0
