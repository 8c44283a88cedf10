"""A stranger cannot lock a learner out (docs/operations.md, "Unlock limits"), on SQLite and
PostgreSQL, on a clock the test moves: only failures use up a budget, a client that opened the
account lately is not held by the account's ceiling, which slides (no second budget at a window
boundary) and holds across replicas, the recovery code has budgets of its own and lets the
learner in, and the client address behind a proxy is the one the proxy wrote."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import pytest
from aiohttp.test_utils import TestClient, make_mocked_request
from multidict import CIMultiDict

from holder_api.appkeys import WIRING
from holder_api.http import client_address
from tests.holder_api.web_support import Browser
from tests.support.apps import accounts_on_gate
from tests.support.http_api import PASSPHRASE, PREFER_RESULT, assert_problem, auth, sign_up
from wallet.accounts.limits import UnlockGate
from wallet.clock import ManualClock
from wallet.crypto import rewrap_passphrase
from wallet.errors import Conflict, RateLimited, Unavailable
from wallet.keyring import Keyring

T = TypeVar("T")
_WRONG = "a stranger's guess here"
#: the start of a 600-second window, so no fixed window turns over while a test runs
_T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)


def _from(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def _unlock(client: TestClient[Any, Any], username: str, passphrase: str,
                  address: str) -> Any:
    return await client.post("/v1/sessions", json={"username": username, "passphrase": passphrase},
                             headers=_from(address))


async def _storm(make_client: Any) -> tuple[TestClient[Any, Any], str]:
    """An app (3 per pair, 8 per account) and a learner, una, who unlocked from 198.51.100.7
    before strangers on 13 addresses sent 4 wrong passphrases each: the ceiling is reached."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1", SATCHEL_UNLOCK_ACCOUNT_LIMIT="8/600")
    recovery = (await sign_up(client, "una"))["recovery_code"]
    assert (await _unlock(client, "una", PASSPHRASE, "198.51.100.7")).status == 201
    statuses = [(await _unlock(client, "una", _WRONG, f"203.0.113.{n}")).status
                for n in range(13) for _ in range(4)]
    assert statuses.count(401) <= 8, statuses  # the ceiling: 8 wrong answers at most
    await assert_problem(await _unlock(client, "una", _WRONG, "203.0.113.200"), 429)
    # a new client meets the ceiling, with a clear 429 and when to come back
    r = await _unlock(client, "una", PASSPHRASE, "198.51.100.99")
    await assert_problem(r, 429, "rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 600
    return client, recovery


async def test_a_known_client_gets_in_during_a_storm(make_client: Any) -> None:
    client, _ = await _storm(make_client)
    r = await _unlock(client, "una", PASSPHRASE, "198.51.100.7")
    assert r.status == 201, await r.text()
    token = (await r.json())["access_token"]
    # what asks for the passphrase again under the learner's token is no stranger's to close
    r = await client.post("/v1/learners/me/recovery-code", headers={
        **auth(token), **_from("198.51.100.7")}, json={"passphrase": PASSPHRASE})
    assert r.status == 201, await r.text()
    # the strangers' own addresses stay closed to them
    await assert_problem(await _unlock(client, "una", PASSPHRASE, "203.0.113.0"), 429)


async def test_the_recovery_code_lets_the_learner_in_during_a_storm(make_client: Any) -> None:
    client, recovery = await _storm(make_client)
    new = "a new passphrase for una"
    r = await client.post("/v1/learners/me/passphrase", headers={
        **_from("198.51.100.99"), **PREFER_RESULT}, json={
        "username": "una", "recovery_code": recovery, "new_passphrase": new})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert body["recovery_code"] != recovery  # the replacement, not thrown away
    assert (await client.get("/v1/keys", headers=auth(body["access_token"]))).status == 200
    # the client is known now: the new passphrase opens the account while the storm lasts
    r = await _unlock(client, "una", new, "198.51.100.99")
    assert r.status == 201, await r.text()
    # the old code is used up, its replacement works
    await assert_problem(await client.post("/v1/learners/me/passphrase", json={
        "username": "una", "recovery_code": recovery, "new_passphrase": "yet another one 4 una"},
        headers=_from("198.51.100.99")), 401)
    r = await client.post("/v1/learners/me/passphrase", headers=_from("198.51.100.99"), json={
        "username": "una", "recovery_code": body["recovery_code"],
        "new_passphrase": "yet another one 4 una"})
    assert r.status == 204, await r.text()


async def test_a_recovery_without_prefer_answers_204_and_the_learner_then_gets_in(
        make_client: Any) -> None:
    """The HTTP contract's answer (204, no body) during a storm: the client is known to the
    account from then on, so the new passphrase opens it from there."""
    client, recovery = await _storm(make_client)
    new = "a new passphrase for una"
    r = await client.post("/v1/learners/me/passphrase", headers=_from("198.51.100.77"), json={
        "username": "una", "recovery_code": recovery, "new_passphrase": new})
    assert r.status == 204 and await r.read() == b"", await r.text()
    r = await _unlock(client, "una", new, "198.51.100.77")
    assert r.status == 201, await r.text()
    await assert_problem(await _unlock(client, "una", new, "198.51.100.78"), 429)


async def test_the_web_recovery_ends_signed_in_during_a_storm(make_client: Any) -> None:
    """The browser is a new client (the socket's peer) while the ceiling is reached: the
    recovery form signs it in and shows the code that replaces the used one."""
    client, recovery = await _storm(make_client)
    b = Browser(client)
    try:
        await b.get("/recover")
        page = await b.post("/recover", {"username": "una", "recovery_code": recovery,
                                         "new_passphrase": "a new passphrase for una",
                                         "confirm_passphrase": "a new passphrase for una"})
        assert page.url.endswith("/welcome"), page.html
        assert "the old recovery code is used up" in page and ">Lock</button>" in page.html
        fresh = page.text_of("recovery-code")
        assert fresh and fresh != recovery
    finally:
        await b.close()


async def test_recovery_codes_have_their_own_back_off(make_client: Any) -> None:
    """Wrong recovery codes close that (account, address) pair, not the way back in elsewhere."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    recovery = (await sign_up(client, "vic"))["recovery_code"]
    guess = {"username": "vic", "recovery_code": "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA",
             "new_passphrase": "the stranger's passphrase"}
    statuses = [(await client.post("/v1/learners/me/passphrase", json=guess,
                                   headers=_from("203.0.113.5"))).status for _ in range(5)]
    assert statuses == [401] * 3 + [429] * 2, statuses
    r = await client.post("/v1/learners/me/passphrase", headers=_from("198.51.100.8"), json={
        "username": "vic", "recovery_code": recovery, "new_passphrase": "vic's new passphrase"})
    assert r.status == 204, await r.text()


async def test_successes_do_not_use_up_an_address(make_client: Any) -> None:
    """Four learners behind one address (a school, a carrier-grade NAT) unlock as often as they
    like; wrong passphrases from it still meet the address's limit (3 × 3)."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    names = ["nat1", "nat2", "nat3", "nat4"]
    for name in names:
        await sign_up(client, name)
    statuses = [(await _unlock(client, name, PASSPHRASE, "192.0.2.44")).status
                for _ in range(5) for name in names]
    assert statuses == [201] * 20, statuses
    # a stranger on that address spraying one guess at many accounts meets its limit
    statuses = [(await _unlock(client, f"nobody{n}", _WRONG, "192.0.2.45")).status
                for n in range(10)]
    assert statuses == [401] * 9 + [429], statuses


async def test_the_account_ceiling_slides(make_client: Any) -> None:
    """Strangers who spend the account's ceiling (8 per 600 s) in the last second of what was a
    fixed window get no second 8 in the next second (16 wrong passphrases in two seconds
    before); a learner on a new client waits for one share of it (600 / 8 s after the budget
    was spent), not for a window boundary, then gets in."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1", SATCHEL_UNLOCK_ACCOUNT_LIMIT="8/600")
    await sign_up(client, "sal")
    clock.advance(599)
    statuses = [(await _unlock(client, "sal", _WRONG, f"203.0.113.{n}")).status
                for n in range(4) for _ in range(2)]
    assert statuses == [401] * 8, statuses
    clock.advance(1)
    statuses = [(await _unlock(client, "sal", _WRONG, f"203.0.113.{n}")).status
                for n in range(10, 14) for _ in range(2)]
    assert statuses == [429] * 8, statuses
    r = await _unlock(client, "sal", PASSPHRASE, "198.51.100.50")
    await assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) == 74  # spent at 599 s: the next passes at 674 s
    clock.advance(74)
    assert (await _unlock(client, "sal", PASSPHRASE, "198.51.100.50")).status == 201


async def test_two_replicas_let_no_storm_past_the_ceiling(make_client: Any) -> None:
    """24 wrong passphrases from 24 addresses sent at once, half to each of two replicas (one
    shared database): exactly the ceiling's 8 are tried (401); no two replicas both pass its
    last attempt."""
    env = {"SATCHEL_UNLOCK_LIMIT": "3/600", "SATCHEL_TRUST_FORWARDED": "1",
           "SATCHEL_UNLOCK_ACCOUNT_LIMIT": "8/600", "SATCHEL_MAX_QUEUED": "64"}
    replicas = [await make_client(clock=ManualClock(_T0), **env) for _ in range(2)]
    await sign_up(replicas[0], "ray")
    answers = await asyncio.gather(*(_unlock(replicas[n % 2], "ray", _WRONG, f"203.0.113.{n}")
                                     for n in range(24)))
    statuses = sorted(r.status for r in answers)
    assert statuses == [401] * 8 + [429] * 16, statuses


async def test_the_stranger_backs_off(make_client: Any) -> None:
    """Past 3 wrong passphrases the (account, address) pair closes for the window, then for
    twice as long after each failure right as it reopens; the right passphrase from that
    address waits too, while the learner elsewhere gets in."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    await sign_up(client, "wes")
    statuses = [(await _unlock(client, "wes", _WRONG, "203.0.113.9")).status for _ in range(3)]
    assert statuses == [401] * 3
    r = await _unlock(client, "wes", PASSPHRASE, "203.0.113.9")
    await assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) == 600
    assert (await _unlock(client, "wes", PASSPHRASE, "198.51.100.7")).status == 201
    clock.advance(600)
    assert (await _unlock(client, "wes", _WRONG, "203.0.113.9")).status == 401
    r = await _unlock(client, "wes", _WRONG, "203.0.113.9")
    await assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) == 1200


