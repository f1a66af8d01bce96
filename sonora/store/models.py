"""SQLAlchemy 2 models: everything Sonora keeps about a listener.

Every row that belongs to a person carries ``user_id`` with ``ON DELETE CASCADE``, so
deleting the user row deletes everything of theirs (the repository also deletes
child rows explicitly, so it does not rely on the database enforcing the cascade).

Tables
------
users               an account or a guest (``is_guest``), email + argon2 hash once signed up;
                    ``is_admin`` marks those who verify therapists (migration 0002)
auth_tokens         sign-in cookies (only the SHA-256 of the token is stored)
profiles            onboarding answers and preferences (JSON)
checkins            how the listener was before a session (JSON, note included)
plans               the plan made for a check-in (JSON), its loudness calibration, mixer gains
outcomes            the check-out after a session (JSON) and its score
listening_sessions  each time a plan was streamed: format, offsets, when it ended
match_sessions      finished sessions as the matcher learns from them (JSON)
matcher_state       per-listener learning state kept for the matcher (JSON by key)
app_state           learning state shared by everyone (the matcher's population prior)
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

__all__ = [
    "AppState",
    "AuthToken",
    "Base",
    "CheckInRow",
    "ListeningSession",
    "MatchSession",
    "MatcherState",
    "OutcomeRow",
    "PlanRow",
    "Profile",
    "User",
    "new_id",
    "utcnow",
]

#: Naming convention so constraints have stable names on every database (migrations).
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id() -> str:
    """A random 32-character hex id (not guessable, not sequential)."""
    return uuid.uuid4().hex


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite keeps no time zone; PostgreSQL's ``timestamptz`` does.  Both come back as
    aware UTC datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use timezone-aware UTC times")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: Any, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    """Declarative base with the naming convention."""

    metadata = MetaData(naming_convention=NAMING)


def _user_fk() -> Any:
    return ForeignKey("users.id", ondelete="CASCADE")


class User(Base):
    """A listener: a guest (cookie only) or an account with email and password."""

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    email: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_guest: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    is_admin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class AuthToken(Base):
    """A sign-in (or guest) cookie; ``id`` is the SHA-256 hex of the cookie value."""

    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), index=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class Profile(Base):
    """Onboarding answers and preferences (``data`` is a JSON object)."""

    __tablename__ = "profiles"

    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    onboarded: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class CheckInRow(Base):
    """A check-in before a session (``data`` holds the answers, note included)."""

    __tablename__ = "checkins"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    goal: Mapped[str | None] = mapped_column(String(32), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    care: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)

    __table_args__ = (Index("ix_checkins_user_created", "user_id", "created_at"),)


class PlanRow(Base):
    """The plan made for a check-in, as plan JSON, with its calibration and mixer."""

    __tablename__ = "plans"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), nullable=False)
    checkin_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("checkins.id", ondelete="CASCADE"), index=True, nullable=False
    )
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    gains: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_plans_user_created", "user_id", "created_at"),)


class OutcomeRow(Base):
    """The check-out after a session (one per plan)."""

    __tablename__ = "outcomes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.id", ondelete="CASCADE"), unique=True, nullable=False
    )
    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), index=True, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    reward: Mapped[float | None] = mapped_column(Float, nullable=True)


class ListeningSession(Base):
    """One stream of a plan: when it started, how far it got, how it ended."""

    __tablename__ = "listening_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.id", ondelete="CASCADE"), index=True, nullable=False
    )
    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), index=True, nullable=False)
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    start_offset_s: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    offset_s: Mapped[float] = mapped_column(Float, default=0.0, nullable=False)
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    ended: Mapped[str | None] = mapped_column(String(16), nullable=True)


class MatchSession(Base):
    """A finished session as the matcher learns from it (its ``SessionRecord``)."""

    __tablename__ = "match_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)

    __table_args__ = (Index("ix_match_sessions_user_created", "user_id", "created_at"),)


class AppState(Base):
    """Learning state shared by all listeners (e.g. the matcher's population prior)."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


class MatcherState(Base):
    """Learning state the matcher keeps about one listener, as JSON under a key."""

    __tablename__ = "matcher_state"

    user_id: Mapped[str] = mapped_column(String(32), _user_fk(), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[Any] = mapped_column(JSON, nullable=False)
    version: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)


#: Tables holding a person's data, children first (deletion order).
PERSONAL_TABLES: tuple[type[Base], ...] = (
    MatcherState,
    MatchSession,
    ListeningSession,
    OutcomeRow,
    PlanRow,
    CheckInRow,
    Profile,
    AuthToken,
)


# The therapist directory's tables (migration 0002) live in their own module, on the
# same ``Base``; importing it here registers them wherever the models are loaded.
from sonora.store import therapist_models as _therapist_models  # noqa: E402, F401
