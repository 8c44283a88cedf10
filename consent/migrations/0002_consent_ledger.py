"""Alembic revision: the consent ledger tables (``ledger_entries``, ``ledger_heads``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; the schema and its
reasons are in :mod:`consent.models`. Written out column by column (not imported from the models)
so that the revision keeps describing *this* schema when the models move on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0002_consent_ledger"
down_revision = "0001_accounts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("learner_ref", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("counterparty_tag", sa.String(64), nullable=True),
        sa.Column("sealed_body", sa.LargeBinary(), nullable=True),
        sa.Column("body_digest", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_entries"),
        sa.UniqueConstraint("learner_ref", "seq", name="uq_ledger_entries_learner_ref_seq"),
    )
    op.create_index("ix_ledger_entries_learner_ref_kind_seq", "ledger_entries",
                    ["learner_ref", "kind", "seq"])
    op.create_index("ix_ledger_entries_learner_ref_counterparty_tag_seq", "ledger_entries",
                    ["learner_ref", "counterparty_tag", "seq"])
    op.create_index("ix_ledger_entries_learner_ref_at", "ledger_entries", ["learner_ref", "at"])
    op.create_table(
        "ledger_heads",
        sa.Column("learner_ref", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(64), nullable=False),
        sa.Column("signed_head", sa.Text(), nullable=False),
        sa.Column("sealed_blind_key", sa.LargeBinary(), nullable=True),
        sa.Column("erased", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("learner_ref", name="pk_ledger_heads"),
    )


def downgrade() -> None:
    op.drop_table("ledger_heads")
    op.drop_index("ix_ledger_entries_learner_ref_at", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_learner_ref_counterparty_tag_seq", table_name="ledger_entries")
    op.drop_index("ix_ledger_entries_learner_ref_kind_seq", table_name="ledger_entries")
    op.drop_table("ledger_entries")
