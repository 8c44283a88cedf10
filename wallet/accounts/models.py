"""Tables of the accounts store (the schema itself is owned by Alembic revision 0001)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, Integer, LargeBinary, MetaData, String, Table, Text

__all__ = ["CANARY_PREFIX", "STORE_UNAVAILABLE", "VAULT_CANARY", "deployment_record",
           "learner_owned", "learners", "metadata", "rate_limits", "revoked_sessions",
           "signup_intents"]

#: What a request hears when these tables cannot be reached (503; no driver detail).
STORE_UNAVAILABLE = "account store unavailable"

metadata = MetaData()

learners = Table(
    "learners", metadata,
    Column("id", String(36), primary_key=True),
    Column("username_hash", String(64), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("wrapped_keys", Text, nullable=False),
    Column("inbox_public", LargeBinary, nullable=False),
    Column("token_epoch", Integer, nullable=False, server_default="0"),
    # set (revision 0011) in the transaction that starts the account's erasure; the row is deleted
    # last, so an account marked here is one whose erasure a crash or a store failure cut short
    # (consent.rights finishes it)
    Column("erasing_since", DateTime(timezone=True), nullable=True, index=True),
)


def learner_owned(name: str, metadata: MetaData, *columns: Column[Any],
                  index_learner: bool = True) -> Table:
    """A table whose rows each belong to one learner: a UUID ``id`` and the owner's
    ``learner_id`` come first, and every query on it is scoped by that owner (tenant isolation;
    an erasure deletes by it). ``index_learner=False`` where a composite index leads with it."""
    return Table(name, metadata,
                 Column("id", String(36), primary_key=True),
                 Column("learner_id", String(36), nullable=False, index=index_learner),
                 *columns)


revoked_sessions = Table(
    "revoked_sessions", metadata,
    Column("session_id", String(32), primary_key=True),
    Column("learner_id", String(36), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

rate_limits = Table(
    "rate_limits", metadata,
    Column("bucket", String(64), primary_key=True),
    Column("window_start", BigInteger, nullable=False),
    Column("count", Integer, nullable=False),
)

#: A sign-up that has begun but not finished: written (and committed) before the learner's erasure
#: key and vault profile exist, deleted in the transaction that inserts the ``learners`` row. A row
#: that outlives the grace period marks an orphan for :mod:`wallet.accounts.sweep`.
#: ``started_at`` comes from the database's clock on PostgreSQL, so replicas with skewed clocks
#: agree on an intent's age; ``claimed_at`` is set when a sweep takes the intent over (a sign-up
#: that finishes after that fails instead of creating an account the sweep is dismantling).
signup_intents = Table(
    "signup_intents", metadata,
    Column("learner_id", String(36), primary_key=True),
    Column("started_at", DateTime(timezone=True), nullable=False, index=True),
    Column("claimed_at", DateTime(timezone=True), nullable=True),
)

#: The deployment canaries' ids (holder_api.compose.deployment) start with this; with the
#: deployment's stamp after it an id is longer than any learner id (36 characters), which is what
#: keeps the orphan sweep away from it (wallet.accounts.sweep).
CANARY_PREFIX = "satchel-deployment-canary-"
#: The vault canary's category in the vault's default profile (a record of no learner's).
VAULT_CANARY = "satchel.deployment"

#: What the deployment was first started with, one row per name (revision 0010): key-check values
#: of its secrets, its token issuer, its canaries' ids and its stamp — never a secret. Every
#: start compares (holder_api.compose.deployment).
deployment_record = Table(
    "deployment_record", metadata,
    Column("name", String(32), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
