"""`satchel move-keyring`: the erasure keyring moved out of where it must not be (one of the data
databases, where a release before the check kept it) into a store of its own
(docs/operations.md: "Moving the keyring").

The move, in the order that keeps every step safe to interrupt and to run again:

1. **Checks**, with every replica stopped: the first-start lock is taken and held for the whole
   move (a replica started meanwhile waits for it), and no other session may be connected to
   the accounts database (every replica keeps pooled connections there, idle or not); the
   deployment is the one the settings name (as an operator command checks it, the old
   keyring holding the record's canary); the target is no data database and holds no other deployment's keys.
2. **Copy** every key of the old keyring to the target as it is, except the deployment
   canaries and the keys of learners whose erasure is under way (its first step committed:
   the key is to be destroyed, and a copy would be one more to destroy; the sweep run with the
   new keyring finishes the erasure, the key being gone there already).
3. **Pending canary**: the id of a new canary is written to the deployment record
   (``keyring_move_canary``), then the canary is created in the target. Until step 4 the record
   still names the old keyring's canary, so the target is refused by any start (it lacks it) and
   the old configuration is exactly as before: a crash anywhere up to here changes nothing that
   works.
4. **Verify and record**, in one transaction on the accounts database (on PostgreSQL with the
   learners table locked against writes): the old keyring is read again and every key copied
   compared with its copy by check value (:func:`wallet.keyring.check_value`), the count of
   keys in the target checked, a key destroyed in the old keyring meanwhile (an erasure) or
   whose learner's erasure began meanwhile destroyed in the target; then ``keyring_canary``
   becomes the new canary. From this commit on, the target is the deployment's keyring and the
   old one is refused as any other keyring lacking the canary.
5. **Only with** ``--delete-old``: each key of the old keyring whose copy checks out, or whose
   learner is being erased or is gone, is destroyed there (and the old canary last).

Run again after a crash at any point, it finds where it was: before step 4 it copies what is
missing and verifies again; after it (the record names a canary the target holds) it verifies
and, with the flag, deletes.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from holder_api.compose.deployment import (
    CANARY_PREFIX,
    check_deployment,
    check_separate_stores,
    other_sessions,
    same_store,
)
from holder_api.compose.migrations import require_schema
from holder_api.compose.stores import first_start, open_keyring, open_vault
from holder_api.errors import ReplicasRunning
from holder_api.settings import KeyringInData, Settings, SettingsError
from wallet.accounts.models import deployment_record, learners, signup_intents
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import Clock
from wallet.db import Contended, create_engine, serialised
from wallet.errors import Conflict, NotFound, Unavailable
from wallet.keyring import AskarKeyring, check_value
from wallet.vault import VaultStore, load_store_key

__all__ = ["MOVE_CANARY", "Moved", "ReplicasRunning", "in_data", "move_keyring"]

#: The deployment record's row naming the canary a move created in its target and has not
#: recorded yet (holder_api.compose.deployment's ``keyring_canary`` is the recorded one).
MOVE_CANARY = "keyring_move_canary"
_CANARY = "keyring_canary"
#: How long the move waits for the first-start lock before it says replicas are at work.
_LOCK_WAIT = 2.0
#: Keys copied per Askar transaction, and how often progress is said.
_BATCH = 500
_EVERY = 1000
#: Tries of the verify-and-record step when the old keyring changes under it.
_TRIES = 3
_MOVE_LOCK = "satchel-keyring-move"


def in_data(refused: KeyringInData) -> SettingsError:
    """The target refused for what the old keyring is refused for."""
    return SettingsError(f"--to names the database {refused.setting} names: the new keyring "
                         "must be a database of its own")


@dataclass(frozen=True, slots=True)
class Moved:
    """What a run did (counts only)."""

    copied: int  # keys written to the target by this run
    verified: int  # keys in the target checked against the old keyring
    erasing: int  # keys of erasures under way not copied (the sweep finishes them)
    dropped: int  # copies destroyed in the target (their key destroyed meanwhile)
    recorded: bool  # this run recorded the target in the deployment record
    deleted: int  # keys destroyed in the old keyring (--delete-old)
    left: int  # keys still in the old keyring


async def move_keyring(old: Settings, new: Settings, clock: Clock, *, delete_old: bool,
                       say: Callable[[str], None]) -> Moved:
    """Move ``old``'s keyring to ``new``'s (the same settings but the keyring's). Raises
    :class:`SettingsError` (a wrong target, settings unlike the deployment's),
    :class:`ReplicasRunning`, or a store's failure; each leaves what works as it was."""
    # its own sessions named uniquely: any other session on the accounts database is not its
    ours = f"satchel move-keyring {secrets.token_hex(4)}"
    engine = create_engine(old.database_url, application_name=ours)
    try:
        try:
            async with first_start(engine, wait=_LOCK_WAIT):
                return await _move(engine, old, new, clock, delete_old=delete_old, say=say,
                                   ours=ours)
        except Contended:
            raise ReplicasRunning("a replica is starting or a migration runs (the first-start "
                                  "lock is held): stop every replica") from None
    finally:
        await engine.dispose()


async def _move(engine: AsyncEngine, old: Settings, new: Settings, clock: Clock, *,
                delete_old: bool, say: Callable[[str], None], ours: str) -> Moved:
    # migrates nothing, as every operator command but `satchel migrate`: with replicas of an
    # older release connected, a migration here would change the schema under them before the
    # check below could stop the move
    await require_schema(engine)
    # before this command opens a store of its own there (the old keyring may be in the
    # accounts database): whatever else is connected is not this command
    busy = await _other_sessions(engine, ours)
    old_ring = await _old_keyring_sessions(old)
    # the target: never a data database (the servers asked, as at a start), never the old one
    try:
        await check_separate_stores(new, engine)
    except KeyringInData as exc:
        raise in_data(exc) from None
    if not new.keyring_uri.startswith(("sqlite://", "postgres://")):
        raise SettingsError("--to must name an Askar store (sqlite://… or postgres://…): a "
                            "keyring folder cannot be checked for keys of others")
    if not old.keyring_uri.startswith(("sqlite://", "postgres://")):
        raise SettingsError("SATCHEL_KEYRING_URI names a keyring folder, which is no database: "
                            "nothing to move (copy the folder itself to move it)")
    if await same_store(old.keyring_uri, new.keyring_uri):
        raise SettingsError("--to names the keyring SATCHEL_KEYRING_URI names")
    old_key = old.keyring_key or load_store_key(old.data_dir / "keyring-store")
    if new.keyring_key is not None and new.keyring_key == old_key:
        raise SettingsError("the new keyring needs a key of its own (`satchel keygen`): the old "
                            "key opens the copies of the old keyring every backup of its "
                            "database holds")
    vault = await open_vault(old, provision=False)
    try:
        source = await open_keyring(old, provision=False)
        try:
            assert isinstance(source, AskarKeyring)  # a store, as checked above
            return await _between(engine, old, new, clock, vault, source,
                                  delete_old=delete_old, say=say, busy=busy,
                                  old_ring=old_ring)
        finally:
            await source.close()
    finally:
        await vault.close()


async def _open_target(new: Settings, *, provision: bool) -> AskarKeyring:
    try:
        target = await open_keyring(new, provision=provision)
    except Unavailable:
        raise Unavailable("the new keyring (--to) could not be opened or created: its server, "
                          "or a store there under another key") from None
    assert isinstance(target, AskarKeyring)  # a store, as checked
    return target


async def _old_keyring_sessions(old: Settings) -> int:
    """Sessions connected to the old keyring's PostgreSQL database when it is a database of its
    own (in the accounts database or the vault, replicas of the new keyring connect there too):
    asked before this command opens it, so every one is a replica of the old configuration."""
    uri = old.keyring_uri
    if not uri.startswith("postgres://"):
        return 0
    accounts = old.database_url.replace("postgresql+asyncpg://", "postgres://", 1)
    for data in (accounts, old.vault_uri):
        if await same_store(uri, data):
            return 0
    return await other_sessions(uri)


async def _other_sessions(engine: AsyncEngine, ours: str) -> ReplicasRunning | None:
    """The refusal to move when a session other than this command's own is connected to the
    accounts database (PostgreSQL), asked before the command opens a store. Every replica,
    of this release or an earlier one, keeps pooled connections to the accounts database while
    it runs, idle or at work (and holds advisory locks while at work): so a replica is seen as
    long as the server has not closed its idle connections (``idle_session_timeout``, a pooler
    in between: docs/operations.md, "Moving the keyring"). Any other client connected there
    (a psql, another operator command) stops the move too: it may write what is moved."""
    if engine.dialect.name != "postgresql":
        return None  # the embedded default is one process: stopped, it is not there
    async with engine.connect() as conn:
        others = (await conn.execute(text(
            "SELECT coalesce(nullif(application_name, ''), '(no application name)') AS name, "
            "count(*) AS n FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid() "
            "AND application_name <> :ours GROUP BY 1 ORDER BY 1"), {"ours": ours})).all()
    if not others:
        return None
    named = ", ".join(f"{r.name} ×{r.n}" for r in others)
    return ReplicasRunning(
        f"{sum(r.n for r in others)} other session(s) connected to the accounts database "
        f"({named}): stop every replica (and close other clients of that database)")


async def _record(engine: AsyncEngine) -> dict[str, str]:
    async with engine.connect() as conn:
        return {r.name: r.value for r in await conn.execute(
            select(deployment_record.c.name, deployment_record.c.value)
            .where(deployment_record.c.name.in_((_CANARY, MOVE_CANARY))))}


async def _erasing(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(select(learners.c.id).where(
        learners.c.erasing_since.is_not(None)))).scalars())


async def _known(conn: AsyncConnection) -> set[str]:
    """Every learner id this deployment knows: its accounts and its sign-ups under way."""
    ids = set((await conn.execute(select(learners.c.id))).scalars())
    return ids | set((await conn.execute(select(signup_intents.c.learner_id))).scalars())


async def _between(engine: AsyncEngine, old: Settings, new: Settings, clock: Clock,
                   vault: VaultStore, source: AskarKeyring, *, delete_old: bool,
                   say: Callable[[str], None], busy: ReplicasRunning | None,
                   old_ring: int) -> Moved:
    keys = ServiceKeys.from_secret(old.session_key, old.data_key)
    rows = await _record(engine)
    recorded = rows.get(_CANARY)
    # the record names the old keyring's canary (or, from before the record, none): not moved
    # yet; the target is created only once the deployment checks out. Otherwise it was moved
    # (the record names a canary only a move made, in its target) or the settings are wrong.
    moved = recorded is not None and not await _holds(source, recorded)
    if not moved and busy is not None:
        # once moved, replicas of the new keyring may serve: nothing here races them
        raise busy
    if moved and delete_old and old_ring:
        # but not replicas still on the old keyring: they would lose every key
        raise ReplicasRunning(f"{old_ring} session(s) still connected to the old keyring's "
                              "database (replicas of the old configuration): restart every "
                              "replica with the new keyring before --delete-old")
    target = None
    if moved:
        try:
            target = await _open_target(new, provision=False)
        except SettingsError:  # no store there: the old keyring is simply not the deployment's
            target = None
    try:
        # the deployment the settings name, as an operator command checks it (creating
        # nothing, recording nothing): its keyring is the old one, or, moved, the target
        await check_deployment(engine, target if target is not None else source, vault, keys,
                               issuer=old.deployment_id or keys.deployment_id,
                               data_key_set=old.data_key is not None, clock=clock,
                               record=False, data_key_vouched=True)
        if target is None:
            target = await _open_target(new, provision=True)
        return await _moving(engine, clock, source, target, rows, moved=moved,
                             delete_old=delete_old, say=say)
    finally:
        if target is not None:
            await target.close()


async def _moving(engine: AsyncEngine, clock: Clock, source: AskarKeyring,
                  target: AskarKeyring, rows: dict[str, str], *, moved: bool, delete_old: bool,
                  say: Callable[[str], None]) -> Moved:
    recorded = rows.get(_CANARY)
    copied = erasing = dropped = 0
    if not moved:
        ours = {c for c in (recorded, rows.get(MOVE_CANARY)) if c is not None}
        say("copying the erasure keys to the new keyring ...")
        copied, erasing = await _copy(engine, source, target, ours, say)
        pending = rows.get(MOVE_CANARY)
        if pending is None or not await _holds(target, pending):
            # a canary of this target's own: one a run cut short made in another target must
            # never make that one pass for the deployment's keyring once this one is recorded
            pending = CANARY_PREFIX + secrets.token_hex(16)
            async with engine.begin() as conn:
                await conn.execute(delete(deployment_record).where(
                    deployment_record.c.name == MOVE_CANARY))
                await conn.execute(insert(deployment_record).values(
                    name=MOVE_CANARY, value=pending, recorded_at=clock()))
            await target.create(pending)
        say("verifying every copy, then recording the new keyring ...")
        verified, dropped = await _verify_and_record(engine, source, target, recorded, pending,
                                                     clock)
        say(f"recorded: every copy checked ({verified}); the new keyring is the deployment's")
    else:
        say("the new keyring is recorded already: checking the copies of the keys left in the "
            "old one ...")
        verified, copied = await _check_after(engine, source, target)
    deleted = await _delete_old(engine, source, target, say) if delete_old else 0
    left = len(await source.entries())
    return Moved(copied=copied, verified=verified, erasing=erasing, dropped=dropped,
                 recorded=not moved, deleted=deleted, left=left)


async def _holds(keyring: AskarKeyring, learner_id: str) -> bool:
    try:
        await keyring.get(learner_id)
    except NotFound:
        return False
    return True


def _canary(learner_id: str) -> bool:
    return learner_id.startswith(CANARY_PREFIX)


def _to_move(held: dict[str, bytes], erasing: set[str]) -> dict[str, bytes]:
    """The keys that move: all but the canaries and those of erasures under way."""
    return {i: k for i, k in held.items() if not _canary(i) and i not in erasing}


def _alike(a: bytes, b: bytes) -> bool:
    return check_value(a) == check_value(b)


async def _copy(engine: AsyncEngine, source: AskarKeyring, target: AskarKeyring,
                ours: set[str], say: Callable[[str], None]) -> tuple[int, int]:
    """Every key to move not yet in the target, copied; ``(copied, erasing)``. A target
    holding keys of no learner of this deployment, or another key for one of them, is refused
    before anything is written."""
    held = await source.entries()
    there = await target.entries()
    async with engine.connect() as conn:
        erasing = await _erasing(conn)
        known = await _known(conn)
    foreign = [i for i in there if i not in held and i not in known and i not in ours]
    if foreign:
        raise SettingsError(f"--to names a keyring holding {len(foreign)} key(s) of no learner "
                            "of this deployment (another deployment's keyring?): name a new, "
                            "empty store")
    wanted = _to_move(held, erasing)
    if any(i in there and not _alike(there[i], k) for i, k in wanted.items()):
        raise SettingsError("--to names a keyring holding other keys for learners of this "
                            "deployment (another deployment's keyring?): name a new, empty "
                            "store")
    missing = [i for i in wanted if i not in there]
    skipped = len(erasing & set(held))
    say(f"{len(wanted)} key(s) to move, {len(wanted) - len(missing)} copied already; "
        f"{skipped} of erasure(s) under way not copied (the sweep finishes them)")
    for start in range(0, len(missing), _BATCH):
        batch = {i: wanted[i] for i in missing[start:start + _BATCH]}
        if await target.put_many(batch):  # written meanwhile by another process
            raise SettingsError("--to names a keyring another process writes to: name a new, "
                                "empty store")
        done = start + len(batch)
        if done % _EVERY < _BATCH or done == len(missing):
            say(f"{done}/{len(missing)} key(s) copied")
    return len(missing), skipped


async def _reconcile(conn: AsyncConnection, source: AskarKeyring, target: AskarKeyring,
                     pending: str) -> tuple[int, int, frozenset[str]]:
    """Before the record: the target made and checked to hold exactly the old keyring's keys
    that move, and its canary: ``(verified, dropped, the ids moved)``. What a concurrent erasure
    destroyed in the old keyring, or began erasing, is destroyed in the target; a key missing
    there is copied (a sign-up that finished meanwhile); a copy unlike its key stops it."""
    wanted = _to_move(await source.entries(), await _erasing(conn))
    there = await target.entries()
    dropped = 0
    for learner_id in there:
        if learner_id not in wanted and learner_id != pending:
            await target.destroy(learner_id)
            dropped += 1
    missing = {i: k for i, k in wanted.items() if i not in there}
    if missing and await target.put_many(missing):
        raise SettingsError("--to names a keyring another process writes to")
    there = await target.entries()
    unlike = sum(1 for i, k in wanted.items() if i not in there or not _alike(there[i], k))
    count = len(there) - (pending in there)
    if unlike or count != len(wanted) or pending not in there:
        raise Conflict(f"the new keyring does not hold the old one's keys ({unlike} unlike or "
                       f"missing, {count} held of {len(wanted)}): nothing was recorded")
    return len(wanted), dropped, frozenset(wanted)


async def _verify_and_record(engine: AsyncEngine, source: AskarKeyring, target: AskarKeyring,
                             recorded: str | None, pending: str, clock: Clock
                             ) -> tuple[int, int]:
    dropped = 0
    for _ in range(_TRIES):
        async with engine.connect() as conn:
            verified, more, moving = await _reconcile(conn, source, target, pending)
        dropped += more
        # the record, in one transaction that sees nothing erased, signed up or destroyed since
        # the verification (on PostgreSQL the learners table is locked against writes for it)
        async with serialised(engine, _MOVE_LOCK) as conn:
            if engine.dialect.name == "postgresql":
                await conn.execute(text("LOCK TABLE learners IN SHARE MODE"))
            now = frozenset(_to_move(dict.fromkeys(await source.learner_ids(), b""),
                                     await _erasing(conn)))
            if now != moving:
                continue  # the old keyring changed under it: verify again
            if recorded is None:  # a deployment from before the record
                await conn.execute(insert(deployment_record).values(
                    name=_CANARY, value=pending, recorded_at=clock()))
            elif (await conn.execute(update(deployment_record).where(
                    deployment_record.c.name == _CANARY,
                    deployment_record.c.value == recorded).values(
                    value=pending, recorded_at=clock()))).rowcount != 1:
                raise Conflict("the deployment record changed during the move")
            await conn.execute(delete(deployment_record).where(
                deployment_record.c.name == MOVE_CANARY))
            return verified, dropped
    raise ReplicasRunning("the old keyring kept changing during the move (sign-ups or erasures "
                          "at work): stop every replica")


async def _live(conn: AsyncConnection) -> set[str]:
    return set((await conn.execute(select(learners.c.id).where(
        learners.c.erasing_since.is_(None)))).scalars())


async def _check_after(engine: AsyncEngine, source: AskarKeyring, target: AskarKeyring
                       ) -> tuple[int, int]:
    """After the record the target is the deployment's keyring (replicas may sign up and
    erase in it): each key left in the old keyring of a learner whose account is whole is in
    the target alike — copied if it is missing (a replica of the old configuration signed
    them up after the record); nothing else in the target is touched. ``(verified, copied)``."""
    held = await source.entries()
    # the target read before the accounts: a key a replica's erasure destroyed there is then
    # either still read (not missing) or its account already marked (not whole), and an
    # erasure always marks the account before it destroys the key: never copied back
    there = await target.entries()
    async with engine.connect() as conn:
        live = await _live(conn)
    wanted = {i: k for i, k in held.items() if i in live}
    if any(i in there and not _alike(there[i], k) for i, k in wanted.items()):
        raise Conflict("a key of the old keyring has another copy in the new one: nothing "
                       "deleted")
    missing = {i: k for i, k in wanted.items() if i not in there}
    if missing and await target.put_many(missing):
        raise Conflict("the new keyring changed while a key was copied to it: run it again")
    return len(wanted), len(missing)


async def _delete_old(engine: AsyncEngine, source: AskarKeyring, target: AskarKeyring,
                      say: Callable[[str], None]) -> int:
    """Each key of the old keyring destroyed, once the copy of every whole account's key checks
    out (the keys of erasures under way, of learners gone and the canaries need none); the
    canaries last."""
    verified, _ = await _check_after(engine, source, target)
    held = await source.entries()
    say(f"deleting {len(held)} key(s) from the old keyring ...")
    order = sorted(held, key=_canary)  # the canaries last
    for start in range(0, len(order), _BATCH):
        await source.destroy_many(order[start:start + _BATCH])
        done = min(start + _BATCH, len(order))
        if done % _EVERY < _BATCH and done < len(order):
            say(f"{done}/{len(order)} key(s) deleted from the old keyring")
    return len(order)
