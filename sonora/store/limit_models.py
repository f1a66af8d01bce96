"""Tables against abuse: ``rate_counters`` (rate limits, log-in backoff) and
``booking_blocks`` (addresses a therapist blocked).

One row per (key, fixed window): how many times the key was hit in the window that
starts at ``window_start`` (epoch seconds), when it was last hit, and when the row
may be forgotten.  Every server process sees the same counts (the database is
shared), and :class:`sonora.web.limits.SqlCounters` increments them with one atomic
``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sonora.store.base import Base

__all__ = ["BookingBlock", "RateCounter"]


class RateCounter(Base):
    """Hits of one key (``login:ip:...``, ``checkins:acct:...``) in one fixed window."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_at: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_rate_counters_expires_at", "expires_at"),)


class BookingBlock(Base):
    """An email address a therapist no longer takes consult bookings from."""

    __tablename__ = "booking_blocks"

    therapist_id: Mapped[str] = mapped_column(
        String(32),
        ForeignKey("therapist_profiles.id", ondelete="CASCADE"),
        primary_key=True,
    )
    email: Mapped[str] = mapped_column(String(320), primary_key=True)
    created_at: Mapped[float] = mapped_column(Float, nullable=False)
