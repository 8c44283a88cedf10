"""Imports are admitted before their body is read (the audit's D7): a replica runs at most
SATCHEL_MAX_CONCURRENT_IMPORTS of them, and a learner starts at most their hourly budget; what
is over either is refused at once, with Retry-After, while its body has not even been sent whole.
Counted, not timed: the bodies here never finish unless the test lets them."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

import consent.rights
from consent.rights import ImportAdmission
from holder_api.appkeys import SERVICES
from tests.holder_api.admission_support import ANSWERED_WITHIN, Held, send, spend_the_budget
from tests.holder_api.web_support import signed_up
from tests.support.http_api import assert_problem, auth, login, sign_up
from wallet.errors import SatchelError

#: long enough for any answer the server gives without the rest of the body: a request over
#: the bound that is not answered by then is one whose body the server waits for


async def _running(rights: Any, n: int) -> None:
    """Until ``n`` imports hold a slot (the requests above were admitted)."""
    for _ in range(ANSWERED_WITHIN * 100):
        if rights.imports_running >= n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{n} imports were never admitted at once")


async def _post(session: aiohttp.ClientSession, url: str, token: str,
                held: Held) -> tuple[int, dict[str, Any], str | None]:
    return await send(session, url, {**auth(token), "Content-Type": "application/json"}, held)


async def test_a_third_import_at_once_is_refused_before_its_body_is_read(
        client: TestClient[Any, Any]) -> None:
    rights = client.app[SERVICES].rights
    assert rights.import_slots == 2  # SATCHEL_MAX_CONCURRENT_IMPORTS' default
    tokens = []
    for name in ("first", "second", "third"):
        await sign_up(client, name)
        tokens.append(await login(client, name))
    url = str(client.make_url("/v1/me/import"))
    async with aiohttp.ClientSession() as session:
        first, second = Held(), Held()
        running = [asyncio.create_task(_post(session, url, token, held))
                   for token, held in ((tokens[0], first), (tokens[1], second))]
        await asyncio.gather(first.sent.wait(), second.sent.wait())
        await _running(rights, 2)  # both admitted, both reading their bodies

        third = Held()  # never finishes: only an answer that does not wait for it arrives
        status, problem, retry = await asyncio.wait_for(
            _post(session, url, tokens[2], third), ANSWERED_WITHIN)
        assert (status, problem["code"]) == (503, "imports_busy")
        assert retry is not None and int(retry) >= 1
        assert problem["type"] and problem["status"] == 503
        assert rights.imports_running == 2

        first.finish()
        second.finish()
        answers = await asyncio.gather(*running)
        assert [a[1]["code"] for a in answers] == ["invalid_bundle"] * 2  # read, then judged
        assert rights.imports_running == 0

        # a slot free again: the third learner's import is admitted and read
        again = Held()
        again.finish()
        status, problem, _ = await _post(session, url, tokens[2], again)
        assert (status, problem["code"]) == (400, "invalid_bundle")


async def test_a_learner_past_the_import_budget_is_refused_before_the_body_is_read(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(consent.rights, "_IMPORT_LIMIT", 2)
    await sign_up(client, "eager")
    token = await login(client, "eager")
    await spend_the_budget(str(client.make_url("/v1/me/import")),
                           {**auth(token), "Content-Type": "application/json"}, 2,
                           (400, "invalid_bundle"))
    assert client.app[SERVICES].rights.imports_running == 0
    # another learner has a budget of its own
    await sign_up(client, "patient")
    other = await login(client, "patient")
    r = await client.post("/v1/me/import", json={"passphrase": "x", "bundle": {}},
                          headers=auth(other))
    await assert_problem(r, 400, "invalid_bundle")


async def test_the_web_form_is_admitted_before_its_file_is_read(
        client: TestClient[Any, Any]) -> None:
    rights = client.app[SERVICES].rights
    for name in ("api-one", "api-two"):
        await sign_up(client, name)
    url = str(client.make_url("/v1/me/import"))
    browser, _ = await signed_up(client, "web-mover")
    try:
        await browser.get("/my-data/import")
        async with aiohttp.ClientSession() as session:
            held = [Held(), Held()]
            running = [asyncio.create_task(_post(session, url, await login(client, name), h))
                       for name, h in zip(("api-one", "api-two"), held, strict=True)]
            await _running(rights, 2)
            upload = Held(b"--b\r\nContent-Disposition: form-data; name=bundle; filename=x\r\n")
            async with browser.session.post(
                    browser.url("/my-data/import"), data=upload.body(),
                    headers={"Content-Type": "multipart/form-data; boundary=b"}) as r:
                status = r.status
            assert status == 503
            for h in held:
                h.finish()
            await asyncio.gather(*running)
        assert rights.imports_running == 0
    finally:
        await browser.session.close()


async def test_an_import_needs_the_admission_of_its_learner_while_it_is_held(
        client: TestClient[Any, Any]) -> None:
    """:meth:`RightsService.import_bundle` requires the token :meth:`RightsService.admitted`
    yields (a required parameter: mypy holds every caller to it), and refuses one that is not
    live, or is another learner's: no import runs on an admission that was never counted."""
    rights = client.app[SERVICES].rights
    parameter = inspect.signature(rights.import_bundle).parameters["admission"]
    assert parameter.default is inspect.Parameter.empty
    sessions = []
    for name in ("admitted-one", "admitted-two"):
        await sign_up(client, name)
        sessions.append(await client.app[SERVICES].accounts.authenticate(
            await login(client, name)))
    one, two = sessions
    async with rights.admitted(one.learner_id) as ended:
        assert rights.imports_running == 1
    refused = []
    async with rights.admitted(two.learner_id) as others:
        for admission in (ended, others, ImportAdmission(one.learner_id)):
            with pytest.raises(RuntimeError) as exc:
                await rights.import_bundle(admission, one, {}, "x")
            refused.append(str(exc.value))
        assert rights.imports_running == 1  # only the one held above
    assert len(refused) == 3 and rights.imports_running == 0
    # the learner's own live admission: the bundle itself is judged
    async with rights.admitted(one.learner_id) as admission:
        with pytest.raises(SatchelError) as judged:
            await rights.import_bundle(admission, one, {}, "x")
    assert judged.value.code == "invalid_bundle"