async def test_a_full_gate_closes_no_pair(make_client: Any) -> None:
    """Attempts the Argon2id gate refuses (a flood keeps it full) were never tried: they give
    their counts back, so the learner's own pair is not closed by them."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    await sign_up(client, "zoe")
    full = UnlockGate(1, max_waiting=0)  # this replica's gate, full: refuses every derivation
    crowded = accounts_on_gate(client, full)
    try:
        refused = 0
        for _ in range(5):
            try:
                await crowded.unlock("zoe", PASSPHRASE, client="198.51.100.7")
            except RateLimited:
                refused += 1
        assert refused == 5
    finally:
        full.close()
        crowded.close()
    r = await _unlock(client, "zoe", PASSPHRASE, "198.51.100.7")
    assert r.status == 201, await r.text()


async def test_a_storm_adds_nothing_to_the_learners_own_back_off(make_client: Any) -> None:
    """Strangers on six addresses spend the account's ceiling (5 per 30 s); the learner, on a new
    client with the right passphrase, is refused by it three times. Those attempts were never
    tried, so they count nowhere: once the ceiling has refilled (a stranger's guess is let
    through again) the learner gets in. They used to close the learner's own pair (3 per
    120 s), which kept the learner out 89 s past the storm, and for longer at each try."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_UNLOCK_LIMIT="3/120",
                               SATCHEL_TRUST_FORWARDED="1", SATCHEL_UNLOCK_ACCOUNT_LIMIT="5/30")
    await sign_up(client, "lou")
    statuses = [(await _unlock(client, "lou", _WRONG, f"203.0.113.{n}")).status
                for n in range(1, 7)]
    assert statuses == [401] * 5 + [429], statuses
    for _ in range(3):
        r = await _unlock(client, "lou", PASSPHRASE, "198.51.100.77")
        await assert_problem(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) == 6  # the ceiling's: one share of 30 s
    clock.advance(31)
    assert (await _unlock(client, "lou", _WRONG, "203.0.113.99")).status == 401
    r = await _unlock(client, "lou", PASSPHRASE, "198.51.100.77")
    assert r.status == 201, (await r.text(), r.headers.get("Retry-After"))


