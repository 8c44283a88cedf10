"""An erasure cut short at any step is finished, and nothing is served once it has begun (both
backends).

A store fails once at each step of ``POST /v1/me/erase`` after the passphrase check: inside the
first commit (the tombstone with the account's mark), in a feature's eraser, destroying the
erasure key, removing the vault profile, deleting the rows. Before the fix the erasure key went
first and the rows last: a failure after the key left an account nobody could unlock or erase
again (the retry needed the passphrase, which needed the key), whose share links kept serving the
credential and whose username stayed taken (the audit of 2026-12-07).

Now a failure inside the first commit leaves the account as it was (the passphrase still erases
it), and after that commit nothing is served (share link and inbox link 404, every token refused)
and the erasure is finished by whichever comes first: the retry with the same token (204), the
sweep at start-up, an unlock or a sign-up of the username, any request with a token of the
account. Each then leaves no erasure key, no vault profile, no account row, a free username, and
a ledger reduced to its verifiable tombstone.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from holder_api.appkeys import WIRING
from tests.support.apps import AppFactory, app_clock
from tests.support.http_api import PASSPHRASE, assert_problem, auth, login, sign_up
from tests.support.vectors import VECTORS
from wallet.accounts import service as account_service
from wallet.accounts.models import learners
from wallet.errors import NotFound, Unavailable

PIN = datetime(2025, 1, 1, tzinfo=UTC)  # inside the sample credential's validity
SHAREABLE = (VECTORS / "microcredentials/1edtech/ob30/simple-did-key-method.json").read_text(
    encoding="utf-8")
#: where a store fails, in the order the erasure takes them
AFTER_COMMIT = ("eraser", "erasure-key", "vault-profile", "rows")
#: what finishes an erasure cut short
FINISHERS = ("retry", "start-up", "unlock", "sign-up", "token")


class _Learner:
    def __init__(self, name: str, learner_id: str, token: str, share: str, push: str) -> None:
        self.name, self.id, self.token, self.share, self.push = (name, learner_id, token, share,
                                                                  push)


async def _learner(client: TestClient[Any, Any], name: str) -> _Learner:
    """A learner with a credential, a share link serving it and an inbox link."""
    learner_id = (await sign_up(client, name))["learner_id"]
    app_clock(client).set(PIN)
    token = await login(client, name)
    r = await client.post("/v1/credentials", json={"raw": SHAREABLE}, headers=auth(token))
    assert r.status == 201, await r.text()
    cid = (await r.json())["id"]
    r = await client.post("/v1/share-links", headers=auth(token),
                          json={"credential_id": cid, "claims": [[]], "max_views": 50})
    assert r.status == 201, await r.text()
    share = (await r.json())["url"].split("http://satchel.test", 1)[1]
    r = await client.post("/v1/inbox-links", json={"label": "Uni"}, headers=auth(token))
    assert r.status == 201, await r.text()
    push = (await r.json())["url"].split("http://satchel.test", 1)[1]
    assert (await client.get(share)).status == 200
    return _Learner(name, learner_id, token, share, push)


def _fail_once(monkeypatch: pytest.MonkeyPatch, client: TestClient[Any, Any], step: str) -> None:
    """The store behind ``step`` fails the next time the erasure reaches it, then is back."""
    wiring = client.app[WIRING]
    down = Unavailable("the store is down")

    def once(owner: Any, name: str) -> None:
        original = getattr(owner, name)

        async def failing(*args: Any, **kwargs: Any) -> Any:
            monkeypatch.setattr(owner, name, original)
            raise down

        monkeypatch.setattr(owner, name, failing)

    if step == "commit":  # the last statement of the first commit: the whole commit rolls back
        original = account_service.AccountService.begin_erasure

        async def then_fail(self: Any, *args: Any, **kwargs: Any) -> None:
            await original(self, *args, **kwargs)
            monkeypatch.setattr(account_service.AccountService, "begin_erasure", original)
            raise down

        monkeypatch.setattr(account_service.AccountService, "begin_erasure", then_fail)
    elif step == "eraser":
        calls: list[str] = []

        async def flaky(learner_id: str) -> None:
            calls.append(learner_id)
            if len(calls) == 1:
                raise down

        wiring.consent.personal_data.add_eraser("flaky", flaky)
    elif step == "erasure-key":
        once(type(wiring.stores.keyring), "destroy")
    elif step == "vault-profile":
        once(type(wiring.stores.vault), "remove_profile")
    else:
        assert step == "rows"  # the transaction that deletes the rows, the account's last
        original_writing = account_service.writing

        @contextlib.asynccontextmanager
        async def failing_writing(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
            monkeypatch.setattr(account_service, "writing", original_writing)
            raise down
            yield  # pragma: no cover - never reached

        monkeypatch.setattr(account_service, "writing", failing_writing)


async def _assert_nothing_served(client: TestClient[Any, Any], learner: _Learner) -> None:
    await assert_problem(await client.get(learner.share, headers={"Accept": "application/json"}),
                         404)
    await assert_problem(await client.post(learner.push, json={"credential": "x"}), 404)


async def _assert_gone(client: TestClient[Any, Any], learner: _Learner) -> None:
    wiring = client.app[WIRING]
    with pytest.raises(NotFound):
        await wiring.stores.keyring.get(learner.id)
    assert not await wiring.stores.vault.has_profile(learner.id)
    async with wiring.stores.engine.connect() as conn:
        assert (await conn.execute(select(learners.c.id)
                                   .where(learners.c.id == learner.id))).first() is None
    await _assert_nothing_served(client, learner)
    ledger = await wiring.consent.service.verify(wiring.stores.keys.learner_ref(learner.id))
    assert ledger.valid and ledger.length > 1  # the chain, ending with its tombstone
    await assert_problem(await client.post("/v1/sessions", json={
        "username": learner.name, "passphrase": PASSPHRASE}), 401, "invalid_credentials")
    fresh = await sign_up(client, learner.name)  # the username is free
    assert fresh["learner_id"] != learner.id
    await login(client, learner.name)


async def _finish(how: str, client: TestClient[Any, Any], make_client: AppFactory,
                  learner: _Learner) -> TestClient[Any, Any]:
    """Finish the erasure through ``how``; the client to check the result on."""
    if how == "retry":
        r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                              headers=auth(learner.token))
        assert r.status == 204, await r.text()
    elif how == "start-up":  # a replica (re)starting on the same stores (and clock)
        client = await make_client(clock=app_clock(client))
    elif how == "unlock":
        await assert_problem(await client.post("/v1/sessions", json={
            "username": learner.name, "passphrase": PASSPHRASE}), 401, "invalid_credentials")
    elif how == "sign-up":
        assert (await sign_up(client, learner.name))["learner_id"] != learner.id
        await login(client, learner.name)
        learner.name += "-x"  # the checks below sign up a name of their own
    else:
        assert how == "token"
        await assert_problem(await client.get("/v1/credentials", headers=auth(learner.token)),
                             401, "account_erased")
    return client


@pytest.mark.parametrize("how", FINISHERS)
@pytest.mark.parametrize("step", AFTER_COMMIT)
async def test_an_erasure_cut_short_serves_nothing_and_is_finished(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch, step: str, how: str) -> None:
    client = await make_client()
    learner = await _learner(client, "erase-me")
    _fail_once(monkeypatch, client, step)
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                          headers=auth(learner.token))
    await assert_problem(r, 503)
    # from the first commit on, nothing of the learner is served or taken
    await _assert_nothing_served(client, learner)
    checked_on = await _finish(how, client, make_client, learner)
    await _assert_gone(checked_on, learner)
    # a retry after it all is done is answered as done
    r = await checked_on.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                              headers=auth(learner.token))
    assert r.status == 204, await r.text()


async def test_a_failure_inside_the_first_commit_leaves_the_account_as_it_was(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tombstone, the mark and the links' deletion commit together or not at all."""
    client = await make_client()
    learner = await _learner(client, "erase-me")
    wiring = client.app[WIRING]
    _fail_once(monkeypatch, client, "commit")
    await assert_problem(await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                                           headers=auth(learner.token)), 503)
    assert (await client.get(learner.share, headers={"Accept": "application/json"})).status == 200
    r = await client.get("/v1/consent/events?limit=200", headers=auth(learner.token))
    assert r.status == 200, await r.text()  # an erased ledger answers 409
    assert "erasure" not in {e["kind"] for e in (await r.json())["items"]}  # no tombstone
    assert (await client.get("/v1/credentials", headers=auth(learner.token))).status == 200
    assert await wiring.accounts.service.erasures_cut_short() == []
    # nothing was begun: the start-up sweep leaves it alone, and the passphrase still erases it
    await make_client(clock=app_clock(client))
    assert (await client.get("/v1/credentials", headers=auth(learner.token))).status == 200
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                          headers=auth(learner.token))
    assert r.status == 204, await r.text()
    await _assert_gone(client, learner)


async def test_an_erasure_still_cut_short_answers_503_and_the_name_stays_taken_until_done(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """While the store stays down, whatever touches the account says the erasure is pending
    (problem+json 503 with Retry-After, never 500) and nobody can take the username."""
    client = await make_client()
    learner = await _learner(client, "erase-me")
    keyring = type(client.app[WIRING].stores.keyring)
    original = keyring.destroy

    async def down(*args: Any) -> None:
        raise Unavailable("the keyring is down")

    monkeypatch.setattr(keyring, "destroy", down)
    await assert_problem(await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                                           headers=auth(learner.token)), 503)
    for r in (await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                                headers=auth(learner.token)),
              await client.post("/v1/sessions", json={"username": learner.name,
                                                      "passphrase": PASSPHRASE}),
              await client.post("/v1/learners", json={"username": learner.name,
                                                      "passphrase": PASSPHRASE})):
        await assert_problem(r, 503, "erasure_pending")
        assert int(r.headers["Retry-After"]) >= 1
    await _assert_nothing_served(client, learner)
    monkeypatch.setattr(keyring, "destroy", original)  # the store is back
    await make_client(clock=app_clock(client))  # the start-up sweep finishes it
    await _assert_gone(client, learner)
