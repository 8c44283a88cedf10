"""Schemathesis over /openapi.json against a live Satchel: never a 5xx, errors are problem+json.

The schema is the one the app serves (built from the same route table); every operation is fuzzed
with and without a valid learner token.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from holder_api.app import all_operations, create_app
from holder_api.openapi import build_document
from holder_api.settings import Settings
from tests.conftest import loopback_resolver


@schemathesis.serializer("application/pdf")
def _pdf_body(_ctx: Any, value: Any) -> bytes:
    """PDF uploads (POST /v1/credentials): whatever body the fuzzer made, as bytes."""
    return value if isinstance(value, bytes) else str(value).encode()


schema = schemathesis.openapi.from_dict(
    build_document(all_operations(), version="test", server_url="http://127.0.0.1"))


class LiveServer:
    def __init__(self) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        data = Path(self.tmp.name)
        settings_ = Settings.from_env({
            "SATCHEL_DATA_DIR": str(data), "SATCHEL_ALLOW_WEAK_KDF": "1",
            "SATCHEL_KDF_MEMLIMIT_MIB": "1", "SATCHEL_KDF_OPSLIMIT": "1",
            "SATCHEL_UNLOCK_LIMIT": "100000/60"})
        self.runner = web.AppRunner(create_app(settings_, host_resolver=loopback_resolver))
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(site.start())
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.ready.set()
        self.loop.run_forever()

    def start(self) -> str:
        self.thread.start()
        assert self.ready.wait(30)
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        fut = asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop)
        fut.result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.tmp.cleanup()


@pytest.fixture(scope="module")
def live() -> Iterator[tuple[str, str]]:
    server = LiveServer()
    base = server.start()
    requests.post(f"{base}/v1/learners", json={"username": "fuzzer",
                                               "passphrase": "fuzzing passphrase 123"}, timeout=30)
    token = requests.post(f"{base}/v1/sessions", json={
        "username": "fuzzer", "passphrase": "fuzzing passphrase 123"}, timeout=30).json()[
        "access_token"]
    yield base, token
    server.stop()


def _check(case: Any, response: Any) -> None:
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance,
                                             response_schema_conformance])
    if response.status_code >= 400:
        assert response.headers.get("content-type", [""])[0].startswith("application/problem+json"), (
            case.method, case.path, response.status_code, response.headers, response.content[:200])


@schema.parametrize()
@settings(max_examples=int(os.environ.get("SATCHEL_FUZZ_EXAMPLES", "25")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.filter_too_much])
def test_api_fuzz(case: Any, live: tuple[str, str]) -> None:
    base, token = live
    if case.path in ("/v1/sessions/current", "/v1/learners/me/passphrase",
                     "/v1/learners/me/recovery-code", "/v1/me/erase"):
        # these would end the fuzzing session itself; they are fuzzed without a token
        _check(case, case.call(base_url=base, timeout=30))
        return
    _check(case, case.call(base_url=base, headers={"Authorization": f"Bearer {token}"},
                           timeout=30))
    _check(case, case.call(base_url=base, timeout=30))
