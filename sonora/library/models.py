"""Tables of the library feature (migration ``0007_library``).

library_folders    a folder of the listener's music (an absolute path under an allowed root)
library_tracks     one audio file in a folder: its stat (size, mtime) and Sonora's analysis
library_scans      a scan job: state and progress (kept, so a restart resumes it)
library_playlists  an arc built for a goal from a check-in (track ids, figures, why-text)
library_prefs      what the listener does not want in playlists (artists, genres, voice)

Sonora never writes to the music: deleting any of these rows leaves every file alone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
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

__all__ = ["FolderRow", "PlaylistRow", "PrefsRow", "ScanRow", "TrackRow"]


class FolderRow(Base):
    """A music folder one listener added."""

    __tablename__ = "library_folders"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_column()
    path: Mapped[str] = mapped_column(String(1024), nullable=False)
    created_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (UniqueConstraint("user_id", "path", name="uq_library_folders_user_path"),)


class TrackRow(Base):
    """One audio file and Sonora's estimates about it."""

    __tablename__ = "library_tracks"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_column()
    folder_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("library_folders.id", ondelete="CASCADE"), nullable=False
    )
    rel_path: Mapped[str] = mapped_column(String(1024), nullable=False)
    size_bytes: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    title: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    artist: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    album: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    genre: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    codec: Mapped[str] = mapped_column(String(40), default="", nullable=False)
    duration_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    tempo_bpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    energy: Mapped[float | None] = mapped_column(Float, nullable=True)
    loudness_lufs: Mapped[float | None] = mapped_column(Float, nullable=True)
    voice: Mapped[float | None] = mapped_column(Float, nullable=True)
    musical_key: Mapped[str | None] = mapped_column(String(12), nullable=True)
    analysis: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error: Mapped[str | None] = mapped_column(String(300), nullable=True)
    analysed_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (
        UniqueConstraint("folder_id", "rel_path", name="uq_library_tracks_folder_path"),
        Index("ix_library_tracks_user", "user_id"),
    )


class ScanRow(Base):
    """A scan job; ``state`` is queued, running, done or failed."""

    __tablename__ = "library_scans"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_column()
    state: Mapped[str] = mapped_column(String(12), default="queued", nullable=False)
    files_seen: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    to_analyse: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    analysed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    removed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    failed: Mapped[int] = mapped_column(Integer, default=0, nullable=False)
    message: Mapped[str] = mapped_column(String(300), default="", nullable=False)
    created_at: Mapped[dt.datetime] = timestamp_column()
    updated_at: Mapped[dt.datetime] = timestamp_column()
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)

    __table_args__ = (Index("ix_library_scans_user_created", "user_id", "created_at"),)


class PlaylistRow(Base):
    """A goal-led arc of tracks (``plan``: ordered tracks with figures and why-text)."""

    __tablename__ = "library_playlists"

    id: Mapped[str] = id_column()
    user_id: Mapped[str] = user_column()
    goal: Mapped[str] = mapped_column(String(20), nullable=False)
    checkin_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[dt.datetime] = timestamp_column()

    __table_args__ = (Index("ix_library_playlists_user_created", "user_id", "created_at"),)


class PrefsRow(Base):
    """Playlist dislikes of one listener."""

    __tablename__ = "library_prefs"

    user_id: Mapped[str] = user_column(primary_key=True)
    disliked_artists: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    disliked_genres: Mapped[list[str]] = mapped_column(JSON, default=list, nullable=False)
    voice_ok_for_sleep: Mapped[bool] = mapped_column(Boolean, default=False, nullable=False)
    updated_at: Mapped[dt.datetime] = timestamp_column()
