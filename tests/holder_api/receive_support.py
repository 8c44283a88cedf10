"""Helpers of the receive API tests: a learner, what they stored, their ledger, a deferred offer.

The ``issuer`` and ``app`` fixtures they use are in tests/holder_api/conftest.py.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.support.http_api import auth, learner
from tests.wallet.oid4vci_support import DEFERRED, FakeClock, Issuer
from wallet.receive.offers import OFFER_CATEGORY


async def stored(client: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/credentials", headers=auth(token))
    assert r.status == 200
    return list((await r.json())["items"])


async def ledger(client: TestClient[Any, Any], token: str) -> list[tuple[str, str | None]]:
    """(kind, counterparty) of every ledger event, oldest first, as the learner reads them
    (entries still staged in the vault's ledger outbox move in first)."""
    s = client.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    page = await s.consent.ledger.events(session.learner_id, session.dek, limit=200)
    out = [(e.kind.value, e.event.counterparty if e.event else None) for e in page.items]
    return out[::-1]  # history is newest first


async def holder_thumbprints(client: TestClient[Any, Any], token: str) -> set[str]:
    r = await client.get("/v1/keys", headers=auth(token))
    assert r.status == 200
    return {k["id"] for k in (await r.json())["items"]}


async def deferred_offer(app: TestClient[Any, Any], issuer: Issuer,
                         ids: tuple[str, ...] = (DEFERRED,)) -> tuple[str, str, FakeClock]:
    """A learner with an accepted, deferred offer; Satchel's clock is the issuer's (see app)."""
    token = await learner(app)
    clock = issuer.clock
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer(ids)},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    offer_id = (await r.json())["id"]
    r = await accept(app, token, offer_id)
    assert r.status == 202, await r.text()
    return token, offer_id, clock


async def accept(app: TestClient[Any, Any], token: str, offer_id: str) -> aiohttp.ClientResponse:
    return await app.post(f"/v1/offers/{offer_id}/accept", json={}, headers=auth(token))


def advance(issuer: Issuer, clock: FakeClock, seconds: float) -> None:
    """Move Satchel's and the issuer's clock (one clock) forward."""
    assert clock is issuer.clock
    clock.advance(seconds)


async def inbox_link(client: TestClient[Any, Any], token: str, label: str = "Test University"
                ) -> tuple[str, str]:
    r = await client.post("/v1/inbox-links", json={"label": label}, headers=auth(token))
    assert r.status == 201, await r.text()
    body = await r.json()
    url = body["url"]
    assert url.startswith("http://satchel.test/i/")
    return body["id"], urlsplit(url).path


async def offer_record(app: TestClient[Any, Any], token: str, offer_id: str) -> dict[str, Any]:
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    record = await s.stores.vault.for_learner(session.learner_id, session.dek).records(
        OFFER_CATEGORY).get(offer_id)
    return dict(record)
