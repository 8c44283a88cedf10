"""Deferred issuance that outlives the access token: refreshed with the refresh token (RFC 6749 §6).

Against the independent issuer of tests/wallet/oid4vci_support.py, whose *test-peer* glue issues and
rotates refresh tokens (the ``openid4vci`` package's authorization server has none) and can refuse
the access tokens it issued. Satchel uses its real GuardedFetcher; both storage backends.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.holder_api.receive_support import accept, advance, deferred_offer, stored
from tests.support.http_api import assert_problem, auth
from tests.wallet.oid4vci_support import Issuer
from wallet.errors import Unavailable
from wallet.receive.offers import OFFER_CATEGORY
from wallet.vault import SealedRecordRepository


def _refreshes(issuer: Issuer) -> list[dict[str, Any]]:
    return [b for route, b in issuer.requests
            if route == "token" and b.get("grant_type") == "refresh_token"]


async def _sealed_token(app: TestClient[Any, Any], token: str, offer_id: str) -> dict[str, Any]:
    """The token set as the offer record keeps it, opened with the learner's vault key."""
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    record = await s.stores.vault.for_learner(session.learner_id, session.dek).records(
        OFFER_CATEGORY).get(offer_id)
    return dict(record["token"])


async def test_refused_access_token_is_refreshed_and_the_poll_retried(
        app: TestClient[Any, Any], issuer: Issuer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issuer.knobs.refresh_tokens = True
    token, offer_id, clock = await deferred_offer(app, issuer)
    first = await _sealed_token(app, token, offer_id)
    assert first["refresh_token"] == issuer.issued_tokens[1]  # kept, sealed in the vault
    advance(issuer, clock, 15)  # ready at the issuer
    issuer.revoke_access_tokens()  # the issuer no longer takes the first access token

    r = await accept(app, token, offer_id)

    assert r.status == 200, await r.text()
    assert len((await r.json())["credentials"]) == 1 and len(await stored(app, token)) == 1
    [refresh] = _refreshes(issuer)
    assert refresh["refresh_token"] == first["refresh_token"]
    assert len(issuer.deferred_polls) == 1  # the refused poll never reached the transaction
    # the notification went out with the new access token (the old one would be refused)
    assert [n.event for n in issuer.notifications] == ["credential_accepted"]
    for secret in issuer.issued_tokens:
        assert secret not in caplog.text


async def test_expired_access_token_is_refreshed_before_polling_and_resealed(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    issuer.knobs.refresh_tokens = True
    issuer.knobs.deferred_ready_after = 10 * 3600  # a long deferral
    token, offer_id, clock = await deferred_offer(app, issuer)
    first = await _sealed_token(app, token, offer_id)
    assert first["expires_at"] is not None
    advance(issuer, clock, first["expires_at"] - clock.now + 1)  # past expires_in

    r = await accept(app, token, offer_id)

    assert r.status == 202, await r.text()  # still deferred at the issuer
    routes = [route for route, _ in issuer.requests]
    assert routes[-2:] == ["token", "deferred"]  # refreshed first, no refused poll
    assert len(_refreshes(issuer)) == 1
    kept = await _sealed_token(app, token, offer_id)
    # the new access token and the rotated refresh token replace the old ones in the record
    assert kept["access_token"] != first["access_token"]
    assert kept["refresh_token"] not in (None, first["refresh_token"])
    assert kept["refresh_token"] in issuer.issued_tokens
    assert kept["expires_at"] > clock.now
    # hours later the new access token has expired too: refreshed with the *rotated* token
    advance(issuer, clock, 10 * 3600)
    r = await accept(app, token, offer_id)
    assert r.status == 200, await r.text()
    assert [b["refresh_token"] for b in _refreshes(issuer)] == [first["refresh_token"],
                                                                kept["refresh_token"]]
    assert len(await stored(app, token)) == 1


async def test_without_a_refresh_token_a_refused_token_is_an_issuer_error(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    token, offer_id, clock = await deferred_offer(app, issuer)
    assert (await _sealed_token(app, token, offer_id))["refresh_token"] is None
    advance(issuer, clock, 15)
    issuer.revoke_access_tokens()
    await assert_problem(await accept(app, token, offer_id), 422, "invalid_token")
    assert _refreshes(issuer) == []
    assert await stored(app, token) == []


async def test_a_refused_refresh_is_reported_and_nothing_stored(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    issuer.knobs.refresh_tokens = True
    token, offer_id, clock = await deferred_offer(app, issuer)
    advance(issuer, clock, 15)
    issuer.revoke_access_tokens()
    issuer.forget_refresh_tokens()  # the issuer revoked the grant altogether
    r = await accept(app, token, offer_id)
    assert 400 <= r.status < 500
    assert len(_refreshes(issuer)) == 1
    assert await stored(app, token) == []


async def test_a_rotated_refresh_token_survives_a_deferred_outage(
        app: TestClient[Any, Any], issuer: Issuer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issuer.knobs.refresh_tokens = True  # the issuer rotates: a used refresh token is dead
    token, offer_id, clock = await deferred_offer(app, issuer)
    first = await _sealed_token(app, token, offer_id)
    advance(issuer, clock, first["expires_at"] - clock.now + 1)  # access token expired
    issuer.knobs.status["deferred"] = 503  # the deferred endpoint has an outage

    r = await accept(app, token, offer_id)

    body = await assert_problem(r, 502, "issuer_unavailable")
    assert body["retry_after"] >= 1  # retryable, unlike a 422
    assert len(_refreshes(issuer)) == 1  # refreshed and rotated at the issuer
    kept = await _sealed_token(app, token, offer_id)
    # the rotated refresh token (the issuer's newest) is sealed in the record already
    assert kept["refresh_token"] == issuer.issued_tokens[-1] != first["refresh_token"]
    assert kept["access_token"] == issuer.issued_tokens[-2] != first["access_token"]
    listed = await (await app.get(f"/v1/offers/{offer_id}", headers=auth(token))).json()
    assert listed["status"] == "deferred"
    assert await stored(app, token) == []
    # the outage ends after the new access token has expired too: the rotated one refreshes it
    issuer.knobs.status.pop("deferred")
    advance(issuer, clock, kept["expires_at"] - clock.now + 1)

    r = await accept(app, token, offer_id)

    assert r.status == 200, await r.text()
    assert [b["refresh_token"] for b in _refreshes(issuer)] == [first["refresh_token"],
                                                                kept["refresh_token"]]
    assert len(await stored(app, token)) == 1
    for secret in issuer.issued_tokens:
        assert secret not in caplog.text and secret not in str(body)


async def test_a_token_endpoint_outage_during_refresh_keeps_the_old_token(
        app: TestClient[Any, Any], issuer: Issuer) -> None:
    issuer.knobs.refresh_tokens = True
    token, offer_id, clock = await deferred_offer(app, issuer)
    first = await _sealed_token(app, token, offer_id)
    advance(issuer, clock, first["expires_at"] - clock.now + 1)
    issuer.knobs.status["token"] = 500  # nothing rotated: the old refresh token stays valid

    await assert_problem(await accept(app, token, offer_id), 502, "issuer_unavailable")

    assert await _sealed_token(app, token, offer_id) == first
    issuer.knobs.status.pop("token")
    advance(issuer, clock, issuer.knobs.deferred_interval)  # the outage's back-off
    r = await accept(app, token, offer_id)
    assert r.status == 200, await r.text()
    assert [b["refresh_token"] for b in _refreshes(issuer)] == [first["refresh_token"]]


async def test_a_refreshed_token_that_cannot_be_saved_is_a_typed_error_and_nothing_polled(
        app: TestClient[Any, Any], issuer: Issuer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    issuer.knobs.refresh_tokens = True
    token, offer_id, clock = await deferred_offer(app, issuer)
    first = await _sealed_token(app, token, offer_id)
    advance(issuer, clock, first["expires_at"] - clock.now + 1)
    polls = len(issuer.deferred_polls)

    async def store_down(self: SealedRecordRepository, *args: Any, **kwargs: Any) -> None:
        raise Unavailable("the vault store is unavailable")

    with monkeypatch.context() as m:
        m.setattr(SealedRecordRepository, "replace", store_down)
        body = await assert_problem(await accept(app, token, offer_id), 503, "offer_not_saved")

    assert len(_refreshes(issuer)) == 1
    assert len(issuer.deferred_polls) == polls  # the unsaved token was never used
    assert await _sealed_token(app, token, offer_id) == first  # the old record, whole
    assert await stored(app, token) == []
    for secret in issuer.issued_tokens:
        assert secret not in caplog.text and secret not in str(body)
