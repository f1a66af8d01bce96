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
from typing import Any, Protocol

from sonora.errors import ParameterError, SonoraError
from sonora.library.playlist import Arc, StepLimits, build_arc, to_m3u8, to_xspf
from sonora.library.repo import Folder, LibraryStore, Scan, SqlLibraryRepo, Track
from sonora.library.scan import (
    Analyser,
    ScanResult,
    ScanRunner,
    allowed_folder,
    analyse_for_library,
)
from sonora.library.scan import run_scan as _run_stored_scan
from sonora.library.sessions import learned_target, music_insights, stored_plan
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

    def has_tracks(self, user_id: str) -> bool:
        """Whether this listener has an analysed track (one small query)."""
        return self.repo.has_tracks(user_id)

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

    # -- playlists --------------------------------------------------------------------
    def prefs(self, user_id: str) -> dict[str, Any]:
        """What this listener leaves out of playlists (artists, genres, voice for sleep)."""
        return self.repo.prefs(user_id)

    def set_prefs(
        self,
        user_id: str,
        *,
        disliked_artists: Sequence[str],
        disliked_genres: Sequence[str],
        voice_ok_for_sleep: bool,
    ) -> dict[str, Any]:
        """Store the dislikes (each list at most :data:`MAX_DISLIKES` names of at most
        120 characters; blanks and repeats dropped).

        Raises
        ------
        ParameterError
            Naming ``disliked_artists`` or ``disliked_genres``.
        """
        clean = {
            name: _names(name, values)
            for name, values in (
                ("disliked_artists", disliked_artists),
                ("disliked_genres", disliked_genres),
            )
        }
        self.repo.set_prefs(user_id, **clean, voice_ok_for_sleep=bool(voice_ok_for_sleep))
        return self.repo.prefs(user_id)

    def build_playlist(
        self,
        user_id: str,
        *,
        goal: str,
        tension: float | None,
        energy: float | None,
        minutes: float,
        checkin_id: str | None,
        plan_id: str,
        sound_layer: bool,
        limits: StepLimits | None = None,
        dry_run: bool = False,
    ) -> dict[str, Any]:
        """Build an arc from this listener's analysed tracks for a check-in and save it.

        The target is what helped this listener before for the goal when there is
        enough of it (:func:`~sonora.library.sessions.learned_target`), else the goal's.

        Parameters
        ----------
        goal : str
        tension, energy : float or None
            Check-in answers, 0–10 (a skipped answer counts as 5).
        minutes : float
            Length to fill, minutes (clipped to 5–720).
        checkin_id, plan_id : str
            The check-in and its plan (the optional sound layer, and the check-out).
        sound_layer : bool
            Play the plan's sound under and between the tracks.
        limits : StepLimits, optional
        dry_run : bool
            Check an arc can be built (the same errors) and store nothing.

        Returns
        -------
        dict
            The stored playlist (with ``dry_run``, the plan that would be stored) (:func:`~sonora.library.sessions.stored_plan` plus
            ``id``, ``goal``, ``checkin_id``, ``created_at``).
        """
        if not self.enabled:
            raise ParameterError("source", OFF_MESSAGE)
        prefs = self.repo.prefs(user_id)
        learned = learned_target(self.repo.playlists(user_id, limit=200), goal)
        arc = build_arc(
            self.repo.tracks(user_id),
            goal=goal,
            tension=5.0 if tension is None else float(tension),
            energy=5.0 if energy is None else float(energy),
            minutes=min(720.0, max(5.0, float(minutes))),
            limits=limits,
            disliked_artists=prefs["disliked_artists"],
            disliked_genres=prefs["disliked_genres"],
            voice_ok_for_sleep=prefs["voice_ok_for_sleep"],
            target=learned,
        )
        if not arc.tracks:
            raise ParameterError(
                "source", "no analysed track of your music fits yet: add a folder and scan it"
            )
        plan = stored_plan(
            arc,
            plan_id=plan_id,
            minutes=float(minutes),
            sound_layer=sound_layer,
            learned=learned is not None,
        )
        if dry_run:
            return plan
        pid = self.repo.save_playlist(user_id, goal, checkin_id, plan)
        return self.repo.playlist(user_id, pid)

    def playlist(self, user_id: str, playlist_id: str) -> dict[str, Any]:
        """One of this listener's playlists (``NotFound`` for anyone else's)."""
        return self.repo.playlist(user_id, playlist_id)

    def playlists(self, user_id: str, *, limit: int = 20) -> list[dict[str, Any]]:
        return self.repo.playlists(user_id, limit=limit)

    def playlist_for_checkin(self, user_id: str, checkin_id: str) -> dict[str, Any] | None:
        return self.repo.playlist_for_checkin(user_id, checkin_id)

    def record_outcome(
        self, user_id: str, playlist_id: str, answers: dict[str, Any], reward: float
    ) -> None:
        """Keep a check-out with its playlist: later arcs and the insights learn from it."""
        self.repo.set_playlist_outcome(
            user_id, playlist_id, {**answers, "reward": round(float(reward), 4)}
        )

    def insights(self, user_id: str) -> dict[str, dict[str, Any]]:
        """What seems to help per goal (:func:`~sonora.library.sessions.music_insights`)."""
        return music_insights(self.repo.playlists(user_id, limit=200))

    def export(self, user_id: str, playlist_id: str, fmt: str) -> tuple[str, str, str]:
        """A playlist as M3U8 or XSPF, for any other player.

        Paths are relative to the folder holding all the playlist's files (the common
        folder of the listener's music folders involved): save the file there.  Tracks
        whose file is gone since the scan are left out.

        Returns
        -------
        tuple of (str, str, str)
            ``(file name, text, media type)``.
        """
        if fmt not in ("m3u8", "xspf"):
            raise ParameterError("format", f"m3u8 or xspf (got {fmt!r})")
        stored = self.repo.playlist(user_id, playlist_id)
        by_id = {t.id: t for t in self.repo.tracks(user_id)}
        entries: list[tuple[str, Track]] = []
        for item in stored.get("tracks", []):
            track = by_id.get(str(item.get("id")))
            if track is None:
                continue
            try:
                entries.append((str(self.audio_path(user_id, track.id)), track))
            except NotFound:
                continue
        base = os.path.commonpath([os.path.dirname(p) for p, _ in entries]) if entries else "/"
        goal = str(stored["goal"])
        name = f"sonora-{goal.replace('_', '-')}-{stored['created_at']:%Y%m%d-%H%M}.{fmt}"
        if fmt == "m3u8":
            text = to_m3u8(entries, base)
            text = text.replace("#EXTM3U\n", f"#EXTM3U\n#PLAYLIST:Sonora: toward {goal}\n", 1)
            return name, text, "audio/x-mpegurl; charset=utf-8"
        lim = stored.get("limits") or {}
        arc = Arc(
            goal,
            [t for _, t in entries],
            StepLimits(**lim) if lim else StepLimits(),
            tuple(stored.get("start") or (0.0, 0.0)),  # type: ignore[arg-type]
            tuple(stored.get("target") or (0.0, 0.0, 0.0)),  # type: ignore[arg-type]
        )
        return name, to_xspf(arc, entries, base), "application/xspf+xml; charset=utf-8"

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


#: Most names one dislike list may hold.
MAX_DISLIKES = 100


def _names(name: str, values: Sequence[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        if not isinstance(v, str) or len(v.strip()) > 120:
            raise ParameterError(name, "names of at most 120 characters")
        v = v.strip()
        if v and v.casefold() not in {o.casefold() for o in out}:
            out.append(v)
    if len(out) > MAX_DISLIKES:
        raise ParameterError(name, f"at most {MAX_DISLIKES} names (got {len(out)})")
    return out


def _aware(t: dt.datetime) -> dt.datetime:
    """SQLite gives naive UTC datetimes back; compare everything as aware UTC."""
    return t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)
