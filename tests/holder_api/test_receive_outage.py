"""Polling a deferred offer: an issuer outage is retryable, a wrong answer is not, and a poll that
fails part-way keeps the credentials it already received.

Against the independent issuer of tests/wallet/oid4vci_support.py over HTTPS, through Satchel's
real GuardedFetcher; both storage backends.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.holder_api.receive_support import (
    accept,
    advance,
    deferred_offer,
    ledger,
    offer_record,
    stored,
)
from tests.support.http_api import assert_problem, auth
from tests.wallet.oid4vci_support import DEFERRED, MICRO, FakeClock, Issuer
from wallet.errors import Unavailable
from wallet.vault import SealedRecordRepository

HTML = "text/html"


async def _still_deferred(app: TestClient[Any, Any], token: str, offer_id: str) -> None:
    r = await app.get(f"/v1/offers/{offer_id}", headers=auth(token))
    assert r.status == 200 and (await r.json())["status"] == "deferred"


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- what the issuer got wrong is final (422), not an outage ------------------------------------

@pytest.mark.parametrize(("fault", "code"), [
    ({"raw": (404, HTML, "<h1>Not found</h1>")}, "issuer_failed"),
    ({"raw": (403, HTML, "<h1>Forbidden</h1>")}, "issuer_failed"),
    ({"raw": (400, "text/plain", "bad request")}, "issuer_failed"),
    ({"raw": (410, HTML, "<h1>Gone</h1>")}, "issuer_failed"),
    ({"raw": (200, HTML, "<html>ok</html>")}, "issuer_failed"),  # a mistyped answer
    ({"oversize": True}, "issuer_failed"),
    ({"garbage": True}, "invalid_credential_response"),
    ({"endpoint": "https://issuer.invalid/deferred_credential"}, "issuer_failed"),  # no such name
])
async def test_a_wrong_answer_while_polled_is_issuer_failed_not_an_outage(
        app: TestClient[Any, Any], issuer: Issuer, fault: dict[str, Any], code: str) -> None:
    if "endpoint" in fault:  # published before the offer is resolved: its metadata is sealed
        issuer.knobs.deferred_endpoint = fault["endpoint"]
    token, offer_id, clock = await deferred_offer(app, issuer)
    advance(issuer, clock, 15)  # ready at the issuer
    if "raw" in fault:
        issuer.knobs.raw["deferred"] = fault["raw"]
    if "oversize" in fault:
        issuer.knobs.oversize.add("deferred")
    if "garbage" in fault:
        issuer.knobs.garbage.add("deferred")

    body = await assert_problem(await accept(app, token, offer_id), 422, code)

    assert "retry_after" not in body
    await _still_deferred(app, token, offer_id)  # kept (as before): the learner may decline it
    assert await stored(app, token) == []


# -- an outage is retryable (502 issuer_unavailable with retry_after) ---------------------------

@pytest.mark.parametrize("status", [500, 502, 503, 429])
async def test_an_issuer_error_status_is_an_outage(app: TestClient[Any, Any], issuer: Issuer,
                                                   status: int) -> None:
    token, offer_id, clock = await deferred_offer(app, issuer)
    before = await offer_record(app, token, offer_id)
    advance(issuer, clock, 15)
    issuer.knobs.status["deferred"] = status

    body = await assert_problem(await accept(app, token, offer_id), 502, "issuer_unavailable")

    assert body["retry_after"] == issuer.knobs.deferred_interval
    after = await offer_record(app, token, offer_id)
    # kept whole; only the transaction's back-off and the reason for it are sealed in
    [backed_off] = after.pop("deferred")
    assert backed_off == {**before.pop("deferred")[0],
                          "not_before": clock.now + issuer.knobs.deferred_interval}
    assert after.pop("problem")["code"] == "issuer_unavailable"
    assert after == before
    issuer.knobs.status.pop("deferred")
    advance(issuer, clock, issuer.knobs.deferred_interval)
    r = await accept(app, token, offer_id)  # the outage is over: the next poll succeeds
    assert r.status == 200, await r.text()
    assert len(await stored(app, token)) == 1


async def test_an_outage_s_retry_after_is_honoured(app: TestClient[Any, Any],
                                                   issuer: Issuer) -> None:
    token, offer_id, clock = await deferred_offer(app, issuer)
    advance(issuer, clock, 15)
    issuer.knobs.status["deferred"] = 503
    issuer.knobs.retry_after = "90"

    body = await assert_problem(await accept(app, token, offer_id), 502, "issuer_unavailable")

    assert body["retry_after"] == 90  # longer than the interval (5 s): the issuer's wish wins


async def test_a_stalled_issuer_is_an_outage(app: TestClient[Any, Any], issuer: Issuer) -> None:
    token, offer_id, clock = await deferred_offer(app, issuer)
    advance(issuer, clock, 15)
    issuer.knobs.delay["deferred"] = 10  # SATCHEL_FETCH_TIMEOUT is 5 s

    body = await assert_problem(await accept(app, token, offer_id), 502, "issuer_unavailable")

    assert body["retry_after"] >= 1 and "timed out" in body["detail"]
    await _still_deferred(app, token, offer_id)


async def test_a_refused_connection_is_an_outage(app: TestClient[Any, Any],
                                                 issuer: Issuer) -> None:
    issuer.knobs.deferred_endpoint = f"https://127.0.0.1:{_closed_port()}/deferred_credential"
    token, offer_id, clock = await deferred_offer(app, issuer)
    advance(issuer, clock, 15)

    body = await assert_problem(await accept(app, token, offer_id), 502, "issuer_unavailable")

    assert body["retry_after"] >= 1
    await _still_deferred(app, token, offer_id)


# -- a poll that fails part-way keeps what was delivered ----------------------------------------

async def _two_transactions(app: TestClient[Any, Any], issuer: Issuer
                            ) -> tuple[str, str, FakeClock, str]:
    """A deferred offer with two transactions, both ready at the issuer; the second's id."""
    issuer.knobs.defer_all = True
    token, offer_id, clock = await deferred_offer(app, issuer, (MICRO, DEFERRED))
    assert len(issuer.transaction_ids) == 2
    assert len((await offer_record(app, token, offer_id))["deferred"]) == 2
    advance(issuer, clock, 15)
    return token, offer_id, clock, issuer.transaction_ids[1]


