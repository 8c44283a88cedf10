"""The inbox's limits hold under concurrency, erasure and time (both backends).

- the per-link and per-learner caps are exact under parallel pushes (one transaction per learner
  at a time: :func:`wallet.db.serialised`);
- a push racing an erasure stores nothing that survives it, whichever side takes the lock first;
- unaccepted inbox items and pending offers expire after ``SATCHEL_INBOX_TTL``: not listed,
  refused with 410, purged on read and by the background sweep.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

import wallet.receive.inbox_store as inbox_store_module
from holder_api.appkeys import INBOX_SWEEP, SERVICES
from holder_api.compose.migrations import run_migrations
from holder_api.settings import Settings, SettingsError
from tests.holder_api.receive_support import inbox_link
from tests.support.apps import AppFactory
from tests.support.backends import Backend
from tests.support.http_api import PASSPHRASE, assert_problem, auth, learner
from tests.wallet.oid4vci_support import Issuer
from wallet.accounts.models import learners
from wallet.clock import ManualClock
from wallet.db import create_engine, serialised
from wallet.errors import RateLimited
from wallet.receive.inbox_store import InboxStore
from wallet.receive.tables import inbox_items

OFFER = {"credential_issuer": "https://uni.example/issuer",
         "credential_configuration_ids": ["x"]}
PUSH = {"credential_offer": json.dumps(OFFER)}


def _engine(client: TestClient[Any, Any]) -> AsyncEngine:
    engine: AsyncEngine = client.app[SERVICES].receive.inbox.store._engine
    return engine


async def _rows(engine: AsyncEngine) -> int:
    """Every inbox row in the database, whoever it belongs to."""
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(inbox_items))).scalar_one())


# ------------------------------------------------------------------------------ exact caps
async def test_parallel_pushes_store_exactly_the_link_cap(make_client: AppFactory) -> None:
    # thirty pushes at once serialise on the learner: a standing queue that would be shed
    # (503) unless, as here, it never counts as standing (SATCHEL_QUEUE_INTERVAL), and all
    # thirty must find a place in admission (8 in flight by default, the rest queued)
    client = await make_client(SATCHEL_INBOX_LINK_LIMIT="5/3600",
                               SATCHEL_INBOX_CLIENT_LIMIT="1000/60", SATCHEL_QUEUE_INTERVAL="600",
                               SATCHEL_MAX_QUEUED="32")
    token = await learner(client)
    _, path = await inbox_link(client, token)
    answers = await asyncio.gather(*(client.get(path, params=PUSH) for _ in range(30)))
    statuses = sorted(r.status for r in answers)
    assert statuses == [202] * 5 + [429] * 25, statuses
    refused = next(r for r in answers if r.status == 429)
    body = await assert_problem(refused, 429, "rate_limited")
    assert body["type"] == "https://satchel.dev/problems/rate-limited"
    assert refused.headers["Retry-After"] == "3600"
    items = (await (await client.get("/v1/inbox", headers=auth(token))).json())["items"]
    assert len(items) == 5
    assert await _rows(_engine(client)) == 5


async def test_parallel_pushes_store_exactly_the_inbox_cap(make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_INBOX_LINK_LIMIT="1000/3600",
                               SATCHEL_INBOX_CLIENT_LIMIT="1000/60", SATCHEL_QUEUE_INTERVAL="600",
                               SATCHEL_MAX_QUEUED="32")  # all 24 admitted, none shed
    client.app[SERVICES].receive.inbox.store.max_items = 4  # the cap is not a setting
    token = await learner(client)
    paths = [(await inbox_link(client, token, label=f"Uni {n}"))[1] for n in range(3)]
    answers = await asyncio.gather(*(client.get(paths[n % 3], params=PUSH) for n in range(24)))
    assert sorted(r.status for r in answers) == [202] * 4 + [429] * 20
    for r in answers:
        if r.status == 429:
            await assert_problem(r, 429, "rate_limited")
    assert await _rows(_engine(client)) == 4


@asynccontextmanager
async def _store(backend: Backend) -> AsyncIterator[tuple[AsyncEngine, InboxStore]]:
    engine = create_engine(backend.database_url)
    await run_migrations(engine)
    now = datetime.now(UTC)
    async with engine.begin() as conn:
        await conn.execute(learners.insert().values(
            id="L1", username_hash="h" * 64, created_at=now, wrapped_keys="{}",
            inbox_public=b"\0" * 32, token_epoch=0))
    store = InboxStore(engine, max_items=7)
    async with engine.begin() as conn:  # as the service does: in its ledger entry's commit
        for n in range(3):
            await store.add_link_in(conn, f"K{n}", "L1", str(n) * 64, now, b"sealed")
    try:
        yield engine, store
    finally:
        await engine.dispose()


async def test_store_cap_is_exact_under_contention(backend: Backend) -> None:
    """More contention than HTTP gives: 60 add_item calls at once, straight at the store."""
    async with _store(backend) as (engine, store):
        now = datetime.now(UTC)

        async def add(n: int) -> str:
            try:
                await store.add_item(f"I{n}", "L1", f"K{n % 3}", now, b"sealed",
                                     link_limit=(3, 3600))
            except RateLimited as exc:
                return exc.detail
            return "stored"

        outcomes = await asyncio.gather(*(add(n) for n in range(60)))
        # three links × 3 per link would be 9: the inbox cap (7) binds first, exactly
        assert outcomes.count("stored") == 7, outcomes
        assert await _rows(engine) == 7
        per_link = [len([r for r in await store.items("L1") if r.link_id == f"K{n}"])
                    for n in range(3)]
        assert max(per_link) <= 3 and sum(per_link) == 7


# ------------------------------------------------------------------------------ push vs erasure
async def test_push_with_a_cached_link_after_an_erasure_stores_nothing(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    client = await make_client()
    token = await learner(client)
    _, path = await inbox_link(client, token)
    assert (await client.get(path, params=PUSH)).status == 202  # the link is now cached
    store = client.app[SERVICES].receive.inbox.store
    real_add = store.add_item
    looked_up, release = asyncio.Event(), asyncio.Event()

    async def paused_add(*args: Any, **kwargs: Any) -> None:
        looked_up.set()  # the push has its (cached) link and sealed payload
        await release.wait()
        await real_add(*args, **kwargs)

    monkeypatch.setattr(store, "add_item", paused_add)
    push = asyncio.create_task(client.get(path, params=PUSH))
    await asyncio.wait_for(looked_up.wait(), 30)
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE}, headers=auth(token))
    assert r.status == 204, await r.text()
    assert await _rows(_engine(client)) == 0
    release.set()
    gone = await assert_problem(await push, 404, "not_found")
    never = await assert_problem(await client.get("/i/" + "A" * 43, params=PUSH), 404)
    assert gone == never  # the same answer as a link that never existed
    assert await _rows(_engine(client)) == 0
    await assert_problem(await client.get(path, params=PUSH), 404)  # and the cache forgot it


async def test_erasure_waits_for_a_push_inside_its_transaction(
        make_client: AppFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The push has inserted its row but not committed when the erasure starts: the erasure
    must wait for it and then delete it (without the shared lock, PostgreSQL's erasure would
    not see the uncommitted row and the push would commit it afterwards)."""
    client = await make_client()
    token = await learner(client)
    _, path = await inbox_link(client, token)
    inserted, release = asyncio.Event(), asyncio.Event()
    order: list[str] = []

    @asynccontextmanager
    async def observed(engine: AsyncEngine, key: str) -> AsyncIterator[AsyncConnection]:
        me = "push" if not order else "erase"
        async with serialised(engine, key) as conn:
            order.append(f"{me} locked")
            yield conn
            if me == "push":
                inserted.set()  # row inserted, transaction still open
                await release.wait()
            order.append(f"{me} commits")

    monkeypatch.setattr(inbox_store_module, "serialised", observed)
    push = asyncio.create_task(client.get(path, params=PUSH))
    await asyncio.wait_for(inserted.wait(), 30)  # a failure, not a hang, if it never gets there
    erase = asyncio.create_task(client.post("/v1/me/erase", json={"passphrase": PASSPHRASE},
                                            headers=auth(token)))
    # nothing can signal "blocked on a lock", so give the erasure ample time to (wrongly) finish
    done, _ = await asyncio.wait({erase}, timeout=1.0)
    assert not done and order == ["push locked"]
    release.set()
    assert (await push).status == 202
    r = await erase
    assert r.status == 204, await r.text()
    assert await _rows(_engine(client)) == 0
    assert order == ["push locked", "push commits", "erase locked", "erase commits"]


