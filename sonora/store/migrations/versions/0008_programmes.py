"""Therapist-guided programmes: consent to share, access log, programmes, answers.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def _user(name: str = "listener_id") -> sa.Column:
    return sa.Column(
        name,
        sa.String(32),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
    )


def _therapist() -> sa.Column:
    return sa.Column(
        "therapist_id",
        sa.String(32),
        sa.ForeignKey("therapist_profiles.id", ondelete="CASCADE"),
        nullable=False,
    )


def upgrade() -> None:
    """Create the four tables."""
    op.create_table(
        "programme_shares",
        sa.Column("id", sa.String(32), primary_key=True),
        _user(),
        _therapist(),
        sa.Column("share_numbers", sa.Boolean(), nullable=False),
        sa.Column("share_history", sa.Boolean(), nullable=False),
        sa.Column("share_notes", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("revoked_at", TS, nullable=True),
        sa.UniqueConstraint("listener_id", "therapist_id", name="uq_programme_shares_pair"),
    )
    op.create_index("ix_programme_shares_therapist", "programme_shares", ["therapist_id"])
    op.create_table(
        "programme_access_log",
        sa.Column("id", sa.String(32), primary_key=True),
        _user(),
        sa.Column(
            "therapist_id",
            sa.String(32),
            sa.ForeignKey("therapist_profiles.id", ondelete="SET NULL"),
            nullable=True,
        ),
        sa.Column("therapist_name", sa.String(120), nullable=False),
        sa.Column("what", sa.String(80), nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index(
        "ix_programme_access_log_listener", "programme_access_log", ["listener_id", "created_at"]
    )
    op.create_table(
        "programmes",
        sa.Column("id", sa.String(32), primary_key=True),
        _user(),
        _therapist(),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("goals", sa.JSON(), nullable=False),
        sa.Column("sessions_per_week", sa.Integer(), nullable=False),
        sa.Column("minutes_min", sa.Integer(), nullable=False),
        sa.Column("minutes_max", sa.Integer(), nullable=False),
        sa.Column("rhythm_note", sa.String(200), nullable=False),
        sa.Column("listen", sa.JSON(), nullable=False),
        sa.Column("questions", sa.JSON(), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("remind_email", sa.Boolean(), nullable=False),
        sa.Column("remind_weekdays", sa.JSON(), nullable=False),
        sa.Column("reminded_on", sa.Date(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index("ix_programmes_listener", "programmes", ["listener_id", "start_date"])
    op.create_index("ix_programmes_therapist", "programmes", ["therapist_id"])
    op.create_table(
        "programme_answers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "programme_id",
            sa.String(32),
            sa.ForeignKey("programmes.id", ondelete="CASCADE"),
            nullable=False,
        ),
        _user(),
        sa.Column("checkin_id", sa.String(32), nullable=True),
        sa.Column("question_id", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_index(
        "ix_programme_answers_programme", "programme_answers", ["programme_id", "created_at"]
    )


def downgrade() -> None:
    """Drop the four tables."""
    for name in ("programme_answers", "programmes", "programme_access_log", "programme_shares"):
        op.drop_table(name)
