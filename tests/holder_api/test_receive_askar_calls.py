"""How many Askar sessions and calls a pre-authorized OpenID4VCI flow costs, counted at Askar.

Each awaited Askar call is a round trip to Askar's worker thread, and was the largest part of
Satchel's own time per received credential (docs/performance.md, `bench_receive.py`). Pinned
here so that a change adding a session or a call fails: the flow reads what it needs in one
session before the issuer is contacted (the offer and the holder keys), writes once (one
transaction), and the ledger outbox's move after the answer does not read back the entry the
same request staged.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.holder_api.askar_calls import count_askar_calls
from tests.holder_api.receive_support import learner, ledger
from tests.support.http_api import auth
from tests.wallet.oid4vci_support import Issuer

#: (sessions opened, Askar calls): creating the offer (its sealed record, one autocommitted
#: insert), accepting it up to its answer (one read session: the offer and the holder keys;
#: one transaction: the staging counter, the outbox entry, the offer, the credential and its
#: summary row), and the outbox's move after the answer (the staged entry removed)
CREATE = (1, 3)
ACCEPT = (2, 14)
AFTER_ANSWER = (1, 3)


async def test_one_flow_costs_four_sessions_and_twenty_askar_calls(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token = await learner(app)
    outbox = app.app[WIRING].consent.outbox
    for _ in range(2):  # the second flow: the learner's staging counter exists by then
        with count_askar_calls() as calls:
            r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                               headers=auth(token))
            assert r.status == 201, await r.text()
            offer_id = (await r.json())["id"]
            created = (calls.sessions, len(calls), list(calls.calls))
            calls.clear()
            answered: list[tuple[int, int, list[str]]] = []
            send = web.StreamResponse.prepare

            async def prepare(response: web.StreamResponse, request: web.BaseRequest) -> Any:
                if request.path.endswith("/accept") and not response.prepared:
                    answered.append((calls.sessions, len(calls), list(calls.calls)))
                return await send(response, request)

            web.StreamResponse.prepare = prepare  # type: ignore[method-assign]
            try:
                r = await app.post(f"/v1/offers/{offer_id}/accept", json={},
                                   headers=auth(token))
            finally:
                web.StreamResponse.prepare = send  # type: ignore[method-assign]
            assert r.status == 200, await r.text()
            [accepted] = answered
            calls.clear()
            await outbox.drain()
            after = (calls.sessions, len(calls), list(calls.calls))
    assert created[:2] == CREATE, created
    assert accepted[:2] == ACCEPT, accepted
    assert after[:2] == AFTER_ANSWER, after
    # nothing was lost on the way: both entries reached the ledger, once each
    entries = [e for e in await ledger(app, token) if e[0] == "credential_accepted"]
    assert entries == [("credential_accepted", issuer.credential_issuer)] * 2
    assert await outbox.pending(*await _learner_key(app, token)) == 0


async def _learner_key(app: TestClient[Any, Any], token: str) -> tuple[str, Any]:
    session = await app.app[WIRING].accounts.service.authenticate(token)
    return session.learner_id, session.dek
