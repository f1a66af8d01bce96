"""Storage of the library feature behind a protocol (one transaction per method).

:class:`LibraryStore` is what the scanner, the service and the playlists use;
:class:`SqlLibraryRepo` keeps it in the application's database.  :data:`LIBRARY_ROWS`
is the feature's :class:`~sonora.accounts.privacy.AccountPart`: export lists folders,
tracks with their analysis, scans, playlists and prefs; delete removes those rows and
never a file.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from sonora.accounts.privacy import UserRows, iso, rows_of
from sonora.library.models import FolderRow, PlaylistRow, PrefsRow, ScanRow, TrackRow
from sonora.store import NotFound
from sonora.store.base import new_id, utcnow
from sonora.store.database import SqlDatabase
from sonora.store.hot import fetch

__all__ = [
    "LIBRARY_ROWS",
    "Folder",
    "LibraryStore",
    "Scan",
    "SqlLibraryRepo",
    "Track",
    "TrackUpdate",
]


@dataclass(frozen=True)
class Folder:
    id: str
    user_id: str
    path: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Track:
    """A file of the library and its analysis (``analysis`` is ``None`` on error)."""

    id: str
    folder_id: str
    rel_path: str
    size_bytes: int
    mtime_ns: int
    title: str
    artist: str
    album: str
    genre: str
    codec: str
    duration_s: float | None
    tempo_bpm: float | None
    energy: float | None
    loudness_lufs: float | None
    voice: float | None
    key: str | None
    analysis: dict[str, Any] | None
    error: str | None

    @classmethod
    def of(cls, r: TrackRow) -> Track:
        return cls(
            r.id, r.folder_id, r.rel_path, int(r.size_bytes), int(r.mtime_ns), r.title,
            r.artist, r.album, r.genre, r.codec, r.duration_s, r.tempo_bpm, r.energy,
            r.loudness_lufs, r.voice, r.musical_key, r.analysis, r.error,
        )  # fmt: skip

    @property
    def name(self) -> str:
        """Title (or the file name) for people."""
        return self.title or self.rel_path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class TrackUpdate:
    """What a scan learnt about one file (new or changed)."""

    rel_path: str
    size_bytes: int
    mtime_ns: int
    tags: dict[str, str]
    codec: str
    analysis: dict[str, Any] | None
    error: str | None = None


@dataclass(frozen=True)
class Scan:
    id: str
    user_id: str
    state: str
    files_seen: int
    to_analyse: int
    analysed: int
    removed: int
    failed: int
    message: str
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    @classmethod
    def of(cls, r: ScanRow) -> Scan:
        return cls(
            r.id, r.user_id, r.state, r.files_seen, r.to_analyse, r.analysed, r.removed,
            r.failed, r.message, r.created_at, r.updated_at, r.finished_at,
        )  # fmt: skip

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")

    @property
    def progress(self) -> float:
        """0–1: files analysed of those that needed it (1 when none did)."""
        if self.state == "done":
            return 1.0
        return self.analysed / self.to_analyse if self.to_analyse else 0.0


class LibraryStore(Protocol):
    """What the library feature needs from storage."""

    def add_folder(self, user_id: str, path: str) -> Folder: ...
    def folders(self, user_id: str) -> list[Folder]: ...
    def remove_folder(self, user_id: str, folder_id: str) -> None: ...
    def known_files(self, folder_id: str) -> dict[str, tuple[int, int]]: ...
    def save_tracks(self, user_id: str, folder_id: str, updates: Iterable[TrackUpdate]) -> None: ...
    def remove_tracks(self, folder_id: str, rel_paths: Iterable[str]) -> int: ...
    def tracks(self, user_id: str) -> list[Track]: ...
    def has_tracks(self, user_id: str) -> bool: ...
    def track(self, user_id: str, track_id: str) -> tuple[Track, str]: ...
    def new_scan(self, user_id: str) -> Scan: ...
    def update_scan(self, scan_id: str, **fields: Any) -> None: ...
    def scan(self, scan_id: str) -> Scan: ...
    def scans(self, user_id: str, *, limit: int = 10) -> list[Scan]: ...
    def unfinished_scans(self) -> list[Scan]: ...
    def save_playlist(
        self, user_id: str, goal: str, checkin_id: str | None, plan: dict[str, Any]
    ) -> str: ...
    def playlist(self, user_id: str, playlist_id: str) -> dict[str, Any]: ...
    def playlists(self, user_id: str, *, limit: int = 20) -> list[dict[str, Any]]: ...
    def playlist_for_checkin(self, user_id: str, checkin_id: str) -> dict[str, Any] | None: ...
    def set_playlist_outcome(
        self, user_id: str, playlist_id: str, outcome: dict[str, Any]
    ) -> None: ...
    def prefs(self, user_id: str) -> dict[str, Any]: ...
    def set_prefs(self, user_id: str, **prefs: Any) -> None: ...


class SqlLibraryRepo:
    """:class:`LibraryStore` in the application's database.

    Parameters
    ----------
    store : SqlDatabase
    """

    def __init__(self, store: SqlDatabase) -> None:
        self.store = store

    # -- folders ---------------------------------------------------------------------
    def add_folder(self, user_id: str, path: str) -> Folder:
        with self.store.transaction() as s:
            row = s.scalar(
                select(FolderRow).where(FolderRow.user_id == user_id, FolderRow.path == path)
            )
            if row is None:
                row = FolderRow(id=new_id(), user_id=user_id, path=path, created_at=utcnow())
                s.add(row)
                s.flush()
            return Folder(row.id, row.user_id, row.path, row.created_at)

    def folders(self, user_id: str) -> list[Folder]:
        with self.store.transaction() as s:
            return [
                Folder(r.id, r.user_id, r.path, r.created_at)
                for r in s.scalars(
                    select(FolderRow).where(FolderRow.user_id == user_id).order_by(FolderRow.path)
                )
            ]

    def remove_folder(self, user_id: str, folder_id: str) -> None:
        with self.store.transaction() as s:
            row = s.get(FolderRow, folder_id)
            if row is None or row.user_id != user_id:
                raise NotFound("folder", folder_id)
            s.execute(delete(TrackRow).where(TrackRow.folder_id == folder_id))
            s.delete(row)

    # -- tracks ----------------------------------------------------------------------
    def known_files(self, folder_id: str) -> dict[str, tuple[int, int]]:
        """``rel_path -> (size_bytes, mtime_ns)`` of every file of the folder (one query)."""
        with self.store.transaction() as s:
            q = select(TrackRow.rel_path, TrackRow.size_bytes, TrackRow.mtime_ns).where(
                TrackRow.folder_id == folder_id
            )
            return {p: (int(n), int(m)) for p, n, m in s.execute(q)}

    def save_tracks(self, user_id: str, folder_id: str, updates: Iterable[TrackUpdate]) -> None:
        """Insert or replace the rows of these files (one transaction)."""
        with self.store.transaction() as s:
            for u in updates:
                row = s.scalar(
                    select(TrackRow).where(
                        TrackRow.folder_id == folder_id, TrackRow.rel_path == u.rel_path
                    )
                )
                if row is None:
                    row = TrackRow(id=new_id(), user_id=user_id, folder_id=folder_id)
                    row.rel_path = u.rel_path
                    s.add(row)
                a = u.analysis or {}
                row.size_bytes, row.mtime_ns = u.size_bytes, u.mtime_ns
                row.title = u.tags.get("title", "")[:300]
                row.artist = u.tags.get("artist", "")[:300]
                row.album = u.tags.get("album", "")[:300]
                row.genre = u.tags.get("genre", "")[:120]
                row.codec = u.codec[:40]
                row.duration_s = a.get("duration_s")
                row.tempo_bpm = a.get("tempo_bpm")
                row.energy = a.get("energy")
                row.loudness_lufs = a.get("loudness_lufs")
                row.voice = a.get("voice")
                row.musical_key = a.get("key")
                row.analysis = u.analysis
                row.error = None if u.error is None else u.error[:300]
                row.analysed_at = utcnow()

    def remove_tracks(self, folder_id: str, rel_paths: Iterable[str]) -> int:
        paths = list(rel_paths)
        n = 0
        with self.store.transaction() as s:
            for i in range(0, len(paths), 500):
                res = s.execute(
                    delete(TrackRow).where(
                        TrackRow.folder_id == folder_id, TrackRow.rel_path.in_(paths[i : i + 500])
                    )
                )
                n += int(res.rowcount or 0)  # type: ignore[attr-defined]
        return n

    def tracks(self, user_id: str) -> list[Track]:
        with self.store.transaction() as s:
            q = (
                select(TrackRow)
                .where(TrackRow.user_id == user_id)
                .order_by(TrackRow.artist, TrackRow.album, TrackRow.rel_path)
            )
            return [Track.of(r) for r in s.scalars(q)]

    def has_tracks(self, user_id: str) -> bool:
        """Whether this listener has a track with a tempo estimate."""
        with self.store.transaction() as s:
            q = select(TrackRow.id).where(
                TrackRow.user_id == user_id, TrackRow.tempo_bpm.is_not(None)
            )
            return s.scalars(q.limit(1)).first() is not None

    def track(self, user_id: str, track_id: str) -> tuple[Track, str]:
        """A track of this listener and its folder's path (``NotFound`` otherwise)."""
        with self.store.transaction() as s:
            row = s.get(TrackRow, track_id)
            if row is None or row.user_id != user_id:
                raise NotFound("track", track_id)
            folder = s.get(FolderRow, row.folder_id)
            assert folder is not None
            return Track.of(row), folder.path

    # -- scans -----------------------------------------------------------------------
    def new_scan(self, user_id: str) -> Scan:
        with self.store.transaction() as s:
            now = utcnow()
            row = ScanRow(
                id=new_id(), user_id=user_id, state="queued", files_seen=0, to_analyse=0,
                analysed=0, removed=0, failed=0, message="", created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(row)
            s.flush()
            return Scan.of(row)

    def update_scan(self, scan_id: str, **fields: Any) -> None:
        with self.store.transaction() as s:
            s.execute(
                update(ScanRow).where(ScanRow.id == scan_id).values(**fields, updated_at=utcnow())
            )

    def scan(self, scan_id: str) -> Scan:
        with self.store.transaction() as s:
            row = s.get(ScanRow, scan_id)
            if row is None:
                raise NotFound("scan", scan_id)
            return Scan.of(row)

    def scans(self, user_id: str, *, limit: int = 10) -> list[Scan]:
        with self.store.transaction() as s:
            q = (
                select(ScanRow)
                .where(ScanRow.user_id == user_id)
                .order_by(ScanRow.created_at.desc())
                .limit(limit)
            )
            return [Scan.of(r) for r in s.scalars(q)]

    def count_scans_since(self, user_id: str, since: dt.datetime) -> int:
        with self.store.transaction() as s:
            q = select(func.count()).where(ScanRow.user_id == user_id, ScanRow.created_at >= since)
            return int(s.scalar(q.select_from(ScanRow)) or 0)

    def unfinished_scans(self) -> list[Scan]:
        """Scans queued or running (a restart left them): oldest first."""
        with self.store.transaction() as s:
            q = (
                select(ScanRow)
                .where(ScanRow.state.in_(("queued", "running")))
                .order_by(ScanRow.created_at)
            )
            return [Scan.of(r) for r in s.scalars(q)]

    # -- playlists and prefs -----------------------------------------------------------
    def save_playlist(
        self, user_id: str, goal: str, checkin_id: str | None, plan: dict[str, Any]
    ) -> str:
        with self.store.transaction() as s:
            row = PlaylistRow(
                id=new_id(), user_id=user_id, goal=goal, checkin_id=checkin_id, plan=plan,
                created_at=utcnow(),
            )  # fmt: skip
            s.add(row)
            return row.id

    def playlist(self, user_id: str, playlist_id: str) -> dict[str, Any]:
        with self.store.transaction() as s:
            row = s.get(PlaylistRow, playlist_id)
            if row is None or row.user_id != user_id:
                raise NotFound("playlist", playlist_id)
            return _playlist_dict(row)

    def playlists(self, user_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        """This listener's playlists, newest first.

        Every history read asks (issue #15): one Core statement built once, in
        autocommit (no BEGIN/COMMIT round trips, no ORM session).
        """
        with self.store.connection() as conn:
            rows = fetch(conn, _PLAYLISTS_OF, {"user_id": user_id, "limit": limit})
        return [_playlist_dict(r) for r in rows]

    def playlist_for_checkin(self, user_id: str, checkin_id: str) -> dict[str, Any] | None:
        """The playlist built for this check-in of this listener, if any."""
        with self.store.transaction() as s:
            q = select(PlaylistRow).where(
                PlaylistRow.user_id == user_id, PlaylistRow.checkin_id == checkin_id
            )
            row = s.scalars(q.limit(1)).first()
            return None if row is None else _playlist_dict(row)

    def set_playlist_outcome(self, user_id: str, playlist_id: str, outcome: dict[str, Any]) -> None:
        """Keep the check-out (answers and score) with the playlist it followed."""
        with self.store.transaction() as s:
            row = s.get(PlaylistRow, playlist_id, with_for_update=True)
            if row is None or row.user_id != user_id:
                raise NotFound("playlist", playlist_id)
            row.plan = {**row.plan, "outcome": dict(outcome)}  # a new dict: JSON is saved

    def prefs(self, user_id: str) -> dict[str, Any]:
        with self.store.transaction() as s:
            row = s.get(PrefsRow, user_id)
            if row is None:
                return {"disliked_artists": [], "disliked_genres": [], "voice_ok_for_sleep": False}
            return {
                "disliked_artists": list(row.disliked_artists),
                "disliked_genres": list(row.disliked_genres),
                "voice_ok_for_sleep": bool(row.voice_ok_for_sleep),
            }

    def set_prefs(self, user_id: str, **prefs: Any) -> None:
        with self.store.transaction() as s:
            row = s.get(PrefsRow, user_id)
            if row is None:
                row = PrefsRow(
                    user_id=user_id, disliked_artists=[], disliked_genres=[],
                    voice_ok_for_sleep=False,
                )  # fmt: skip
                s.add(row)
            for k, v in prefs.items():
                setattr(row, k, v)
            row.updated_at = utcnow()


_PL = PlaylistRow.__table__
_PLAYLISTS_OF = (
    select(_PL.c.id, _PL.c.goal, _PL.c.checkin_id, _PL.c.plan, _PL.c.created_at)
    .where(_PL.c.user_id == bindparam("user_id"))
    .order_by(_PL.c.created_at.desc(), _PL.c.id)
    .limit(bindparam("limit"))
)


def _playlist_dict(row: Any) -> dict[str, Any]:
    return {
        **row.plan,
        "id": row.id,
        "goal": row.goal,
        "checkin_id": row.checkin_id,
        "created_at": row.created_at,
    }


def _export(s: Session, user_id: str) -> dict[str, Any]:
    folders = rows_of(s, FolderRow, user_id)
    prefs = s.get(PrefsRow, user_id)
    return {
        "library": {
            "folders": [
                {"id": f.id, "path": f.path, "created_at": iso(f.created_at)} for f in folders
            ],
            "tracks": [
                {
                    "id": t.id,
                    "folder_id": t.folder_id,
                    "path": t.rel_path,
                    "size_bytes": t.size_bytes,
                    "title": t.title,
                    "artist": t.artist,
                    "album": t.album,
                    "genre": t.genre,
                    "analysis": t.analysis,
                    "error": t.error,
                    "analysed_at": iso(t.analysed_at),
                }
                for t in rows_of(s, TrackRow, user_id)
            ],
            "scans": [
                {
                    "id": r.id,
                    "state": r.state,
                    "files_seen": r.files_seen,
                    "analysed": r.analysed,
                    "created_at": iso(r.created_at),
                }
                for r in rows_of(s, ScanRow, user_id)
            ],
            "playlists": [
                {
                    "id": p.id,
                    "goal": p.goal,
                    "checkin_id": p.checkin_id,
                    "plan": p.plan,
                    "created_at": iso(p.created_at),
                }
                for p in rows_of(s, PlaylistRow, user_id)
            ],
            "prefs": None
            if prefs is None
            else {
                "disliked_artists": prefs.disliked_artists,
                "disliked_genres": prefs.disliked_genres,
                "voice_ok_for_sleep": prefs.voice_ok_for_sleep,
            },
        }
    }


#: The library's part of an account: rows only (the music files are never touched).
LIBRARY_ROWS = UserRows(
    models=(TrackRow, FolderRow, ScanRow, PlaylistRow, PrefsRow), exporter=_export, movable=True
)
