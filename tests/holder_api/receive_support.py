"""Fixtures for the receive API tests: the independent issuer over HTTPS and a Satchel that trusts it.

The issuer is the ``openid4vci`` package behind the glue of tests/wallet/oid4vci_support.py
(trustme certificates, 127.0.0.1). Satchel reaches it through its real GuardedFetcher, allowed to
contact 127.0.0.1 by ``SATCHEL_FETCH_ALLOW_HOSTS`` and trusting the CA by ``SATCHEL_EXTRA_CA_FILE``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import trustme
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.holder_api.conftest import AppFactory, auth, login, sign_up
from tests.wallet.oid4vci_support import DEFERRED, FakeClock, Issuer


@pytest.fixture(scope="module", name="ca")
def ca_fixture() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(name="ca_file")
def ca_file_fixture(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(name="issuer")
async def issuer_fixture(ca: trustme.CA) -> AsyncIterator[Issuer]:
    # the issuer's clock is also Satchel's (see app): it starts at the wall clock's second, so the
    # credentials the issuer stamps with the real time are neither early nor late
    server = await Issuer(ca, FakeClock(int(time.time()))).start()
    yield server
    await server.close()


@pytest.fixture(name="app")
async def app_fixture(make_client: AppFactory, ca_file: Path, issuer: Issuer
                      ) -> TestClient[Any, Any]:
    # 5 s: short enough for the stalled-issuer tests (their issuer waits 10 s), long enough that
    # a loaded CI machine never times out a healthy local issuer (1 s once did). Satchel runs on
    # the issuer's clock, which tests move by up to a month: access tokens live for 90 days here.
    return await make_client(  # type: ignore[no-any-return]
        clock=issuer.clock, SATCHEL_FETCH_ALLOW_HOSTS="127.0.0.1",
        SATCHEL_EXTRA_CA_FILE=str(ca_file), SATCHEL_FETCH_TIMEOUT="5",
        SATCHEL_TOKEN_TTL=str(90 * 86400))


async def learner(client: TestClient[Any, Any], name: str = "ada") -> str:
    await sign_up(client, name)
    return await login(client, name)


async def stored(client: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    r = await client.get("/v1/credentials", headers=auth(token))
    assert r.status == 200
    return list((await r.json())["items"])


async def ledger(client: TestClient[Any, Any], token: str) -> list[tuple[str, str | None]]:
    """(kind, counterparty) of every ledger event, oldest first."""
    s = client.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    page = await s.consent.service.history(s.stores.keys.learner_ref(session.learner_id), session.dek,
                                   limit=200)
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
