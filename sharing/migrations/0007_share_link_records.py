"""Alembic revision: the learner's record of a share link sealed into its row
(``share_links.sealed_record``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; why the record moved
from the learner's vault into the row: :mod:`wallet.row_records` (one transaction with the link's
ledger entry). Nullable: links created before keep their record in the vault, where it is still
read. Written out by hand so that the revision keeps describing *this* schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0007_share_link_records"
down_revision = "0006_inbox_link_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("share_links") as batch:
        batch.add_column(sa.Column("sealed_record", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("share_links") as batch:
        batch.drop_column("sealed_record")
