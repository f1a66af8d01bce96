"""The ``downloads`` table (migration ``0009_downloads``) and its share of an account.

downloads  one rendered file of a plan: owner, plan, format, the plan and mixer gains as
           requested, status (``queued``, ``running``, ``done``, ``failed``), progress,
           size, error, created/updated/finished, expiry

Kept apart from :mod:`sonora.core.downloads` (which renders) so that Alembic's
environment and the account repository load the table without the audio engine.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from sonora.accounts.privacy import UserRows, iso, rows_of
from sonora.store.base import Base, UTCDateTime, id_column, timestamp_column

__all__ = ["DOWNLOAD_ROWS", "STATUSES", "DownloadRow"]

#: Life of a download: waiting for a worker, rendering, file ready, gave up.
STATUSES = ("queued", "running", "done", "failed")


class DownloadRow(Base):
    """A session rendered (or being rendered) to a file for its owner."""

    __tablename__ = "downloads"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=False
    )
    plan_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("plans.id", ondelete="CASCADE"), nullable=False
    )
    format: Mapped[str] = mapped_column(String(8), nullable=False)
    #: Hash of plan content, mixer gains, format and render settings: one render per key.
    render_key: Mapped[str] = mapped_column(String(64), nullable=False)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    gains: Mapped[list[float] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="queued")
    progress: Mapped[float] = mapped_column(Float, nullable=False, default=0.0)
    size_bytes: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = timestamp_column()
    updated_at: Mapped[dt.datetime] = timestamp_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (
        UniqueConstraint("user_id", "render_key", name="uq_downloads_user_render_key"),
        Index("ix_downloads_user_created", "user_id", "created_at"),
        Index("ix_downloads_expires", "expires_at"),
    )


def _export(s: Session, user_id: str) -> dict[str, Any]:
    return {
        "downloads": [
            {
                "id": r.id,
                "plan_id": r.plan_id,
                "format": r.format,
                "status": r.status,
                "size_bytes": r.size_bytes,
                "error": r.error,
                "created_at": iso(r.created_at),
                "finished_at": iso(r.finished_at),
                "expires_at": iso(r.expires_at),
            }
            for r in rows_of(s, DownloadRow, user_id)
        ]
    }


#: The downloads' share of an account: exported (without the file), deleted with it,
#: moved with a guest's plans when the guest logs in.  The files themselves are removed
#: by :meth:`sonora.core.downloads.Downloads.remove_files` after the deletion.
DOWNLOAD_ROWS = UserRows(models=(DownloadRow,), exporter=_export, movable=True)


def _status_query() -> Any:
    """One download of one listener, without its plan (only the two plan fields the
    status shows), in a statement built once: the status poll runs every few seconds
    while a file renders, and loading the whole plan JSON into an ORM object was most
    of its cost (issue #15)."""
    plan = DownloadRow.plan
    return select(
        *(c for c in DownloadRow.__table__.c if c.name not in ("plan", "gains", "render_key")),
        plan["duration_s"].as_float().label("duration_s"),
        plan["title"].as_string().label("title"),
    ).where(DownloadRow.id == bindparam("download_id"), DownloadRow.user_id == bindparam("user_id"))


#: See :func:`_status_query`.
STATUS_OF = _status_query()
