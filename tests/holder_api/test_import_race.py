"""The same bundle imported twice at once into one account (a client's retry after a timeout,
the first attempt still running) answers as the import did — ``replayed`` — not 409 (the
audit's A9): the attempt that loses the commit re-reads the import record and replays it when it
is the same bundle. Another bundle racing it is still refused.

On one replica a learner holds one import slot at a time, so the second is refused 429
``import_in_progress`` before its body is read (tests/holder_api/test_import_admission.py); the
race is between two replicas, each with its slot: played here by one app whose gate does not
see the learner's other import (as the other replica's would not)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from consent.rights import RightsService
from holder_api.appkeys import SERVICES
from tests.holder_api.bundle_support import BUNDLE_PASSPHRASE, _source
from tests.support.http_api import assert_problem, auth, login, sign_up


class _OtherReplicas(set[str]):
    """A gate's holders as two replicas' gates see one learner's two imports: each its own."""

    def __contains__(self, learner_id: object) -> bool:
        return False


def _both_staged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each import waits, once staged (checked, decrypted, verified), until the other is too:
    both passed the "already imported?" check before either commits."""
    staged = 0
    both = asyncio.Event()
    real = RightsService._stage

    async def stage(self: RightsService, *args: Any, **kwargs: Any) -> Any:
        nonlocal staged
        result = await real(self, *args, **kwargs)
        staged += 1
        if staged == 2:
            both.set()
        await asyncio.wait_for(both.wait(), 60)
        return result

    monkeypatch.setattr(RightsService, "_stage", stage)


async def _racing(client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch,
                  name: str) -> tuple[dict[str, Any], str]:
    """A bundle exported by another learner and a fresh account ``name`` (its token), imports
    from here on staged both before either commits."""
    _, bundle = await _source(client, f"{name}-source")
    await sign_up(client, name)
    token = await login(client, name)
    _both_staged(monkeypatch)
    monkeypatch.setattr(client.app[SERVICES].rights.imports, "holders", _OtherReplicas())
    return bundle, token


async def test_the_same_bundle_imported_twice_at_once_answers_replayed(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    bundle, token = await _racing(client, monkeypatch, "twice")
    body = {"bundle": bundle, "passphrase": BUNDLE_PASSPHRASE}
    answers = await asyncio.gather(*(client.post("/v1/me/import", json=body,
                                                 headers=auth(token)) for _ in range(2)))
    assert sorted(r.status for r in answers) == [201, 201], [await r.text() for r in answers]
    results = [await r.json() for r in answers]
    assert sorted(r["replayed"] for r in results) == [False, True]
    assert {**results[0], "replayed": None} == {**results[1], "replayed": None}


async def test_another_bundle_racing_an_import_is_still_refused(
        client: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    bundle, token = await _racing(client, monkeypatch, "race")
    other = {**bundle, "exported_at": "2020-01-01T00:00:00Z"}
    answers = await asyncio.gather(*(client.post(
        "/v1/me/import", json={"bundle": b, "passphrase": BUNDLE_PASSPHRASE},
        headers=auth(token)) for b in (bundle, other)))
    assert sorted(r.status for r in answers) == [201, 409]
    await assert_problem(next(r for r in answers if r.status == 409), 409, "account_not_empty")