async def test_a_refused_attempt_reopening_the_pair_leaves_its_closure_as_it_was(
        make_client: Any) -> None:
    """The learner's own pair closed after three typos; the attempt that reopens it meets a
    storm's ceiling and is refused: it was not tried, so the pair is as it was (reopened), not
    closed for twice as long from then."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_UNLOCK_LIMIT="3/120",
                               SATCHEL_TRUST_FORWARDED="1", SATCHEL_UNLOCK_ACCOUNT_LIMIT="5/30")
    await sign_up(client, "liv")
    statuses = [(await _unlock(client, "liv", _WRONG, "198.51.100.78")).status
                for _ in range(4)]
    assert statuses == [401] * 3 + [429], statuses
    clock.advance(120)  # the pair reopens; a storm spends the ceiling meanwhile
    statuses = [(await _unlock(client, "liv", _WRONG, f"203.0.113.{n}")).status
                for n in range(1, 7)]
    assert statuses == [401] * 5 + [429], statuses
    r = await _unlock(client, "liv", PASSPHRASE, "198.51.100.78")
    await assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) == 6  # the ceiling's, not a closure of the pair
    clock.advance(31)
    r = await _unlock(client, "liv", PASSPHRASE, "198.51.100.78")
    assert r.status == 201, (await r.text(), r.headers.get("Retry-After"))


async def test_recoveries_an_address_budget_refused_count_nowhere(make_client: Any) -> None:
    """Wrong recovery codes from a school's address spend its budget (3 × 3 per 120 s); the
    learner there, with the right code, is refused by it three times, which closes nothing:
    when one more attempt passes the address, the learner's recovery is tried and succeeds."""
    clock = ManualClock(_T0)
    client = await make_client(clock=clock, SATCHEL_UNLOCK_LIMIT="3/120",
                               SATCHEL_TRUST_FORWARDED="1")
    recovery = (await sign_up(client, "max"))["recovery_code"]
    school = "192.0.2.44"
    statuses = [(await client.post("/v1/learners/me/passphrase", headers=_from(school), json={
        "username": f"pupil{n}", "recovery_code": "AAAAA-AAAAA-AAAAA-AAAAA-AAAAA",
        "new_passphrase": "a guessed new passphrase"})).status for n in range(10)]
    assert statuses == [401] * 9 + [429], statuses
    mine = {"username": "max", "recovery_code": recovery,
            "new_passphrase": "max's new passphrase"}
    for _ in range(3):
        r = await client.post("/v1/learners/me/passphrase", headers=_from(school), json=mine)
        await assert_problem(r, 429, "rate_limited")
        assert int(r.headers["Retry-After"]) == 14  # the address's: one share of 120 s
    clock.advance(14)
    r = await client.post("/v1/learners/me/passphrase", headers=_from(school), json=mine)
    assert r.status == 204, (await r.text(), r.headers.get("Retry-After"))


