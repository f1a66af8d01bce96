"""Tables of therapist-guided programmes (migration ``0008``).

Tables
------
programme_shares      what a listener shares with one therapist after a consult: the
                      scope (check-in/out numbers, session history, notes) and when it
                      was revoked; one row per (listener, therapist)
programme_access_log  every time a therapist looked at something a listener shares,
                      and what; kept for the listener (the therapist's name is copied,
                      so the log outlives a therapist's account)
programmes            a therapist's programme for a client: goals by domain in their own
                      words, a weekly rhythm, what to listen to, extra 0-10 questions,
                      start and end dates, and the reminders the *listener* controls
programme_answers     the listener's answers to a programme's extra questions, one row
                      per question per check-in
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

from sonora.store.base import (
    Base,
    UTCDateTime,
    id_column,
    timestamp_column,
    user_column,
)
from sonora.therapists.models import therapist_fk

__all__ = ["AccessLogRow", "AnswerRow", "ProgrammeRow", "ShareRow"]


class ShareRow(Base):
    """A listener's consent to share a scope with one therapist (``revoked_at`` ends it)."""

    __tablename__ = "programme_shares"

    id: Mapped[str] = id_column()
    listener_id: Mapped[str] = user_column()
    therapist_id: Mapped[str] = mapped_column(String(32), therapist_fk(), nullable=False)
    share_numbers: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    share_history: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    share_notes: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    created_at: Mapped[dt.datetime] = timestamp_column()
    updated_at: Mapped[dt.datetime] = timestamp_column()
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("listener_id", "therapist_id", name="uq_programme_shares_pair"),
        Index("ix_programme_shares_therapist", "therapist_id"),
    )


class AccessLogRow(Base):
    """One view by a therapist of what a listener shares."""

    __tablename__ = "programme_access_log"

    id: Mapped[str] = id_column()
    listener_id: Mapped[str] = user_column()
    therapist_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("therapist_profiles.id", ondelete="SET NULL"), nullable=True
    )
    therapist_name: Mapped[str] = mapped_column(String(120), nullable=False)
    what: Mapped[str] = mapped_column(String(80), nullable=False)
    scope: Mapped[list[str]] = mapped_column(JSON, nullable=False, default=list)
    created_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (Index("ix_programme_access_log_listener", "listener_id", "created_at"),)


class ProgrammeRow(Base):
    """A therapist's programme for one client."""

    __tablename__ = "programmes"

    id: Mapped[str] = id_column()
    listener_id: Mapped[str] = user_column()
    therapist_id: Mapped[str] = mapped_column(String(32), therapist_fk(), nullable=False)
    title: Mapped[str] = mapped_column(String(120), nullable=False)
    goals: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    sessions_per_week: Mapped[int] = mapped_column(Integer, nullable=False)
    minutes_min: Mapped[int] = mapped_column(Integer, nullable=False)
    minutes_max: Mapped[int] = mapped_column(Integer, nullable=False)
    rhythm_note: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    listen: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    questions: Mapped[list[dict[str, Any]]] = mapped_column(JSON, nullable=False)
    start_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    end_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    note: Mapped[str] = mapped_column(Text, nullable=False, default="")
    #: reminders, chosen by the listener: email on these weekdays (0 = Monday)
    remind_email: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    remind_weekdays: Mapped[list[int]] = mapped_column(JSON, nullable=False, default=list)
    reminded_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (
        Index("ix_programmes_listener", "listener_id", "start_date"),
        Index("ix_programmes_therapist", "therapist_id"),
    )


class AnswerRow(Base):
    """An answer (0-10) to one of a programme's extra questions at a check-in."""

    __tablename__ = "programme_answers"

    id: Mapped[str] = id_column()
    programme_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("programmes.id", ondelete="CASCADE"), nullable=False
    )
    listener_id: Mapped[str] = user_column()
    checkin_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    question_id: Mapped[str] = mapped_column(String(16), nullable=False)
    value: Mapped[float] = mapped_column(Float, nullable=False)
    created_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (Index("ix_programme_answers_programme", "programme_id", "created_at"),)
