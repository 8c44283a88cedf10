"""Rate-limit scopes are one enum (wallet.accounts.budgets.Scope), and their values never change.

A scope is part of every stored bucket's key (a keyed hash of ``scope|key``): a typo or a rename is
a new, silent budget that starts empty. So the values are pinned here, and no production module
names a scope by a literal of its own (a string or an f-string handed to the limiter, or the first
element of a budget tuple).
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from holder_api.compose.migrations import run_migrations
from tests.support.backends import Backend
from wallet.accounts.budgets import CLIENT_SCOPES, PAIR_SCOPES, Scope
from wallet.accounts.limits import RateLimiter
from wallet.clock import ManualClock
from wallet.db import create_engine
from wallet.errors import RateLimited

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("wallet", "sharing", "consent", "holder_api")
LIMITER_METHODS = {"hit", "backoff", "refund", "remember", "known_until", "known_for", "clear"}

#: as stored since each budget was introduced: never edit a value (no migration renames buckets)
STORED = {
    "signup-taken", "signup-address",
    "unlock-pair", "recovery-pair", "confirm-pair",
    "unlock-client", "recovery-client", "unlock-account", "known-client",
    "inbox-client", "share_link_view", "public-doc", "gdpr-import", "upload",
}


def test_the_stored_values_are_the_enum() -> None:
    assert {s.value for s in Scope} == STORED
    assert len(list(Scope)) == len(STORED)
    # the doors' scopes are the values the f-strings f"{door}-pair" / f"{door}-client" made
    assert {door: s.value for door, s in PAIR_SCOPES.items()} == {
        d: f"{d}-pair" for d in ("unlock", "recovery", "confirm")}
    assert {door: s.value for door, s in CLIENT_SCOPES.items()} == {
        d: f"{d}-client" for d in ("unlock", "recovery")}


def _literal_scopes(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        first: ast.expr | None = None
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr in LIMITER_METHODS and node.args
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr.endswith("limiter")):
            first = node.args[0]
            if isinstance(first, ast.JoinedStr):
                found.append(f"f-string at line {node.lineno}")
                continue
        elif (isinstance(node, ast.Tuple) and len(node.elts) > 1
              and not isinstance(node.elts[1], ast.Constant)):  # (scope, key, ...) of a budget
            first = node.elts[0]
        if isinstance(first, ast.Constant) and first.value in STORED:
            found.append(f"{first.value!r} at line {first.lineno}")
    return found


def test_no_module_names_a_scope_by_a_literal() -> None:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if path == ROOT / "wallet" / "accounts" / "budgets.py":
                continue
            literal = _literal_scopes(ast.parse(path.read_text("utf-8")))
            if literal:
                found[str(path.relative_to(ROOT))] = literal
    assert found == {}


@pytest.fixture
async def limiter(backend: Backend) -> AsyncIterator[RateLimiter]:
    engine = create_engine(backend.database_url)
    await run_migrations(engine)
    try:
        yield RateLimiter(engine, pepper=b"p" * 64, clock=ManualClock())
    finally:
        await engine.dispose()


async def test_a_member_counts_in_the_bucket_its_string_filled(limiter: RateLimiter) -> None:
    """Buckets written before the enum (under the plain strings) are the enum's buckets."""
    for scope in Scope:
        await limiter.hit(scope.value, "client", limit=1, window=60)
        with pytest.raises(RateLimited):
            await limiter.hit(scope, "client", limit=1, window=60)
    await limiter.backoff("unlock-pair", "a|c", limit=1, window=60)
    with pytest.raises(RateLimited):
        await limiter.backoff(PAIR_SCOPES["unlock"], "a|c", limit=1, window=60)
    await limiter.remember("known-client", "a|c", seconds=60)
    assert await limiter.known_until(Scope.KNOWN_CLIENT, "a|c") is not None