async def test_a_store_failing_before_the_check_closes_no_pair(make_client: Any) -> None:
    """The keyring down after an attempt was counted and before its passphrase was checked
    (503): nothing was tried, so the learner's retries, under their token too, close nothing."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    await sign_up(client, "ned")
    gate = UnlockGate(1)
    down = _DownKeyring(client.app[WIRING].stores.keyring)
    flaky = accounts_on_gate(client, gate, keyring=down)
    try:
        for _ in range(5):
            with pytest.raises(Unavailable):
                await flaky.unlock("ned", PASSPHRASE, client="198.51.100.7")
        down.up = True
        token = await flaky.unlock("ned", PASSPHRASE, client="198.51.100.7")
        session = await flaky.authenticate(token.token)
        down.up = False
        for _ in range(5):
            with pytest.raises(Unavailable):
                await flaky.new_recovery_code(session, PASSPHRASE, client="198.51.100.7")
            with pytest.raises(Unavailable):
                await flaky.confirm_passphrase(session, PASSPHRASE, client="198.51.100.7")
        down.up = True
        assert await flaky.new_recovery_code(session, PASSPHRASE, client="198.51.100.7")
        await flaky.confirm_passphrase(session, PASSPHRASE, client="198.51.100.7")
    finally:
        gate.close()
        flaky.close()


async def test_a_passphrase_change_refused_after_the_check_closes_no_pair(
        make_client: Any) -> None:
    """A passphrase change under a token whose current passphrase was right but that another
    change of the account overtook (409, again and again): no failure, so the learner's
    session is not closed to the change once it can go through."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    await sign_up(client, "ora")
    gate = _OvertakenGate()
    accounts = accounts_on_gate(client, gate)
    try:
        session = await accounts.authenticate(
            (await accounts.unlock("ora", PASSPHRASE, client="198.51.100.7")).token)
        other = await accounts.authenticate(
            (await accounts.unlock("ora", PASSPHRASE, client="198.51.100.8")).token)

        async def new_code_elsewhere() -> None:
            await accounts.new_recovery_code(other, PASSPHRASE, client="198.51.100.8")

        change = {"learner_id": session.learner_id, "username": None,
                  "current_passphrase": PASSPHRASE, "recovery_code": None,
                  "new_passphrase": "ora's new passphrase", "client": "198.51.100.7",
                  "session_id": session.session_id}
        gate.before_rewrap = new_code_elsewhere
        for _ in range(5):
            with pytest.raises(Conflict):
                await accounts.change_passphrase(**change)
        gate.before_rewrap = None
        assert await accounts.change_passphrase(**change) is None
    finally:
        gate.close()
        accounts.close()


