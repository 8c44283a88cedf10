"""The orphan sweep: erasure keys and vault profiles that a crashed sign-up left without an account.

Sign-up creates three things in three stores (erasure key → vault profile → ``learners`` row) and
undoes the first two when a later step fails; a process crash skips the undo. To find what a crash
left behind without guessing, sign-up first commits a *sign-up intent* (``signup_intents``) and
deletes it in the very transaction that inserts the account row. An intent therefore exists exactly
while a sign-up is running or after it died.

Why it is safe with several replicas sharing the databases:

- Age is judged by ``started_at`` from the *database's* clock on PostgreSQL (``now()``), so a replica
  with a skewed clock cannot think another replica's fresh sign-up is old. (SQLite is one host, so
  the process clock is the database's clock.) Only intents older than the grace period are touched.
- The sweep *claims* an intent (``claimed_at``) before it removes anything, and a sign-up finishes
  only by deleting an unclaimed intent: a sign-up slower than the grace period fails and undoes
  itself instead of creating an account whose key the sweep is destroying. Two sweeps running at
  once do the same idempotent removals.
- Keys and profiles that no intent names (crashes from before intents existed) are *adopted* only
  when an operator asks (``satchel sweep --adopt-strays``), never by the automatic sweeps: "no
  account row" is also what every live account looks like when the service is pointed at the
  wrong (or a restored, or an empty) accounts database, and an erasure key destroyed is gone for
  good. Even then, adoption refuses to run against an accounts database that holds no account at
  all, or whose recorded deployment canary is not the only one in the vault (and in a keyring that
  can be listed): another accounts database was started against these stores. An adopted stray
  gets an intent and is removed a grace period later, after checking again that no account row
  appeared. The folder keyring names its files by hash, so keys it holds without a vault profile
  cannot be found this way (they open nothing).

Nothing here logs a learner id or any key material; the report holds counts only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from wallet.accounts.errors import WrongAccountsDatabase
from wallet.accounts.models import (
    CANARY_PREFIX,
    STORE_UNAVAILABLE,
    VAULT_CANARY,
    deployment_record,
    learners,
    signup_intents,
)
from wallet.clock import SYSTEM_CLOCK, Clock
from wallet.db import failing_as, writing
from wallet.errors import NotFound, SatchelError
from wallet.keyring import Keyring, ListableKeyring
from wallet.vault import VaultStore

__all__ = [
    "DEFAULT_GRACE_SECONDS",
    "OrphanSweep",
    "SweepReport",
    "WrongAccountsDatabase",
    "begin_signup",
    "drop_signup",
    "finish_signup",
]

log = logging.getLogger("satchel.sweep")

#: An hour: far longer than any sign-up (one Argon2id derivation, queued behind a few others).
DEFAULT_GRACE_SECONDS = 3600
_LEARNER_ID_MAX = 36  # learners.id is String(36): longer names are not learner profiles
_CHUNK = 500


def _now_value(conn: AsyncConnection, clock: Clock) -> Any:
    """``started_at``/``claimed_at`` for a write: the database's clock on PostgreSQL."""
    return func.now() if conn.dialect.name == "postgresql" else clock()


async def _db_now(conn: AsyncConnection, clock: Clock) -> datetime:
    if conn.dialect.name == "postgresql":
        value: datetime = (await conn.execute(select(func.now()))).scalar_one()
        return value
    return clock()


# ------------------------------------------------------------------------ the sign-up's side
async def begin_signup(engine: AsyncEngine, learner_id: str, clock: Clock = SYSTEM_CLOCK) -> None:
    """Record (and commit) the intent before any key or profile exists for ``learner_id``."""
    async with writing(engine, STORE_UNAVAILABLE) as conn:
        await conn.execute(signup_intents.insert().values(
            learner_id=learner_id, started_at=_now_value(conn, clock)))


async def finish_signup(conn: AsyncConnection, learner_id: str) -> bool:
    """Delete the unclaimed intent inside the transaction that inserts the account row.

    ``False`` when a sweep has claimed it meanwhile: the caller must roll back and undo.
    """
    res = await conn.execute(delete(signup_intents).where(
        signup_intents.c.learner_id == learner_id, signup_intents.c.claimed_at.is_(None)))
    return bool(res.rowcount == 1)


