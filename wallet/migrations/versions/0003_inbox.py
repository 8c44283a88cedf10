"""Alembic revision: inbox links and sealed inbox items (``inbox_links``, ``inbox_items``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; the schema and its
reasons are in :mod:`wallet.receive.tables`. Written out column by column so that the revision keeps
describing *this* schema when the models move on.

Why SQL and not the learner's Askar profile: a push arrives while the learner is locked, so the
row must be writable without the vault key, and the public endpoint must find a link by a keyed
hash of its token in one indexed lookup. Nothing readable is stored: the token only as a keyed
hash, the label only in the learner's sealed vault, each item only as a sealed box to the
learner's inbox key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0003_inbox"
down_revision = "0002_consent_ledger"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_links",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_links"),
        sa.UniqueConstraint("token_hash", name="uq_inbox_links_token_hash"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE",
                                name="fk_inbox_links_learner_id"),
    )
    op.create_index("ix_inbox_links_learner_id", "inbox_links", ["learner_id"])
    op.create_table(
        "inbox_items",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("link_id", sa.String(36), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_inbox_items"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE",
                                name="fk_inbox_items_learner_id"),
    )
    op.create_index("ix_inbox_items_learner_id_received_at", "inbox_items",
                    ["learner_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbox_items_learner_id_received_at", table_name="inbox_items")
    op.drop_table("inbox_items")
    op.drop_index("ix_inbox_links_learner_id", table_name="inbox_links")
    op.drop_table("inbox_links")