async def test_a_later_transaction_failing_keeps_the_earlier_credential(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token, offer_id, clock, second = await _two_transactions(app, issuer)
    issuer.knobs.transaction_faults[second] = (404, HTML, "<h1>Not found</h1>")

    r = await accept(app, token, offer_id)

    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["status"] == "deferred" and body["offer_id"] == offer_id
    assert body["retry_after"] == issuer.knobs.deferred_interval
    assert body["problem"]["status"] == 422 and body["problem"]["code"] == "issuer_failed"
    [credential] = body["credentials"]
    assert [c["id"] for c in await stored(app, token)] == [credential["id"]]
    accepted = [e for e in await ledger(app, token) if e[0] == "credential_accepted"]
    assert accepted == [("credential_accepted", issuer.credential_issuer)]
    record = await offer_record(app, token, offer_id)
    assert [d["transaction_id"] for d in record["deferred"]] == [second]
    assert record["received"] == [credential["id"]]
    assert [n.event for n in issuer.notifications] == ["credential_accepted"]

    # the next poll reports the failure on its own, and nothing is stored twice
    advance(issuer, clock, issuer.knobs.deferred_interval)
    await assert_problem(await accept(app, token, offer_id), 422, "issuer_failed")
    assert len(await stored(app, token)) == 1
    # once the issuer is fixed (and the back-off has run out), the second credential arrives too
    issuer.knobs.transaction_faults.clear()
    advance(issuer, clock, issuer.knobs.deferred_interval)
    r = await accept(app, token, offer_id)
    assert r.status == 200, await r.text()
    assert len(await stored(app, token)) == 2


async def test_a_later_outage_keeps_the_earlier_credential(app: TestClient[Any, Any],
                                                           issuer: Issuer) -> None:
    token, offer_id, _clock, second = await _two_transactions(app, issuer)
    issuer.knobs.transaction_faults[second] = (503, HTML, "<h1>Down</h1>")

    r = await accept(app, token, offer_id)

    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["problem"]["status"] == 502 and body["problem"]["code"] == "issuer_unavailable"
    assert len(body["credentials"]) == 1 and len(await stored(app, token)) == 1


async def test_a_refresh_that_cannot_be_saved_keeps_the_earlier_credential(
        app: TestClient[Any, Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch) -> None:
    issuer.knobs.refresh_tokens = True
    token, offer_id, clock, _second = await _two_transactions(app, issuer)
    first = (await offer_record(app, token, offer_id))["token"]
    # after the first transaction is delivered the issuer refuses the access token, so the
    # second poll refreshes it (rotating the refresh token), and sealing that fails once
    issuer.knobs.after_deferred = issuer.revoke_access_tokens
    real_replace = SealedRecordRepository.replace
    failures: list[str] = []

    async def replace_once_down(self: SealedRecordRepository, *args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append("down")
            raise Unavailable("the vault store is unavailable")
        return await real_replace(self, *args, **kwargs)

    with monkeypatch.context() as m:
        m.setattr(SealedRecordRepository, "replace", replace_once_down)
        r = await accept(app, token, offer_id)

    assert failures == ["down"]
    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["problem"]["status"] == 503 and body["problem"]["code"] == "offer_not_saved"
    [credential] = body["credentials"]
    assert [c["id"] for c in await stored(app, token)] == [credential["id"]]
    assert ("credential_accepted", issuer.credential_issuer) in await ledger(app, token)
    kept = (await offer_record(app, token, offer_id))["token"]
    # sealed with the credential: the rotated refresh token, the only one the issuer still takes
    assert kept["refresh_token"] == issuer.issued_tokens[-1] != first["refresh_token"]
    issuer.knobs.after_deferred = None
    advance(issuer, clock, issuer.knobs.deferred_interval)
    r = await accept(app, token, offer_id)  # the second transaction, with the kept token
    assert r.status == 200, await r.text()
    assert len(await stored(app, token)) == 2
