"""Alembic revision: revoked inbox links whose label may still have a copy in the vault
(``inbox_link_leftovers``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; why: revoking a link
created before revision ``0006_inbox_link_records`` that no list has moved yet is one SQL
transaction (the row's deletion, its ledger entry and one of these rows); the vault copy of its
label is removed at the learner's next list, which then deletes the row here
(:mod:`wallet.receive.earlier_links`, docs/receiving.md). A table of its own, not a mark on the
link's row: a replica of an earlier release, during a rolling upgrade, reads every
``inbox_links`` row as a live link. Written out by hand so that the revision keeps describing
*this* schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0008_inbox_link_leftovers"
down_revision = "0007_share_link_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_link_leftovers",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_link_leftovers"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE",
                                name="fk_inbox_link_leftovers_learner_id"),
    )
    op.create_index("ix_inbox_link_leftovers_learner_id", "inbox_link_leftovers",
                    ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_link_leftovers_learner_id", table_name="inbox_link_leftovers")
    op.drop_table("inbox_link_leftovers")
