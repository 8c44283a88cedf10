"""Large uploads are admitted before their body is read (wallet.large_bodies), as imports are: a
signed PDF to POST /v1/credentials (up to SATCHEL_MAX_PDF_BYTES), the web wallet's credential
file and its QR photo. A replica reads at most SATCHEL_MAX_CONCURRENT_UPLOADS of them at once, a
learner starts at most their hourly budget; what is over either is refused at once, with
Retry-After, while its body has not even been sent whole. A client that goes away mid-body gives
its slot back; a body declared over the limit is 413 before a byte is read, and nothing is
written. Counted, not timed: the bodies here never finish unless the test lets them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

import consent.rights
from holder_api.appkeys import SERVICES
from tests import pdf_support as ps
from tests.holder_api.admission_support import ANSWERED_WITHIN, Held, send, spend_the_budget
from tests.holder_api.pdf_api_support import PDF, count, learner
from tests.holder_api.web_support import signed_up
from tests.support.http_api import login, sign_up

#: long enough for any answer the server gives without the rest of the body

Client = TestClient[Any, Any]


def _gate(client: Client) -> Any:
    return client.app[SERVICES].uploads


async def _until(client: Client, n: int) -> None:
    """Until ``n`` uploads hold a slot exactly."""
    for _ in range(ANSWERED_WITHIN * 100):
        if _gate(client).running == n:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{_gate(client).running} uploads hold a slot, never {n}")


def _pdf_head() -> Held:
    return Held(b"%PDF-1.7\n" + b"%" * 1024)


async def _post(session: aiohttp.ClientSession, url: str, headers: dict[str, str],
                held: Held) -> tuple[int, dict[str, Any], str | None]:
    return await send(session, url, {**headers, **PDF}, held)


async def _learners(client: Client, *names: str) -> list[dict[str, str]]:
    return [await learner(client, name) for name in names]


async def test_uploads_past_the_slots_are_refused_at_once_before_their_body_is_read(
        make_client: Any) -> None:
    client = await make_client(SATCHEL_MAX_CONCURRENT_UPLOADS="2")
    assert _gate(client).slots == 2
    first, second, third = await _learners(client, "first", "second", "third")
    url = str(client.make_url("/v1/credentials"))
    async with aiohttp.ClientSession() as session:
        held = [_pdf_head(), _pdf_head()]
        running = [asyncio.create_task(_post(session, url, h, b))
                   for h, b in zip((first, second), held, strict=True)]
        await asyncio.gather(*(b.sent.wait() for b in held))
        await _until(client, 2)  # both admitted, both reading their bodies

        # never finishes: only an answer that does not wait for the body arrives
        status, problem, retry = await asyncio.wait_for(
            _post(session, url, third, _pdf_head()), ANSWERED_WITHIN)
        assert (status, problem["code"]) == (503, "uploads_busy")
        assert problem["status"] == 503 and problem["type"]
        assert retry is not None and int(retry) >= 1
        assert _gate(client).running == 2
        metrics = await (await client.get("/metrics")).text()
        assert 'satchel_large_bodies_running{kind="upload"} 2.0' in metrics
        assert 'satchel_large_bodies_busy_total{kind="upload"} 1.0' in metrics
        assert 'satchel_large_bodies_busy_total{kind="import"} 0.0' in metrics

        for b in held:
            b.finish()
        answers = await asyncio.gather(*running)
        assert [a[1]["code"] for a in answers] == ["pdf_malformed"] * 2  # read, then judged
    await _until(client, 0)
    # a slot free again: the third learner's PDF is admitted, read and stored
    r = await client.post("/v1/credentials", data=ps.sign(ps.base_pdf()), headers={**third, **PDF})
    assert r.status == 201, await r.text()
    assert [await count(client, h) for h in (first, second, third)] == [0, 0, 1]


async def test_a_client_gone_mid_body_gives_its_slot_back(make_client: Any) -> None:
    client = await make_client(SATCHEL_MAX_CONCURRENT_UPLOADS="1")
    h = await learner(client)
    url = str(client.make_url("/v1/credentials"))
    async with aiohttp.ClientSession() as session:
        held = _pdf_head()
        task = asyncio.create_task(_post(session, url, h, held))
        await held.sent.wait()
        await _until(client, 1)
    # the session closed with the body half sent: the connection is gone
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await _until(client, 0)
    r = await client.post("/v1/credentials", data=ps.sign(ps.base_pdf()), headers={**h, **PDF})
    assert r.status == 201, await r.text()
    assert await count(client, h) == 1


async def test_a_learner_past_the_upload_budget_is_refused_before_the_body_is_read(
        make_client: Any) -> None:
    client = await make_client()
    _gate(client).budget = (2, 3600)
    eager, patient = await _learners(client, "eager", "patient")
    await spend_the_budget(str(client.make_url("/v1/credentials")), {**eager, **PDF}, 2,
                           (400, "pdf_malformed"), _pdf_head)
    assert _gate(client).running == 0
    # another learner has a budget of its own
    r = await client.post("/v1/credentials", data=ps.sign(ps.base_pdf()),
                          headers={**patient, **PDF})
    assert r.status == 201, await r.text()


async def test_a_body_declared_over_the_limit_is_413_at_once_and_nothing_is_written(
        make_client: Any) -> None:
    client = await make_client(SATCHEL_MAX_PDF_BYTES="4096", SATCHEL_MAX_CONCURRENT_UPLOADS="1")
    h = await learner(client)
    url = str(client.make_url("/v1/credentials"))
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=_pdf_head().body(), headers={
                **h, **PDF, "Content-Length": "5000"}) as r:
            assert r.status == 413
            assert (await r.json(content_type=None))["code"] == "payload_too_large"
    assert _gate(client).running == 0
    # streamed past the limit (no Content-Length): refused while reading, the slot given back
    big = ps.sign(ps.base_pdf(padding_bytes=8000))

    async def chunks() -> Any:
        for i in range(0, len(big), 1000):
            yield big[i:i + 1000]

    r = await client.post("/v1/credentials", data=chunks(), headers={**h, **PDF})
    assert r.status == 413
    await _until(client, 0)
    assert await count(client, h) == 0


async def _form_post(browser: Any, path: str, held: Held,
                     headers: dict[str, str] | None = None) -> tuple[int, str]:
    status, html, _ = await _form_answer(browser, path, held, headers)
    return status, html


async def _form_answer(browser: Any, path: str, held: Held, headers: dict[str, str] | None = None
                       ) -> tuple[int, str, Mapping[str, str]]:
    async with browser.session.post(browser.url(path), data=held.body(), headers={
            "Content-Type": "multipart/form-data; boundary=b", **(headers or {})}) as r:
        return r.status, await r.text(), r.headers


def _form_head(field: str) -> Held:
    return Held(f"--b\r\nContent-Disposition: form-data; name={field}; filename=x\r\n\r\n"
                .encode())


async def test_the_web_forms_that_carry_a_file_are_admitted_before_it_is_read(
        make_client: Any) -> None:
    client = await make_client(SATCHEL_MAX_CONCURRENT_UPLOADS="1")
    await sign_up(client, "api")
    token = await login(client, "api")
    browser, _ = await signed_up(client, "web")
    url = str(client.make_url("/v1/credentials"))
    try:
        await browser.get("/credentials/import")
        async with aiohttp.ClientSession() as session:
            held = _pdf_head()
            running = asyncio.create_task(
                _post(session, url, {"Authorization": f"Bearer {token}"}, held))
            await _until(client, 1)
            for path, field in (("/credentials/import", "file"), ("/scan", "image")):
                status, html, answered = await asyncio.wait_for(
                    _form_answer(browser, path, _form_head(field)), ANSWERED_WITHIN)
                assert status == 503 and "uploads_busy" in html, path
                assert answered["Retry-After"] == "2", path  # as the API's 503 says
            held.finish()
            await running
        await _until(client, 0)
    finally:
        await browser.session.close()


async def test_a_web_form_declared_over_its_limit_is_413_before_it_is_read(
        make_client: Any) -> None:
    client = await make_client()
    browser, _ = await signed_up(client, "web")
    try:
        await browser.get("/credentials/import")
        for path, field in (("/credentials/import", "file"), ("/scan", "image")):
            status, html = await asyncio.wait_for(_form_post(
                browser, path, _form_head(field), {"Content-Length": str(64 * 1024 * 1024)}),
                ANSWERED_WITHIN)
            assert status == 413 and "payload_too_large" in html, path
        assert _gate(client).running == 0
    finally:
        await browser.session.close()


async def test_an_import_declared_over_its_limit_is_413_before_it_is_admitted(
        client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    """An import body declared over 51 MiB is refused before it takes a slot or is counted in
    the learner's budget (once it used up one of the hour's imports, unread)."""
    monkeypatch.setattr(consent.rights, "_IMPORT_LIMIT", 1)
    await sign_up(client, "mover")
    token = await login(client, "mover")
    url = str(client.make_url("/v1/me/import"))
    async with aiohttp.ClientSession() as session:
        async with session.post(url, data=Held().body(), headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json",
                "Content-Length": str(consent.rights.MAX_BUNDLE_BYTES + 1)}) as r:
            assert r.status == 413
            assert (await r.json(content_type=None))["code"] == "payload_too_large"
    assert client.app[SERVICES].rights.imports_running == 0
    # the hour's one import is still there: read, and judged
    r = await client.post("/v1/me/import", json={"passphrase": "x", "bundle": {}},
                          headers={"Authorization": f"Bearer {token}"})
    assert r.status == 400 and (await r.json())["code"] == "invalid_bundle"