# ------------------------------------------------------------------------------ expiry
def test_inbox_ttl_setting() -> None:
    base = {"SATCHEL_DATA_DIR": "/tmp/satchel-settings-test"}
    assert Settings.from_env(base).inbox_ttl == 30 * 86400
    assert Settings.from_env({**base, "SATCHEL_INBOX_TTL": "3600"}).inbox_ttl == 3600
    for bad in ("59", "soon"):
        with pytest.raises(SettingsError):
            Settings.from_env({**base, "SATCHEL_INBOX_TTL": bad})


#: the app's access tokens outlive the hours these tests move the clock by
LONG_TOKENS = str(86400)


async def test_expired_inbox_items_are_hidden_refused_and_purged(make_client: AppFactory) -> None:
    clock = ManualClock()
    client = await make_client(clock=clock, SATCHEL_INBOX_TTL="3600",
                               SATCHEL_TOKEN_TTL=LONG_TOKENS)
    token = await learner(client)
    other = await learner(client, "bob")
    _, path = await inbox_link(client, token)
    for _ in range(3):
        assert (await client.get(path, params=PUSH)).status == 202
    clock.advance(timedelta(minutes=30))
    assert (await client.post(path, json={"credential": "eyJ.fresh.x"})).status == 202
    ids = [i["id"] for i in (await (await client.get("/v1/inbox", headers=auth(token))).json())
           ["items"]]
    assert len(ids) == 4
    fresh, old = ids[0], ids[1:]  # newest first

    clock.advance(timedelta(minutes=31))  # the first three are now 61 minutes old
    # another learner's id is still a plain 404 (nothing said about its age)
    await assert_problem(await client.post(f"/v1/inbox/{old[0]}/accept", json={},
                                           headers=auth(other)), 404, "not_found")
    body = await assert_problem(await client.post(f"/v1/inbox/{old[0]}/accept", json={},
                                                  headers=auth(token)), 410, "inbox_item_expired")
    assert body["type"] == "https://satchel.dev/problems/inbox-item-expired"
    await assert_problem(await client.post(f"/v1/inbox/{old[0]}/accept", json={},
                                           headers=auth(token)), 404)  # deleted as refused
    await assert_problem(await client.post(f"/v1/inbox/{old[1]}/decline",
                                           headers=auth(token)), 410, "inbox_item_expired")
    assert await _rows(_engine(client)) == 2  # old[2] is hidden ...
    listed = (await (await client.get("/v1/inbox", headers=auth(token))).json())["items"]
    assert [i["id"] for i in listed] == [fresh]
    assert await _rows(_engine(client)) == 1  # ... and was purged by the read
    await assert_problem(await client.post(f"/v1/inbox/{old[2]}/accept", json={},
                                           headers=auth(token)), 404)


