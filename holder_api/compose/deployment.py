"""One deployment, one identity: what the shared database recorded at the first start, compared at
every start, before the replica serves anything (docs/operations.md: "A replica that lacks
something does not start").

Replicas share a database but each reads its secrets from its own environment, and nothing in a
username hash, a token or an erasure key says which secret or keyring made it: a replica started
with another ``SATCHEL_DATA_KEY`` or ``SATCHEL_SESSION_KEY``, or pointed at another keyring or
vault, used to start, answer ready and then fail every learner of the others with a 401 (or a
404 "no vault") — or, worse, sign them up a second time. So the ``deployment_record`` table
(revision 0010) holds, one row each:

- ``data_key`` / ``session_key``: key-check values (:class:`~wallet.accounts.tokens.ServiceKeys`:
  a keyed hash of a constant under a key derived from the secret — never the secret, nothing that
  signs or seals);
- ``issuer``: the access tokens' ``iss`` (``SATCHEL_DEPLOYMENT_ID`` or the one the data key
  derives);
- ``keyring_canary`` / ``vault_canary``: the id of an entry the first start created in the
  keyring, and of a record it created in the vault (in Askar's default profile, no learner's):
  ids longer than any learner id, so no sweep takes them for a learner's;
- ``stamp``: the deployment's own random id (not ``SATCHEL_DEPLOYMENT_ID``, the issuer), which
  the first start puts in both canaries (their ids are :data:`CANARY_PREFIX` + stamp, and the
  vault canary's value is the stamp): the vault and the keyring say which deployment they
  belong to, not only the accounts database.

(The same table holds ``schema_floor``, which is no setting of a replica: the oldest schema
revision whose releases may run against the database, holder_api.compose.migrations. Only the
rows of :data:`IDENTITY` are compared or recorded here.)

The first start of a deployment records them — only into a vault and a keyring that belong to
no other deployment: an accounts database with no record and no account (a replica given a
wrong, empty ``SATCHEL_DATABASE_URL``) beside a vault or keyring that holds another stamp's
canary, or learners' vaults or keys this database does not name, is refused (it used to be taken
for a first start: a new record, new canaries in the real stores, and then every real learner a
"stray" to `satchel sweep --adopt-strays`). The stamp is committed before any canary is made, so
a first start that dies half-way is taken up again by the next, which finds only its own stamp's
canaries. An operator command (``first=False``) records no deployment at all where there is
none. A deployment recorded before stamps (its canaries carry none) is stamped at its next start
once everything else is compared. What is not recorded yet while accounts exist (a
deployment upgraded from a version without the record or without one of its rows, or a row an
operator deleted) is checked first against what the data was made with: the data key against
the signing key of the newest consent-ledger head, the keyring and the vault against a few
learners' erasure keys and vault profiles. The data key protects nothing else a learner is sure
to have (their username hash is keyed with it, but the username is not kept), so when no ledger
head can vouch for it, it is not recorded on this replica's word: the start is refused until an
operator runs ``satchel record-deployment`` with the key the data was made with. Every later
start compares, and a difference is a :class:`~holder_api.settings.SettingsError` naming the
setting (exit status 2, nothing written); the ``session_key`` row an operator deleted is
recorded again by the next start (how the session key is rotated: docs/operations.md). The
record is read and written in one :func:`~wallet.db.serialised` transaction, so of two replicas
starting together on a fresh database one records and the other compares.

:func:`check_separate_stores` checks, before any store is opened, that the keyring is not the
accounts database or the vault under another spelling of its URI (crypto-shredding needs the
erasure keys apart from the data and its backups): it asks each server which database it is.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
from sqlalchemy import Table, desc, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from consent.models import metadata as consent_tables
from holder_api.settings import KeyringInData, Settings, SettingsError, sqlite_file
from wallet import jose
from wallet.accounts.models import (
    CANARY_PREFIX,
    VAULT_CANARY,
    deployment_record,
    learners,
    signup_intents,
)
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import Clock
from wallet.db import serialised
from wallet.errors import Conflict, NotFound, Unavailable
from wallet.keyring import FileKeyring, Keyring, ListableKeyring
from wallet.vault import VaultStore

__all__ = ["CANARY_PREFIX", "IDENTITY", "check_deployment", "check_separate_stores",
           "check_unclaimed", "is_recorded", "other_sessions", "remove_stray_canaries",
           "same_store"]

_VAULT_CANARY = VAULT_CANARY
#: How long a starting replica waits for another that is recording the deployment.
_RECORD_WAIT = 60.0
#: Learners whose erasure keys and vault profiles an upgraded deployment's keyring and vault are
#: asked for (one is enough).
_SAMPLE = 8
_LOCK = "satchel-deployment-record"
#: The rows that say which secrets, keyring and vault the deployment was made with
#: (``deployment_record`` also holds ``schema_floor``, holder_api.compose.migrations, which is no
#: setting of a replica).
IDENTITY = ("data_key", "session_key", "issuer", "keyring_canary", "vault_canary", "stamp")
_HEADS: Table = consent_tables.tables["ledger_heads"]
#: How long the start-up check of a store's server waits for it.
_CONNECT_TIMEOUT = 10.0


def _data_setting(data_key_set: bool) -> str:
    return ("SATCHEL_DATA_KEY" if data_key_set else
            "SATCHEL_SESSION_KEY (without SATCHEL_DATA_KEY it also keys the learners' data)")


async def is_recorded(engine: AsyncEngine) -> bool:
    """Whether a first start already recorded this deployment (the schema is migrated)."""
    async with engine.connect() as conn:
        return (await conn.execute(select(deployment_record.c.name).where(
            deployment_record.c.name == "keyring_canary"))).first() is not None


async def check_deployment(engine: AsyncEngine, keyring: Keyring, vault: VaultStore,
                           keys: ServiceKeys, *, issuer: str, data_key_set: bool, clock: Clock,
                           record: bool = True, first: bool = True,
                           data_key_vouched: bool = False) -> tuple[str, ...]:
    """Record the deployment at its first start, or compare with the record; the names of the
    rows this call recorded (none: it only compared; both canaries: it was the first start).
    :class:`SettingsError` (nothing written) when this replica is not set up like the
    deployment, or its vault or keyring belong to another. ``record=False`` (the
    operator commands, which create nothing): the same checks, and nothing recorded even where
    nothing is yet. ``first=False`` (every operator command): an accounts database that names no
    deployment (no record, no account) is refused, never taken for a first start.
    ``data_key_vouched``: an operator vouches for the data key where the data cannot (``satchel
    record-deployment``)."""
    recorded: list[str] = []
    while True:
        async with serialised(engine, _LOCK, wait=_RECORD_WAIT) as conn:
            rows = {r.name: r.value for r in await conn.execute(
                select(deployment_record.c.name, deployment_record.c.value)
                .where(deployment_record.c.name.in_(IDENTITY)))}
            await _compare(rows, keyring, vault, keys, issuer=issuer,
                           data_key_set=data_key_set)
            # what is not recorded yet: everything at the first start; a row an operator
            # deleted (how the session key is rotated: docs/operations.md), or one an earlier
            # version did not record, at the next start — checked against the data first
            if "data_key" not in rows:
                await _check_data_key(conn, keys, data_key_set=data_key_set,
                                      vouched=data_key_vouched)
            accounts = await _some_accounts(conn)
            anyone = bool(accounts) or await _any_account(conn)
            unrecorded = "keyring_canary" not in rows and "vault_canary" not in rows
            if unrecorded and not anyone and not first:
                raise SettingsError(
                    "SATCHEL_DATABASE_URL names no deployment (its accounts database holds no "
                    "record and no account; `satchel serve` records one at its first start): "
                    "is it the deployment's database? Nothing was changed")
            if accounts and "keyring_canary" not in rows:
                await _check_keyring(keyring, accounts)
            if accounts and "vault_canary" not in rows:
                await _check_vault(vault, accounts)
            if not anyone and ("keyring_canary" not in rows or "vault_canary" not in rows):
                # a first start: never into another deployment's stores
                await _check_unclaimed(conn, rows, keyring, vault)
            if not record:
                return ()
            stamp = rows.get("stamp")
            if stamp is None:
                # committed before any store holds it: a start that dies after this is taken up
                # by the next, which finds only this stamp's canaries (a deployment recorded
                # before stamps gets one here, everything else compared)
                await conn.execute(insert(deployment_record).values(
                    name="stamp", value=secrets.token_hex(16), recorded_at=clock()))
                recorded.append("stamp")
                continue
            wanted = {"data_key": keys.data_check, "session_key": keys.session_check,
                      "issuer": issuer}
            missing = [(name, value) for name, value in wanted.items() if name not in rows]
            canary = CANARY_PREFIX + stamp
            if "keyring_canary" not in rows:
                try:
                    await keyring.create(canary)
                except Conflict:
                    pass  # made by a start that died before it recorded it
                missing.append(("keyring_canary", canary))
            if "vault_canary" not in rows:
                own = await vault.own_records()
                if await own.fetch(_VAULT_CANARY, canary) is None:
                    await own.insert(_VAULT_CANARY, canary, stamp.encode(), {})
                missing.append(("vault_canary", canary))
            if missing:
                now = clock()
                await conn.execute(insert(deployment_record), [
                    {"name": name, "value": value, "recorded_at": now}
                    for name, value in missing])
            return (*recorded, *(name for name, _ in missing))


def _ours(name: str, rows: Mapping[str, str], row: str) -> bool:
    """Whether a canary id is this deployment's: the one recorded, or its stamp's."""
    return name == rows.get(row) or ("stamp" in rows and name == CANARY_PREFIX + rows["stamp"])


async def _check_unclaimed(conn: AsyncConnection, rows: Mapping[str, str], keyring: Keyring,
                           vault: VaultStore) -> None:
    """A first start (no account): the vault and the keyring it records canaries in hold no
    other deployment's canary, and no learner's vault or key that this database does not name
    (a sign-up intent's: a crashed sign-up of its own)."""
    named = set((await conn.execute(select(signup_intents.c.learner_id))).scalars())
    await check_unclaimed(rows, named, keyring, vault)


async def check_unclaimed(rows: Mapping[str, str], named: set[str], keyring: Keyring | None,
                          vault: VaultStore | None) -> None:
    """:class:`SettingsError` when the vault or the keyring (``None``: none there yet) hold
    another deployment's canary, or a learner's vault or key that ``named`` (this database's
    sign-up intents) lacks. ``rows``: the deployment record so far (empty before the schema
    exists: a start on a database without one asks before it migrates it)."""
    if vault is not None and "vault_canary" not in rows:
        if any(not _ours(n, rows, "vault_canary") for n, _ in
               await (await vault.own_records()).fetch_all(_VAULT_CANARY)):
            raise _claimed("vault", "SATCHEL_VAULT_URI", "another deployment's canary")
        held = [p for p in await vault.learner_profiles() if p not in named]
        if held:
            raise _claimed("vault", "SATCHEL_VAULT_URI", f"{len(held)} learner vault(s)")
    if keyring is None or "keyring_canary" in rows:
        return
    if isinstance(keyring, ListableKeyring):
        listed = [n for n in await keyring.learner_ids() if not _ours(n, rows, "keyring_canary")]
        if any(n.startswith(CANARY_PREFIX) for n in listed):
            raise _claimed("keyring", "SATCHEL_KEYRING_URI", "another deployment's canary")
        unknown = len([n for n in listed if n not in named])
    elif isinstance(keyring, FileKeyring):
        # its file names are hashes: every file but those of the names this database knows
        mine = named | ({CANARY_PREFIX + rows["stamp"]} if "stamp" in rows else set())
        files = await asyncio.to_thread(lambda: sum(1 for _ in keyring.folder.glob("*.key")))
        unknown = files - sum([await _has_key(keyring, n) for n in mine])
    else:
        return
    if unknown > 0:
        raise _claimed("keyring", "SATCHEL_KEYRING_URI", f"{unknown} key(s)")


async def _has_key(keyring: Keyring, name: str) -> bool:
    try:
        await keyring.get(name)
    except NotFound:
        return False
    return True


def _claimed(store: str, setting: str, what: str) -> SettingsError:
    return SettingsError(
        f"SATCHEL_DATABASE_URL names no deployment's record while the {store} at {setting} "
        f"belongs to one (it holds {what} this accounts database does not name): point "
        "SATCHEL_DATABASE_URL at that deployment's database, or the setting at a store of its "
        "own (docs/operations.md, \"Running at scale\"). Nothing was written")


async def _compare(rows: Mapping[str, str], keyring: Keyring, vault: VaultStore,
                   keys: ServiceKeys, *, issuer: str, data_key_set: bool) -> None:
    """Each recorded value against this replica's (a value not recorded is not compared)."""
    if rows.get("data_key", keys.data_check) != keys.data_check:
        raise SettingsError(f"{_data_setting(data_key_set)} is not the one this deployment was "
                            "first started with: every replica needs the same")
    if rows.get("session_key", keys.session_check) != keys.session_check:
        raise SettingsError("SATCHEL_SESSION_KEY is not the one this deployment was first "
                            "started with: every replica needs the same (rotating it: "
                            "docs/operations.md)")
    if rows.get("issuer", issuer) != issuer:
        raise SettingsError("SATCHEL_DEPLOYMENT_ID does not give the token issuer this "
                            "deployment was first started with: set it alike on every replica")
    if "keyring_canary" in rows:
        try:
            await keyring.get(rows["keyring_canary"])
        except NotFound:
            raise SettingsError("SATCHEL_KEYRING_URI does not name this deployment's keyring (it "
                                "lacks the entry its first start made there): every replica "
                                "needs the same keyring") from None
    if "vault_canary" in rows and await (await vault.own_records()).fetch(
            _VAULT_CANARY, rows["vault_canary"]) is None:
        raise SettingsError("SATCHEL_VAULT_URI does not name this deployment's vault (it lacks "
                            "the record its first start made there): every replica needs the "
                            "same vault")


async def _some_accounts(conn: AsyncConnection) -> list[str]:
    """A few learners whose accounts are whole (not being erased: their key and vault may be
    gone already)."""
    return list((await conn.execute(select(learners.c.id).where(
        learners.c.erasing_since.is_(None)).limit(_SAMPLE))).scalars())


async def _any_account(conn: AsyncConnection) -> bool:
    return (await conn.execute(select(learners.c.id).limit(1))).first() is not None


async def _check_data_key(conn: AsyncConnection, keys: ServiceKeys, *, data_key_set: bool,
                          vouched: bool) -> None:
    """Is the data already there made with this data key? The newest consent-ledger head says
    (it is signed with a key the data key derives); without one, nothing every account has can
    (a username hash is keyed with it, but the username is not kept), and an operator must."""
    head = (await conn.execute(select(_HEADS.c.signed_head).order_by(
        desc(_HEADS.c.updated_at)).limit(1))).scalar_one_or_none()
    if head is not None:
        kid = jose.parse_compact(head).header.get("kid")
        if kid != jose.jwk_thumbprint(jose.public_jwk(keys.ledger_signing)):
            raise SettingsError(f"{_data_setting(data_key_set)} is not the key this "
                                "deployment's data was made with (its consent ledger is signed "
                                "with another)")
        return
    if vouched:
        return
    count = (await conn.execute(select(func.count()).select_from(learners))).scalar_one()
    if count:
        raise SettingsError(f"{_data_setting(data_key_set)} cannot be checked against this "
                            f"deployment's {count} account(s), which have no consent-ledger "
                            "entry to check it by: with the key they were made with, run "
                            "`satchel record-deployment` once (docs/operations.md)")


async def _check_keyring(keyring: Keyring, accounts: Sequence[str]) -> None:
    for learner_id in accounts:
        try:
            await keyring.get(learner_id)
        except NotFound:
            continue
        return
    raise SettingsError("SATCHEL_KEYRING_URI does not name this deployment's keyring (it holds "
                        "none of its learners' erasure keys)")


async def _check_vault(vault: VaultStore, accounts: Sequence[str]) -> None:
    for learner_id in accounts:
        if await vault.has_profile(learner_id):  # one name looked up
            return
    raise SettingsError("SATCHEL_VAULT_URI does not name this deployment's vault (it holds "
                        "none of its learners' vaults)")


# ------------------------------------------------------------------------- the stores' servers

@dataclass(frozen=True, slots=True)
class _Database:
    """Which database a connection reached, as its server says (never as its URI is spelt)."""

    name: str
    started: str  # pg_postmaster_start_time(): one server's, to the microsecond
    system: str | None  # pg_control_system()'s identifier, where the role may read it

    def same_as(self, other: _Database) -> bool:
        if self.system is not None and other.system is not None:
            same_server = self.system == other.system
        else:
            same_server = self.started == other.started
        return same_server and self.name == other.name


_WHICH = "SELECT current_database(), pg_postmaster_start_time()::text"
_SYSTEM = "SELECT system_identifier::text FROM pg_control_system()"
#: what asyncpg takes of an Askar (sqlx) PostgreSQL URI's query; the rest is Askar's own
#: (max_connections, options[...]) and would reach the server as settings
_DSN_PARAMS = frozenset({"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword", "host",
                         "port", "user", "password", "dbname", "passfile"})


async def _which(conn: asyncpg.Connection) -> _Database:
    name, started = await conn.fetchrow(_WHICH)
    try:
        system = await conn.fetchval(_SYSTEM)
    except asyncpg.InsufficientPrivilegeError:  # a server that keeps it to its monitors
        system = None
    return _Database(name, started, system)


async def _askar_database(setting: str, uri: str) -> _Database | None:
    """The database an Askar PostgreSQL URI (``setting``'s) names; ``None`` if it does not
    exist yet (Askar creates it: then it is none of the others)."""
    parts = urlsplit(uri)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k in _DSN_PARAMS])
    dsn = urlunsplit(("postgresql", parts.netloc, parts.path, query, ""))
    try:
        conn = await asyncpg.connect(dsn, timeout=_CONNECT_TIMEOUT)
    except asyncpg.InvalidCatalogNameError:
        return None
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise Unavailable(f"the server {setting} names could not be asked which database it "
                          "is") from exc
    try:
        return await _which(conn)
    finally:
        await conn.close()


