"""Sign-up's limits (docs/operations.md, "Sign-up limits"), on SQLite and PostgreSQL, on a clock
the test moves: a school or a carrier-grade NAT is not capped by its own sign-ups; names found
taken (probing for usernames) meet a tight budget per address; sign-ups that succeed meet a
generous one, which a bot farm on one address reaches; each answers 429 problem+json with
Retry-After, and parallel sign-ups are each counted."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from tests.support.apps import accounts_on_gate
from tests.support.http_api import PASSPHRASE, assert_problem
from wallet.accounts.limits import UnlockGate
from wallet.clock import ManualClock
from wallet.errors import RateLimited

_T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


async def _sign_up(client: TestClient[Any, Any], username: str, address: str) -> Any:
    return await client.post("/v1/learners", json={"username": username, "passphrase": PASSPHRASE},
                             headers={"X-Forwarded-For": address})


async def _statuses(client: TestClient[Any, Any], names: list[str], address: str) -> list[int]:
    return [(await _sign_up(client, name, address)).status for name in names]


async def test_a_school_behind_one_address_is_not_capped_by_its_own_sign_ups(
        make_client: Any) -> None:
    """40 learners sign up from one address within a minute; the budget sign-ups once shared
    with failures (3 × 3 per 600 s here) stopped the tenth."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    statuses = await _statuses(client, [f"pupil{n}" for n in range(40)], "192.0.2.44")
    assert statuses == [201] * 40, statuses


async def test_names_found_taken_meet_a_tight_budget_per_address(make_client: Any) -> None:
    """Probing for usernames: 3 × 3 names found taken per 600 s from one address, then 429 with
    when the next one passes (one share of the window: 600 / 9 s); another address is not held,
    and sign-ups that succeed do not use the budget up."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    assert await _statuses(client, [f"taken{n}" for n in range(9)], "198.51.100.1") == [201] * 9
    statuses = await _statuses(client, [f"taken{n}" for n in range(10)], "203.0.113.5")
    assert statuses == [409] * 9 + [429], statuses
    r = await _sign_up(client, "taken0", "203.0.113.5")
    body = await assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) == 67  # 600 / 9, rounded up
    assert "taken0" not in str(body)
    assert (await _sign_up(client, "taken0", "203.0.113.6")).status == 409
    clock.advance(67)
    assert await _statuses(client, ["taken1", "taken2"], "203.0.113.5") == [409, 429]


async def test_sign_ups_that_succeed_meet_the_address_budget(make_client: Any) -> None:
    """SATCHEL_SIGNUP_LIMIT=5/3600: a bot farm on one address gets 5, then one each 720 s
    (sliding); names found taken do not use that budget up; another address is not held."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_SIGNUP_LIMIT="5/3600",
                               SATCHEL_TRUST_FORWARDED="1")
    statuses = await _statuses(client, ["bot0", "bot0", "bot1", "bot1", "bot2", "bot3", "bot4"],
                               "203.0.113.7")
    assert statuses == [201, 409, 201, 409, 201, 201, 201], statuses
    r = await _sign_up(client, "bot5", "203.0.113.7")
    await assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) == 720
    assert (await _sign_up(client, "bot5", "203.0.113.8")).status == 201
    clock.advance(720)
    assert await _statuses(client, ["bot6", "bot7"], "203.0.113.7") == [201, 429]


async def test_parallel_sign_ups_are_each_counted(make_client: Any) -> None:
    """12 sign-ups from one address at once against a budget of 5: exactly 5 accounts."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_SIGNUP_LIMIT="5/3600",
                               SATCHEL_TRUST_FORWARDED="1", SATCHEL_MAX_QUEUED="64")
    statuses = await asyncio.gather(*(_sign_up(client, f"par{n}", "203.0.113.9")
                                      for n in range(12)))
    codes = sorted(r.status for r in statuses)
    assert codes == [201] * 5 + [429] * 7, codes


async def test_a_sign_up_the_gate_refuses_uses_up_no_budget(make_client: Any) -> None:
    """Sign-ups the Argon2id gate refuses (full) were never tried: both budgets get them back,
    so the address still signs up its 2 afterwards."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_SIGNUP_LIMIT="2/3600",
                               SATCHEL_UNLOCK_LIMIT="1/600", SATCHEL_TRUST_FORWARDED="1")
    full = UnlockGate(1, max_waiting=0)  # this replica's gate, full: refuses every derivation
    crowded = accounts_on_gate(client, full)
    try:
        for n in range(5):
            with pytest.raises(RateLimited):
                await crowded.sign_up(f"gated{n}", PASSPHRASE, client="203.0.113.10")
    finally:
        full.close()
        crowded.close()
    assert await _statuses(client, ["gated0", "gated1", "gated2"], "203.0.113.10") == [
        201, 201, 429]


async def test_sign_ups_under_way_do_not_use_up_the_names_taken_budget(make_client: Any) -> None:
    """A class signing up at once with fresh names: each sign-up's names-taken count is given
    back as soon as its name is found free, not after its Argon2id work, so 8 in parallel pass
    a names-taken budget of 3 (1 × 3 per 600 s here); the names found taken still count."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="1/600",
                               SATCHEL_MAX_CONCURRENT_UNLOCKS="1", SATCHEL_TRUST_FORWARDED="1",
                               SATCHEL_MAX_QUEUED="64")
    statuses = await asyncio.gather(*(_sign_up(client, f"class{n}", "203.0.113.11")
                                      for n in range(8)))
    assert sorted(r.status for r in statuses) == [201] * 8, [await r.text() for r in statuses]
    assert await _statuses(client, ["class0", "class1", "class2", "class3"],
                           "203.0.113.11") == [409, 409, 409, 429]


async def test_a_name_taken_meanwhile_counts_as_a_name_found_taken(make_client: Any) -> None:
    """Two sign-ups of one fresh name at once: one account, and the loser's 409 is counted
    against the names-taken budget like any name found taken (3 here: two more, then 429)."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="1/600",
                               SATCHEL_TRUST_FORWARDED="1", SATCHEL_MAX_QUEUED="64")
    statuses = await asyncio.gather(*(_sign_up(client, "twin", "203.0.113.12")
                                      for _ in range(2)))
    assert sorted(r.status for r in statuses) == [201, 409]
    assert await _statuses(client, ["twin", "twin", "twin"], "203.0.113.12") == [409, 409, 429]
