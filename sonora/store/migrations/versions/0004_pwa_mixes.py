"""Mixes (favourites, named mixes, share links) and offline check-in keys.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

``mixes`` keeps plans a listener saved; ``client_requests`` remembers the
``Idempotency-Key`` of check-ins sent by a browser's offline queue, so each is
stored once; ``therapist_profiles.consult_via`` / ``consult_details`` say how a
therapist's free consults happen (video link, phone, place), which invites carry.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``mixes`` and ``client_requests``; add the consult columns."""
    op.create_table(
        "mixes",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("favourite", sa.Boolean(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("gains", sa.JSON(), nullable=True),
        sa.Column("source_plan_id", sa.String(32), nullable=True),
        sa.Column("share_token", sa.String(43), nullable=True, unique=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_mixes_user_created", "mixes", ["user_id", "created_at"])
    op.create_table(
        "client_requests",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "user_id",
            sa.String(32),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("checkin_id", sa.String(32), nullable=True),
        sa.Column("plan_id", sa.String(32), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("user_id", "key", name="uq_client_requests_user_key"),
    )
    with op.batch_alter_table("therapist_profiles") as batch:
        batch.add_column(
            sa.Column("consult_via", sa.String(8), nullable=False, server_default="video")
        )
        batch.add_column(
            sa.Column("consult_details", sa.String(300), nullable=False, server_default="")
        )


def downgrade() -> None:
    """Drop the consult columns, ``client_requests`` and ``mixes``."""
    with op.batch_alter_table("therapist_profiles") as batch:
        batch.drop_column("consult_details")
        batch.drop_column("consult_via")
    op.drop_table("client_requests")
    op.drop_index("ix_mixes_user_created", table_name="mixes")
    op.drop_table("mixes")
