"""The matcher's tables: what it learnt, per listener and for everyone.

Tables
------
match_sessions  finished sessions as the matcher learns from them (JSON)
matcher_state   per-listener learning state kept for the matcher (JSON by key)
app_state       learning state shared by everyone (the matcher's population prior)

(``tables``, not ``models``: :mod:`sonora.match.model` is the learning model.)
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from sonora.accounts.privacy import UserRows, rows_of
from sonora.store.base import (
    Base,
    id_column,
    timestamp_column,
    user_column,
)

__all__ = ["MATCH_ROWS", "AppState", "MatchSession", "MatcherState"]


class MatchSession(Base):
    """A finished session as the matcher learns from it (its ``SessionRecord``)."""

    __tablename__ = "match_sessions"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_column()
    created_at: Mapped[dt.datetime] = timestamp_column()
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (Index("ix_match_sessions_user_created", "user_id", "created_at"),)


class AppState(Base):
    """Learning state shared by all listeners (e.g. the matcher's population prior)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[dt.datetime] = timestamp_column()


class MatcherState(Base):
    """Learning state the matcher keeps about one listener, as JSON under a key."""

    __tablename__ = "matcher_state"

    user_id: Mapped[str] = user_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    updated_at: Mapped[dt.datetime] = timestamp_column()


def _export(s: Session, user_id: str) -> dict[str, Any]:
    return {
        "learning": {
            "state": {m.key: m.data for m in rows_of(s, MatcherState, user_id)},
            "sessions": [m.data for m in rows_of(s, MatchSession, user_id)],
        }
    }


#: The matcher's part of an account.  A guest's learning state is not moved when they
#: log in (the account's own wins): it is deleted with the guest.
MATCH_ROWS = UserRows((MatcherState, MatchSession), _export)
