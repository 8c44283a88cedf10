"""Alembic revision: share links and their pending view events (``share_links``,
``share_link_views``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; the schema and its
reasons are in :mod:`sharing.share_tables`. Written out column by column so that the revision keeps
describing *this* schema when the models move on. Rows go with the learner (``ON DELETE CASCADE``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0004_share_links"
down_revision = "0003_inbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "share_links",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("lookup_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("max_views", sa.Integer(), nullable=False),
        sa.Column("views", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_share_links"),
        sa.UniqueConstraint("lookup_hash", name="uq_share_links_lookup_hash"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE",
                                name="fk_share_links_learner_id"),
    )
    op.create_index("ix_share_links_learner_id", "share_links", ["learner_id"])
    op.create_table(
        "share_link_views",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_share_link_views"),
        sa.ForeignKeyConstraint(["learner_id"], ["learners.id"], ondelete="CASCADE",
                                name="fk_share_link_views_learner_id"),
    )
    op.create_index("ix_share_link_views_learner_id", "share_link_views", ["learner_id"])


def downgrade() -> None:
    op.drop_index("ix_share_link_views_learner_id", table_name="share_link_views")
    op.drop_table("share_link_views")
    op.drop_index("ix_share_links_learner_id", table_name="share_links")
    op.drop_table("share_links")
