"""The sealed offer record's stored format is pinned: what today's code writes (every key, every
nested shape), and that records of that exact shape, put in the vault as they were written, still
load and behave (listed, polled, declined) on both backends.

The shapes are the ones wallet/receive/offers.py has written since offers existed: ``pending``
(``resolved``, ``state``, ``source``, ``created_at``, ``inbox_item_id`` for an offer pushed to the
inbox), ``authorization_required`` (plus ``authorization`` and ``copies``) and ``deferred`` (plus
``token``, ``received``, ``deferred``, ``problem`` after a failed poll; ``copies`` kept from an
authorization, ``authorization`` dropped).
"""

from __future__ import annotations

import logging
import math
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.holder_api.receive_support import accept, deferred_offer, offer_record
from tests.support.http_api import assert_problem, auth, learner
from tests.wallet.oid4vci_support import DEFERRED, MICRO, Issuer
from wallet.crypto import DecryptionFailed
from wallet.receive.offer_records import OfferRecord
from wallet.receive.offers import OFFER_CATEGORY

RESOLVED_KEYS = {"offer", "issuer", "auth_server"}
TOKEN_KEYS = {"access_token", "token_type", "expires_at", "refresh_token",
              "credential_identifiers", "client_id"}
DEFERRED_KEYS = {"transaction_id", "interval", "not_before", "configuration_id"}
AUTHORIZATION_KEYS = {"url", "state", "code_verifier", "redirect_uri", "client_id",
                      "configuration_ids"}


def _round_trip(record: dict[str, Any]) -> None:
    """The typed record reads every field of ``record`` and writes it back as it was."""
    typed = OfferRecord.from_record(record)
    assert typed.to_record() == record
    assert OfferRecord.from_record(typed.to_record()) == typed


async def _put(app: TestClient[Any, Any], token: str, record: dict[str, Any]) -> str:
    """``record`` sealed as-is under a new offer id, as an earlier write left it."""
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    offer_id = str(uuid.uuid4())
    await s.stores.vault.for_learner(session.learner_id, session.dek).records(
        OFFER_CATEGORY).put(offer_id, record)
    return offer_id


async def _declined(app: TestClient[Any, Any], token: str) -> list[dict[str, Any]]:
    """The details of the learner's ``credential_declined`` entries (staged ones moved in)."""
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    page = await s.consent.ledger.events(session.learner_id, session.dek, limit=200)
    return [dict(e.event.details) for e in page.items
            if e.event is not None and e.kind.value == "credential_declined"]


async def _get(app: TestClient[Any, Any], token: str, offer_id: str) -> dict[str, Any]:
    r = await app.get(f"/v1/offers/{offer_id}", headers=auth(token))
    assert r.status == 200, await r.text()
    return dict(await r.json())