async def other_sessions(uri: str) -> int:
    """How many client sessions but the asking one are connected to the database an Askar
    PostgreSQL URI names (0 when it does not exist)."""
    parts = urlsplit(uri)
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if k in _DSN_PARAMS])
    try:
        conn = await asyncpg.connect(urlunsplit(("postgresql", parts.netloc, parts.path, query,
                                                 "")), timeout=_CONNECT_TIMEOUT)
    except asyncpg.InvalidCatalogNameError:
        return 0
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        raise Unavailable("the server SATCHEL_KEYRING_URI names could not be asked who is "
                          "connected") from exc
    try:
        return int(await conn.fetchval(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"))
    finally:
        await conn.close()


async def _accounts_database(engine: AsyncEngine) -> _Database:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        return await _which(raw.driver_connection)


async def check_separate_stores(settings: Settings, engine: AsyncEngine) -> None:
    """:class:`SettingsError` when the keyring is the accounts database or the vault, however
    their URIs are spelt (``postgres://`` or ``postgresql+asyncpg://``, ``localhost`` or
    ``127.0.0.1``, a symbolic link to a SQLite file): asked of the servers (files) themselves,
    before either store is opened."""
    keyring = settings.keyring_uri
    if keyring.startswith("sqlite:"):
        ring = sqlite_file(keyring)
        for setting, other in (
                ("SATCHEL_DATABASE_URL", sqlite_file(settings.database_url, sqlalchemy=True)),
                ("SATCHEL_VAULT_URI", sqlite_file(settings.vault_uri))):
            if ring is not None and other is not None and _same_file(ring, other):
                raise _same(setting)
        return
    if not keyring.startswith("postgres://"):
        return  # a folder: not a database
    ring_db = await _askar_database("SATCHEL_KEYRING_URI", keyring)
    if ring_db is None:
        return
    if engine.dialect.name == "postgresql" and ring_db.same_as(
            await _accounts_database(engine)):
        raise _same("SATCHEL_DATABASE_URL")
    if settings.vault_uri.startswith("postgres://"):
        vault_db = await _askar_database("SATCHEL_VAULT_URI", settings.vault_uri)
        if vault_db is not None and ring_db.same_as(vault_db):
            raise _same("SATCHEL_VAULT_URI")


async def same_store(a: str, b: str) -> bool:
    """Whether two Askar URIs name one store (asked of the files, the servers), however spelt:
    `satchel move-keyring`'s target is not its source."""
    if a.startswith("sqlite:") and b.startswith("sqlite:"):
        one, other = sqlite_file(a), sqlite_file(b)
        return one is not None and other is not None and _same_file(one, other)
    if a.startswith("postgres://") and b.startswith("postgres://"):
        first = await _askar_database("SATCHEL_KEYRING_URI", a)
        second = await _askar_database("--to", b)
        return first is not None and second is not None and first.same_as(second)
    return False


def _same_file(a: str, b: str) -> bool:
    """One file under two names (a link): one stat each, at start-up only."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist yet: it is not the other
        return False


def _same(setting: str) -> SettingsError:
    return KeyringInData(setting)


# --------------------------------------------------------------------------- stray canaries

#: The deployment record's row of a keyring move under way (holder_api.compose.keyring_move).
_MOVE_CANARY = "keyring_move_canary"


async def remove_stray_canaries(engine: AsyncEngine, vault: VaultStore, keyring: Keyring, *,
                                owner: AsyncEngine | None = None) -> int:
    """Remove the deployment canaries in the vault and the keyring that this deployment did not
    record, when they are provably stray; how many were removed. :class:`SettingsError`
    (nothing removed) otherwise.

    A canary this database did not record is another deployment's, or a leftover of a release
    before stamps (a first start that died, or two that raced, before the record). It guards
    `satchel sweep --adopt-strays`: while it is there, the learners of the deployment it names
    are not taken for strays. So it is removed only when it guards nobody:

    - made before stamps (the vault canary's value empty): one made since is another
      deployment's, whose stamp it carries, and is never removed;
    - and either the stores hold no learner's vault or (listable) key that this database does
      not name (an account or a sign-up intent), or ``owner`` — the accounts database the
      operator says recorded it — records it and holds no account and no sign-up intent (a
      deployment with no learner anywhere).
    """
    async with engine.connect() as conn:
        rows = {r.name: r.value for r in await conn.execute(
            select(deployment_record.c.name, deployment_record.c.value)
            .where(deployment_record.c.name.in_((*IDENTITY, _MOVE_CANARY))))}
        named = set((await conn.execute(select(learners.c.id))).scalars())
        named |= set((await conn.execute(select(signup_intents.c.learner_id))).scalars())
    if "vault_canary" not in rows or "keyring_canary" not in rows:
        raise SettingsError("this deployment is not recorded yet (its first start of this "
                            "release records it): start a replica first. Nothing was removed")
    if _MOVE_CANARY in rows:
        raise SettingsError("a keyring move is under way (`satchel move-keyring`): finish it "
                            "first. Nothing was removed")
    own = await vault.own_records()
    in_vault = [(n, v) for n, v in await own.fetch_all(_VAULT_CANARY) if n != rows["vault_canary"]]
    stamped = [n for n, v in in_vault if v]
    if stamped:
        raise SettingsError(f"the vault holds {len(stamped)} canary of another deployment "
                            "made since stamps (its value is that deployment's stamp): it is "
                            "not stray, its accounts database uses these stores. Nothing was "
                            "removed")
    listable = isinstance(keyring, ListableKeyring)
    in_keyring = ([n for n in await keyring.learner_ids()
                   if n.startswith(CANARY_PREFIX) and n != rows["keyring_canary"]]
                  if isinstance(keyring, ListableKeyring) else [])
    if not in_vault and not in_keyring:
        return 0
    strays = {n for n, _ in in_vault} | set(in_keyring)
    if owner is not None:
        await _owned_by_nobody(owner, strays, rows)
    else:
        profiles = [p for p in await vault.learner_profiles() if p not in named]
        keys = ([n for n in await keyring.learner_ids()
                 if not n.startswith(CANARY_PREFIX) and n not in named]
                if isinstance(keyring, ListableKeyring) else [])
        if profiles or keys:
            raise SettingsError(
                f"the stores hold {len(profiles)} learner vault(s) and {len(keys)} erasure "
                f"key(s){'' if listable else ' (the folder keyring is not counted)'} that this "
                "accounts database does not name: they may be the learners of the deployment "
                "the stray canary names. Name that deployment's accounts database with "
                "--canary-owner URL (the canary is removed only if it records it and holds no "
                "account). Nothing was removed")
    for name, _ in in_vault:
        await own.remove(_VAULT_CANARY, name)
    for name in in_keyring:
        await keyring.destroy(name)
    return len(in_vault) + len(in_keyring)


async def _owned_by_nobody(owner: AsyncEngine, strays: set[str],
                           ours: Mapping[str, str]) -> None:
    """The accounts database ``owner`` recorded every stray canary and names no learner."""
    from holder_api.compose.migrations import has_schema

    if not await has_schema(owner):
        raise SettingsError("--canary-owner names a database without Satchel's schema. "
                            "Nothing was removed")
    async with owner.connect() as conn:
        rows = {r.name: r.value for r in await conn.execute(
            select(deployment_record.c.name, deployment_record.c.value)
            .where(deployment_record.c.name.in_(IDENTITY)))}
        accounts = (await conn.execute(select(func.count()).select_from(learners))).scalar_one()
        intents = (await conn.execute(
            select(func.count()).select_from(signup_intents))).scalar_one()
    if rows.get("vault_canary") == ours["vault_canary"]:
        raise SettingsError("--canary-owner names this deployment's own accounts database. "
                            "Nothing was removed")
    recorded = {rows.get("vault_canary"), rows.get("keyring_canary")}
    if "stamp" in rows:
        recorded.add(CANARY_PREFIX + rows["stamp"])
    if not strays <= recorded:
        raise SettingsError(f"--canary-owner names a database that does not record "
                            f"{len(strays - recorded)} of the stray canaries. Nothing was "
                            "removed")
    if accounts or intents:
        raise SettingsError(f"--canary-owner names a deployment that holds {accounts} "
                            f"account(s) and {intents} sign-up(s) under way: its learners may "
                            "live in these stores, so its canary is not stray. Nothing was "
                            "removed")
