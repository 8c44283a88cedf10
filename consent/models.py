"""Tables of the consent ledger (SQLAlchemy 2), in their own ``MetaData``.

Spec: docs/consent.md; GDPR Art. 25 (data protection by design), Art. 32 (pseudonymisation and
encryption), https://eur-lex.europa.eu/eli/reg/2016/679/oj .

What is stored in clear, and why (nothing else is):

- ``learner_ref`` — the pseudonymous per-learner id (not the username);
- ``seq``, ``at``, ``kind`` — needed to order, page and filter by kind and time; they say *that*
  something happened, never which claims or values;
- ``counterparty_tag`` — HMAC-SHA-256 of the verifier/institution id under a per-learner random
  **blinding key**; the key is stored only sealed under the learner's vault key (``ledger_heads.
  sealed_blind_key``), so filtering by counterparty works for an unlocked learner only, and tags of
  two learners for the same verifier cannot be linked;
- ``sealed_body`` — the event (counterparty, purpose, claim paths, ...) sealed under the learner's
  vault key; ``body_digest`` its SHA-256, so the chain survives erasure of the body;
- ``prev_hash`` / ``entry_hash`` — the chain (see :mod:`consent.chain`).

``ledger_heads`` is a separate table holding the signed head (last seq and hash): deleting the
newest entries cannot also rewrite a signature the database does not have the key for.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Index,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = ["Base", "LedgerEntryRow", "LedgerHeadRow", "create_all", "metadata"]

metadata = MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
})


class Base(DeclarativeBase):
    metadata = metadata


class LedgerEntryRow(Base):
    """One entry of a learner's chain."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        UniqueConstraint("learner_ref", "seq"),
        Index(None, "learner_ref", "kind", "seq"),
        Index(None, "learner_ref", "counterparty_tag", "seq"),
        Index(None, "learner_ref", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    learner_ref: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(BigInteger)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(String(32))
    counterparty_tag: Mapped[str | None] = mapped_column(String(64))
    sealed_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    body_digest: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64))


class LedgerHeadRow(Base):
    """The signed head of a learner's chain, and the learner's sealed blinding key."""

    __tablename__ = "ledger_heads"

    learner_ref: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_head: Mapped[str] = mapped_column(Text)
    sealed_blind_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    erased: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


async def create_all(engine: AsyncEngine) -> None:
    """Create the ledger tables (tests and the embedded default; production uses Alembic)."""
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
