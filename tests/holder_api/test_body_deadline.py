"""A request body has a deadline (the audit's A2): a client that declares a body and then sends
it too slowly, or stops, is answered 408 ``request_timeout`` and its connection closed; the
admission slot and the import slot it held come back. Without it, eight stalled sign-ups held
every admission slot and two stalled uploads of one learner every import slot, for ever.
Counted, not timed: the test waits for answers and slots, never asserts a duration."""

from __future__ import annotations

import asyncio

from holder_api.appkeys import ADMISSION, SERVICES
from tests.holder_api.body_support import answer, stalled, trickle
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
    await trickle(writer, answered)
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
    # one is refused at once: one import of a learner at a time (audit F5)
    answers = []
    for reader, writer in sent:
        status, problem, _ = await answer(reader)
        answers.append((status, problem["code"]))
        writer.close()
    assert sorted(answers) == [(408, "request_timeout"), (429, "import_in_progress")]
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


async def _trickled(reader: asyncio.StreamReader, writer: asyncio.StreamWriter
                    ) -> tuple[int, str, int]:
    """A byte every 0.05 s (far within a 0.3 s stall allowance) until the server answers: its
    status and code, and how many bytes were sent by then."""
    answered = asyncio.create_task(answer(reader))
    sent = await trickle(writer, answered)
    status, problem, _ = await answered
    writer.close()
    return status, problem["code"], sent


#: bytes a trickler may send before it is cut: the stall allowance is about 6 of its bytes
#: (0.3 s at one each 0.05 s); the deadline a body once had in all (the allowance plus a second
#: per 64 KiB declared: 15.6 s for a megabyte) is about 300
_CUT_WITHIN = 60


async def test_a_trickled_body_is_cut_once_it_falls_behind_the_minimum_rate(
        make_client: AppFactory) -> None:
    """After the stall allowance a body must keep up with the minimum rate (64 KiB/s): a byte
    now and then no longer keeps a declared megabyte (early-body budget or a slot) for the
    whole of its old deadline (audit F1 b). Counted in bytes sent, not timed."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3")
    reader, writer = await stalled(client, "/v1/sessions", 1_000_000, b"{")
    status, code, sent = await _trickled(reader, writer)
    assert (status, code) == (408, "request_timeout")
    assert sent < _CUT_WITHIN, sent
    assert client.app[ADMISSION].running == 0


async def test_a_trickled_upload_is_cut_and_gives_its_upload_slot_back(
        make_client: AppFactory) -> None:
    """The same for a large body its gate admitted: a 10 MB PDF once had 163 s (audit F5)."""
    client = await make_client(SATCHEL_BODY_TIMEOUT="0.3")
    await sign_up(client, "trickler")
    token = await login(client, "trickler")
    reader, writer = await stalled(client, "/v1/credentials", 10_000_000, b"%PDF-1.7\n",
                                   dict(auth(token)), content_type="application/pdf")
    status, code, sent = await _trickled(reader, writer)
    assert (status, code) == (408, "request_timeout")
    assert sent < _CUT_WITHIN, sent
    assert client.app[SERVICES].uploads.running == 0
