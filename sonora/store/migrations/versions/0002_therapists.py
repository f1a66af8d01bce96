"""Therapist directory and free-consult booking: profiles, verification, availability,
bookings, outbox; ``users.is_admin``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22

Written out in full (not importing the models) so that this migration keeps meaning
the same thing when the models change later.  ``UNIQUE (therapist_id, slot_start)`` on
``bookings`` is what makes double booking impossible.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
ID = sa.String(length=32)


def _therapist_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["therapist_id"],
        ["therapist_profiles.id"],
        name=op.f(f"fk_{table}_therapist_id_therapist_profiles"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Add ``users.is_admin`` and create the therapist tables."""
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "therapist_profiles",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("display_name", sa.String(length=120), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("registration_number", sa.String(length=32), nullable=False),
        sa.Column("region", sa.String(length=120), nullable=False),
        sa.Column("city", sa.String(length=120), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("in_person", sa.Boolean(), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("languages", sa.JSON(), nullable=False),
        sa.Column("populations", sa.JSON(), nullable=False),
        sa.Column("approaches", sa.JSON(), nullable=False),
        sa.Column("bio", sa.Text(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("is_demo", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("verified_at", TS, nullable=True),
        sa.Column("verified_until", TS, nullable=True),
        sa.Column("verified_by", sa.String(length=320), nullable=True),
        sa.Column("verification_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_therapist_profiles_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapist_profiles")),
        sa.UniqueConstraint("user_id", name=op.f("uq_therapist_profiles_user_id")),
    )
    op.create_index("ix_therapist_profiles_country_city", "therapist_profiles", ["country", "city"])
    op.create_table(
        "therapist_verifications",
        sa.Column("id", ID, nullable=False),
        sa.Column("therapist_id", ID, nullable=False),
        sa.Column("admin_id", ID, nullable=True),
        sa.Column("admin_email", sa.String(length=320), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("registration_number", sa.String(length=32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.Column("valid_until", TS, nullable=True),
        sa.ForeignKeyConstraint(
            ["admin_id"],
            ["users.id"],
            name=op.f("fk_therapist_verifications_admin_id_users"),
            ondelete="SET NULL",
        ),
        _therapist_fk("therapist_verifications"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_therapist_verifications")),
    )
    op.create_index(
        op.f("ix_therapist_verifications_therapist_id"),
        "therapist_verifications",
        ["therapist_id"],
    )
    op.create_table(
        "availability_rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("therapist_id", ID, nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=False),
        sa.Column("end_minute", sa.Integer(), nullable=False),
        _therapist_fk("availability_rules"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_rules")),
    )
    op.create_index(
        op.f("ix_availability_rules_therapist_id"), "availability_rules", ["therapist_id"]
    )
    op.create_table(
        "availability_exceptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("therapist_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=False),
        sa.Column("start_minute", sa.Integer(), nullable=True),
        sa.Column("end_minute", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=False),
        _therapist_fk("availability_exceptions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_availability_exceptions")),
    )
    op.create_index(
        op.f("ix_availability_exceptions_therapist_id"),
        "availability_exceptions",
        ["therapist_id"],
    )
    op.create_table(
        "bookings",
        sa.Column("id", ID, nullable=False),
        sa.Column("therapist_id", ID, nullable=False),
        sa.Column("slot_start", TS, nullable=True),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("care", sa.JSON(), nullable=True),
        sa.Column("listener_tz", sa.String(length=64), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _therapist_fk("bookings"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_bookings_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bookings")),
        sa.UniqueConstraint("therapist_id", "slot_start", name="uq_bookings_therapist_slot"),
        sa.UniqueConstraint("token_hash", name=op.f("uq_bookings_token_hash")),
    )
    op.create_index("ix_bookings_therapist_starts", "bookings", ["therapist_id", "starts_at"])
    op.create_table(
        "outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to_addr", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("booking_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["booking_id"],
            ["bookings.id"],
            name=op.f("fk_outbox_booking_id_bookings"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    op.create_index("ix_outbox_due", "outbox", ["sent_at", "next_attempt_at"])


def downgrade() -> None:
    """Drop the therapist tables (children first) and ``users.is_admin``."""
    for table in (
        "outbox",
        "bookings",
        "availability_exceptions",
        "availability_rules",
        "therapist_verifications",
        "therapist_profiles",
    ):
        op.drop_table(table)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("is_admin")
