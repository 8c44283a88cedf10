"""Attempts at a learner's secret: the budgets every door that checks a passphrase or a recovery
code goes through, so that unlock, recovery and the passphrase asked again all cost the same and
are counted the same way (docs/operations.md, "Unlock limits").

An attempt is admitted (:meth:`SecretAttempts.admit`: the (account, client) back-off first, then
the client address and the account ceiling), its derivation runs on the shared Argon2id gate
(:meth:`SecretAttempts.run`), and it ends one of three ways: right (:meth:`~SecretAttempts.succeeded`:
every budget gets it back, the client becomes known), wrong (it stays counted), or never checked
(:meth:`~SecretAttempts.not_tried`: refused by a later budget, the gate or a store; it counts
nowhere, the back-off included). An unknown username costs one real derivation too
(:meth:`~SecretAttempts.decoy_unwrap`), so timing tells no one which names exist.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from wallet.accounts.budgets import CLIENT_SCOPES, PAIR_SCOPES, Scope
from wallet.accounts.limits import Counted, RateLimiter, UnlockGate
from wallet.crypto import KdfCost, WrappedKeys, create_learner_keys, unwrap_with_passphrase
from wallet.errors import RateLimited, SatchelError, Unauthorized

__all__ = ["KNOWN_CLIENT_SECONDS", "Attempt", "SecretAttempts", "session_client"]

T = TypeVar("T")

#: how long a client that opened an account stays known to it (docs/operations.md, "Unlock limits")
KNOWN_CLIENT_SECONDS = 30 * 86400


@dataclass(slots=True)
class Attempt:
    """One attempt at a secret let through :meth:`SecretAttempts.admit`: what it counted, to
    give back when it succeeds (only failures use up a budget)."""

    door: str
    account: str
    client: str
    #: what it counted in the (account, client) back-off, until given back or cleared
    pair: Counted | None = None
    #: seconds the client stays known to the account, at the database's clock (None: not known)
    known_for: int | None = None
    #: the budgets it was counted in: (scope, key, limit, window)
    counted: list[tuple[str, str, int, int]] = field(default_factory=list)


def session_client(session_id: str | None, client: str) -> str:
    """Who asks again for a passphrase under a token: the session (a stranger holds none), so
    its back-off follows the token, whichever address it comes from."""
    return f"session {session_id}" if session_id is not None else client


class SecretAttempts:
    """The budgets and the gate of every attempt at a secret (one per replica, inside
    :class:`~wallet.accounts.service.AccountService`)."""

    def __init__(self, *, limiter: RateLimiter, gate: UnlockGate, kdf: KdfCost,
                 unlock_limit: tuple[int, int], account_limit: tuple[int, int]) -> None:
        self._limiter = limiter
        self._gate = gate
        self._kdf = kdf
        self._unlock_limit = unlock_limit
        # the ceiling a storm from many addresses meets; one address meets its pair limit first
        self._account_limit = account_limit
        # unlock of an unknown username costs one real derivation too (no account enumeration)
        self._decoy: WrappedKeys | None = None

    async def decoy_unwrap(self, attempt: Attempt, passphrase: str) -> None:
        if self._decoy is None:
            self._decoy, _, _ = await self.run(
                attempt, create_learner_keys, "decoy passphrase, never valid", b"\0" * 32,
                self._kdf)
        try:
            await self.run(attempt, unwrap_with_passphrase, self._decoy, passphrase, b"\0" * 32)
        except Unauthorized:
            pass

    async def admit(self, door: str, account: str, client: str) -> Attempt:
        """Count one attempt at a secret of ``account`` from ``client``, or refuse it
        (:class:`RateLimited`, with Retry-After). docs/operations.md, "Unlock limits".

        ``door`` is ``unlock`` (the passphrase without a token), ``recovery`` (the one-time
        recovery code: 125 bits, so no account ceiling that a storm could close; budgets of its
        own) or ``confirm`` (the passphrase asked again of a learner holding a valid token:
        ``client`` is then the session, which no stranger can use, so only its back-off).
        The (account, client) pair is limited with back-off first, so a stranger's refused
        attempts use up no other budget. Then the client address (×3 the pair's limit, across
        accounts) and, for ``unlock``, the account ceiling, which a client that opened the
        account lately (known) does not meet. Counts are given back on success
        (:meth:`succeeded`), and everywhere, the pair's too, when the attempt is refused
        before its secret is checked (:meth:`not_tried`): a later budget, the gate or a store.
        """
        limit, window = self._unlock_limit
        attempt = Attempt(door, account, client, pair=await self._limiter.backoff(
            PAIR_SCOPES[door], f"{account}|{client}", limit=limit, window=window))
        try:
            if door == "confirm":
                return attempt
            if door == "unlock":
                attempt.known_for = await self._limiter.known_for(Scope.KNOWN_CLIENT,
                                                                  f"{account}|{client}")
                if attempt.known_for is not None:
                    return attempt
            budgets = [(CLIENT_SCOPES[door], client, limit * 3, window)]
            if door == "unlock":
                budgets.append((Scope.UNLOCK_ACCOUNT, account, *self._account_limit))
            for scope, key, most, span in budgets:
                await self._limiter.hit(scope, key, limit=most, window=span)
                attempt.counted.append((scope, key, most, span))
        except SatchelError:
            await self.not_tried(attempt)
            raise
        return attempt

    async def run(self, attempt: Attempt, fn: Callable[..., T], *args: object) -> T:
        """A derivation for ``attempt`` on the gate. When the gate refuses it (too many
        waiting), nothing was tried: the attempt is given back to every budget, the pair's
        too, so a flood that fills the gate cannot close the learner's own pair."""
        try:
            return await self._gate.run(fn, *args)
        except RateLimited:
            await self.not_tried(attempt)
            raise

    async def not_tried(self, attempt: Attempt) -> None:
        """``attempt`` was refused, or failed for want of a store, before its secret was
        checked (or after it was found right): it counts nowhere, the pair's back-off
        included (as it was before the attempt, closure and all). Best effort: the refusal
        is the answer."""
        with contextlib.suppress(SatchelError):
            await self._give_back(attempt)
        if attempt.pair is not None:
            counted, attempt.pair = attempt.pair, None
            with contextlib.suppress(SatchelError):
                await self._limiter.unback(counted)

    async def _give_back(self, attempt: Attempt) -> None:
        for scope, key, most, span in attempt.counted:
            await self._limiter.refund(scope, key, limit=most, window=span)
        attempt.counted.clear()

    async def succeeded(self, attempt: Attempt) -> None:
        """The secret was right: the pair starts afresh, the budgets get the attempt back and
        the client is known to the account (after a recovery too, so its next unlock with the
        new passphrase meets no ceiling a storm reached meanwhile)."""
        pair = f"{attempt.account}|{attempt.client}"
        await self._limiter.clear(PAIR_SCOPES[attempt.door], pair)
        attempt.pair = None
        await self._give_back(attempt)
        if attempt.door == "confirm":
            return
        if attempt.door == "recovery":
            await self._limiter.clear(Scope.UNLOCK_PAIR, pair)
        # judged at the database's clock when it was read (a derivation ago), not this replica's
        if attempt.known_for is None or attempt.known_for < KNOWN_CLIENT_SECONDS // 2:
            await self._limiter.remember(Scope.KNOWN_CLIENT, pair, seconds=KNOWN_CLIENT_SECONDS)
