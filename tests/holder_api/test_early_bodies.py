"""A slow body holds no admission slot: a small body is read before its request takes one
(holder_api.http.EarlyBodies, docs/operations.md "Slow bodies"). Before, a request took its
slot and then read its body, so as many clients as there are slots, each trickling a body
within the deadline, held every slot, and everyone else queued behind them or was shed.
Counted, not timed: the tests read the admission's state and the replica's metrics."""

from __future__ import annotations

import asyncio
from typing import Any
from unittest import mock

import pytest
from aiohttp import StreamReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.test_utils import TestClient, make_mocked_request

from holder_api.appkeys import ADMISSION, METRICS, SERVICES
from holder_api.http import EarlyBodies
from holder_api.settings import DECLARED, Settings, SettingsError
from tests.holder_api.body_support import answer, stalled, until
from tests.holder_api.web_support import signed_up
from tests.support.apps import AppFactory
from tests.support.http_api import auth, login, sign_up

#: what the slow clients send: a sign-in of about this many bytes, the first byte at once
_LENGTH = 1000
_REST = b'"username":"slow","passphrase":"not it"}'
#: the answer is the connection's last (body_support.answer reads until it closes)
_CLOSE = {"Connection": "close"}


def _metric(client: TestClient[Any, Any], name: str) -> float:
    value = client.app[METRICS].get_sample_value(name)
    assert value is not None, name
    return float(value)


async def _finish(writer: asyncio.StreamWriter) -> None:
    writer.write(b" " * (_LENGTH - 1 - len(_REST)) + _REST)  # JSON allows the spaces
    await writer.drain()


async def test_slow_senders_hold_no_slot_and_a_normal_request_is_served(
        make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_BODY_TIMEOUT="60", SATCHEL_MAX_IN_FLIGHT="2",
                               SATCHEL_MAX_QUEUED="0")
    admission = client.app[ADMISSION]
    # twice as many slow senders as there are slots, and no queue: before, two held both
    # slots and every other request was answered 503 overloaded at once
    slow = [await stalled(client, "/v1/sessions", _LENGTH, b"{", _CLOSE) for _ in range(4)]
    await until(lambda: _metric(client, "satchel_bodies_reading_early") == 4,
                "the slow bodies read before admission")
    assert (admission.running, admission.waiting) == (0, 0)
    assert _metric(client, "satchel_early_body_bytes") == 4 * _LENGTH
    # a learner signs up, signs in and lists (storage on each backend) meanwhile
    await sign_up(client, "ada")
    r = await client.get("/v1/credentials", headers=auth(await login(client, "ada")))
    assert r.status == 200
    assert admission.shed == 0
    # and the slow ones, once their bodies are in, are admitted and judged like any other
    for reader, writer in slow:
        await _finish(writer)
        status, problem, _ = await answer(reader)
        assert (status, problem["code"]) == (401, "invalid_credentials")
        writer.close()
    await until(lambda: _metric(client, "satchel_early_body_bytes") == 0, "reservations back")
    assert _metric(client, "satchel_bodies_read_early_total") >= 4
    assert admission.running == 0


