"""Alembic revision: what the deployment was first started with (``deployment_record``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; the rows and their
reasons are in docs/operations.md (key-check values of the deployment-wide secrets, the token
issuer, the keyring's canary id: never a secret). Written out by hand so that
the revision keeps describing *this* schema. Empty after the upgrade: the first replica that
starts fills it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0010_deployment_record"
down_revision = "0009_inbox_events"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment_record",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.String(200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_deployment_record"),
    )


def downgrade() -> None:
    op.drop_table("deployment_record")
