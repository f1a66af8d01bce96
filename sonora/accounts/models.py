"""The accounts feature's tables: users, sign-ins and profiles.

Tables
------
users        an account or a guest (``is_guest``), email + argon2 hash once signed up;
             ``is_admin`` marks those who verify therapists (migration 0002)
auth_tokens  sign-in cookies (only the SHA-256 of the token is stored)
profiles     onboarding answers and preferences (JSON)

Every row that belongs to a person carries ``user_id`` with ``ON DELETE CASCADE``;
each feature also deletes its own rows explicitly when an account goes
(:mod:`sonora.accounts.privacy`), so nothing relies on the database's cascade.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, String, false
from sqlalchemy.orm import Mapped, mapped_column

from sonora.store.base import (
    Base,
    UTCDateTime,
    id_column,
    timestamp_column,
    user_column,
)

__all__ = ["AuthToken", "Profile", "User"]


class User(Base):
    """A listener: a guest (cookie only) or an account with email and password."""

    __tablename__ = "users"

    id: Mapped[str] = id_column()
    email: Mapped[str | None] = mapped_column(String(320), unique=True, nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    is_guest: Mapped[bool] = mapped_column(Boolean, default=True, nullable=False)
    is_admin: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    created_at: Mapped[dt.datetime] = timestamp_column()
    last_seen_at: Mapped[dt.datetime] = timestamp_column()


class AuthToken(Base):
    """A sign-in (or guest) cookie; ``id`` is the SHA-256 hex of the cookie value."""

    __tablename__ = "auth_tokens"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = user_column(index=True)
    created_at: Mapped[dt.datetime] = timestamp_column()
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, nullable=False)


class Profile(Base):
    """Onboarding answers and preferences (``data`` is a JSON object)."""

    __tablename__ = "profiles"

    user_id: Mapped[str] = user_column(primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False, default=dict)
    onboarded: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    updated_at: Mapped[dt.datetime] = timestamp_column()
