"""Booking blocks: ``booking_blocks`` (an address a therapist takes no bookings from).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Bookings also gain the status ``pending`` (no new column): a booking holds its slot
only once its email address confirmed through the link mailed to it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``booking_blocks``."""
    op.create_table(
        "booking_blocks",
        sa.Column("therapist_id", sa.String(32), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["therapist_id"],
            ["therapist_profiles.id"],
            name=op.f("fk_booking_blocks_therapist_id_therapist_profiles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("therapist_id", "email", name=op.f("pk_booking_blocks")),
    )


def downgrade() -> None:
    """Drop ``booking_blocks``."""
    op.drop_table("booking_blocks")
