"""One deployment, one identity: what the shared database recorded at the first start, compared at
every start, before the replica serves anything (docs/operations.md: "A replica that lacks
something does not start").

Replicas share a database but each reads its secrets from its own environment, and nothing in a
username hash, a token or an erasure key says which secret or keyring made it: a replica started
with another ``SATCHEL_DATA_KEY`` or ``SATCHEL_SESSION_KEY``, or pointed at another keyring, used
to start, answer ready and then fail every learner of the others with a 401 — or, worse, sign
them up a second time. So the ``deployment_record`` table (revision 0010) holds, one row each:

- ``data_key`` / ``session_key``: key-check values (:class:`~wallet.accounts.tokens.ServiceKeys`:
  a keyed hash of a constant under a key derived from the secret — never the secret, nothing that
  signs or seals);
- ``issuer``: the access tokens' ``iss`` (``SATCHEL_DEPLOYMENT_ID`` or the one the data key
  derives);
- ``keyring_canary``: the id of an entry the first start created in the keyring (a random id
  longer than any learner id, so no sweep takes it for a learner's key).

(The same table holds ``schema_floor``, which is no setting of a replica: the oldest schema
revision whose releases may run against the database, holder_api.compose.migrations. Only the
rows of :data:`IDENTITY` are compared or recorded here.)

The first start of a deployment records them; an upgraded deployment with data already in it
is checked first, cheaply, against what that data was made with: the signing key of its newest
consent-ledger head and a few learners' erasure keys. Every later start compares them, and a
difference is a :class:`~holder_api.settings.SettingsError` naming the setting (exit status 2,
nothing written); a row an operator deleted is recorded again by the next start (how the session
key is rotated: docs/operations.md). The record is read and written in one
:func:`~wallet.db.serialised` transaction, so of two replicas starting together on a fresh
database one records and the other compares.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from sqlalchemy import Table, desc, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from consent.models import metadata as consent_tables
from holder_api.settings import SettingsError
from wallet import jose
from wallet.accounts.models import deployment_record, learners
from wallet.accounts.tokens import ServiceKeys
from wallet.clock import Clock
from wallet.db import serialised
from wallet.errors import NotFound
from wallet.keyring import Keyring

__all__ = ["CANARY_PREFIX", "IDENTITY", "check_deployment", "is_recorded"]

#: The keyring canary's id starts with this; with its random part it is longer than any learner
#: id (36 characters), which is what keeps the orphan sweep away from it (wallet.accounts.sweep).
CANARY_PREFIX = "satchel-deployment-canary-"
#: How long a starting replica waits for another that is recording the deployment.
_RECORD_WAIT = 60.0
#: Learners whose erasure keys an upgraded deployment's keyring is asked for (one is enough).
_SAMPLE = 8
_LOCK = "satchel-deployment-record"
#: The rows that say which secrets and keyring the deployment was made with (``deployment_record``
#: also holds ``schema_floor``, holder_api.compose.migrations, which is no setting of a replica).
IDENTITY = ("data_key", "session_key", "issuer", "keyring_canary")
_HEADS: Table = consent_tables.tables["ledger_heads"]


def _data_setting(data_key_set: bool) -> str:
    return ("SATCHEL_DATA_KEY" if data_key_set else
            "SATCHEL_SESSION_KEY (without SATCHEL_DATA_KEY it also keys the learners' data)")


async def is_recorded(engine: AsyncEngine) -> bool:
    """Whether a first start already recorded this deployment (the schema is migrated)."""
    async with engine.connect() as conn:
        return (await conn.execute(select(deployment_record.c.name).where(
            deployment_record.c.name == "keyring_canary"))).first() is not None


async def check_deployment(engine: AsyncEngine, keyring: Keyring, keys: ServiceKeys, *,
                           issuer: str, data_key_set: bool, clock: Clock,
                           record: bool = True) -> bool:
    """Record the deployment at its first start, or compare with the record; ``True`` when this
    call recorded it. :class:`SettingsError` (nothing written) when this replica is not set up
    like the deployment. ``record=False`` (the operator commands, which create nothing): the
    same checks, and nothing recorded even where nothing is yet."""
    async with serialised(engine, _LOCK, wait=_RECORD_WAIT) as conn:
        rows = {r.name: r.value for r in await conn.execute(
            select(deployment_record.c.name, deployment_record.c.value)
            .where(deployment_record.c.name.in_(IDENTITY)))}
        if rows:
            await _compare(rows, keyring, keys, issuer=issuer, data_key_set=data_key_set)
        else:
            await _check_existing_data(conn, keyring, keys, data_key_set=data_key_set)
        if not record:
            return False
        # what is not recorded yet: everything at the first start; a row an operator deleted
        # (how the session key is rotated: docs/operations.md) at the next start
        wanted = {"data_key": keys.data_check, "session_key": keys.session_check,
                  "issuer": issuer}
        missing = [(name, value) for name, value in wanted.items() if name not in rows]
        if "keyring_canary" not in rows:
            canary = CANARY_PREFIX + secrets.token_hex(16)
            await keyring.create(canary)
            missing.append(("keyring_canary", canary))
        if missing:
            now = clock()
            await conn.execute(insert(deployment_record), [
                {"name": name, "value": value, "recorded_at": now} for name, value in missing])
        return not rows


async def _compare(rows: Mapping[str, str], keyring: Keyring, keys: ServiceKeys, *,
                   issuer: str, data_key_set: bool) -> None:
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
    if "keyring_canary" not in rows:
        return
    try:
        await keyring.get(rows["keyring_canary"])
    except NotFound:
        raise SettingsError("SATCHEL_KEYRING_URI does not name this deployment's keyring (it "
                            "lacks the entry its first start made there): every replica needs "
                            "the same keyring") from None


async def _check_existing_data(conn: AsyncConnection, keyring: Keyring, keys: ServiceKeys, *,
                               data_key_set: bool) -> None:
    """An upgraded deployment's first record: is what is already there made with these?"""
    head = (await conn.execute(select(_HEADS.c.signed_head).order_by(
        desc(_HEADS.c.updated_at)).limit(1))).scalar_one_or_none()
    if head is not None:
        kid = jose.parse_compact(head).header.get("kid")
        if kid != jose.jwk_thumbprint(jose.public_jwk(keys.ledger_signing)):
            raise SettingsError(f"{_data_setting(data_key_set)} is not the key this "
                                "deployment's data was made with (its consent ledger is signed "
                                "with another)")
    sample = list((await conn.execute(select(learners.c.id).limit(_SAMPLE))).scalars())
    for learner_id in sample:
        try:
            await keyring.get(learner_id)
        except NotFound:
            continue
        return
    if sample:
        raise SettingsError("SATCHEL_KEYRING_URI does not name this deployment's keyring (it "
                            "holds none of its learners' erasure keys)")
