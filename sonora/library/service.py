"""The music library as the app and the CLI use it: folders, scans, tracks.

:class:`Library` works on any :class:`~sonora.library.repo.LibraryStore`; it checks a
folder against the operator's allowed roots (``SONORA_LIBRARY_ROOTS``; none means the
feature is off), limits how many scans one listener starts per period
(``SONORA_LIMIT_SCANS_PER_ACCOUNT``, counted in ``library_scans`` so the web and the
CLI share it) and hands scan jobs to a :class:`~sonora.library.scan.ScanRunner`.

The job entry point is the plain function :func:`run_scan` ``(core, scan_id)``: the
in-process runner calls it now, and a job queue can call it later unchanged.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from sonora.errors import ParameterError, SonoraError
from sonora.library.repo import Folder, LibraryStore, Scan, SqlLibraryRepo, Track
from sonora.library.scan import (
    Analyser,
    ScanResult,
    ScanRunner,
    allowed_folder,
    analyse_for_library,
)
from sonora.library.scan import run_scan as _run_stored_scan
from sonora.store import NotFound
from sonora.store.base import utcnow

__all__ = ["OFF_MESSAGE", "HasLibrary", "Library", "ScanLimitReached", "run_scan"]

#: What the page and the CLI say when ``SONORA_LIBRARY_ROOTS`` is empty.
OFF_MESSAGE = (
    "The music library is off on this server: the operator allows music folders by "
    "setting SONORA_LIBRARY_ROOTS (folders separated by ':')."
)


class ScanLimitReached(SonoraError):
    """This listener started as many scans as ``SONORA_LIMIT_SCANS_PER_ACCOUNT`` allows.

    Parameters
    ----------
    retry_after_s : int
        Seconds until the oldest scan of the period leaves it.
    """

    def __init__(self, retry_after_s: int) -> None:
        self.retry_after_s = max(1, int(retry_after_s))
        super().__init__(f"too many library scans for now; try again in {self.retry_after_s} s")


class HasLibrary(Protocol):
    """Anything with a :class:`Library` (the app's ``Core``)."""

    @property
    def library(self) -> Library: ...


def run_scan(core: HasLibrary, scan_id: str) -> ScanResult:
    """Run one stored scan job to the end (the job entry point; safe to repeat).

    Parameters
    ----------
    core : HasLibrary
        The app's core (only ``core.library`` is used).
    scan_id : str
        A row of ``library_scans`` in state ``queued`` or ``running``.
    """
    return core.library.run(scan_id)


class Library:
    """Folders, scans and tracks of each listener.

    Parameters
    ----------
    repo : LibraryStore
        Storage (:class:`~sonora.library.repo.SqlLibraryRepo` in the app).
    roots : sequence of str
        Allowed roots; empty turns the feature off.
    scan_limit : tuple of (int, float)
        ``(count, period_s)``: scans one listener may start per period.
    analyser : callable, optional
        ``Path -> TrackUpdate`` (tests may pass a faster one).
    """

    def __init__(
        self,
        repo: LibraryStore,
        roots: Sequence[str],
        *,
        scan_limit: tuple[int, float] = (12, 3600.0),
        analyser: Analyser = analyse_for_library,
    ) -> None:
        self.repo = repo
        self.roots = list(roots)
        self.scan_limit = scan_limit
        self.analyser = analyser
        self._runner: ScanRunner | None = None

    @property
    def enabled(self) -> bool:
        """False when the operator allows no roots (the page says :data:`OFF_MESSAGE`)."""
        return bool(self.roots)

    # -- folders and tracks ---------------------------------------------------------
    def add_folder(self, user_id: str, path: str) -> Folder:
        """Add a folder inside an allowed root (stored resolved; adding twice is a no-op).

        Raises
        ------
        ParameterError
            Naming ``path``: the library is off, the path is outside every root or is
            not a readable folder.
        """
        folder = allowed_folder(path, self.roots)
        return self.repo.add_folder(user_id, str(folder))

    def remove_folder(self, user_id: str, folder_id: str) -> None:
        """Forget a folder and Sonora's analysis of its tracks (never the files)."""
        self.repo.remove_folder(user_id, folder_id)

    def folders(self, user_id: str) -> list[Folder]:
        return self.repo.folders(user_id)

    def tracks(self, user_id: str) -> list[Track]:
        return self.repo.tracks(user_id)

    def audio_path(self, user_id: str, track_id: str) -> Path:
        """The file of one of this listener's tracks, for playback from the server.

        Only a regular file inside the listener's folder, itself still inside an allowed
        root, is returned (resolved, so a symlink swapped in since the scan cannot lead
        elsewhere); anything else is ``NotFound``, the same as someone else's track.
        """
        track, folder_path = self.repo.track(user_id, track_id)
        try:
            folder = allowed_folder(folder_path, self.roots)
        except ParameterError:
            raise NotFound("track", track_id) from None
        path = Path(os.path.realpath(folder / track.rel_path))
        if folder not in path.parents or not path.is_file():
            raise NotFound("track", track_id)
        return path

    # -- scans ----------------------------------------------------------------------
    def start_scan(self, user_id: str, *, now: dt.datetime | None = None) -> Scan:
        """Queue a scan of all this listener's folders (or return the one under way).

        Raises
        ------
        ParameterError
            Naming ``path``: the library is off or the listener has no folder yet.
        ScanLimitReached
            Over ``SONORA_LIMIT_SCANS_PER_ACCOUNT``.
        """
        if not self.enabled:
            raise ParameterError("path", OFF_MESSAGE)
        if not self.repo.folders(user_id):
            raise ParameterError("path", "add a folder of music first")
        for scan in self.repo.scans(user_id, limit=3):
            if scan.active:
                return scan
        count, period_s = self.scan_limit
        now = now or utcnow()
        since = now - dt.timedelta(seconds=period_s)
        recent = self.repo.scans(user_id, limit=count)
        in_period = [s for s in recent if _aware(s.created_at) >= _aware(since)]
        if len(in_period) >= count:
            oldest = min(_aware(s.created_at) for s in in_period)
            wait_s = (oldest + dt.timedelta(seconds=period_s) - _aware(now)).total_seconds()
            raise ScanLimitReached(int(wait_s) + 1)
        scan = self.repo.new_scan(user_id)
        if self._runner is not None:
            self._runner.submit(scan.id)
        return scan

    def scan(self, user_id: str, scan_id: str) -> Scan:
        """One of this listener's scans (``NotFound`` for anyone else's)."""
        scan = self.repo.scan(scan_id)
        if scan.user_id != user_id:
            raise NotFound("scan", scan_id)
        return scan

    def latest_scan(self, user_id: str) -> Scan | None:
        scans = self.repo.scans(user_id, limit=1)
        return scans[0] if scans else None

    def run(
        self, scan_id: str, *, progress: Callable[[ScanResult], None] | None = None
    ) -> ScanResult:
        """Run a stored scan in this thread (the CLI shows ``progress``)."""
        return _run_stored_scan(
            self.repo,  # type: ignore[arg-type]  # run_scan needs only LibraryStore methods
            scan_id,
            self.roots,
            analyser=self.analyser,
            progress=progress,
        )

    # -- background jobs -------------------------------------------------------------
    def start_background(self, job: Callable[[str], object] | None = None) -> None:
        """Start the in-process scan worker and resume scans a restart interrupted.

        Parameters
        ----------
        job : callable, optional
            ``scan_id -> anything``; default :meth:`run` (the app passes
            ``lambda sid: run_scan(core, sid)``).
        """
        if self._runner is not None or not self.enabled:
            return
        if not isinstance(self.repo, SqlLibraryRepo):  # pragma: no cover - app wiring
            raise TypeError("background scans need a SqlLibraryRepo")
        self._runner = ScanRunner(
            self.repo, self.roots, analyser=self.analyser, job=job or self.run
        )
        self._runner.start()

    def stop_background(self) -> None:
        if self._runner is not None:
            self._runner.stop()
            self._runner = None

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Block until queued scans finished (tests)."""
        if self._runner is not None:
            self._runner.wait_idle(timeout_s)


def _aware(t: dt.datetime) -> dt.datetime:
    """SQLite gives naive UTC datetimes back; compare everything as aware UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)
