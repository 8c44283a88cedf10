"""Accounts, revoked sessions and rate-limit windows."""

import sqlalchemy as sa
from alembic import op

revision = "0001_accounts"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "learners",
        sa.Column("id", sa.String(36), primary_key=True),
        # keyed hash of the normalised username: a database copy does not list who uses Satchel
        sa.Column("username_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wrapped_keys", sa.Text, nullable=False),
        sa.Column("inbox_public", sa.LargeBinary, nullable=False),
        sa.Column("token_epoch", sa.Integer, nullable=False, server_default="0"),
    )
    op.create_table(
        "revoked_sessions",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("learner_id", sa.String(36), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )
    op.create_table(
        "rate_limits",
        sa.Column("bucket", sa.String(64), primary_key=True),
        sa.Column("window_start", sa.BigInteger, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("rate_limits")
    op.drop_table("revoked_sessions")
    op.drop_table("learners")
