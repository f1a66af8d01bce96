"""The rate limits' table: ``rate_counters`` (rate limits, log-in backoff; migration 0005).

One row per (key, fixed window): how many times the key was hit in the window that
starts at ``window_start`` (epoch seconds), when it was last hit, and when the row
may be forgotten.  Every server process sees the same counts (the database is
shared), and :class:`sonora.limits.counters.SqlCounters` increments them with one
atomic ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` on SQLite and PostgreSQL
alike.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Float, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from sonora.store.base import Base

__all__ = ["RateCounter"]


class RateCounter(Base):
    """Hits of one key (``login:ip:...``, ``checkins:acct:...``) in one fixed window."""

    __tablename__ = "rate_counters"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    window_start: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_at: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    expires_at: Mapped[int] = mapped_column(BigInteger, nullable=False)

    __table_args__ = (Index("ix_rate_counters_expires_at", "expires_at"),)
