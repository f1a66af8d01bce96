"""Shared column types and the declarative base every feature's tables use.

Each feature keeps its own tables beside its code (``sonora/accounts/models.py``,
``sonora/listening/models.py``, ``sonora/match/tables.py``,
``sonora/therapists/models.py``); they all declare on this :class:`Base`, so one
metadata holds every table and one set of Alembic migrations creates them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import DateTime, ForeignKey, MetaData, String, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, MappedColumn, mapped_column

__all__ = [
    "NAMING",
    "Base",
    "UTCDateTime",
    "id_column",
    "new_id",
    "timestamp_column",
    "user_column",
    "user_fk",
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


def user_fk() -> Any:
    """A foreign key to ``users.id`` that deletes the row with its user."""
    return ForeignKey("users.id", ondelete="CASCADE")


def id_column() -> MappedColumn[Any]:
    """The primary key of a feature's row: a 32-character id from :func:`new_id`."""
    return mapped_column(String(32), primary_key=True, default=new_id)


def timestamp_column() -> MappedColumn[Any]:
    """A required :class:`UTCDateTime` that defaults to now (``created_at``, ``updated_at``)."""
    return mapped_column(UTCDateTime, default=utcnow, nullable=False)


def user_column(*, index: bool = False, primary_key: bool = False) -> MappedColumn[Any]:
    """A required reference to ``users.id`` (:func:`user_fk`: deleted with its user).

    Parameters
    ----------
    index : bool
        Whether the column has its own index.
    primary_key : bool
        Whether it is the table's key (a table with one row per user).
    """
    extra = {"primary_key": True} if primary_key else {"nullable": False}
    if index:
        extra["index"] = True
    return mapped_column(String(32), user_fk(), **extra)
