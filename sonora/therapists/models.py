"""SQLAlchemy models of the therapist directory and free-consult booking (migration 0002).

Tables
------
therapist_profiles        a therapist's public profile, one per user account; the current
                          verification is kept on the row (who, when, until when, note)
therapist_verifications   every verification decision an admin made (an audit trail)
availability_rules        weekly hours in the therapist's own time zone
availability_exceptions   holidays (dates off) and one-off extra hours
bookings                  free 15-minute consults; ``UNIQUE (therapist_id, slot_start)`` is
                          what makes double booking impossible (a cancelled booking sets
                          ``slot_start`` to NULL, which frees the slot)
outbox                    email waiting to be sent (or sent), with retry bookkeeping
booking_blocks            email addresses a therapist no longer takes consults from
                          (migration 0006)

``users.is_admin`` (added by the same migration) marks the admins who verify;
``therapist_profiles.recheck_reminded_for`` (migration 0003) remembers which expiry a
re-check reminder was sent for.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from sonora.store.base import Base, UTCDateTime, id_column, timestamp_column, utcnow

__all__ = [
    "AvailabilityException",
    "AvailabilityRule",
    "Booking",
    "BookingBlock",
    "OutboxMessage",
    "TherapistProfile",
    "TherapistVerification",
    "therapist_fk",
]


def therapist_fk() -> Any:
    """A foreign key to ``therapist_profiles.id`` that deletes the row with its profile."""
    return ForeignKey("therapist_profiles.id", ondelete="CASCADE")


class TherapistProfile(Base):
    """A therapist's profile (listed publicly only while its verification is current)."""

    __tablename__ = "therapist_profiles"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    display_name: Mapped[str] = mapped_column(String(120), nullable=False)
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    registration_number: Mapped[str] = mapped_column(String(32), nullable=False)
    region: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    city: Mapped[str] = mapped_column(String(120), nullable=False, default="")
    latitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    longitude: Mapped[float | None] = mapped_column(Float, nullable=True)
    in_person: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    online: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    languages: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    populations: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    approaches: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    bio: Mapped[str] = mapped_column(Text, nullable=False, default="")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False)
    is_demo: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = timestamp_column()
    updated_at: Mapped[dt.datetime] = timestamp_column()
    verified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    verified_by: Mapped[str | None] = mapped_column(String(320), nullable=True)
    verification_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: The ``verified_until`` a re-check reminder was emailed for (migration 0003): one
    #: reminder per expiry, however often ``sonora therapists remind`` runs.
    recheck_reminded_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: How a free consult happens (migration 0004): ``video``, ``phone`` or ``place``,
    #: and the link, number or address the invite carries.
    consult_via: Mapped[str] = mapped_column(
        String(8), nullable=False, default="video", server_default="video"
    )
    consult_details: Mapped[str] = mapped_column(
        String(300), nullable=False, default="", server_default=""
    )

    __table_args__ = (Index("ix_therapist_profiles_country_city", "country", "city"),)


class TherapistVerification(Base):
    """One admin decision about a therapist's credential (kept as an audit trail)."""

    __tablename__ = "therapist_verifications"

    id: Mapped[str] = id_column()
    therapist_id: Mapped[str] = mapped_column(
        String(32), therapist_fk(), index=True, nullable=False
    )
    admin_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    admin_email: Mapped[str] = mapped_column(String(320), nullable=False)
    decision: Mapped[str] = mapped_column(String(16), nullable=False)
    country: Mapped[str] = mapped_column(String(2), nullable=False)
    registration_number: Mapped[str] = mapped_column(String(32), nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    checked_at: Mapped[dt.datetime] = timestamp_column()
    valid_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class AvailabilityRule(Base):
    """Weekly hours: ``weekday`` (0 = Monday) from ``start_minute`` to ``end_minute``,
    local time in the therapist's zone."""

    __tablename__ = "availability_rules"

    id: Mapped[str] = id_column()
    therapist_id: Mapped[str] = mapped_column(
        String(32), therapist_fk(), index=True, nullable=False
    )
    weekday: Mapped[int] = mapped_column(Integer, nullable=False)
    start_minute: Mapped[int] = mapped_column(Integer, nullable=False)
    end_minute: Mapped[int] = mapped_column(Integer, nullable=False)


class AvailabilityException(Base):
    """A holiday (``kind="off"``: dates ``start_date``..``end_date`` inclusive) or one-off
    extra hours (``kind="extra"``: on ``start_date``, ``start_minute``..``end_minute``)."""

    __tablename__ = "availability_exceptions"

    id: Mapped[str] = id_column()
    therapist_id: Mapped[str] = mapped_column(
        String(32), therapist_fk(), index=True, nullable=False
    )
    kind: Mapped[str] = mapped_column(String(8), nullable=False)
    start_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    end_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    start_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    end_minute: Mapped[int | None] = mapped_column(Integer, nullable=True)
    note: Mapped[str] = mapped_column(String(200), nullable=False, default="")


class Booking(Base):
    """A free 15-minute consult.  ``slot_start`` holds the slot while the booking stands
    (NULL once cancelled); ``starts_at`` always says when it was for."""

    __tablename__ = "bookings"

    id: Mapped[str] = id_column()
    therapist_id: Mapped[str] = mapped_column(String(32), therapist_fk(), nullable=False)
    slot_start: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="booked")
    name: Mapped[str] = mapped_column(String(120), nullable=False)
    email: Mapped[str] = mapped_column(String(320), nullable=False)
    reason: Mapped[str] = mapped_column(Text, nullable=False, default="")
    care: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    listener_tz: Mapped[str] = mapped_column(String(64), nullable=False)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, nullable=False)
    user_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    sequence: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = timestamp_column()
    updated_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (
        UniqueConstraint("therapist_id", "slot_start", name="uq_bookings_therapist_slot"),
        Index("ix_bookings_therapist_starts", "therapist_id", "starts_at"),
    )


class OutboxMessage(Base):
    """An email to send: the whole RFC 5322 message, and how sending has gone so far."""

    __tablename__ = "outbox"

    id: Mapped[str] = id_column()
    kind: Mapped[str] = mapped_column(String(32), nullable=False)
    to_addr: Mapped[str] = mapped_column(String(320), nullable=False)
    subject: Mapped[str] = mapped_column(String(300), nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    booking_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("bookings.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[dt.datetime] = timestamp_column()
    next_attempt_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, nullable=False
    )
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_outbox_due", "sent_at", "next_attempt_at"),)


class BookingBlock(Base):
    """An email address a therapist no longer takes consult bookings from."""

    __tablename__ = "booking_blocks"

    therapist_id: Mapped[str] = mapped_column(String(32), therapist_fk(), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