async def drop_signup(engine: AsyncEngine, learner_id: str) -> None:
    """Forget the intent after the sign-up undid its key and profile itself."""
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(signup_intents)
                               .where(signup_intents.c.learner_id == learner_id))
    except SQLAlchemyError:
        pass  # the intent stays; the sweep removes it (and finds nothing left to remove)


# ------------------------------------------------------------------------------- the sweep
@dataclass(frozen=True, slots=True)
class SweepReport:
    """What one sweep did (counts only)."""

    removed: int  # orphans whose erasure key and vault profile are gone now
    adopted: int  # keys/profiles found without an intent; removed once the grace period is over
    waiting: int  # intents inside the grace period (sign-ups that may still be running)


def _chunks(items: list[str]) -> Iterable[list[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


class OrphanSweep:
    """Removes what crashed sign-ups left behind; see the module docstring for the rules."""

    def __init__(self, *, engine: AsyncEngine, vault: VaultStore, keyring: Keyring,
                 grace_seconds: float = DEFAULT_GRACE_SECONDS, adopt_strays: bool = False,
                 clock: Clock = SYSTEM_CLOCK) -> None:
        self._engine, self._vault, self._keyring = engine, vault, keyring
        self._clock = clock
        self._grace = timedelta(seconds=grace_seconds)
        self._adopt = adopt_strays

    async def run(self, progress: Callable[[str], None] | None = None) -> SweepReport:
        say = progress or (lambda _msg: None)
        with failing_as(STORE_UNAVAILABLE):
            adopted = 0
            if self._adopt:
                say("looking for keys and vault profiles without an account ...")
                adopted = await self._adopt_strays()
            say("claiming sign-ups older than the grace period ...")
            claimed = await self._claim()
            for i, learner_id in enumerate(claimed, 1):
                await self._remove(learner_id)
                if i % 100 == 0:
                    say(f"removed {i} of {len(claimed)} orphans ...")
            waiting = await self._waiting()
        return SweepReport(removed=len(claimed), adopted=adopted, waiting=waiting)

    async def run_every(self, interval: float) -> None:
        """Sweep every ``interval`` seconds until cancelled; a failed sweep is tried next time."""
        while True:
            await asyncio.sleep(interval)
            try:
                report = await self.run()
            except SatchelError as exc:
                log.warning("orphan sweep failed: %s", exc.code)
                continue
            except Exception as exc:  # boundary: nothing may end this background loop
                # (a driver's own error, a bug); its type only: a driver message may hold the URL
                log.warning("orphan sweep failed: %s", type(exc).__name__)
                continue
            if report.removed or report.adopted:
                log.info("orphan sweep: %d removed, %d found without a sign-up record",
                         report.removed, report.adopted)

    async def _names(self) -> set[str]:
        """Learner ids that hold a vault profile or (where it can be listed) an erasure key."""
        names = set(await self._vault.learner_profiles())
        if isinstance(self._keyring, ListableKeyring):
            names.update(await self._keyring.learner_ids())
        return {n for n in names if len(n) <= _LEARNER_ID_MAX}

    async def _adopt_strays(self) -> int:
        async with self._engine.connect() as conn:
            accounts = (await conn.execute(select(func.count()).select_from(learners))).scalar_one()
        strays: list[str] = []
        for chunk in _chunks(sorted(await self._names())):
            async with self._engine.connect() as conn:
                # one statement, one snapshot: a sign-up's intent and its account row swap
                # atomically, so a listed learner shows up in one of the two unless it is gone
                known = set((await conn.execute(
                    select(learners.c.id).where(learners.c.id.in_(chunk))
                    .union(select(signup_intents.c.learner_id)
                           .where(signup_intents.c.learner_id.in_(chunk))))).scalars())
            strays += [n for n in chunk if n not in known]
        if not strays:
            return 0
        # Listed again *after* the database said "no intent": what a concurrent sweep or undo
        # removed meanwhile (key and profile go before the intent) drops out here.
        still = await self._names()
        strays = [n for n in strays if n in still]
        if strays and accounts == 0:
            raise WrongAccountsDatabase(
                "the accounts database holds no account while the vault or keyring holds "
                f"{len(strays)}: is SATCHEL_DATABASE_URL the right database? Nothing was adopted")
        if strays:
            await self._stores_recorded()
        adopted = 0
        for chunk in _chunks(strays):
            async with self._engine.begin() as conn:
                ins = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
                now = _now_value(conn, self._clock)
                res = await conn.execute(
                    ins(signup_intents)
                    .values([{"learner_id": n, "started_at": now} for n in chunk])
                    .on_conflict_do_nothing(index_elements=["learner_id"]))
                adopted += max(res.rowcount, 0)
        return adopted

    async def _stores_recorded(self) -> None:
        """:class:`WrongAccountsDatabase` unless the vault holds one deployment canary, the one
        this accounts database recorded (and a keyring that can be listed none but its own):
        another canary there means another accounts database was started against these stores
        too (holder_api.compose.deployment), and every learner of it looks like a stray here."""
        async with self._engine.connect() as conn:
            rows = dict((await conn.execute(
                select(deployment_record.c.name, deployment_record.c.value).where(
                    deployment_record.c.name.in_(("vault_canary", "keyring_canary"))))).all())
        if "vault_canary" not in rows:
            raise WrongAccountsDatabase(
                "the accounts database records no deployment yet (its first start of this "
                "release records it): start a replica first. Nothing was adopted")
        wrong = [n for n, _ in await (await self._vault.own_records()).fetch_all(VAULT_CANARY)
                 ] != [rows["vault_canary"]]
        if isinstance(self._keyring, ListableKeyring):
            wrong |= [n for n in await self._keyring.learner_ids()
                      if n.startswith(CANARY_PREFIX)] != [rows.get("keyring_canary")]
        if wrong:
            raise WrongAccountsDatabase(
                "the vault or keyring holds a deployment canary this accounts database did not "
                "record (another accounts database was started against them): is "
                "SATCHEL_DATABASE_URL the right database? If it is, and the canary is a second "
                "one an earlier release left, `satchel sweep --remove-stray-canaries` removes "
                "it once it is provably stray. Nothing was adopted")

    async def _claim(self) -> list[str]:
        """Claim every old unclaimed intent without an account; return every claimed one.

        Earlier claims whose removal was interrupted are returned too (removal is idempotent).
        """
        async with self._engine.begin() as conn:
            cutoff = await _db_now(conn, self._clock) - self._grace
            has_account = select(learners.c.id).where(
                learners.c.id == signup_intents.c.learner_id).exists()
            # an adopted stray whose sign-up did finish after all: it is an account, not an orphan
            await conn.execute(delete(signup_intents).where(
                signup_intents.c.claimed_at.is_(None), has_account))
            await conn.execute(update(signup_intents).where(
                signup_intents.c.claimed_at.is_(None), signup_intents.c.started_at < cutoff,
                ~has_account).values(claimed_at=_now_value(conn, self._clock)))
            rows = await conn.execute(select(signup_intents.c.learner_id)
                                      .where(signup_intents.c.claimed_at.is_not(None)))
            return list(rows.scalars())

    async def _remove(self, learner_id: str) -> None:
        """Erasure key first (what is left is unreadable), then the profile, then the intent.

        Never for an account: a claimed intent cannot become one (sign-up refuses to finish), but
        the key is destroyed for good, so it is looked up once more right before.
        """
        async with self._engine.connect() as conn:
            if (await conn.execute(select(learners.c.id)
                                   .where(learners.c.id == learner_id))).first() is not None:
                log.warning("orphan sweep: a claimed sign-up has an account; left alone")
                await conn.execute(delete(signup_intents)
                                   .where(signup_intents.c.learner_id == learner_id))
                await conn.commit()
                return
        await self._keyring.destroy(learner_id)
        try:
            await self._vault.remove_profile(learner_id)
        except NotFound:
            pass  # the crash came before the profile, or an earlier sweep removed it
        async with self._engine.begin() as conn:
            await conn.execute(delete(signup_intents)
                               .where(signup_intents.c.learner_id == learner_id))

    async def _waiting(self) -> int:
        async with self._engine.connect() as conn:
            count: int = (await conn.execute(
                select(func.count()).select_from(signup_intents)
                .where(signup_intents.c.claimed_at.is_(None)))).scalar_one()
            return count
