"""Rate limits: the ``rate_counters`` table.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06

Counters of requests per client, account or email in fixed windows (rate limits and
log-in backoff), shared by every server process.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``rate_counters``."""
    op.create_table(
        "rate_counters",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("window_start", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", "window_start", name=op.f("pk_rate_counters")),
    )
    op.create_index(
        op.f("ix_rate_counters_expires_at"), "rate_counters", ["expires_at"], unique=False
    )


def downgrade() -> None:
    """Drop ``rate_counters``."""
    op.drop_index(op.f("ix_rate_counters_expires_at"), table_name="rate_counters")
    op.drop_table("rate_counters")