class _OvertakenGate(UnlockGate):
    """A gate that lets ``before_rewrap`` change the account just before a passphrase change
    rewraps its keys (so the change finds the account changed meanwhile)."""

    def __init__(self) -> None:
        super().__init__(1)
        self.before_rewrap: Callable[[], Awaitable[None]] | None = None

    async def run(self, fn: Callable[..., T], *args: object) -> T:
        if fn is rewrap_passphrase and self.before_rewrap is not None:
            await self.before_rewrap()
        return await super().run(fn, *args)


class _DownKeyring:
    """A keyring whose reads fail as a store that cannot be reached does, until ``up``."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self.up = False

    async def create(self, learner_id: str) -> bytes:
        return await self._keyring.create(learner_id)

    async def get(self, learner_id: str) -> bytes:
        if not self.up:
            raise Unavailable("keyring unavailable")
        return await self._keyring.get(learner_id)

    async def destroy(self, learner_id: str) -> None:
        await self._keyring.destroy(learner_id)

    async def close(self) -> None:
        pass


async def test_forwarded_ports_and_lines_choose_no_new_client(make_client: Any) -> None:
    """Behind one proxy of ours: a port on the address (Azure Application Gateway writes one)
    and a line the client wrote before the proxy's own are the same client."""
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    await sign_up(client, "xia")
    statuses = [(await _unlock(client, "xia", _WRONG, f"203.0.113.60:{40000 + n}")).status
                for n in range(4)]
    assert statuses == [401] * 3 + [429], statuses
    wrong = {"username": "xia", "passphrase": _WRONG}
    statuses = []
    for n in range(4):
        headers = CIMultiDict([("X-Forwarded-For", f"10.9.8.{n}"),
                               ("X-Forwarded-For", "203.0.113.61")])
        statuses.append((await client.post("/v1/sessions", json=wrong, headers=headers)).status)
    assert statuses == [401] * 3 + [429], statuses


async def test_an_ipv6_64_is_one_client(make_client: Any) -> None:
    client = await make_client(clock=ManualClock(_T0), SATCHEL_UNLOCK_LIMIT="3/600",
                               SATCHEL_TRUST_FORWARDED="1")
    await sign_up(client, "yan")
    statuses = [(await _unlock(client, "yan", _WRONG, f"2001:db8:0:1::{n:x}")).status
                for n in range(1, 5)]
    assert statuses == [401] * 3 + [429], statuses
    assert (await _unlock(client, "yan", _WRONG, "2001:db8:0:2::1")).status == 401


def _address(headers: list[tuple[str, str]], *, trust: bool = True,
             peer: str = "192.0.2.200") -> str:
    request = make_mocked_request("POST", "/v1/sessions", headers=CIMultiDict(headers))
    request = request.clone(remote=peer)
    return client_address(request, trust_forwarded=trust)


def test_client_address_behind_a_proxy() -> None:
    xff = "X-Forwarded-For"
    assert _address([(xff, "198.51.100.1, 203.0.113.7")]) == "203.0.113.7"
    # the right-most hop over all lines: the proxy's own line comes last
    assert _address([(xff, "198.51.100.1"), (xff, "10.0.0.1, 203.0.113.7")]) == "203.0.113.7"
    assert _address([(xff, "203.0.113.7:40001")]) == "203.0.113.7"
    assert _address([(xff, "[2001:db8::5]:443")]) == "2001:db8::/64"
    assert _address([(xff, "2001:db8:0:0:ffff::9")]) == "2001:db8::/64"
    assert _address([(xff, "::ffff:198.51.100.3")]) == "198.51.100.3"
    # no address there: the socket's peer, never the header's text
    assert _address([(xff, "203.0.113.7, not-an-address")]) == "192.0.2.200"
    assert _address([(xff, "unknown")]) == "192.0.2.200"
    assert _address([(xff, "203.0.113.7")], trust=False) == "192.0.2.200"
    assert _address([], peer="2001:db8:1:2:3::4") == "2001:db8:1:2::/64"
