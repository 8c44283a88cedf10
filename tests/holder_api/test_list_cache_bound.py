"""What a list keeps of a learner (opened summaries, their JSON texts) goes with the session:
at logout and at erasure, per learner, never shared (docs/architecture.md, "The vault's rows")."""

from __future__ import annotations

import asyncio
import gc
from typing import Any

from aiohttp.test_utils import TestClient

import holder_api.serialise.credentials as serialise
import wallet.vault.credentials as credentials
from tests.holder_api.api_support import put_credential
from tests.support.http_api import PASSPHRASE, auth, login, sign_up
from wallet.learner_cache import sweep_periodically


def _reachable_text() -> str:
    """Every string reachable from the process's list caches, joined (whatever their shape)."""
    roots = [vars(credentials).get("OPENED_SUMMARIES"), vars(serialise).get("SUMMARY_TEXTS"),
             vars(serialise).get("_summary_texts")]
    seen: set[int] = set()
    out: list[str] = []
    todo: list[object] = [r for r in roots if r is not None]
    while todo:
        obj = todo.pop()
        if id(obj) in seen or isinstance(obj, type):
            continue
        seen.add(id(obj))
        if isinstance(obj, str):
            out.append(obj)
        elif not isinstance(obj, (bytes, int, float)):
            todo.extend(gc.get_referents(obj))
    return "\n".join(out)


async def _listed(client: TestClient[Any, Any], token: str, n: int) -> None:
    r = await client.get("/v1/credentials", headers=auth(token))
    assert r.status == 200 and len((await r.json())["items"]) == n


async def test_logout_and_erasure_drop_only_that_learners_entries(
        client: TestClient[Any, Any]) -> None:
    await sign_up(client, "kept-a")
    await sign_up(client, "kept-b")
    ta, tb = await login(client, "kept-a"), await login(client, "kept-b")
    for i in range(2):
        await put_credential(client, ta, title=f"CANARY-A-{i}", raw=f'{{"a": {i}}}')
    await put_credential(client, tb, title="CANARY-B", raw='{"b": 1}')
    await _listed(client, ta, 2)
    await _listed(client, tb, 1)
    kept = _reachable_text()
    assert "CANARY-A-1" in kept and '"title":"CANARY-A-1"' in kept and "CANARY-B" in kept

    assert (await client.delete("/v1/sessions/current", headers=auth(ta))).status == 204
    kept = _reachable_text()
    assert "CANARY-A" not in kept
    assert "CANARY-B" in kept  # another learner's entries survive

    ta = await login(client, "kept-a")
    await _listed(client, ta, 2)
    assert "CANARY-A-0" in _reachable_text()
    r = await client.post("/v1/me/erase", json={"passphrase": PASSPHRASE}, headers=auth(ta))
    assert r.status == 204, await r.text()
    kept = _reachable_text()
    assert "CANARY-A" not in kept
    assert "CANARY-B" in kept


async def test_a_passphrase_change_drops_the_learners_entries(
        client: TestClient[Any, Any]) -> None:
    await sign_up(client, "kept-c")
    tc = await login(client, "kept-c")
    await put_credential(client, tc, title="CANARY-C", raw='{"c": 1}')
    await _listed(client, tc, 1)
    assert "CANARY-C" in _reachable_text()
    r = await client.post("/v1/learners/me/passphrase", headers=auth(tc), json={
        "current_passphrase": PASSPHRASE, "new_passphrase": "a completely new passphrase 42"})
    assert r.status == 204, await r.text()
    assert "CANARY-C" not in _reachable_text()


async def test_the_app_sweeps_for_its_lifetime(make_sqlite_client: Any) -> None:
    client = await make_sqlite_client()
    sweepers = [t for t in asyncio.all_tasks()
                if getattr(t.get_coro(), "__qualname__", None) == sweep_periodically.__qualname__]
    assert len(sweepers) == 1 and not sweepers[0].done()
    await client.close()  # the app's cleanup stops it
    assert sweepers[0].done()
