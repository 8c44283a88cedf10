"""Alembic revision: the inbox's ledger entries waiting for the learner's key (``inbox_events``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; why the table:
:mod:`wallet.receive.tables` (a push arrives while the learner is locked, and the consent ledger
seals every entry under the learner's vault key, so the push's entry is queued here, sealed to
the learner's inbox public key, in the transaction that stores the item). Written out by hand so
that the revision keeps describing *this* schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0009_inbox_events"
down_revision = "0008_inbox_link_leftovers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_events"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE",
                                name="fk_inbox_events_learner_id"),
    )
    op.create_index("ix_inbox_events_learner_id", "inbox_events", ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_events_learner_id", table_name="inbox_events")
    op.drop_table("inbox_events")
