"""Re-check reminders: ``therapist_profiles.recheck_reminded_for``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

The column holds the ``verified_until`` a "re-check due" email was queued for, so
``sonora therapists remind`` sends one reminder per expiry however often it runs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add ``therapist_profiles.recheck_reminded_for``."""
    with op.batch_alter_table("therapist_profiles") as batch:
        batch.add_column(
            sa.Column("recheck_reminded_for", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    """Drop ``therapist_profiles.recheck_reminded_for``."""
    with op.batch_alter_table("therapist_profiles") as batch:
        batch.drop_column("recheck_reminded_for")