async def test_a_chunked_body_is_read_before_admission_too(make_client: AppFactory) -> None:
    """A body that declares no length is read early as well (up to the body limit)."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="60", SATCHEL_MAX_IN_FLIGHT="1",
                               SATCHEL_MAX_QUEUED="0")
    reader, writer = await stalled(client, "/v1/sessions", None, b"", {
        **_CLOSE, "Transfer-Encoding": "chunked"})
    writer.write(b"1\r\n{\r\n")
    await writer.drain()
    await until(lambda: _metric(client, "satchel_bodies_reading_early") == 1, "read early")
    assert client.app[ADMISSION].running == 0
    r = await client.get("/openapi.json")  # the one slot is free
    assert r.status == 200
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(_REST), _REST))
    await writer.drain()
    status, problem, _ = await answer(reader)
    assert (status, problem["code"]) == (401, "invalid_credentials")
    writer.close()


async def test_bodies_beyond_the_budget_are_read_in_their_slot(make_client: AppFactory) -> None:
    """The budget bounds the memory bodies read early hold: one that does not fit waits in a
    slot, as every body did before."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="60",
                               SATCHEL_EARLY_BODY_BYTES=str(_LENGTH + _LENGTH // 2))
    admission = client.app[ADMISSION]
    first = await stalled(client, "/v1/sessions", _LENGTH, b"{", _CLOSE)
    await until(lambda: _metric(client, "satchel_bodies_reading_early") == 1, "read early")
    second = await stalled(client, "/v1/sessions", _LENGTH, b"{", _CLOSE)
    await until(lambda: admission.running == 1, "the second in a slot")
    assert _metric(client, "satchel_bodies_passed_over_total") == 1
    assert _metric(client, "satchel_early_body_bytes") == _LENGTH
    for reader, writer in (first, second):
        await _finish(writer)
        status, problem, _ = await answer(reader)
        assert (status, problem["code"]) == (401, "invalid_credentials")
        writer.close()
    assert admission.running == 0


@pytest.mark.parametrize("form", [False, True], ids=["api-pdf", "web-file-form"])
async def test_a_slow_upload_holds_its_gates_slot_not_an_admission_slot(
        make_client: AppFactory, form: bool) -> None:
    """A large body is admitted by its own gate before it is read (wallet.large_bodies), which
    bounds how many are read at once: while it is read, its admission slot is given back."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="60", SATCHEL_MAX_IN_FLIGHT="1",
                               SATCHEL_MAX_QUEUED="0")
    admission, uploads = client.app[ADMISSION], client.app[SERVICES].uploads
    if form:  # the web wallet's credential file, a multipart form
        browser, _ = await signed_up(client)
        headers = {"Cookie": f"satchel_session={browser.cookie('satchel_session')}", **_CLOSE}
        await browser.close()
        path, kind = "/credentials/import", "multipart/form-data; boundary=b"
        first = b'--b\r\nContent-Disposition: form-data; name="file"; filename="f.pdf"\r\n\r\n'
    else:
        await sign_up(client, "ada")
        headers = {**auth(await login(client, "ada")), **_CLOSE}
        path, kind, first = "/v1/credentials", "application/pdf", b"%PDF-1.7\n"
    _, writer = await stalled(client, path, 5_000_000, first, headers, content_type=kind)
    await until(lambda: (uploads.running, admission.aside) == (1, 1), "read aside")
    assert admission.running == 0
    assert _metric(client, "satchel_bodies_reading_early") == 0  # its gate's, not read early
    r = await client.get("/openapi.json")  # the one slot is free
    assert r.status == 200
    writer.close()  # the client goes: both slots come back
    await until(lambda: (uploads.running, admission.aside, admission.running) == (0, 0, 0),
                "the slots back")


async def test_one_address_gets_its_share_of_the_budget_and_others_are_served(
        make_client: AppFactory) -> None:
    """SATCHEL_EARLY_BODY_BYTES was first come, first served: one address that filled it had
    its next bodies read inside admission slots, holding them, and everyone else was shed. Now
    an address's bodies are read early up to SATCHEL_EARLY_BODY_CLIENT_BYTES at once; the rest
    wait for its share, unread, holding neither a slot nor the budget."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="60", SATCHEL_MAX_IN_FLIGHT="2",
                               SATCHEL_MAX_QUEUED="0", SATCHEL_TRUST_FORWARDED="1",
                               SATCHEL_EARLY_BODY_BYTES=str(8 * _LENGTH),
                               SATCHEL_EARLY_BODY_CLIENT_BYTES=str(2 * _LENGTH))
    admission = client.app[ADMISSION]
    # one address (its proxy hop) trickles ten bodies: the budget's worth, and two more
    one = {**_CLOSE, "X-Forwarded-For": "203.0.113.9"}
    slow = [await stalled(client, "/v1/sessions", _LENGTH, b"{", one) for _ in range(10)]
    await until(lambda: _metric(client, "satchel_bodies_waiting_for_share") == 8,
                "the address's other bodies waiting for its share")
    assert _metric(client, "satchel_bodies_reading_early") == 2
    assert _metric(client, "satchel_early_body_bytes") == 2 * _LENGTH
    assert (admission.running, admission.waiting) == (0, 0)  # before: both slots held
    # another learner (the socket's own address) signs up, signs in and lists meanwhile
    await sign_up(client, "ada")
    r = await client.get("/v1/credentials", headers=auth(await login(client, "ada")))
    assert r.status == 200
    assert admission.shed == 0
    assert _metric(client, "satchel_bodies_passed_over_total") == 0
    # the address's bodies, once sent, are all read (two at a time) and judged like any other
    for _, writer in slow:
        await _finish(writer)
    for reader, writer in slow:
        status, problem, _ = await answer(reader)
        assert (status, problem["code"]) == (401, "invalid_credentials")
        writer.close()
    await until(lambda: _metric(client, "satchel_early_body_bytes") == 0, "reservations back")
    assert _metric(client, "satchel_bodies_waited_for_share_total") == 8
    assert _metric(client, "satchel_bodies_waiting_for_share") == 0
    assert admission.running == 0 and admission.shed == 0


