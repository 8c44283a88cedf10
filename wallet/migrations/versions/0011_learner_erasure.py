"""Alembic revision: an erasure under way is recorded on the account (``learners.erasing_since``).

Spec: Alembic operations, https://alembic.sqlalchemy.org/en/latest/ops.html ; why: an erasure is
several steps in three stores (the ledger's tombstone, the erasure key, the vault profile, the
rows), and a crash or a store failure between them must leave something that says "finish me".
The mark is committed with the tombstone, the revoked tokens and the deletion of every row that
serves or admits (share links, inbox links) in one transaction; the account row itself goes last,
so the mark lasts exactly as long as anything of the account does (:mod:`consent.rights`,
docs/consent.md "Erasure"). Nullable: ``NULL`` for every account that is not being erased. The
index finds the erasures to finish at start-up without reading every account. Written out by
hand so that the revision keeps describing *this* schema.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

__all__ = ["branch_labels", "depends_on", "down_revision", "downgrade", "revision", "upgrade"]

revision = "0011_learner_erasure"
down_revision = "0010_deployment_record"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # ADD COLUMN (no table copy on SQLite: a copy would drop ``learners``, whose children
    # cascade)
    with op.batch_alter_table("learners") as batch:
        batch.add_column(sa.Column("erasing_since", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_learners_erasing_since", "learners", ["erasing_since"])


def downgrade() -> None:
    op.drop_index("ix_learners_erasing_since", table_name="learners")
    # not through a batch: on SQLite that copies the table and drops ``learners``, and with
    # foreign keys on, its children's rows would go with it; DROP COLUMN (SQLite 3.35+) does not
    op.drop_column("learners", "erasing_since")
