"""Polling a deferred offer is fair and keeps its distance: a broken transaction never starves a
ready one, one the issuer will never deliver is dropped, and the issuer's ``interval`` and
``Retry-After`` hold even when a poll delivers nothing (an early re-poll never reaches the issuer).

Against the independent issuer of tests/wallet/oid4vci_support.py over HTTPS, through Satchel's
real GuardedFetcher; both storage backends.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.receive_support import accept, advance, deferred_offer, ledger, offer_record, stored
from tests.support.http_api import assert_problem, auth
from tests.wallet.oid4vci_support import DEFERRED, MICRO, FakeClock, Issuer

HTML = "text/html"
INVALID_TRANSACTION = (400, "application/json", json.dumps({"error": "invalid_transaction_id"}))


def _count_deferred(issuer: Issuer) -> list[int]:
    """Every answer of the issuer's deferred endpoint (faults included) appends to the list."""
    hits: list[int] = []
    issuer.knobs.after_deferred = lambda: hits.append(1)
    return hits


def _polled(issuer: Issuer) -> list[str]:
    """The transaction ids the issuer was asked for, in order (faulted ones included)."""
    return [body["transaction_id"] for route, body in issuer.requests if route == "deferred"]


async def _two_ready(app: TestClient[Any, Any], issuer: Issuer
                     ) -> tuple[str, str, FakeClock, str, str]:
    """A deferred offer with two transactions, both ready at the issuer; their ids."""
    issuer.knobs.defer_all = True
    token, offer_id, clock = await deferred_offer(app, issuer, (MICRO, DEFERRED))
    first, second = issuer.transaction_ids
    advance(issuer, clock, issuer.knobs.deferred_ready_after + 1)
    return token, offer_id, clock, first, second


async def _pending_ids(app: TestClient[Any, Any], token: str, offer_id: str) -> list[str]:
    return [d["transaction_id"] for d in (await offer_record(app, token, offer_id))["deferred"]]


# -- a broken transaction does not starve the others --------------------------------------------

@pytest.mark.parametrize(("fault", "status", "code"), [
    ((404, HTML, "<h1>Not found</h1>"), 422, "issuer_failed"),
    ((503, HTML, "<h1>Down</h1>"), 502, "issuer_unavailable"),
])
async def test_a_broken_first_transaction_does_not_starve_a_ready_second(
        app: TestClient[Any, Any], issuer: Issuer, fault: tuple[int, str, str], status: int,
        code: str) -> None:
    token, offer_id, clock, first, second = await _two_ready(app, issuer)
    issuer.knobs.transaction_faults[first] = fault

    r = await accept(app, token, offer_id)

    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["problem"]["status"] == status and body["problem"]["code"] == code
    [credential] = body["credentials"]  # the second transaction, polled after the first failed
    assert _polled(issuer)[-2:] == [first, second]
    assert [c["id"] for c in await stored(app, token)] == [credential["id"]]
    assert ("credential_accepted", issuer.credential_issuer) in await ledger(app, token)
    record = await offer_record(app, token, offer_id)
    [left] = record["deferred"]  # only the broken one, backed off by the issuer's interval
    assert left["transaction_id"] == first
    assert left["not_before"] == clock.now + issuer.knobs.deferred_interval
    assert body["retry_after"] == issuer.knobs.deferred_interval

    # polled again only once its back-off has run out; the failure is reported on its own
    hits = _count_deferred(issuer)
    r = await accept(app, token, offer_id)
    assert r.status == 202 and hits == []
    assert (await r.json())["problem"]["code"] == code  # why the wallet is waiting
    advance(issuer, clock, issuer.knobs.deferred_interval)
    await assert_problem(await accept(app, token, offer_id), status, code)
    assert hits == [1] and len(await stored(app, token)) == 1
    # declining now gives up the broken transaction only: the second credential stays stored
    r = await app.post(f"/v1/offers/{offer_id}/decline", headers=auth(token))
    assert r.status == 204, await r.text()
    assert [c["id"] for c in await stored(app, token)] == [credential["id"]]


