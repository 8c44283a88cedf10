"""Schemathesis over /openapi.json against a live Satchel, on SQLite and on PostgreSQL.

The schema is the one the app serves (built from the same route table); every operation is fuzzed
with and without a valid learner token. Checked on every answer: never a 5xx; the status code,
content type and body are ones the document declares; errors are problem+json; and the document
is as strict as the server — a request the schema allows is never refused as malformed, except
by a rule no schema can state (:data:`JUDGED`). ``SATCHEL_FUZZ_EXAMPLES`` sets the examples per
operation (25: a CI run; raise it to hunt).
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from holder_api.app import all_operations, create_app
from holder_api.openapi import build_document
from holder_api.settings import Settings
from tests.support.apps import DATA_KEY, STORE_KEY
from tests.support.backends import PG_BASE, create_pg_database, drop_pg_database, require_postgres
from tests.support.network import loopback_resolver


@schemathesis.serializer("application/pdf")
def _pdf_body(_ctx: Any, value: Any) -> bytes:
    """PDF uploads (POST /v1/credentials): whatever body the fuzzer made, as bytes."""
    return value if isinstance(value, bytes) else str(value).encode()


schema = schemathesis.openapi.from_dict(
    build_document(all_operations(), version="test", server_url="http://127.0.0.1"))


class LiveServer:
    def __init__(self, env: dict[str, str]) -> None:
        self.tmp = tempfile.TemporaryDirectory()
        self.env = env
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        settings_ = Settings.from_env({
            "SATCHEL_DATA_DIR": self.tmp.name, "SATCHEL_ALLOW_WEAK_KDF": "1",
            "SATCHEL_KDF_MEMLIMIT_MIB": "1", "SATCHEL_KDF_OPSLIMIT": "1",
            "SATCHEL_UNLOCK_LIMIT": "100000/60", "SATCHEL_SIGNUP_LIMIT": "100000/60",
            **self.env})
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


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    env: dict[str, str] = {}
    databases: tuple[str, ...] = ()
    if request.param == "postgres":
        require_postgres()
        tag = uuid.uuid4().hex[:12]
        databases = (f"satchel_fuzz_vault_{tag}", f"satchel_fuzz_sql_{tag}",
                     f"satchel_fuzz_keyring_{tag}")
        asyncio.run(create_pg_database(databases[1]))
        env = {"SATCHEL_VAULT_URI": f"{PG_BASE}/{databases[0]}",
               # what a replica on a shared vault needs (holder_api.settings)
               "SATCHEL_KEYRING_URI": f"{PG_BASE}/{databases[2]}",
               "SATCHEL_KEYRING_KEY": STORE_KEY,
               "SATCHEL_DATA_KEY": DATA_KEY,
               "SATCHEL_DATABASE_URL": PG_BASE.replace("postgres://", "postgresql+asyncpg://")
               + f"/{databases[1]}",
               "SATCHEL_STORE_KEY": STORE_KEY,
               "SATCHEL_SESSION_KEY": "c2F0Y2hlbC1mdXp6LXNlc3Npb24ta2V5LTMyLWJ5dGVzIQ"}
    # every push of the file comes from this one address: the surrogate test's pushes must meet
    # the body check, not the address's push limit, whatever ran before them
    env["SATCHEL_INBOX_CLIENT_LIMIT"] = "100000/60"
    server = LiveServer(env)
    try:
        base = server.start()
        requests.post(f"{base}/v1/learners", json={"username": "fuzzer",
                                                   "passphrase": "fuzzing passphrase 123"},
                      timeout=30)
        token = requests.post(f"{base}/v1/sessions", json={
            "username": "fuzzer", "passphrase": "fuzzing passphrase 123"}, timeout=30).json()[
            "access_token"]
        yield base, token
    finally:
        server.stop()
        for name in databases:
            asyncio.run(drop_pg_database(name))


#: Operations whose input is a document the server judges by its content (a credential, an
#: offer, an export bundle, an OpenID4VP request, an authorization callback): a schema can say
#: it is a string or an object, not that it verifies, so any 4xx problem may answer it.
JUDGED = frozenset({
    ("POST", "/v1/credentials"), ("POST", "/v1/offers"), ("POST", "/v1/me/import"),
    ("POST", "/v1/presentation-requests"), ("POST", "/v1/offers/{id}/authorization"),
    ("GET", "/i/{token}"), ("POST", "/i/{token}"),
    # the printout's ``claims``: JSON claim paths, judged against the credential they name
    ("GET", "/v1/credentials/{id}/pdf"),
})
#: Everywhere else, a schema-valid request is refused only for what its schema describes as the
#: server's judgement: an easily guessed passphrase, a cursor not handed out here.
JUDGED_CODES = frozenset({"weak_passphrase", "invalid_cursor"})
_MALFORMED = (400, 415, 422)


def _as_strict_as_the_server(case: Any, response: Any) -> None:
    if response.status_code not in _MALFORMED or (case.method.upper(), case.path) in JUDGED:
        return
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return  # the coverage phase also sends schema-invalid requests: refusing them is right
    code = response.json().get("code")
    assert code in JUDGED_CODES, (
        f"{case.method} {case.path}: a request its schema allows was refused "
        f"({response.status_code} {code}: {response.json().get('detail')}); the schema must say "
        f"so. Request: query={case.query} body={case.body!r:.300}")


def _check(case: Any, response: Any) -> None:
    case.validate_response(response, checks=[not_a_server_error, status_code_conformance,
                                             content_type_conformance,
                                             response_schema_conformance])
    if response.status_code >= 400:
        assert response.headers.get("content-type", [""])[0].startswith(
            "application/problem+json"), (
            case.method, case.path, response.status_code, response.headers, response.content[:200])
        _as_strict_as_the_server(case, response)


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


#: Every operation that takes a JSON body. Schemathesis never draws a lone surrogate (its strings
#: must encode as UTF-8, and Hypothesis leaves category Cs out by default), so this test puts
#: one into a schema-valid body: the server must refuse it as a 400 naming where it is
#: (wallet.jsontext.loads), whatever the operation, never a 500 from deep inside.
_JSON_BODIES = sorted({(op.method, op.path) for op in all_operations()
                       if op.body is not None and "application/json" in op.body_media})
_LONE_SURROGATES = st.characters(categories=["Cs"])


def _token_of_pointer(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _with_lone_surrogate(data: st.DataObject, body: Any) -> tuple[Any, str]:
    """``body`` with a lone surrogate in one of its strings, or in a key, drawn; and the JSON
    pointer the problem must give (a key's is its object's)."""
    slots: list[tuple[str, Any, Any, bool]] = []  # (pointer, container, key or index, is a key)
    stack: list[tuple[str, Any]] = [("", body)]
    while stack:
        where, v = stack.pop()
        items = v.items() if isinstance(v, dict) else enumerate(v) if isinstance(v, list) else ()
        for k, x in items:
            here = f"{where}/{_token_of_pointer(str(k))}"
            if isinstance(v, dict):
                slots.append((where, v, k, True))
            if isinstance(x, str):
                slots.append((here, v, k, False))
            stack.append((here, x))
    lone = data.draw(_LONE_SURROGATES, label="surrogate")
    if not slots:  # {} or a body without strings: a key of its own
        return ({**body, f"x{lone}": 1} if isinstance(body, dict) else f"x{lone}"), ""
    where, container, key, is_key = data.draw(st.sampled_from(slots), label="slot")
    text = key if is_key else container[key]
    at = data.draw(st.integers(0, len(text)), label="at")
    changed = text[:at] + lone + text[at:]
    if is_key:
        container[changed] = container.pop(key)
    else:
        container[key] = changed
    return body, where


@pytest.mark.parametrize(("method", "path"), _JSON_BODIES)
@given(data=st.data())
@settings(max_examples=int(os.environ.get("SATCHEL_FUZZ_EXAMPLES", "25")) // 5 + 1,
          deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                 HealthCheck.too_slow])
def test_a_lone_surrogate_anywhere_in_a_json_body_is_a_400(
        data: st.DataObject, method: str, path: str, live: tuple[str, str]) -> None:
    base, token = live
    case = data.draw(schema[path][method].as_strategy(media_type="application/json"),
                     label="case")
    body, pointer = _with_lone_surrogate(data, case.body)
    url = base + case.formatted_path
    if path == "/i/{token}":  # the push needs a live link: an unknown token is a 404 first
        url = base + _inbox_link(base, token)
    r = requests.request(method, url, data=json.dumps(body), timeout=30, headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    assert r.status_code == 400, (method, path, r.status_code, r.text[:300])
    assert r.headers["Content-Type"].startswith("application/problem+json")
    if path != "/i/{token}":  # the push is not a learner API call: its problem has no pointer
        assert r.json()["pointer"] == pointer, (r.json(), body)


_INBOX_LINKS: dict[str, str] = {}


def _inbox_link(base: str, token: str) -> str:
    if base not in _INBOX_LINKS:
        r = requests.post(f"{base}/v1/inbox-links", json={"label": "fuzz"}, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 201, r.text
        _INBOX_LINKS[base] = "/" + r.json()["url"].split("/", 3)[3]
    return _INBOX_LINKS[base]
