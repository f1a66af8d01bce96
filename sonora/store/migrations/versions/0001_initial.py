"""Initial tables: users, sign-ins, profiles, check-ins, plans, outcomes, listening, learning.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Written out in full (not importing the models) so that this migration keeps meaning
the same thing when the models change later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.String(length=32)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    """Create every table."""
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_guest", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        _user_fk("auth_tokens"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auth_tokens")),
    )
    op.create_index(op.f("ix_auth_tokens_user_id"), "auth_tokens", ["user_id"])
    op.create_table(
        "profiles",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("onboarded", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _user_fk("profiles"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_profiles")),
    )
    op.create_table(
        "checkins",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("goal", sa.String(length=32), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("care", sa.JSON(), nullable=True),
        _user_fk("checkins"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    op.create_index("ix_checkins_user_created", "checkins", ["user_id", "created_at"])
    op.create_table(
        "plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("checkin_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("plan", sa.JSON(), nullable=False),
        sa.Column("calibration", sa.JSON(), nullable=True),
        sa.Column("gains", sa.JSON(), nullable=True),
        sa.Column("started_at", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["checkin_id"],
            ["checkins.id"],
            name=op.f("fk_plans_checkin_id_checkins"),
            ondelete="CASCADE",
        ),
        _user_fk("plans"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plans")),
    )
    op.create_index(op.f("ix_plans_checkin_id"), "plans", ["checkin_id"])
    op.create_index("ix_plans_user_created", "plans", ["user_id", "created_at"])
    op.create_table(
        "outcomes",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("reward", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"], ["plans.id"], name=op.f("fk_outcomes_plan_id_plans"), ondelete="CASCADE"
        ),
        _user_fk("outcomes"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcomes")),
        sa.UniqueConstraint("plan_id", name=op.f("uq_outcomes_plan_id")),
    )
    op.create_index(op.f("ix_outcomes_user_id"), "outcomes", ["user_id"])
    op.create_table(
        "listening_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("plan_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("start_offset_s", sa.Float(), nullable=False),
        sa.Column("offset_s", sa.Float(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("ended", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["plan_id"],
            ["plans.id"],
            name=op.f("fk_listening_sessions_plan_id_plans"),
            ondelete="CASCADE",
        ),
        _user_fk("listening_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_listening_sessions")),
    )
    op.create_index(op.f("ix_listening_sessions_plan_id"), "listening_sessions", ["plan_id"])
    op.create_index(op.f("ix_listening_sessions_user_id"), "listening_sessions", ["user_id"])
    op.create_table(
        "matcher_state",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _user_fk("matcher_state"),
        sa.PrimaryKeyConstraint("user_id", "key", name=op.f("pk_matcher_state")),
    )
    op.create_table(
        "match_sessions",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        _user_fk("match_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_match_sessions")),
    )
    op.create_index("ix_match_sessions_user_created", "match_sessions", ["user_id", "created_at"])
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_app_state")),
    )


def downgrade() -> None:
    """Drop every table this migration created (children first)."""
    for table in (
        "app_state",
        "match_sessions",
        "matcher_state",
        "listening_sessions",
        "outcomes",
        "plans",
        "checkins",
        "profiles",
        "auth_tokens",
        "users",
    ):
        op.drop_table(table)
