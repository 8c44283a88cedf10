"""An access token's vault key leaves the replica's token memo with the session
(wallet.accounts.tokens): at logout, passphrase change and erasure on the replica that handled
them, and on any other replica when its revocation check refuses the token."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from holder_api.appkeys import WIRING
from tests.support.apps import AppFactory
from tests.support.http_api import PASSPHRASE, auth, login, sign_up
from wallet.accounts.tokens import TokenService


def _memo(client: TestClient[Any, Any]) -> TokenService:
    tokens = client.app[WIRING].accounts.service._tokens
    assert isinstance(tokens, TokenService)
    return tokens


async def _list(client: TestClient[Any, Any], token: str, status: int = 200) -> None:
    r = await client.get("/v1/credentials", headers=auth(token))
    assert r.status == status, await r.text()


async def test_logout_passphrase_change_and_erasure_drop_the_memo_entries(
        client: TestClient[Any, Any]) -> None:
    await sign_up(client, "memo-a")
    await sign_up(client, "memo-b")
    ta, tb = await login(client, "memo-a"), await login(client, "memo-b")
    await _list(client, ta)
    await _list(client, tb)
    memo = _memo(client)
    assert len(memo._verified) == 2
    assert (await client.delete("/v1/sessions/current", headers=auth(ta))).status == 204
    assert len(memo._verified) == 1 and memo.remembers(tb) and not memo.remembers(ta)

    tb2 = await login(client, "memo-b")
    await _list(client, tb2)
    r = await client.post("/v1/learners/me/passphrase", headers=auth(tb2), json={
        "current_passphrase": PASSPHRASE, "new_passphrase": "a completely new passphrase 42"})
    assert r.status == 204, await r.text()
    assert len(memo._verified) == 0  # both of memo-b's sessions ended

    ta = await login(client, "memo-a")
    await _list(client, ta)
    assert len(memo._verified) == 1
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE}, headers=auth(ta))
    assert r.status == 204, await r.text()
    assert len(memo._verified) == 0


async def test_another_replica_drops_a_revoked_token_at_its_next_use(
        make_client: AppFactory) -> None:
    here, there = await make_client(), await make_client()  # the same databases
    await sign_up(here, "memo-c")
    token = await login(here, "memo-c")
    await _list(here, token)
    await _list(there, token)
    assert len(_memo(there)._verified) == 1
    assert (await here.delete("/v1/sessions/current", headers=auth(token))).status == 204
    assert len(_memo(there)._verified) == 1  # logged out elsewhere: not known there yet
    await _list(there, token, 401)
    assert len(_memo(there)._verified) == 0