async def test_a_failure_of_the_offer_s_access_stops_the_poll_and_backs_off_every_transaction(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token, offer_id, clock, first, second = await _two_ready(app, issuer)
    issuer.revoke_access_tokens()  # no refresh token: every transaction would be refused alike
    hits = _count_deferred(issuer)

    await assert_problem(await accept(app, token, offer_id), 422, "invalid_token")

    assert hits == [1]  # the second transaction was not sent with a token known to be refused
    record = await offer_record(app, token, offer_id)
    assert [(d["transaction_id"], d["not_before"]) for d in record["deferred"]] == [
        (first, clock.now + issuer.knobs.deferred_interval),
        (second, clock.now + issuer.knobs.deferred_interval)]


# -- a transaction the issuer will never deliver is dropped -------------------------------------

async def test_an_invalid_transaction_is_dropped_and_the_ready_one_delivered(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token, offer_id, _clock, first, second = await _two_ready(app, issuer)
    issuer.knobs.transaction_faults[first] = INVALID_TRANSACTION

    r = await accept(app, token, offer_id)

    assert r.status == 200, await r.text()  # nothing is left to wait for
    body = await r.json()
    assert body["problem"]["status"] == 422 and body["problem"]["code"] == "invalid_transaction_id"
    assert "removed from the offer" in body["problem"]["detail"]  # the learner is told
    [credential] = body["credentials"]
    assert [c["id"] for c in await stored(app, token)] == [credential["id"]]
    assert _polled(issuer)[-2:] == [first, second]
    r = await app.get(f"/v1/offers/{offer_id}", headers=auth(token))
    assert r.status == 404  # the offer is done


async def test_an_invalid_transaction_is_dropped_and_the_pending_one_kept(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    issuer.knobs.defer_all = True
    token, offer_id, clock = await deferred_offer(app, issuer, (MICRO, DEFERRED))
    first, second = issuer.transaction_ids
    issuer.knobs.transaction_faults[first] = INVALID_TRANSACTION
    advance(issuer, clock, issuer.knobs.deferred_interval)  # due, not ready at the issuer yet

    body = await assert_problem(await accept(app, token, offer_id), 422,
                                "invalid_transaction_id")

    assert "removed from the offer" in body["detail"]
    assert await _pending_ids(app, token, offer_id) == [second]  # kept, the dropped one gone
    advance(issuer, clock, issuer.knobs.deferred_ready_after)
    r = await accept(app, token, offer_id)
    assert r.status == 200, await r.text()
    assert len(await stored(app, token)) == 1
    assert _polled(issuer).count(first) == 1  # never asked for again


@pytest.mark.parametrize(("code", "status"), [("invalid_transaction_id", 422),
                                              ("credential_request_denied", 403)])
async def test_a_lone_transaction_never_delivered_ends_the_offer(
        app: TestClient[Any, Any], issuer: Issuer, code: str, status: int) -> None:
    token, offer_id, clock = await deferred_offer(app, issuer)
    [only] = issuer.transaction_ids
    issuer.knobs.transaction_faults[only] = (400, "application/json", json.dumps({"error": code}))
    advance(issuer, clock, 15)

    body = await assert_problem(await accept(app, token, offer_id), status, code)

    assert "removed from the offer" in body["detail"]

    r = await app.get(f"/v1/offers/{offer_id}", headers=auth(token))
    assert r.status == 404  # nothing left to wait for: not polled forever
    assert await stored(app, token) == []


# -- the issuer's interval and Retry-After hold when nothing was delivered ----------------------

async def test_an_outage_s_retry_after_is_enforced_on_early_polls(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token, offer_id, clock = await deferred_offer(app, issuer)
    advance(issuer, clock, 15)
    issuer.knobs.status["deferred"] = 429
    issuer.knobs.retry_after = "3600"
    hits = _count_deferred(issuer)

    body = await assert_problem(await accept(app, token, offer_id), 502, "issuer_unavailable")

    assert body["retry_after"] == 3600 and hits == [1]
    [backed_off] = (await offer_record(app, token, offer_id))["deferred"]
    assert backed_off["not_before"] == clock.now + 3600  # sealed, though nothing was delivered
    for waited in (0, 1, 1800):  # the app (a double tap, a script) polls again too early
        advance(issuer, clock, waited)
        r = await accept(app, token, offer_id)
        assert r.status == 202, await r.text()
        early = await r.json()
        assert early["credentials"] == [] and early["problem"]["code"] == "issuer_unavailable"
        assert early["retry_after"] == math.ceil(backed_off["not_before"] - clock.now)
    assert hits == [1]  # the issuer was not contacted again
    issuer.knobs.status.pop("deferred")
    advance(issuer, clock, 1799)
    r = await accept(app, token, offer_id)
    assert r.status == 200, await r.text()
    assert hits == [1, 1] and len(await stored(app, token)) == 1


async def test_a_partial_poll_s_back_off_is_enforced_on_the_next_poll(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token, offer_id, clock, _first, second = await _two_ready(app, issuer)
    hits = _count_deferred(issuer)

    def overloaded_after_one() -> None:  # the first transaction is delivered, then a 429
        hits.append(1)
        issuer.knobs.status["deferred"] = 429
        issuer.knobs.retry_after = "3600"

    issuer.knobs.after_deferred = overloaded_after_one
    r = await accept(app, token, offer_id)

    assert r.status == 202, await r.text()
    body = await r.json()
    assert len(body["credentials"]) == 1 and body["retry_after"] == 3600
    assert body["problem"]["code"] == "issuer_unavailable" and hits == [1, 1]
    r = await accept(app, token, offer_id)  # right away: answered from the record
    assert r.status == 202 and (await r.json())["retry_after"] == 3600
    assert hits == [1, 1]
    assert await _pending_ids(app, token, offer_id) == [second]