def test_the_share_setting() -> None:
    declared = next(s for s in DECLARED if s.name == "SATCHEL_EARLY_BODY_CLIENT_BYTES")
    assert declared.default == "4194304"  # an eighth of the budget: four 1 MiB bodies
    assert Settings.from_env({}).early_body_client_bytes == 4 * 1024 * 1024
    for bad in ("-1", "lots"):
        with pytest.raises(SettingsError):
            Settings.from_env({"SATCHEL_EARLY_BODY_CLIENT_BYTES": bad})


def _posted(address: str, size: int) -> web.Request:
    """A request from ``address`` declaring a body of ``size`` bytes, all of it sent."""
    transport = mock.Mock()
    transport.get_extra_info.return_value = (address, 40000)
    stream = StreamReader(BaseProtocol(asyncio.get_running_loop()), 1 << 20,
                          loop=asyncio.get_running_loop())
    stream.feed_data(b" " * size)
    stream.feed_eof()
    return make_mocked_request("POST", "/v1/sessions", transport=transport, payload=stream,
                               headers={"Content-Length": str(size)}, client_max_size=1 << 20)


async def test_a_share_waiter_that_goes_leaves_the_line_and_the_next_is_read() -> None:
    bodies = EarlyBodies(1000, share=100)
    first, gone, last = (_posted("198.51.100.7", 100) for _ in range(3))
    held = bodies.reserve(first)
    await bodies.read(first)
    reserved = [bodies.reserve(r) for r in (gone, last)]
    waiting = [asyncio.ensure_future(bodies.read(r)) for r in (gone, last)]
    await until(lambda: bodies.waited == 2, "both waiting")
    waiting[0].cancel()
    await asyncio.gather(waiting[0], return_exceptions=True)
    bodies.release(held)  # the address's share frees: the one still waiting is read
    await waiting[1]
    assert (bodies.held, bodies.shares, bodies.read_early) == (100, {"198.51.100.7": 100}, 2)
    bodies.release(reserved[1])
    bodies.release(reserved[0])  # gone before its turn: it holds nothing
    assert (bodies.held, bodies.shares) == (0, {})
    assert bodies.waiting == 0


async def test_a_body_whose_turn_finds_the_budget_spent_is_read_in_its_slot() -> None:
    bodies = EarlyBodies(150, share=100)
    small, large = _posted("198.51.100.7", 10), _posted("198.51.100.7", 100)
    others = [_posted("203.0.113.1", 100), _posted("203.0.113.2", 40)]
    held = bodies.reserve(small)
    waits = bodies.reserve(large)  # 10 + 100 is beyond its address's share: waits
    assert [bodies.reserve(r) for r in others] == [100, 40]  # the budget: 150 of 150
    turn = asyncio.ensure_future(bodies.read(large))
    await until(lambda: bodies.waited == 1, "waiting")
    bodies.release(held)
    await turn  # its turn: 140 + 100 does not fit, so its route reads it, in its slot
    assert (bodies.passed_over, bodies.read_early, bodies.held) == (1, 0, 140)
    bodies.release(waits)
    assert bodies.held == 140 and "198.51.100.7" not in bodies.shares

