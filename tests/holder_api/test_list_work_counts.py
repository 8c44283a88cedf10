"""What an authenticated list of unchanged credentials still computes, counted (issue 14:
list-20 against raw Askar; bench/list_cost.py counts its instructions).

Once a learner's rows were listed, a list of the same rows opens no summary again, encodes no
summary's JSON again and hashes no summary's fields, and the BLAKE2b it computes does not grow
with the page: the token memo's digest and the DEK's fingerprint for the opened summaries,
whether the page holds 3 credentials or 20 (it was 24 for 20: a keyed MAC per row, and subkeys
derived for blind indexes and cursors that an unfiltered page of one request never uses)."""

from __future__ import annotations

import hashlib
from collections import Counter
from typing import Any

import aries_askar.store
import pytest
from aiohttp.test_utils import TestClient
from aries_askar.bindings.handle import EntryListHandle

import holder_api.serialise.credentials as serialise
import wallet.crypto.aead as crypto
from tests.holder_api.api_support import put_credential
from tests.support.http_api import auth, login, sign_up
from wallet.vault import CredentialSummary


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    seen: Counter[str] = Counter()
    real_blake2b, real_open = hashlib.blake2b, crypto._open
    real_summary, real_hash = serialise.credential_summary, CredentialSummary.__hash__

    def blake2b(*args: Any, **kw: Any) -> Any:
        seen["blake2b"] += 1
        return real_blake2b(*args, **kw)

    def opened(*args: Any) -> bytes:
        seen["decrypt"] += 1
        return real_open(*args)

    def summary(c: Any) -> Any:
        seen["encode"] += 1
        return real_summary(c)

    def hashed(self: CredentialSummary) -> int:
        seen["summary hash"] += 1
        return real_hash(self)

    monkeypatch.setattr(hashlib, "blake2b", blake2b)
    monkeypatch.setattr(crypto, "_open", opened)
    monkeypatch.setattr(serialise, "credential_summary", summary)
    monkeypatch.setattr(CredentialSummary, "__hash__", hashed)
    return seen


async def _list(client: TestClient[Any, Any], token: str, n: int) -> None:
    r = await client.get("/v1/credentials?limit=20", headers=auth(token))
    assert r.status == 200 and len((await r.json())["items"]) == n
    assert r.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("n", [3, 20])
async def test_a_list_of_unchanged_rows_redoes_nothing_per_row(
        make_sqlite_client: Any, counted: Counter[str], n: int) -> None:
    client = await make_sqlite_client()
    await sign_up(client, "counted")
    token = await login(client, "counted")
    for i in range(n):
        await put_credential(client, token, title=f"Course {i}", raw=f'{{"n": {i}}}')
    await _list(client, token, n)  # opens, encodes and keeps them (and writes the marker)
    await _list(client, token, n)
    counted.clear()
    for _ in range(3):
        await _list(client, token, n)
    assert counted["decrypt"] == 0  # no summary, and the marker's bytes opened before
    assert counted["encode"] == 0
    assert counted["summary hash"] == 0
    assert counted["blake2b"] == 3 * 2  # the token memo's digest and the DEK's fingerprint


async def test_a_changed_row_is_opened_and_encoded_again(
        make_sqlite_client: Any, counted: Counter[str]) -> None:
    client = await make_sqlite_client()
    await sign_up(client, "changed")
    token = await login(client, "changed")
    for i in range(3):
        await put_credential(client, token, title=f"Course {i}", raw=f'{{"n": {i}}}')
    await _list(client, token, 3)
    await put_credential(client, token, title="Course 3", raw='{"n": 3}')
    counted.clear()
    await _list(client, token, 4)
    assert counted["decrypt"] == 1  # the one new summary (the marker's bytes are unchanged)
    assert counted["encode"] == 1


async def test_a_list_reads_askar_rows_a_batch_at_a_time(
        make_sqlite_client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rows come from Askar's native side in batches: a list reads each batch synchronously
    instead of awaiting ``Scan``'s async iterator (two coroutines) for every row, and copies
    each row out with one native call for its name and one for its value, without aries_askar's
    per-entry wrappers (wallet.vault.askar_rows)."""
    client = await make_sqlite_client()
    await sign_up(client, "batched")
    token = await login(client, "batched")
    for i in range(20):
        await put_credential(client, token, title=f"Course {i}", raw=f'{{"n": {i}}}')
    await _list(client, token, 20)
    steps = Counter[str]()
    real_next = aries_askar.store.Scan.__anext__

    def anext(self: Any) -> Any:
        steps["row awaited"] += 1
        return real_next(self)

    def wrapped(name: str) -> Any:
        real = getattr(EntryListHandle, name)

        def counted(self: Any, index: int) -> Any:
            steps["entry wrapper"] += 1
            return real(self, index)
        return counted

    monkeypatch.setattr(aries_askar.store.Scan, "__anext__", anext)
    for name in ("get_name", "get_value"):
        monkeypatch.setattr(EntryListHandle, name, wrapped(name))
    await _list(client, token, 20)
    assert steps["row awaited"] == 0
    assert steps["entry wrapper"] == 0
