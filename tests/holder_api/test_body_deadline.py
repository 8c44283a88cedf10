"""A request body has a deadline (the audit's A2): a client that declares a body and then sends
it too slowly, or stops, is answered 408 ``request_timeout`` and its connection closed; the
admission slot and the import slot it held come back. Without it, eight stalled sign-ups held
every admission slot and two stalled uploads of one learner every import slot, for ever.
Counted, not timed: the test waits for answers and slots, never asserts a duration."""

from __future__ import annotations

import asyncio

from holder_api.appkeys import ADMISSION, SERVICES
from tests.holder_api.body_support import answer, stalled
from tests.support.apps import AppFactory
from tests.support.http_api import auth, login, sign_up


async def test_a_stalled_body_is_answered_408_and_gives_its_admission_slot_back(
        make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3", SATCHEL_MAX_IN_FLIGHT="2",
                               SATCHEL_MAX_QUEUED="0")
    admission = client.app[ADMISSION]
    sent = [await stalled(client, "/v1/sessions", 1_000_000, b"{") for _ in range(2)]
    for reader, writer in sent:
        status, problem, rest = await answer(reader)
        assert (status, problem["code"], problem["status"]) == (408, "request_timeout", 408)
        assert rest == b""  # and the connection closed
        writer.close()
    assert admission.running == 0
    r = await client.get("/openapi.json")  # the replica answers again
    assert r.status == 200


async def test_a_body_that_trickles_past_its_deadline_is_answered_408(
        make_client: AppFactory) -> None:
    """A byte every so often is progress, not enough: the whole body has its deadline too."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3")
    reader, writer = await stalled(client, "/v1/learners", 1000, b"{")
    answered = asyncio.create_task(answer(reader))
    while not answered.done():
        try:
            writer.write(b" ")
            await writer.drain()
        except ConnectionError:  # answered and closed between two bytes: the answer is read
            break
        await asyncio.sleep(0.05)
    status, problem, _ = await answered
    assert (status, problem["code"]) == (408, "request_timeout")
    writer.close()
    assert client.app[ADMISSION].running == 0


async def test_stalled_imports_give_their_import_slots_back(make_client: AppFactory) -> None:
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3")
    rights = client.app[SERVICES].rights
    await sign_up(client, "hoarder")
    token = await login(client, "hoarder")
    sent = [await stalled(client, "/v1/me/import", 50_000_000, b"{", dict(auth(token)))
               for _ in range(2)]
    for reader, writer in sent:
        status, problem, rest = await answer(reader)
        assert (status, problem["code"]) == (408, "request_timeout")
        assert rest == b""
        writer.close()
    assert rights.imports_running == 0
    await sign_up(client, "mover")
    r = await client.post("/v1/me/import", json={"passphrase": "x", "bundle": {}},
                          headers=auth(await login(client, "mover")))
    assert r.status == 400  # admitted and judged, not 503 imports_busy


async def test_a_stalled_push_to_a_public_inbox_is_answered_408(make_client: AppFactory) -> None:
    """The public inbox URL reads a body with no learner token: the same deadline holds."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3")
    reader, writer = await stalled(client, "/i/no-such-token", 1000, b"{")
    status, problem, rest = await answer(reader)
    assert (status, problem["code"], rest) == (408, "request_timeout", b"")
    writer.close()
    assert client.app[ADMISSION].running == 0
