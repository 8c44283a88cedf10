"""How many durable commits a pre-authorized OpenID4VCI acceptance costs, counted at the stores.

Each commit is an fsync (SQLite) or a WAL flush (PostgreSQL) on the learner's path. Counted: every
Askar write (a single write is its own transaction) and every transaction commit that wrote, on
both stores, while ``POST /v1/offers/{id}/accept`` runs against a real issuer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import event
from sqlalchemy.engine import Engine

from tests.holder_api.conftest import auth
from tests.holder_api.receive_support import (  # noqa: F401 - fixtures
    app_fixture,
    ca_file_fixture,
    ca_fixture,
    issuer_fixture,
    learner,
    ledger,
    stored,
)
from tests.wallet.oid4vci_support import Issuer
from wallet.vault.askar import AskarRecordStore

_WRITES = ("insert", "replace", "upsert", "remove", "apply")
_SQL_WRITES = ("INSERT", "UPDATE", "DELETE")


class Commits:
    def __init__(self) -> None:
        self.vault: list[str] = []
        self.sql = 0


@pytest.fixture
def commits(monkeypatch: pytest.MonkeyPatch) -> Iterator[Commits]:
    seen = Commits()
    for name in _WRITES:
        real = getattr(AskarRecordStore, name)

        def counted(self: Any, *args: Any, _real: Any = real, _name: str = name) -> Any:
            seen.vault.append(_name)  # one Askar session or transaction: one commit
            return _real(self, *args)

        monkeypatch.setattr(AskarRecordStore, name, counted)

    def before(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if verb in _SQL_WRITES:
            conn.info["wrote"] = True
        elif verb == "COMMIT":  # SQLite's BEGIN IMMEDIATE ... COMMIT, sent as SQL
            on_commit(conn)

    def on_commit(conn: Any) -> None:
        if conn.info.pop("wrote", False):
            seen.sql += 1

    event.listen(Engine, "before_cursor_execute", before)
    event.listen(Engine, "commit", on_commit)
    try:
        yield seen
    finally:
        event.remove(Engine, "before_cursor_execute", before)
        event.remove(Engine, "commit", on_commit)


async def test_accepting_an_offer_commits_the_vault_once(app: TestClient[Any, Any],
                                                          issuer: Issuer,
                                                          commits: Commits) -> None:
    token = await learner(app)
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    offer_id = (await r.json())["id"]
    commits.vault.clear()
    commits.sql = 0

    r = await app.post(f"/v1/offers/{offer_id}/accept", json={}, headers=auth(token))
    assert r.status == 200, await r.text()
    credential_id = (await r.json())["credentials"][0]["id"]
    # the credential and the consumed offer in one vault transaction (it was two commits)
    assert commits.vault == ["apply"]
    assert commits.sql == 1  # the ledger entry, committed before the vault's
    # and all of it is there
    assert [c["id"] for c in await stored(app, token)] == [credential_id]
    assert ("credential_accepted", issuer.credential_issuer) in await ledger(app, token)
    assert (await app.get(f"/v1/offers/{offer_id}", headers=auth(token))).status == 404
