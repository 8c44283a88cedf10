"""Alembic revision: sign-ups in progress (``signup_intents``), for the orphan sweep.

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; the table and its
reasons are in :mod:`wallet.accounts.models` and :mod:`wallet.accounts.sweep`. Written out column
by column so that the revision keeps describing *this* schema when the models move on. No foreign
key to ``learners``: an intent exists precisely while there is no account row.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0005_signup_intents"
down_revision = "0004_share_links"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_intents",
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("learner_id", name="pk_signup_intents"),
    )
    op.create_index("ix_signup_intents_started_at", "signup_intents", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_signup_intents_started_at", table_name="signup_intents")
    op.drop_table("signup_intents")
