"""The listening feature's tables: check-ins, plans, check-outs and streams.

Tables
------
checkins            how the listener was before a session (JSON, note included)
plans               the plan made for a check-in (JSON), its loudness calibration, mixer gains
outcomes            the check-out after a session (JSON) and its score
listening_sessions  each time a plan was streamed: format, offsets, when it ended
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from sonora.store.base import (
    Base,
    UTCDateTime,
    id_column,
    timestamp_column,
    user_column,
)

__all__ = ["CheckInRow", "ListeningSession", "OutcomeRow", "PlanRow"]


class CheckInRow(Base):
    """A check-in before a session (``data`` holds the answers, note included)."""

    __tablename__ = "checkins"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_column()
    created_at: Mapped[dt.datetime] = timestamp_column()
    goal: Mapped[str | None] = mapped_column(String(32), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    care: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_checkins_user_created", "user_id", "created_at"),)


class PlanRow(Base):
    """The plan made for a check-in, as plan JSON, with its calibration and mixer."""

    __tablename__ = "plans"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_column()
    checkin_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("checkins.id", ondelete="CASCADE"), index=True, nullable=False
    )
    created_at: Mapped[dt.datetime] = timestamp_column()
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    gains: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_plans_user_created", "user_id", "created_at"),)


class OutcomeRow(Base):
    """The check-out after a session (one per plan)."""

    __tablename__ = "outcomes"

    id: Mapped[str] = id_column()
    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    user_id: Mapped[str] = user_column(index=True)
    created_at: Mapped[dt.datetime] = timestamp_column()
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    reward: Mapped[float | None] = mapped_column(Float, nullable=True)


class ListeningSession(Base):
    """One stream of a plan: when it started, how far it got, how it ended."""

    __tablename__ = "listening_sessions"

    id: Mapped[str] = id_column()
    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[str] = user_column(index=True)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    start_offset_s: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    offset_s: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    started_at: Mapped[dt.datetime] = timestamp_column()
    updated_at: Mapped[dt.datetime] = timestamp_column()
    ended: Mapped[str | None] = mapped_column(String(16), nullable=True)