async def test_expired_items_do_not_count_against_the_caps(make_client: AppFactory) -> None:
    clock = ManualClock()
    client = await make_client(clock=clock, SATCHEL_INBOX_TTL="3600",
                               SATCHEL_INBOX_LINK_LIMIT="2/86400", SATCHEL_TOKEN_TTL=LONG_TOKENS)
    token = await learner(client)
    _, path = await inbox_link(client, token)
    for _ in range(2):
        assert (await client.get(path, params=PUSH)).status == 202
    await assert_problem(await client.get(path, params=PUSH), 429, "rate_limited")
    clock.advance(timedelta(hours=2))  # expired, though still inside the link's window
    assert (await client.get(path, params=PUSH)).status == 202
    assert await _rows(_engine(client)) == 1  # the push purged the learner's expired rows


async def test_background_sweep_purges_expired_items(make_client: AppFactory) -> None:
    clock = ManualClock()
    client = await make_client(clock=clock, SATCHEL_INBOX_TTL="3600",
                               SATCHEL_TOKEN_TTL=LONG_TOKENS)
    sweep = client.app[INBOX_SWEEP]
    await sweep.wait_for_pass(1)  # the pass at start-up is behind us
    assert sweep.interval == 1800
    token = await learner(client)
    _, path = await inbox_link(client, token)
    assert (await client.get(path, params=PUSH)).status == 202
    clock.advance(timedelta(minutes=45))
    assert (await client.get(path, params=PUSH)).status == 202
    clock.advance(timedelta(minutes=16))  # the first is 61 minutes old, the second 16
    passes = sweep.passes
    sweep.wake()
    await sweep.wait_for_pass(passes + 1)
    assert sweep.deleted == 1
    assert await _rows(_engine(client)) == 1
    listed = (await (await client.get("/v1/inbox", headers=auth(token))).json())["items"]
    assert len(listed) == 1


