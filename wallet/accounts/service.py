"""Learner accounts: sign-up, unlock, logout, passphrase change, token authentication.

The account row holds only what is needed to open the vault *with* the learner's secret and the
erasure key (``WrappedKeys``), the inbox public key (so pushes can be sealed while the learner is
away) and a token epoch. Sign-up is all-or-nothing: when any step fails, the erasure key, the vault
profile and the row it created are removed again, so no half account remains. A crash skips that
undo; the sign-up intent recorded first lets :mod:`wallet.accounts.sweep` finish it later.
Erasure is the mirror image: the account is marked first (``erasing_since``, in the commit that
ends its tokens and deletes its links), and the row goes last, so an erasure cut short is found
and finished (docs/consent.md, "Erasure").
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from sqlalchemy import Table, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wallet.accounts.attempts import Attempt, SecretAttempts, session_client
from wallet.accounts.budgets import Scope
from wallet.accounts.errors import (
    AccountErased,
    ErasurePending,
    InvalidCredentials,
    InvalidUsername,
    UsernameTaken,
)
from wallet.accounts.holder_keys import HolderKeyCache, PublicHolderKey, holder_keys_public
from wallet.accounts.limits import RateLimiter, UnlockGate
from wallet.accounts.models import STORE_UNAVAILABLE, learners, revoked_sessions
from wallet.accounts.session_state import session_state_for
from wallet.accounts.sweep import begin_signup, drop_signup, finish_signup
from wallet.accounts.tokens import AccessToken, ServiceKeys, TokenService
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.crypto import (
    InboxKeyPair,
    KdfCost,
    VaultKey,
    WrappedKeys,
    check_passphrase_strength,
    create_learner_keys,
    generate_holder_key,
    normalize_recovery_code,
    rewrap_passphrase,
    rotate_recovery,
    sealed_shut,
    unwrap_with_passphrase,
    unwrap_with_recovery,
)
from wallet.db import reading, writing
from wallet.errors import (
    BadInput,
    Conflict,
    NotFound,
    SatchelError,
    Unauthorized,
    Unavailable,
)
from wallet.keyring import Keyring
from wallet.learner_cache import forget_learner
from wallet.vault import VaultStore

__all__ = ["AccountErased", "AccountService", "LearnerSession", "PublicHolderKey", "Recovered",
           "SignUp", "holder_keys_public"]

T = TypeVar("T")
_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{2,63}")
_INBOX_KEY_CATEGORY = "inbox-key"
#: sign-ups that succeed per client address: count, seconds (SATCHEL_SIGNUP_LIMIT; docs/operations.md,
#: "Sign-up limits")
SIGNUP_LIMIT = (300, 3600)


@dataclass(frozen=True, slots=True)
class SignUp:
    learner_id: str
    recovery_code: str
    holder_did: str


@dataclass(frozen=True, slots=True)
class LearnerSession:
    """An authenticated, unlocked learner for the duration of one request."""

    learner_id: str
    session_id: str
    dek: VaultKey
    expires_at: int


@dataclass(frozen=True, slots=True)
class Recovered:
    """A passphrase set anew with the recovery code: the learner is unlocked (``token``) and
    holds the code that replaces the one used up (``recovery_code``, shown once)."""

    recovery_code: str
    token: AccessToken


class _SweptMeanwhile(Exception):
    """Raised inside the account-row transaction to roll it back (never escapes sign-up)."""


def _check_username(username: object) -> str:
    if not isinstance(username, str) or not _USERNAME.fullmatch(username):
        raise InvalidUsername("username must be 3-64 characters: letters, digits and . _ @ + -")
    return username


class AccountService:
    def __init__(self, *, engine: AsyncEngine, vault: VaultStore, keyring: Keyring,
                 tokens: TokenService, keys: ServiceKeys, gate: UnlockGate, limiter: RateLimiter,
                 kdf: KdfCost, unlock_limit: tuple[int, int],
                 account_limit: tuple[int, int] | None = None,
                 signup_limit: tuple[int, int] = SIGNUP_LIMIT,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine = engine
        self._clock = clock
        self._vault = vault
        self._keyring = keyring
        self._tokens = tokens
        self._keys = keys
        self._gate = gate
        self._limiter = limiter
        self._kdf = kdf
        self._attempts = SecretAttempts(
            limiter=limiter, gate=gate, kdf=kdf, unlock_limit=unlock_limit,
            account_limit=account_limit or (unlock_limit[0] * 10, unlock_limit[1]))
        # sign-up: names found taken per address (as wrong passphrases per address), and
        # sign-ups that succeed per address, a budget a school's cohort does not reach
        self._signup_failures = (unlock_limit[0] * 3, unlock_limit[1])
        self._signup_limit = signup_limit
        self._session_state = session_state_for(engine)
        self._holder_keys = HolderKeyCache(vault)
        # what finishes an erasure found cut short: consent.rights sets the whole of it
        # (every feature's erasers too); until then, this service's own part
        self._finisher: Finisher = self.finish_erasure

    # ----------------------------------------------------------------------------------- sign-up
    async def sign_up(self, username: object, passphrase: object, *, client: str) -> SignUp:
        """A new account: its keys, its vault and its row, all or nothing.

        Two budgets per client address (docs/operations.md, "Sign-up limits"), each counted
        atomically, so parallel attempts are each counted: names found taken (``signup-taken``,
        three times the unlock limit: what probing for usernames meets; checked before the name
        is looked up, counted once it is found taken, a name taken meanwhile by a parallel
        sign-up of it included) and sign-ups that succeed (``signup-address``,
        SATCHEL_SIGNUP_LIMIT, counted before the work and given back by one that fails or was
        not tried to the end (the gate full, the store down): what a bot farm on one address
        meets, far above a school's or a carrier-grade NAT's cohort). Bad input is refused
        before either is counted: it costs no derivation and no look-up, and tells nothing
        about anyone. The Argon2id work itself waits for the
        :class:`~wallet.accounts.limits.UnlockGate` every derivation shares."""
        name = _check_username(username)
        if not isinstance(passphrase, str):
            raise BadInput("passphrase must be a string")
        check_passphrase_strength(passphrase)
        taken = (Scope.SIGNUP_TAKEN, client, *self._signup_failures)
        # checked before the look-up (a probe past the budget learns nothing), counted only
        # once a name is found taken: sign-ups under way with free names never hold it
        await self._check(*taken)
        uhash = self._keys.username_hash(name)
        if await self._find(uhash) is not None:
            await self._hit(*taken)  # parallel probes past the budget: 429, not 409
            raise UsernameTaken("username is taken")
        created = (Scope.SIGNUP_ADDRESS, client, *self._signup_limit)
        await self._hit(*created)
        try:
            return await self._create(name, uhash, passphrase)
        except Conflict:  # the name was taken meanwhile: a name found taken, not a sign-up
            await self._refund(*created)
            with contextlib.suppress(SatchelError):  # counted; the answer stays the 409
                await self._hit(*taken)
            raise
        except BaseException:
            await self._refund(*created)
            raise

    async def _hit(self, scope: str, key: str, limit: int, window: int) -> None:
        await self._limiter.hit(scope, key, limit=limit, window=window)

    async def _check(self, scope: str, key: str, limit: int, window: int) -> None:
        await self._limiter.check(scope, key, limit=limit, window=window)

    async def _refund(self, scope: str, key: str, limit: int, window: int) -> None:
        """Give an attempt back; best effort on a failure path (the failure is the answer)."""
        with contextlib.suppress(SatchelError):
            await self._limiter.refund(scope, key, limit=limit, window=window)

    async def _create(self, name: str, uhash: str, passphrase: str) -> SignUp:
        learner_id = str(uuid.uuid4())
        created: list[str] = []
        await begin_signup(self._engine, learner_id, self._clock)  # before anything a crash could orphan
        try:
            erasure_key = await self._keyring.create(learner_id)
            created.append("keyring")
            wrapped, dek, recovery_code = await self._gate.run(
                create_learner_keys, passphrase, erasure_key, self._kdf)
            await self._vault.create_profile(learner_id)
            created.append("profile")
            lv = self._vault.for_learner(learner_id, dek)
            now = self._clock()
            es256, eddsa = (generate_holder_key("ES256", created_at=now),
                            generate_holder_key("EdDSA", created_at=now))
            await lv.holder_keys.put(es256)
            await lv.holder_keys.put(eddsa)
            inbox = InboxKeyPair.generate()
            await lv.records(_INBOX_KEY_CATEGORY).put(
                "current", {"sealed": inbox.seal_private(dek).hex()})
            try:
                async with writing(self._engine, STORE_UNAVAILABLE,
                                   passing=(IntegrityError,)) as conn:
                    await conn.execute(insert(learners).values(
                        id=learner_id, username_hash=uhash, created_at=self._clock(),
                        wrapped_keys=wrapped.to_json(), inbox_public=inbox.public, token_epoch=0))
                    if not await finish_signup(conn, learner_id):
                        # a sweep judged this sign-up abandoned and is removing its key
                        raise _SweptMeanwhile()
            except _SweptMeanwhile as exc:
                raise Unavailable("sign-up took too long; try again") from exc
            except IntegrityError as exc:
                raise UsernameTaken("username is taken") from exc
        except BaseException:  # compensate, then re-raise (cancellation too)
            await self._undo(learner_id, created)
            raise
        return SignUp(learner_id, recovery_code, es256.did)

    async def _undo(self, learner_id: str, created: list[str]) -> None:
        removed = True
        if "profile" in created:
            try:
                await self._vault.remove_profile(learner_id)
            except SatchelError:
                removed = False  # the erasure key below makes it unreadable; the sweep removes it
        if "keyring" in created:
            await self._keyring.destroy(learner_id)
        if removed:
            await drop_signup(self._engine, learner_id)

    # ------------------------------------------------------------------------------------ unlock
    async def _find(self, uhash: str) -> tuple[str, str, int] | None:
        async with reading(self._engine, STORE_UNAVAILABLE) as conn:
            row = (await conn.execute(
                select(learners.c.id, learners.c.wrapped_keys, learners.c.token_epoch,
                       learners.c.erasing_since)
                .where(learners.c.username_hash == uhash))).first()
        if row is not None and row.erasing_since is not None:
            await self._finish_cut_short(row.id)  # the name is free now: no such account
            return None
        return None if row is None else (row.id, row.wrapped_keys, row.token_epoch)

    async def unlock(self, username: object, passphrase: object, *, client: str) -> AccessToken:
        if not isinstance(username, str) or not isinstance(passphrase, str) or not passphrase:
            raise BadInput("username and passphrase must be strings")
        if len(passphrase) > 1024 or len(username) > 256:
            raise BadInput("username or passphrase too long")
        uhash = self._keys.username_hash(username)
        found = await self._find(uhash)
        attempt = await self._attempts.admit("unlock", found[0] if found else uhash, client)
        if found is None:
            await self._attempts.decoy_unwrap(attempt, passphrase)
            raise InvalidCredentials("unknown username or wrong passphrase")
        learner_id, wrapped_json, epoch = found
        erasure_key = await self._erasure_key(attempt, learner_id)
        try:
            dek = await self._attempts.run(attempt, unwrap_with_passphrase,
                                  WrappedKeys.from_json(wrapped_json), passphrase, erasure_key)
        except Unauthorized as exc:
            raise InvalidCredentials("unknown username or wrong passphrase") from exc
        await self._attempts.succeeded(attempt)
        return self._tokens.mint(learner_id, dek.raw, epoch=epoch)

    async def _erasure_key(self, attempt: Attempt, learner_id: str) -> bytes:
        try:
            return await self._keyring.get(learner_id)
        except NotFound as exc:  # erased while the row lingered: looks like a wrong passphrase
            raise InvalidCredentials("unknown username or wrong passphrase") from exc
        except SatchelError:  # the keyring down: the attempt was not tried
            await self._attempts.not_tried(attempt)
            raise

    # ----------------------------------------------------------------------------- tokens in use
    async def authenticate(self, token: str) -> LearnerSession:
        claims = self._tokens.check(token)
        state = await self._session_state(claims.learner_id, claims.session_id)
        if state is None or state[1] or state[0] != claims.epoch:
            # revoked here or on another replica: its vault key leaves this replica's memo now
            self._tokens.forget(token)
            if state is None or state[0] != claims.epoch:
                await self._if_erased(claims.learner_id, gone=state is None)
            raise Unauthorized("access token revoked")
        return LearnerSession(claims.learner_id, claims.session_id, VaultKey.from_bytes(claims.dek),
                              claims.expires_at)

    async def renew(self, session: LearnerSession) -> AccessToken | None:
        """A fresh token for the same session once half its lifetime has passed (else None).

        A client that keeps working keeps its session (sliding renewal); one that stays idle for
        the token lifetime is locked out. The renewed token keeps the session id, so one logout
        revokes every token of the session.
        """
        now = int(self._clock().timestamp())
        if session.expires_at - now > self._tokens.ttl // 2:
            return None
        state = await self._session_state(session.learner_id, session.session_id)
        if state is None or state[1]:
            raise Unauthorized("access token revoked")
        return self._tokens.mint(session.learner_id, session.dek.raw, epoch=state[0], now=now,
                                 session_id=session.session_id)

    async def logout(self, session: LearnerSession) -> None:
        now = self._clock()
        # renewed tokens of this session may outlive this one: keep the revocation until the
        # latest of them could expire
        until = max(session.expires_at, int(now.timestamp()) + self._tokens.ttl)
        try:
            async with writing(self._engine, STORE_UNAVAILABLE, passing=(IntegrityError,)) as conn:
                await conn.execute(delete(revoked_sessions)
                                   .where(revoked_sessions.c.expires_at < now))
                await conn.execute(insert(revoked_sessions).values(
                    session_id=session.session_id, learner_id=session.learner_id,
                    expires_at=datetime.fromtimestamp(until, UTC)))
        except IntegrityError:
            pass  # already logged out
        self._tokens.forget_session(session.learner_id, session.session_id)
        # the learner's plaintext kept for lists goes with the session (other sessions of the
        # learner fill it again; docs/architecture.md, "The vault's rows")
        forget_learner(session.learner_id)

    # ---------------------------------------------------------------------- passphrase & recovery
    async def _row(self, attempt: Attempt, learner_id: str) -> tuple[WrappedKeys, int]:
        try:
            async with reading(self._engine, STORE_UNAVAILABLE) as conn:
                row = (await conn.execute(select(learners.c.wrapped_keys, learners.c.token_epoch)
                                          .where(learners.c.id == learner_id))).first()
        except SatchelError:  # the store down: the attempt was not tried
            await self._attempts.not_tried(attempt)
            raise
        if row is None:
            raise Unauthorized("account no longer exists")
        return WrappedKeys.from_json(row.wrapped_keys), row.token_epoch

    async def change_passphrase(self, *, learner_id: str | None, username: object,
                                current_passphrase: object, recovery_code: object,
                                new_passphrase: object, client: str,
                                session_id: str | None = None) -> Recovered | None:
        """Rewrap the vault key under a new passphrase; every existing token stops working.

        Proof is the current passphrase (with a token: ``learner_id`` and its ``session_id``)
        or the one-time recovery code. Without a token (forgotten passphrase) the username and
        the recovery code are required. A recovery code is used up: the answer is then the
        code that replaces it and a token of a new session, and ``client`` becomes known to
        the account (so no storm of wrong passphrases keeps the learner out afterwards).
        """
        if (current_passphrase is None) == (recovery_code is None):
            raise BadInput("give exactly one of current_passphrase or recovery_code")
        secret = current_passphrase if current_passphrase is not None else recovery_code
        if not isinstance(secret, str) or not isinstance(new_passphrase, str):
            raise BadInput("passphrases and recovery codes must be strings")
        check_passphrase_strength(new_passphrase)
        if recovery_code is not None:
            # a malformed code fails the same fast way for every username (no enumeration)
            secret = normalize_recovery_code(secret)
        if learner_id is None:
            if recovery_code is None:
                raise Unauthorized("a token is needed to change the passphrase with the current one")
            if not isinstance(username, str):
                # who is changing what is unknown: an authentication failure, like a missing
                # token with current_passphrase (the body itself is well-formed)
                raise Unauthorized("a token, or the username with the recovery code, is "
                                   "required")
            uhash = self._keys.username_hash(username)
            found = await self._find(uhash)
            attempt = await self._attempts.admit("recovery", found[0] if found else uhash, client)
            if found is None:
                await self._attempts.decoy_unwrap(attempt, secret)
                raise InvalidCredentials("wrong recovery code")
            learner_id = found[0]
        elif recovery_code is not None:
            attempt = await self._attempts.admit("recovery", learner_id, client)
        else:
            attempt = await self._attempts.admit("confirm", learner_id, session_client(session_id, client))
        wrapped, epoch = await self._row(attempt, learner_id)
        erasure_key = await self._erasure_key(attempt, learner_id)
        try:
            if current_passphrase is not None:
                dek = await self._attempts.run(attempt, unwrap_with_passphrase, wrapped, secret, erasure_key)
            else:
                dek = await self._attempts.run(attempt, unwrap_with_recovery, wrapped, secret, erasure_key)
        except Unauthorized as exc:
            raise InvalidCredentials("wrong passphrase or recovery code") from exc
        new = await self._attempts.run(attempt, rewrap_passphrase, wrapped, dek, new_passphrase,
                              erasure_key, self._kdf)
        code = None
        if recovery_code is not None:
            new, code = await self._attempts.run(attempt, rotate_recovery, new, dek, erasure_key, self._kdf)
        try:
            await self._store_wrapped(learner_id, new, epoch, bump=True, previous=wrapped)
        except SatchelError:  # changed meanwhile, or the store down: the secret was right
            await self._attempts.not_tried(attempt)
            raise
        self._tokens.forget_learner(learner_id)  # every session ended: so does what was kept
        forget_learner(learner_id)  # for them
        await self._attempts.succeeded(attempt)
        if code is None:
            return None
        return Recovered(code, self._tokens.mint(learner_id, dek.raw, epoch=epoch + 1))

    async def new_recovery_code(self, session: LearnerSession, passphrase: object, *,
                                client: str) -> str:
        if not isinstance(passphrase, str):
            raise BadInput("passphrase must be a string")
        attempt = await self._attempts.admit("confirm", session.learner_id,
                                    session_client(session.session_id, client))
        wrapped, epoch = await self._row(attempt, session.learner_id)
        erasure_key = await self._erasure_key(attempt, session.learner_id)
        try:
            await self._attempts.run(attempt, unwrap_with_passphrase, wrapped, passphrase, erasure_key)
        except Unauthorized as exc:
            raise InvalidCredentials("wrong passphrase") from exc
        await self._attempts.succeeded(attempt)
        new, code = await self._attempts.run(attempt, rotate_recovery, wrapped, session.dek,
                                    erasure_key, self._kdf)
        await self._store_wrapped(session.learner_id, new, epoch, bump=False, previous=wrapped)
        return code

    async def _store_wrapped(self, learner_id: str, wrapped: WrappedKeys, epoch: int, *,
                             bump: bool, previous: WrappedKeys) -> None:
        """Compare-and-swap: a concurrent change of the keys makes this one fail, not undo it."""
        async with writing(self._engine, STORE_UNAVAILABLE) as conn:
            res = await conn.execute(
                update(learners)
                .where(learners.c.id == learner_id, learners.c.token_epoch == epoch,
                       learners.c.wrapped_keys == previous.to_json())
                .values(wrapped_keys=wrapped.to_json(),
                        token_epoch=epoch + 1 if bump else epoch))
            if res.rowcount != 1:
                raise Conflict("the account changed meanwhile; try again")

    async def holder_keys(self, session: LearnerSession) -> list[PublicHolderKey]:
        """The learner's public holder keys (cached briefly: :class:`HolderKeyCache`)."""
        return await self._holder_keys.get(session)

    def forget_keys(self, learner_id: str) -> None:
        self._holder_keys.forget(learner_id)

    def close(self) -> None:
        self._session_state.close()

    # ---------------------------------------------------------------------------- GDPR rights
    @property
    def kdf(self) -> KdfCost:
        """The Argon2id cost this deployment uses (also for export bundles)."""
        return self._kdf

    async def confirm_passphrase(self, session: LearnerSession, passphrase: object, *,
                                 client: str) -> None:
        """Re-check the learner's passphrase before a grave action (erasure); rate limited.

        ``Unauthorized`` (``invalid_credentials``) when it does not open this learner's vault.
        """
        if not isinstance(passphrase, str) or not passphrase or len(passphrase) > 1024:
            raise BadInput("passphrase must be a non-empty string")
        attempt = await self._attempts.admit("confirm", session.learner_id,
                                    session_client(session.session_id, client))
        wrapped, _epoch = await self._row(attempt, session.learner_id)
        erasure_key = await self._erasure_key(attempt, session.learner_id)
        try:
            dek = await self._attempts.run(attempt, unwrap_with_passphrase, wrapped, passphrase, erasure_key)
        except Unauthorized as exc:
            raise InvalidCredentials("wrong passphrase") from exc
        if dek != session.dek:
            raise InvalidCredentials("wrong passphrase")
        await self._attempts.succeeded(attempt)

    # -------------------------------------------------------------- erasure (GDPR Art. 17)
    def finish_erasures_with(self, finisher: Finisher) -> None:
        """What finishes an erasure found cut short (by unlock, sign-up, a token of the account):
        :meth:`consent.rights.RightsService.finish_erasure`, which reaches every feature."""
        self._finisher = finisher

    async def begin_erasure(self, conn: AsyncConnection, learner_id: str, *,
                            tables: Sequence[tuple[Table, str]] = ()) -> None:
        """The erasure's first step, on ``conn`` (the transaction of the ledger's tombstone).

        The account is marked as being erased, every token of it ends (``token_epoch`` moves
        on: every replica refuses them at their next request) and its wrapped keys are sealed
        shut (:func:`~wallet.crypto.sealed_shut`), and the rows of ``tables`` that name the
        learner are deleted: share links and inbox links, so nothing serves the learner's
        credentials or takes pushes once the commit is done. The erasure key, the vault profile
        and the account row are left for :meth:`finish_erasure`.

        Why the wrapped keys too: the mark is a column that a replica of a release before it
        (migration 0011) never reads. During a rolling upgrade such a replica would unlock the
        account with its passphrase for as long as the erasure key exists — up to the next
        sweep when the erasure is cut short — and mint a token of the new epoch that every
        replica, of either release, accepts. Sealed shut, the account's wraps open for no
        release (its unlock and recovery answer 401, as for a wrong passphrase); nothing after
        this commit needs them (a retry, the sweep and the finishers never unwrap).
        """
        # locked until the commit (PostgreSQL; SQLite's one writer holds it anyway): a passphrase
        # change cannot slip in between and put openable wraps back
        row = (await conn.execute(select(learners.c.wrapped_keys).where(
            learners.c.id == learner_id, learners.c.erasing_since.is_(None))
            .with_for_update())).first()
        if row is not None:  # else marked already (a retry) or no such account
            await conn.execute(update(learners).where(learners.c.id == learner_id).values(
                erasing_since=self._clock(), token_epoch=learners.c.token_epoch + 1,
                wrapped_keys=sealed_shut(WrappedKeys.from_json(row.wrapped_keys)).to_json()))
        for table, column in tables:
            await conn.execute(delete(table).where(table.c[column] == learner_id))
        self._forget(learner_id)  # early: harmless should the commit fail

    async def finish_erasure(self, learner_id: str, *, tables: Sequence[tuple[Table, str]] = (),
                             erasers: Sequence[Callable[[str], Awaitable[None]]] = ()) -> bool:
        """Finish an erasure :meth:`begin_erasure` started: ``erasers``, the crypto-shred, the
        vault profile, then every row naming the learner (``tables`` too) and the account row.

        Every step is idempotent and the account row goes last, so a crash or a store failure
        anywhere leaves the mark for the next try (a retry, unlock or sign-up of the username,
        a token of the account, the sweep at start-up). ``False`` when the account is gone
        already; :class:`Conflict` for an account that is not being erased (never shredded).
        """
        async with reading(self._engine, STORE_UNAVAILABLE) as conn:
            row = (await conn.execute(select(learners.c.erasing_since)
                                      .where(learners.c.id == learner_id))).first()
        if row is None:
            self._forget(learner_id)
            return False
        if row.erasing_since is None:
            raise Conflict("this account is not being erased")
        for eraser in erasers:
            await eraser(learner_id)
        await self._keyring.destroy(learner_id)
        try:
            await self._vault.remove_profile(learner_id)
        except NotFound:
            pass  # removed by an earlier, interrupted try
        async with writing(self._engine, STORE_UNAVAILABLE) as conn:
            for table, column in tables:
                await conn.execute(delete(table).where(table.c[column] == learner_id))
            await conn.execute(delete(revoked_sessions)
                               .where(revoked_sessions.c.learner_id == learner_id))
            await conn.execute(delete(learners).where(learners.c.id == learner_id,
                                                      learners.c.erasing_since.is_not(None)))
        self._forget(learner_id)
        return True

    async def being_erased(self, learner_id: str) -> bool:
        async with reading(self._engine, STORE_UNAVAILABLE) as conn:
            return (await conn.execute(select(learners.c.erasing_since).where(
                learners.c.id == learner_id))).scalar_one_or_none() is not None

    async def erasures_cut_short(self) -> list[str]:
        """Learner ids of every account marked as being erased (for the sweep at start-up)."""
        async with reading(self._engine, STORE_UNAVAILABLE) as conn:
            return list((await conn.execute(
                select(learners.c.id).where(learners.c.erasing_since.is_not(None))
                .order_by(learners.c.erasing_since))).scalars())

    async def _finish_cut_short(self, learner_id: str) -> None:
        try:
            await self._finisher(learner_id)
        except SatchelError as exc:
            raise ErasurePending("this account's erasure is under way and will be finished; "
                                 "try again later") from exc

    async def _if_erased(self, learner_id: str, *, gone: bool) -> None:
        """Raise :class:`AccountErased` when a refused token's account is erased or being erased
        (finishing an erasure cut short first); return otherwise (a token revoked as usual)."""
        if not gone:
            if not await self.being_erased(learner_id):
                return
            await self._finish_cut_short(learner_id)
        raise AccountErased("this account has been erased")

    def _forget(self, learner_id: str) -> None:
        self.forget_keys(learner_id)
        self._tokens.forget_learner(learner_id)
        forget_learner(learner_id)

    async def inbox_public_key(self, learner_id: str) -> bytes:
        async with reading(self._engine, STORE_UNAVAILABLE) as conn:
            row = (await conn.execute(select(learners.c.inbox_public)
                                      .where(learners.c.id == learner_id))).first()
        if row is None:
            raise NotFound()
        return bytes(row.inbox_public)


Finisher = Callable[[str], Awaitable[object]]
