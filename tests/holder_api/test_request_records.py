"""The sealed presentation-request record's stored format is pinned: what today's code writes at
intake (every key, every nested shape, the OAuth ``state`` under ``request``), and that records of
that exact shape, put in the vault as they were written, still load, list and get answered on both
backends; so does the shape the first version wrote once a request was answered (``state`` sent,
declined or failed, and ``redirect_uri``; the outcome has lived in the answers record since).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from sharing.request_records import PresentationRequestRecord
from tests.holder_api.present_support import Peer, dcql, degree_request, intake
from tests.holder_api.web_support import signed_up
from tests.support.http_api import assert_problem, auth
from wallet.crypto import DecryptionFailed

#: The peers answer as ``localhost`` (tests/holder_api/conftest.py, ``app``).
PEER_HOST = "localhost"
REQUESTS = "presentation-requests"
RECORD_KEYS = {"v", "state", "created_at", "expires_at", "verifier", "purpose", "request"}
REQUEST_KEYS = {"client_id", "verifier", "response_mode", "response_uri", "nonce", "state",
                "signed", "wallet_nonce", "dcql_query", "client_metadata", "encryption"}


def _round_trip(record: dict[str, Any]) -> PresentationRequestRecord:
    """The typed record reads every field of ``record`` and writes it back as it was."""
    typed = PresentationRequestRecord.from_record(record)
    assert typed.to_record() == record
    assert PresentationRequestRecord.from_record(typed.to_record()) == typed
    return typed


async def _vault(app: TestClient[Any, Any], token: str) -> Any:
    s = app.app[WIRING]
    session = await s.accounts.service.authenticate(token)
    return s.stores.vault.for_learner(session.learner_id, session.dek).records(REQUESTS)


async def _record(app: TestClient[Any, Any], token: str, request_id: str) -> dict[str, Any]:
    return dict(await (await _vault(app, token)).get(request_id))


async def _put(app: TestClient[Any, Any], token: str, record: dict[str, Any]) -> str:
    """``record`` sealed as-is under a new request id, as an earlier write left it."""
    request_id = str(uuid.uuid4())
    await (await _vault(app, token)).put(request_id, record)
    return request_id


async def _get(app: TestClient[Any, Any], token: str, request_id: str) -> dict[str, Any]:
    r = await app.get(f"/v1/presentation-requests/{request_id}", headers=auth(token))
    assert r.status == 200, await r.text()
    return dict(await r.json())


async def test_a_signed_request_record(app: TestClient[Any, Any], peer: Peer) -> None:
    token, cid, shown = await degree_request(app, peer)
    record = await _record(app, token, shown["id"])
    assert set(record) == RECORD_KEYS
    assert record["v"] == 1 and record["state"] == "pending" and record["purpose"] is None
    assert record["created_at"].endswith("Z") and record["expires_at"].endswith("Z")
    assert record["expires_at"] == shown["expires_at"]
    assert record["verifier"] == {**shown["verifier"], "response_uri": f"{peer.base}/post"}
    assert set(record["verifier"]) == {"client_id", "name", "name_source", "authenticated",
                                       "trusted", "prefix", "response_uri"}
    req = record["request"]
    assert set(req) == REQUEST_KEYS
    assert req["client_id"] == "x509_san_dns:localhost" and req["signed"] is True
    assert req["verifier"] == {"prefix": "x509_san_dns", "value": "localhost",
                               "authenticated": True, "dns_names": ["localhost"],
                               "key_id": None}
    assert req["response_mode"] == "direct_post"
    assert req["response_uri"] == f"{peer.base}/post"
    assert req["nonce"] == peer.expect["nonce"]
    assert isinstance(req["state"], str) and req["state"]  # the verifier's OAuth state
    assert req["wallet_nonce"] is None and req["encryption"] is None
    assert req["dcql_query"] == dcql("degree")
    assert req["client_metadata"]["client_name"] == "Acme <Hiring>"
    typed = _round_trip(record)
    assert typed.state == "pending" and typed.request.oauth_state == req["state"]
    assert req["state"] not in repr(typed) and req["nonce"] not in repr(typed)

    # a record of this shape, written by an earlier run, loads, lists and is answered as it was
    copy = await _put(app, token, record)
    assert await _get(app, token, copy) == {**shown, "id": copy}
    listed = (await (await app.get("/v1/presentation-requests",
                                   headers=auth(token))).json())["items"]
    [mine] = [i for i in listed if i["id"] == copy]
    assert mine == {"id": copy, "verifier": shown["verifier"], "purpose": None,
                    "state": "pending", "created_at": record["created_at"],
                    "expires_at": record["expires_at"]}
    r = await app.post(f"/v1/presentation-requests/{copy}/respond",
                       json={"choices": {"degree": cid}}, headers=auth(token))
    assert r.status == 200, await r.text()
    [got] = peer.posts
    assert got.form["state"] == req["state"]  # the OAuth state goes back to the verifier
    assert got.errors == [] and got.disclosed["degree"][0]["degree"] == "BSc Computing"
    assert (await _get(app, token, copy))["state"] == "sent"


async def test_an_encrypted_request_record_with_a_purpose(app: TestClient[Any, Any],
                                                          peer: Peer) -> None:
    token, cid, _ = await degree_request(app, peer)
    client_id = "x509_san_dns:localhost"

    def make(form: dict[str, str]) -> str:
        return peer.sign(peer.encrypted(peer.claims(
            client_id, dcql("degree"), wallet_nonce=form.get("wallet_nonce"),
            purpose="To check your degree")))

    r = await intake(app, token, peer.serve_request(make, client_id=client_id, method="post"))
    assert r.status == 201, await r.text()
    shown = await r.json()
    record = await _record(app, token, shown["id"])
    assert set(record) == RECORD_KEYS and record["purpose"] == "To check your degree"
    req = record["request"]
    assert set(req) == REQUEST_KEYS and req["response_mode"] == "direct_post.jwt"
    assert isinstance(req["wallet_nonce"], str) and req["wallet_nonce"]
    assert set(req["encryption"]) == {"jwk", "alg", "enc", "kid"}
    assert req["encryption"]["kid"] == "enc-1" and req["encryption"]["alg"] == "ECDH-ES"
    assert req["encryption"]["jwk"]["kty"] == "EC" and "d" not in req["encryption"]["jwk"]
    assert _round_trip(record).request.encryption is not None

    copy = await _put(app, token, record)
    assert await _get(app, token, copy) == {**shown, "id": copy}
    r = await app.post(f"/v1/presentation-requests/{copy}/respond",
                       json={"choices": {"degree": cid}}, headers=auth(token))
    assert r.status == 200, await r.text()
    [got] = peer.posts
    assert set(got.form) == {"response"}  # encrypted to the stored key
    assert got.payload["state"] == req["state"] and got.errors == []


async def test_the_first_version_s_answered_records(app: TestClient[Any, Any],
                                                    peer: Peer) -> None:
    token, cid, shown = await degree_request(app, peer)
    record = await _record(app, token, shown["id"])
    for state in ("sent", "declined", "failed"):
        old = {**record, "state": state}
        if state == "sent":
            old["redirect_uri"] = f"{peer.base}/done"
        assert _round_trip(old).state == state
        copy = await _put(app, token, old)
        assert (await _get(app, token, copy))["state"] == state
        listed = (await (await app.get("/v1/presentation-requests",
                                       headers=auth(token))).json())["items"]
        assert [i["state"] for i in listed if i["id"] == copy] == [state]
        await assert_problem(await app.post(f"/v1/presentation-requests/{copy}/respond",
                                            json={"choices": {"degree": cid}},
                                            headers=auth(token)),
                             409, "request_already_answered")
    assert peer.posts == []
    for malformed in ({**record, "state": "shipped"}, {**record, "verifier": None},
                      {**record, "request": {**record["request"], "response_mode": "fragment"}}):
        with pytest.raises(DecryptionFailed):
            PresentationRequestRecord.from_record(malformed)


async def test_an_unreadable_record_spoils_only_itself(app: TestClient[Any, Any], peer: Peer,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    """A record this version cannot read is left out of the list, logged by id only; asked for
    by id (or answered) it is 409 ``record_unreadable`` (docs/presenting.md says why not 500)."""
    token, cid, shown = await degree_request(app, peer)
    record = await _record(app, token, shown["id"])
    shipped = await _put(app, token, {**record, "state": "shipped"})
    faceless = await _put(app, token, {**record, "verifier": None})
    with caplog.at_level(logging.WARNING):
        r = await app.get("/v1/presentation-requests", headers=auth(token))
    assert r.status == 200, await r.text()
    assert [i["id"] for i in (await r.json())["items"]] == [shown["id"]]
    warned = [rec.getMessage() for rec in caplog.records if rec.levelno == logging.WARNING]
    assert any(shipped in m for m in warned) and any(faceless in m for m in warned)
    assert "shipped" not in caplog.text and record["request"]["nonce"] not in caplog.text
    for request_id in (shipped, faceless):
        await assert_problem(await app.get(f"/v1/presentation-requests/{request_id}",
                                           headers=auth(token)), 409, "record_unreadable")
        await assert_problem(await app.post(f"/v1/presentation-requests/{request_id}/respond",
                                            json={"choices": {"degree": cid}},
                                            headers=auth(token)), 409, "record_unreadable")
    assert peer.posts == []
    assert (await _get(app, token, shown["id"]))["id"] == shown["id"]


async def test_an_unreadable_record_can_be_declined(app: TestClient[Any, Any],
                                                    peer: Peer) -> None:
    """The learner can clear a request this version cannot read: declining it records a
    ``presentation_declined`` entry naming no verifier (none can be read), tells no verifier
    (where to answer cannot be read either) and deletes the record; a second decline finds
    nothing, and the readable request is untouched."""
    token, _, shown = await degree_request(app, peer)
    shipped = await _put(app, token, {**await _record(app, token, shown["id"]),
                                      "state": "shipped"})
    r = await app.post(f"/v1/presentation-requests/{shipped}/decline", headers=auth(token))
    assert r.status == 200, await r.text()
    answer = await r.json()
    assert answer["delivered"] is False
    r = await app.get("/v1/consent/events?kind=presentation_declined", headers=auth(token))
    assert r.status == 200, await r.text()
    events = (await r.json())["items"]
    assert [(e["id"], e["counterparty"]) for e in events] == [(answer["event_id"], None)]
    assert peer.posts == []
    for asked in (app.get(f"/v1/presentation-requests/{shipped}", headers=auth(token)),
                  app.post(f"/v1/presentation-requests/{shipped}/decline", headers=auth(token))):
        await assert_problem(await asked, 404, "not_found")



async def test_the_web_wallet_declines_an_unreadable_record_too(app: TestClient[Any, Any],
                                                                peer: Peer) -> None:
    """Audit F9: the web's decline read the request first (for the verifier's name) and answered
    409 ``record_unreadable`` where the API declines. It declines; the page names no verifier."""
    b, _ = await signed_up(app)
    try:
        token = b.cookie("satchel_session") or ""
        client_id = "x509_san_dns:localhost"
        link = peer.serve_request(lambda f: peer.sign(peer.claims(client_id, dcql("degree"))),
                                  client_id=client_id)
        shown = await (await intake(app, token, link)).json()
        shipped = await _put(app, token, {**await _record(app, token, shown["id"]),
                                          "state": "shipped"})
        page = await b.post(f"/requests/{shipped}/decline")
        assert page.status == 200, page.html
        assert "Nothing was shared." in page and "Nothing was shared with" not in page
        await assert_problem(await app.get(f"/v1/presentation-requests/{shipped}",
                                           headers=auth(token)), 404, "not_found")
        assert peer.posts == []
        assert (await _get(app, token, shown["id"]))["id"] == shown["id"]
    finally:
        await b.close()