async def test_expired_offers_are_hidden_refused_and_purged(app: TestClient[Any, Any],
                                                            issuer: Issuer) -> None:
    token = await learner(app)
    offers = app.app[SERVICES].receive.offers
    assert offers.ttl == 30 * 86400  # the default
    ids = []
    for _ in range(3):
        r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                           headers=auth(token))
        assert r.status == 201, await r.text()
        ids.append((await r.json())["id"])
    clock = issuer.clock  # Satchel's too (the app fixture)
    clock.advance(30 * 86400 - 60)  # a minute before expiry: all there
    listed = (await (await app.get("/v1/offers", headers=auth(token))).json())["items"]
    assert sorted(o["id"] for o in listed) == sorted(ids)
    clock.advance(61)
    body = await assert_problem(await app.post(f"/v1/offers/{ids[0]}/accept", json={},
                                               headers=auth(token)), 410, "offer_expired")
    assert body["type"] == "https://satchel.dev/problems/offer-expired"
    await assert_problem(await app.get(f"/v1/offers/{ids[0]}", headers=auth(token)), 404)
    await assert_problem(await app.get(f"/v1/offers/{ids[1]}", headers=auth(token)), 410,
                         "offer_expired")
    assert (await (await app.get("/v1/offers", headers=auth(token))).json())["items"] == []
    await assert_problem(await app.post(f"/v1/offers/{ids[2]}/decline", headers=auth(token)),
                         404)  # purged by the listing
    assert not [r for r, _ in issuer.requests if r in ("token", "credential")]


def test_deferred_offers_do_not_expire() -> None:
    from wallet.receive.offer_records import OfferRecord, OfferState
    from wallet.receive.offers import OfferFlow

    clock = ManualClock()
    unused = cast(Any, None)
    flow = OfferFlow(vault=unused, intake=unused, outbox=unused, fetcher=unused,
                     trust=unused, public_url="https://satchel.example", ttl=3600, clock=clock)
    created = clock().isoformat()
    clock.advance(7200)

    def offer(state: OfferState) -> OfferRecord:
        return OfferRecord({}, state, created_at=created)

    assert flow._expired(offer("pending"))
    assert flow._expired(offer("authorization_required"))
    assert not flow._expired(offer("deferred"))
    clock.advance(-7200)
    assert not flow._expired(offer("pending"))


async def test_a_push_waits_for_its_learner_s_lock_only_so_long(
        backend: Backend, monkeypatch: pytest.MonkeyPatch) -> None:
    """A waiter holds a pooled connection: on PostgreSQL the wait is bounded (lock_timeout) and
    the push answers 429 instead of queueing until the pool is gone. SQLite has one write lock
    that every writer waits for (up to the busy timeout): there the push waits and then stores."""
    import wallet.db as db

    async with _store(backend) as (engine, store):
        monkeypatch.setattr(db, "LOCK_WAIT_SECONDS", 0.2)
        holding, release = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            async with serialised(engine, "inbox/L1"):
                holding.set()
                await release.wait()

        holder = asyncio.create_task(hold())
        await holding.wait()
        push = asyncio.create_task(store.add_item("I1", "L1", "K0", datetime.now(UTC), b"x"))
        try:
            if backend.kind == "postgres":
                with pytest.raises(db.Contended) as info:
                    await asyncio.wait_for(push, 10)
                assert isinstance(info.value, RateLimited) and info.value.status == 429
                assert await _rows(engine) == 0
            else:
                await asyncio.sleep(0.4)  # twice the PostgreSQL bound: SQLite still waits
                assert not push.done()
        finally:
            release.set()
            await holder
        if backend.kind == "postgres":  # free again: the next push goes through
            await store.add_item("I1", "L1", "K0", datetime.now(UTC), b"x")
        else:
            await asyncio.wait_for(push, 10)
        assert await _rows(engine) == 1
