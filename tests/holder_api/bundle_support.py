"""Helpers of test_rights.py that other test modules use too (test modules share fixtures and
support modules, never each other: tests/test_architecture.py)."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from tests.holder_api.api_support import (
    five_events,
    put_credential,
)
from tests.support.http_api import auth, login, sign_up
from tests.support.vectors import VECTORS

BUNDLE_PASSPHRASE = "a different passphrase for the bundle"


# raw encodings that a careless round trip would change: unicode, CRLF, odd spacing, key order
#: Real credentials that verify offline (import re-verifies every ``raw``), in three formats, with
#: the whitespace and non-ASCII bytes a byte-for-byte round trip must keep.
RAWS = tuple((VECTORS / "microcredentials" / name).read_text(encoding="utf-8") for name in (
    "1edtech/ob30/simple.json",
    "waltid/openbadgecredential_sample.signed.json",
    "elm/Sample-MC-Annex1-signed.jsonld",
))


async def _source(client: TestClient[Any, Any], name: str) -> tuple[str, dict[str, Any]]:
    """A learner with three credentials and a ledger, and their export bundle."""
    await sign_up(client, name)
    token = await login(client, name)
    for i, raw in enumerate(RAWS):
        await put_credential(client, token, title=f"Course {i}", raw=raw)
    await five_events(client, token)
    r = await client.post("/v1/me/export", json={"passphrase": BUNDLE_PASSPHRASE},
                          headers=auth(token))
    assert r.status == 200, await r.text()
    return token, dict(await r.json())