async def test_pending_and_authorization_required_records(app: TestClient[Any, Any],
                                                          issuer: Issuer) -> None:
    token = await learner(app)
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    shown = await r.json()
    pending = await offer_record(app, token, shown["id"])
    assert set(pending) == {"resolved", "state", "source", "created_at"}
    assert set(pending["resolved"]) == RESOLVED_KEYS
    assert pending["resolved"]["offer"]["credential_issuer"] == issuer.credential_issuer
    assert pending["state"] == "pending" and pending["source"] == "api"
    assert pending["created_at"] == shown["created_at"] and pending["created_at"].endswith("Z")

    r = await app.post("/v1/offers", json={"offer": issuer.make_authorization_code_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    code_offer = (await r.json())["id"]
    r = await app.post(f"/v1/offers/{code_offer}/accept",
                       json={"redirect_uri": "https://app.example/cb"}, headers=auth(token))
    assert r.status == 200, await r.text()
    authorizing = await offer_record(app, token, code_offer)
    assert set(authorizing) == {"resolved", "state", "source", "created_at", "authorization",
                                "copies"}
    assert authorizing["state"] == "authorization_required" and authorizing["copies"] == 1
    assert set(authorizing["authorization"]) == AUTHORIZATION_KEYS
    assert authorizing["authorization"]["redirect_uri"] == "https://app.example/cb"
    assert authorizing["authorization"]["configuration_ids"] == [MICRO]

    # records of these shapes, written by an earlier run, load as they did
    item = str(uuid.uuid4())
    for record, status in ((pending, "pending"), (authorizing, "authorization_required"),
                           ({**pending, "source": "inbox", "inbox_item_id": item}, "pending")):
        _round_trip(record)
        offer_id = await _put(app, token, record)
        got = await _get(app, token, offer_id)
        assert got == {**shown, "id": offer_id, "status": status}
    # the inbox item and the source reach the decline's ledger entry
    r = await app.post(f"/v1/offers/{offer_id}/decline", headers=auth(token))
    assert r.status == 204, await r.text()
    assert await _declined(app, token) == [{"source": "inbox", "item_id": item}]
    # an authorization started by an earlier run is finished where it stands
    authorized = await _put(app, token, authorizing)
    r = await app.post(f"/v1/offers/{authorized}/authorization",
                       json={"callback_url": "https://app.example/cb?code=x&state=y"},
                       headers=auth(token))
    assert r.status == 400, await r.text()  # not the state it started with: refused, not a 500


async def test_deferred_records(app: TestClient[Any, Any], issuer: Issuer) -> None:
    issuer.knobs.defer_all = True
    token, offer_id, clock = await deferred_offer(app, issuer, (MICRO, DEFERRED))
    first, _ = issuer.transaction_ids
    deferred = await offer_record(app, token, offer_id)
    assert set(deferred) == {"resolved", "state", "source", "created_at", "token", "received",
                             "deferred"}
    assert deferred["state"] == "deferred" and deferred["received"] == []
    assert set(deferred["token"]) == TOKEN_KEYS
    assert [set(d) for d in deferred["deferred"]] == [DEFERRED_KEYS, DEFERRED_KEYS]
    assert [d["transaction_id"] for d in deferred["deferred"]] == issuer.transaction_ids
    assert all(d["interval"] == issuer.knobs.deferred_interval for d in deferred["deferred"])

    # a poll that fails seals why, and the back-off
    clock.advance(issuer.knobs.deferred_ready_after + 1)
    issuer.knobs.transaction_faults[first] = (503, "text/html", "<h1>Down</h1>")
    r = await accept(app, token, offer_id)
    assert r.status == 202, await r.text()
    delivered = [c["id"] for c in (await r.json())["credentials"]]
    failed = await offer_record(app, token, offer_id)
    assert set(failed) == {"resolved", "state", "source", "created_at", "token", "received",
                           "deferred", "problem"}
    assert failed["received"] == delivered and len(delivered) == 1
    assert failed["problem"] == {"status": 502, "code": "issuer_unavailable",
                                 "detail": failed["problem"]["detail"]}
    assert [d["transaction_id"] for d in failed["deferred"]] == [first]

    # records of these shapes, written by an earlier run, load as they did
    for record in (deferred, failed, {**failed, "copies": 2}):
        _round_trip(record)
        copy = await _put(app, token, record)
        got = await _get(app, token, copy)
        assert got["status"] == "deferred" and got["created_at"] == record["created_at"]
        wait = min(d["not_before"] for d in record["deferred"]) - clock.now
        assert got["retry_after"] == max(0, math.ceil(wait))
    # an early poll of the failed one answers from the record: its problem and its wait
    copy = await _put(app, token, failed)
    hits = len(issuer.requests)
    r = await accept(app, token, copy)
    assert r.status == 202, await r.text()
    body = await r.json()
    assert body["problem"] == failed["problem"] and body["credentials"] == []
    assert len(issuer.requests) == hits  # the issuer was not asked


def test_typed_fields_and_what_this_version_does_not_know() -> None:
    """Every field typed as the flow uses it; a key of a newer version is written back."""
    old = {"resolved": {"offer": {}}, "source": "api", "created_at": "2026-01-01T00:00:00Z",
           "added_later": {"by": "a newer replica"}}
    typed = OfferRecord.from_record(old)  # no state: the first records' pending
    assert (typed.state, typed.copies, typed.received, typed.deferred) == ("pending", None, (), ())
    assert typed.to_record() == {**old, "state": "pending"}
    deferred = {**old, "state": "deferred", "received": ["urn:uuid:1"], "deferred": [
        {"transaction_id": "t1", "interval": 5, "not_before": 1.5e9, "configuration_id": None}],
        "token": {"access_token": "s3cret", "token_type": "Bearer", "expires_at": None,
                  "refresh_token": None, "credential_identifiers": {}, "client_id": None},
        "problem": {"status": 502, "code": "issuer_unavailable", "detail": "down"}}
    typed = OfferRecord.from_record(deferred)
    assert typed.token is not None and typed.token.access_token == "s3cret"
    assert [d.transaction_id for d in typed.deferred] == ["t1"]
    assert typed.problem is not None and typed.problem.code == "issuer_unavailable"
    assert typed.received == ("urn:uuid:1",) and typed.to_record() == deferred
    assert "s3cret" not in repr(typed) and "resolved" not in repr(typed)
    for malformed in ({**old, "state": "shipped"}, {"state": "pending"},
                      {**deferred, "token": None}, {**old, "copies": "2"}):
        with pytest.raises(DecryptionFailed):
            OfferRecord.from_record(malformed)


async def test_an_unreadable_record_spoils_only_itself(app: TestClient[Any, Any], issuer: Issuer,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A record this version cannot read (an unknown state, a deferred offer without its token)
    is left out of the list, logged by id only; asked for by id it answers 409
    ``record_unreadable`` (docs/presenting.md says why not 500)."""
    token = await learner(app)
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    good = (await r.json())["id"]
    record = await offer_record(app, token, good)
    shipped = await _put(app, token, {**record, "state": "shipped"})
    tokenless = await _put(app, token, {**record, "state": "deferred", "received": [],
                                        "deferred": []})
    with caplog.at_level(logging.WARNING):
        r = await app.get("/v1/offers", headers=auth(token))
    assert r.status == 200, await r.text()
    assert [o["id"] for o in (await r.json())["items"]] == [good]
    warned = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert any(shipped in m for m in warned) and any(tokenless in m for m in warned)
    assert "shipped" not in caplog.text and issuer.credential_issuer not in caplog.text
    for offer_id in (shipped, tokenless):
        await assert_problem(await app.get(f"/v1/offers/{offer_id}", headers=auth(token)),
                             409, "record_unreadable")
        await assert_problem(await accept(app, token, offer_id), 409, "record_unreadable")
    assert (await _get(app, token, good))["id"] == good


async def test_an_unreadable_record_can_be_declined(app: TestClient[Any, Any],
                                                    issuer: Issuer) -> None:
    """The learner can clear a record this version cannot read: declining it deletes it and
    records a ``credential_declined`` entry naming its id and no issuer (none can be read); a
    second decline finds nothing, and readable records are untouched."""
    token = await learner(app)
    r = await app.post("/v1/offers", json={"offer": issuer.make_pre_authorized_offer()},
                       headers=auth(token))
    assert r.status == 201, await r.text()
    good = (await r.json())["id"]
    shipped = await _put(app, token, {**await offer_record(app, token, good), "state": "shipped"})
    r = await app.post(f"/v1/offers/{shipped}/decline", headers=auth(token))
    assert r.status == 204, await r.text()
    assert {"offer_id": shipped, "unreadable": True} in await _declined(app, token)
    await assert_problem(await app.get(f"/v1/offers/{shipped}", headers=auth(token)),
                         404, "not_found")
    await assert_problem(await app.post(f"/v1/offers/{shipped}/decline", headers=auth(token)),
                         404, "not_found")
    assert len(await _declined(app, token)) == 1
    assert (await _get(app, token, good))["status"] == "pending"
