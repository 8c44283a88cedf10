"""Accounts, sessions, passphrases and keys through the HTTP API, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from sqlalchemy import delete

from holder_api.appkeys import SERVICES, WIRING
from holder_api.compose.stores import open_stores
from holder_api.settings import Settings, SettingsError
from tests.support.apps import SESSION_KEY, app_env
from tests.support.backends import Backend
from tests.support.http_api import PASSPHRASE, PREFER_RESULT, assert_problem, auth, login, sign_up
from wallet import jose
from wallet.accounts.models import deployment_record
from wallet.accounts.tokens import ServiceKeys, TokenService
from wallet.clock import SYSTEM_CLOCK
from wallet.keyring import FileKeyring, ListableKeyring


async def _keyring_files(client: TestClient[Any, Any]) -> set[str]:
    """What the keyring holds: its files (a folder keyring), or its entries (a shared one)."""
    keyring = client.app[WIRING].stores.keyring
    if isinstance(keyring, FileKeyring):
        folder = keyring.folder
        return {p.name for p in folder.iterdir()} if folder.exists() else set()
    assert isinstance(keyring, ListableKeyring)
    return set(await keyring.learner_ids())


async def test_sign_up_unlock_keys_logout(client: TestClient[Any, Any]) -> None:
    body = await sign_up(client, "ada")
    assert set(body) >= {"learner_id", "recovery_code", "holder_did"}
    assert body["holder_did"].startswith("did:jwk:")
    token = await login(client, "ada")

    r = await client.get("/v1/keys", headers=auth(token))
    assert r.status == 200
    items = (await r.json())["items"]
    assert {k["alg"] for k in items} == {"ES256", "EdDSA"}
    for k in items:
        assert "d" not in k["jwk"]
        assert k["did"].startswith("did:jwk:")
        embedded = json.loads(jose.b64url_decode(k["did"].split(":", 2)[2]))
        assert embedded["x"] == k["jwk"]["x"]
        assert jose.jwk_thumbprint(k["jwk"]) == k["id"]
    assert body["holder_did"] in {k["did"] for k in items}

    r = await client.delete("/v1/sessions/current", headers=auth(token))
    assert r.status == 204
    await assert_problem(await client.get("/v1/keys", headers=auth(token)), 401)
    # a new unlock works again
    assert (await client.get("/v1/keys", headers=auth(await login(client, "ada")))).status == 200


async def test_wrong_and_unknown_look_the_same(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "bea")
    wrong = await assert_problem(await client.post(
        "/v1/sessions", json={"username": "bea", "passphrase": "not the right one at all"}), 401)
    unknown = await assert_problem(await client.post(
        "/v1/sessions", json={"username": "nobody", "passphrase": "not the right one at all"}),
        401)
    assert wrong == unknown


async def test_duplicate_username_leaves_nothing_behind(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "cai")
    before = await _keyring_files(client)
    await assert_problem(await client.post(
        "/v1/learners", json={"username": "CAI", "passphrase": PASSPHRASE}), 409,
        "username_taken")
    assert await _keyring_files(client) == before


async def test_bad_input_is_problem_json(client: TestClient[Any, Any]) -> None:
    before = await _keyring_files(client)
    cases: list[tuple[dict[str, Any], int]] = [
        ({"data": b"{not json", "headers": {"Content-Type": "application/json"}}, 400),
        ({"json": {"username": 5, "passphrase": PASSPHRASE}}, 400),
        ({"json": {"username": "dan", "passphrase": PASSPHRASE, "admin": True}}, 400),
        ({"json": {"username": "dan"}}, 400),
        ({"json": ["username", "dan"]}, 400),
        ({"json": {"username": "dan", "passphrase": "short"}}, 400),
        ({"json": {"username": "dan", "passphrase": "aaaaaaaaaaaaaaaaaaaa"}}, 400),
        ({"json": {"username": "x", "passphrase": PASSPHRASE}}, 400),
        ({"data": b"username=dan", "headers": {"Content-Type": "text/plain"}}, 415),
        ({"data": b"{" + b" " * (2 << 20) + b"}",
          "headers": {"Content-Type": "application/json"}}, 413),
    ]
    for kwargs, status in cases:
        await assert_problem(await client.post("/v1/learners", **kwargs), status)
    assert await _keyring_files(client) == before
    # nothing was created: the name is still free
    await sign_up(client, "dan")


async def test_tokens_expired_forged_none_foreign(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "eve")
    good = await login(client, "eve")
    claims = client.app[SERVICES].accounts._tokens.check(good)  # type: ignore[attr-defined]
    keys = ServiceKeys.from_secret(SESSION_KEY)
    expired = TokenService(keys, ttl=60, issuer="http://satchel.test").mint(
        claims.learner_id, claims.dek, epoch=0, now=int(time.time()) - 3600).token
    foreign = TokenService(ServiceKeys.from_secret("another-service-secret-of-32-bytes!!"),
                           ttl=60, issuer="http://satchel.test").mint(
        claims.learner_id, claims.dek, epoch=0).token
    h, p, s = good.split(".")
    none_hdr = jose.b64url_encode(json.dumps({"alg": "none", "typ": "at+jwt"}).encode())
    forged_payload = json.loads(jose.b64url_decode(p))
    forged_payload["exp"] += 10_000
    forged = f"{h}.{jose.b64url_encode(json.dumps(forged_payload).encode())}.{s}"
    for bad in (expired, foreign, f"{none_hdr}.{p}.", forged, good[:-4] + "AAAA", "garbage",
                f"{h}.{p}"):
        await assert_problem(await client.get("/v1/keys", headers=auth(bad)), 401)
    await assert_problem(await client.get("/v1/keys"), 401)
    await assert_problem(await client.get("/v1/keys", headers={"Authorization": "Basic eA=="}),
                         401)
    assert (await client.get("/v1/keys", headers=auth(good))).status == 200


async def test_passphrase_change_revokes_tokens(client: TestClient[Any, Any]) -> None:
    await sign_up(client, "fay")
    token = await login(client, "fay")
    new = "a completely new passphrase 42"
    await assert_problem(await client.post(
        "/v1/learners/me/passphrase", headers=auth(token),
        json={"current_passphrase": "wrong wrong wrong wrong", "new_passphrase": new}), 401)
    r = await client.post("/v1/learners/me/passphrase", headers=auth(token),
                          json={"current_passphrase": PASSPHRASE, "new_passphrase": new})
    assert r.status == 204, await r.text()
    await assert_problem(await client.get("/v1/keys", headers=auth(token)), 401)
    await assert_problem(await client.post(
        "/v1/sessions", json={"username": "fay", "passphrase": PASSPHRASE}), 401)
    assert (await client.get("/v1/keys", headers=auth(await login(client, "fay", new)))).status \
        == 200


async def test_recovery_code_is_one_time(client: TestClient[Any, Any]) -> None:
    body = await sign_up(client, "gus")
    token = await login(client, "gus")
    keys_before = (await (await client.get("/v1/keys", headers=auth(token))).json())["items"]
    new = "recovered passphrase for gus"
    r = await client.post("/v1/learners/me/passphrase", headers=PREFER_RESULT, json={
        "username": "gus", "recovery_code": body["recovery_code"], "new_passphrase": new})
    assert r.status == 200, await r.text()
    assert r.headers["Preference-Applied"] == "return=representation"
    recovered = await r.json()
    # the answer is a session and the code that replaces the one used up
    assert recovered["token_type"] == "Bearer" and recovered["recovery_code"] != body["recovery_code"]
    assert (await client.get("/v1/keys", headers=auth(recovered["access_token"]))).status == 200
    token2 = await login(client, "gus", new)
    keys_after = (await (await client.get("/v1/keys", headers=auth(token2))).json())["items"]
    assert keys_after == keys_before  # same vault key: the vault opens unchanged
    await assert_problem(await client.post("/v1/learners/me/passphrase", json={
        "username": "gus", "recovery_code": body["recovery_code"],
        "new_passphrase": "yet another passphrase 7"}), 401)
    # a fresh recovery code can be made with the passphrase, and it works
    r = await client.post("/v1/learners/me/recovery-code", headers=auth(token2),
                          json={"passphrase": new})
    assert r.status == 201
    code = (await r.json())["recovery_code"]
    r = await client.post("/v1/learners/me/passphrase", json={
        "username": "gus", "recovery_code": code, "new_passphrase": "third passphrase for gus"})
    assert r.status == 204 and await r.read() == b""  # the contract's answer without the Prefer
    assert await login(client, "gus", "third passphrase for gus")
    # both secrets at once, or neither, is refused
    await assert_problem(await client.post("/v1/learners/me/passphrase", json={
        "username": "gus", "new_passphrase": "fourth passphrase for gus"}), 400)


async def test_unlock_rate_limited(make_client: Any) -> None:
    client = await make_client(SATCHEL_UNLOCK_LIMIT="3/600")
    await sign_up(client, "hal")
    for _ in range(3):
        await assert_problem(await client.post(
            "/v1/sessions", json={"username": "hal", "passphrase": "wrong passphrase here"}), 401)
    r = await client.post("/v1/sessions", json={"username": "hal", "passphrase": PASSPHRASE})
    body = await assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1
    assert "hal" not in json.dumps(body)


async def test_parallel_wrong_passphrases_are_each_counted(make_client: Any) -> None:
    """40 guesses sent at once, not one after another: still only 3 get an answer (401)."""
    # all 40 admitted (none shed as overload, the queue never counts as standing): this is
    # about the rate limit's count
    client = await make_client(SATCHEL_UNLOCK_LIMIT="3/600", SATCHEL_MAX_QUEUED="64",
                               SATCHEL_QUEUE_INTERVAL="600")
    await sign_up(client, "pia")

    async def guess(n: int) -> int:
        r = await client.post("/v1/sessions", json={"username": "pia",
                                                    "passphrase": f"wrong guess number {n}"})
        return r.status

    statuses = await asyncio.gather(*(guess(n) for n in range(40)))
    assert 1 <= statuses.count(401) <= 3, statuses  # no more guesses judged than the limit
    assert statuses.count(401) + statuses.count(429) == 40, statuses


async def test_token_from_one_replica_works_on_another(make_client: Any) -> None:
    one, two = await make_client(), await make_client()
    await sign_up(one, "ivy")
    token = await login(one, "ivy")
    assert (await two.get("/v1/keys", headers=auth(token))).status == 200
    assert (await two.delete("/v1/sessions/current", headers=auth(token))).status == 204
    await assert_problem(await one.get("/v1/keys", headers=auth(token)), 401)
    await assert_problem(await two.get("/v1/keys", headers=auth(token)), 401)


async def test_replicas_under_different_urls_accept_each_others_tokens(make_client: Any,
                                                                        backend: Backend) -> None:
    """The token issuer is the deployment, not the URL a replica happens to be reached under
    (unset, each replica's own http://host:port)."""
    one = await make_client(SATCHEL_PUBLIC_URL="https://replica-1.satchel.test")
    two = await make_client(SATCHEL_PUBLIC_URL="https://replica-2.satchel.test")
    await sign_up(one, "ike")
    token = await login(one, "ike")
    assert (await two.get("/v1/keys", headers=auth(token))).status == 200
    token = await login(two, "ike")
    assert (await one.get("/v1/keys", headers=auth(token))).status == 200
    # a replica with another data key (another issuer) is another deployment: it does not
    # start on this one's database (tests/holder_api/test_deployment_record.py; another
    # deployment's tokens are refused: test_tokens_expired_forged_none_foreign)
    with pytest.raises(SettingsError, match="SATCHEL_DATA_KEY"):
        async with open_stores(Settings.from_env(app_env(
                backend, SATCHEL_DATA_KEY="YW5vdGhlci1kZXBsb3ltZW50cy1kYXRhLWtleS0zMmJ5dGVz")),
                SYSTEM_CLOCK, None):
            pass


async def test_review_regressions(make_sqlite_client: Any) -> None:
    """Found in review: odd digits, deep JSON, unlimited passphrase guessing via recovery codes."""
    client = await make_sqlite_client(SATCHEL_UNLOCK_LIMIT="3/600")
    await sign_up(client, "rex")
    token = await login(client, "rex")
    await assert_problem(await client.get("/v1/credentials?limit=²", headers=auth(token)), 400)
    deep = b"[" * 100_000 + b"]" * 100_000
    await assert_problem(await client.post("/v1/sessions", data=deep,
                                           headers={"Content-Type": "application/json"}), 400)
    statuses = []
    for _ in range(4):
        r = await client.post("/v1/learners/me/recovery-code", headers=auth(token),
                              json={"passphrase": "not the passphrase at all"})
        statuses.append(r.status)
    assert statuses == [401] * 3 + [429], statuses  # the session's back-off
    # the token's guesses close that session's door, not the learner's own unlock
    assert (await client.post("/v1/sessions", json={"username": "rex",
                                                    "passphrase": PASSPHRASE})).status == 201


async def test_session_key_rotation_with_a_data_key(make_sqlite_client: Any) -> None:
    """With SATCHEL_DATA_KEY set, rotating the session key logs everyone out and nothing else."""
    data_key = "bG9uZy1saXZlZC1kYXRhLWtleS1mb3ItdGhlLXBlcHBlciEh"
    before = await make_sqlite_client(SATCHEL_DATA_KEY=data_key)
    await sign_up(before, "rosa")
    old = await login(before, "rosa")
    ledger_before = (await (await before.get("/v1/consent/verify", headers=auth(old))).json())
    # rotating it is stopping the replicas and forgetting the recorded one (docs/operations.md)
    async with before.app[WIRING].stores.engine.begin() as conn:
        await conn.execute(delete(deployment_record)
                           .where(deployment_record.c.name == "session_key"))
    after = await make_sqlite_client(SATCHEL_DATA_KEY=data_key,
                                     SATCHEL_SESSION_KEY="YS1icmFuZC1uZXctc2Vzc2lvbi1rZXktYWZ0ZXItcm90YXRpb24")
    await assert_problem(await after.get("/v1/keys", headers=auth(old)), 401)  # logged out
    new = await login(after, "rosa")  # the account is still found
    assert (await after.get("/v1/keys", headers=auth(new))).status == 200
    ledger_after = (await (await after.get("/v1/consent/verify", headers=auth(new))).json())
    assert ledger_after["valid"] and ledger_after["head"] == ledger_before["head"]
