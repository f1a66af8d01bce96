"""Finding and analysing a folder's music: allowed roots, incremental scans, jobs.

A scan walks a folder (``os.scandir``, no symlinks followed, so a link cannot lead
outside an allowed root), compares each audio file's size and modification time with
what the database knows, analyses only new or changed files and forgets removed ones.
An unchanged library costs one ``stat`` per file and one query per folder
(``benchmarks/library.py`` times 1,000 files).  Files are only ever opened for reading.

Scan jobs keep their state in ``library_scans``; :class:`ScanRunner` runs them one at a
time in a background thread, and on start picks up any scan a restart interrupted
(scans are incremental, so running one again finishes the work and repeats none).
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sonora.errors import ParameterError
from sonora.library.repo import SqlLibraryRepo, TrackUpdate
from sonora.store.base import utcnow

__all__ = [
    "AUDIO_EXTENSIONS",
    "ScanResult",
    "ScanRunner",
    "allowed_folder",
    "analyse_for_library",
    "scan_folder",
    "walk_audio",
]

log = logging.getLogger(__name__)

#: File name endings scanned (FLAC, MP3, Ogg Vorbis/Opus, AAC/M4A, WAV).
AUDIO_EXTENSIONS = frozenset(
    {".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".wav"}
)
#: Rows written per transaction while analysing (progress is saved as often).
BATCH = 8

Analyser = Callable[[Path], TrackUpdate]


def allowed_folder(path: str | os.PathLike[str], roots: Sequence[str | os.PathLike[str]]) -> Path:
    """The folder as an absolute, resolved path, if it lies inside an allowed root.

    Parameters
    ----------
    path : str or PathLike
        What the listener typed (``~`` is expanded).
    roots : sequence of paths
        Folders the operator allows (``SONORA_LIBRARY_ROOTS``).

    Raises
    ------
    ParameterError
        Naming ``path``: outside every root (checked before the folder's existence,
        so nothing is revealed about other places), or not a readable folder.
    """
    if not roots:
        raise ParameterError(
            "path",
            "this server allows no music folders yet (the operator sets SONORA_LIBRARY_ROOTS)",
        )
    text = str(path).strip()
    if not text or "\x00" in text:
        raise ParameterError("path", "give the full path of a folder of music")
    p = Path(text).expanduser()
    if not p.is_absolute():
        raise ParameterError("path", f"give an absolute path (got {text!r})")
    p = Path(os.path.realpath(p))
    resolved_roots = [Path(os.path.realpath(Path(r).expanduser())) for r in roots]
    if not any(p == r or r in p.parents for r in resolved_roots):
        allowed = ", ".join(str(r) for r in resolved_roots)
        raise ParameterError("path", f"must be inside an allowed folder: {allowed}")
    if not p.is_dir() or not os.access(p, os.R_OK | os.X_OK):
        raise ParameterError("path", f"{p} is not a readable folder")
    return p


def walk_audio(root: Path) -> Iterator[tuple[str, int, int]]:
    """``(relative path, size in bytes, mtime in ns)`` of every audio file under ``root``.

    Symlinks are skipped (files and folders), hidden entries too; unreadable folders
    are passed over.  Relative paths use ``/``.
    """
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for e in entries:
            if e.name.startswith(".") or e.is_symlink():
                continue
            if e.is_dir(follow_symlinks=False):
                stack.append((Path(e.path), f"{prefix}{e.name}/"))
            elif os.path.splitext(e.name)[1].lower() in AUDIO_EXTENSIONS:
                try:
                    st = e.stat(follow_symlinks=False)
                except OSError:
                    continue
                yield f"{prefix}{e.name}", st.st_size, st.st_mtime_ns


def analyse_for_library(path: Path) -> TrackUpdate:
    """Decode and analyse one file into a :class:`TrackUpdate` (errors kept, not raised)."""
    from sonora.library.analysis import analyse_file

    st = path.stat()
    try:
        analysis, dec = analyse_file(path)
    except ParameterError as exc:
        return TrackUpdate("", st.st_size, st.st_mtime_ns, {}, "", None, exc.message)
    except Exception as exc:  # a broken file must not stop the scan
        log.warning("library: cannot analyse %s: %r", path, exc)
        return TrackUpdate(
            "",
            st.st_size,
            st.st_mtime_ns,
            {},
            "",
            None,
            f"cannot analyse: {exc.__class__.__name__}",
        )
    return TrackUpdate("", st.st_size, st.st_mtime_ns, dec.tags, dec.codec, analysis.to_json())


@dataclass
class ScanResult:
    """What a scan of one or more folders did."""

    files_seen: int = 0
    to_analyse: int = 0
    analysed: int = 0
    failed: int = 0
    removed: int = 0


def scan_folder(
    repo: SqlLibraryRepo,
    user_id: str,
    folder_id: str,
    root: Path,
    *,
    analyser: Analyser = analyse_for_library,
    progress: Callable[[ScanResult], None] | None = None,
    result: ScanResult | None = None,
) -> ScanResult:
    """Bring one folder's rows up to date with its files (changed files only).

    Parameters
    ----------
    repo : SqlLibraryRepo
    user_id, folder_id : str
    root : Path
        The folder (already checked by :func:`allowed_folder`).
    analyser : callable
        ``analyser(path) -> TrackUpdate`` (the benchmark passes a cached one).
    progress : callable, optional
        Called with the running totals after the walk and after each batch.
    result : ScanResult, optional
        Totals to add to (a scan of several folders).
    """
    result = result or ScanResult()
    known = repo.known_files(folder_id)
    seen: set[str] = set()
    todo: list[tuple[str, int, int]] = []
    for rel, size, mtime in walk_audio(root):
        seen.add(rel)
        if known.get(rel) != (size, mtime):
            todo.append((rel, size, mtime))
    gone = [p for p in known if p not in seen]
    result.files_seen += len(seen)
    result.to_analyse += len(todo)
    if gone:
        result.removed += repo.remove_tracks(folder_id, gone)
    if progress:
        progress(result)
    batch: list[TrackUpdate] = []
    for rel, size, mtime in todo:
        u = analyser(root / rel)
        # keep the stat taken by the walk's view of the file if the analyser saw another
        batch.append(
            TrackUpdate(
                rel, u.size_bytes or size, u.mtime_ns or mtime, u.tags, u.codec, u.analysis, u.error
            )
        )
        result.analysed += 1
        result.failed += u.error is not None
        if len(batch) >= BATCH:
            repo.save_tracks(user_id, folder_id, batch)
            batch = []
            if progress:
                progress(result)
    if batch:
        repo.save_tracks(user_id, folder_id, batch)
    if progress:
        progress(result)
    return result


class ScanRunner:
    """Runs scan jobs one at a time in a daemon thread; state lives in the database.

    Parameters
    ----------
    repo : SqlLibraryRepo
    roots : sequence of paths
        Allowed roots, checked again at scan time (a setting may have changed).
    analyser : callable, optional
    job : callable, optional
        ``scan_id -> anything`` run for each queued scan; default :func:`run_scan` on
        ``repo`` (the app passes ``sonora.library.service.run_scan`` bound to its core).
    """

    def __init__(
        self,
        repo: SqlLibraryRepo,
        roots: Sequence[str],
        *,
        analyser: Analyser = analyse_for_library,
        job: Callable[[str], object] | None = None,
    ) -> None:
        self.repo = repo
        self.roots = list(roots)
        self.analyser = analyser
        self.job = job
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the worker and queue every scan a previous process left unfinished."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._work, name="library-scans", daemon=True)
            self._thread.start()
        for scan in self.repo.unfinished_scans():
            self._queue.put(scan.id)

    def stop(self) -> None:
        with self._lock:
            if self._thread is None:
                return
            self._queue.put(None)
            self._thread.join(timeout=30)
            self._thread = None

    def submit(self, scan_id: str) -> None:
        """Queue a scan already stored as ``queued``."""
        self._queue.put(scan_id)

    def _work(self) -> None:
        while True:
            scan_id = self._queue.get()
            if scan_id is None:
                return
            try:
                if self.job is not None:
                    self.job(scan_id)
                else:
                    run_scan(self.repo, scan_id, self.roots, analyser=self.analyser)
            except Exception:  # pragma: no cover - logged, the job row says failed
                log.exception("library scan %s failed", scan_id)

    def wait_idle(self, timeout_s: float = 60.0) -> None:
        """Block until the queue is empty and the current scan finished (tests, CLI)."""
        import time

        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self._queue.empty() and not any(s.active for s in self.repo.unfinished_scans()):
                return
            time.sleep(0.05)


def run_scan(
    repo: SqlLibraryRepo,
    scan_id: str,
    roots: Sequence[str],
    *,
    analyser: Analyser = analyse_for_library,
    progress: Callable[[ScanResult], None] | None = None,
) -> ScanResult:
    """Run one stored scan job over all of its listener's folders, saving progress."""
    scan = repo.scan(scan_id)
    if scan.state in ("done", "failed"):
        return ScanResult(
            scan.files_seen, scan.to_analyse, scan.analysed, scan.failed, scan.removed
        )
    repo.update_scan(scan_id, state="running", message="")
    result = ScanResult()

    def save(r: ScanResult) -> None:
        fields: dict[str, Any] = {
            "files_seen": r.files_seen, "to_analyse": r.to_analyse, "analysed": r.analysed,
            "failed": r.failed, "removed": r.removed,
        }  # fmt: skip
        repo.update_scan(scan_id, **fields)
        if progress:
            progress(r)

    problems = []
    try:
        for folder in repo.folders(scan.user_id):
            try:
                root = allowed_folder(folder.path, roots)
            except ParameterError as exc:
                problems.append(exc.message)
                continue
            scan_folder(
                repo, scan.user_id, folder.id, root, analyser=analyser, progress=save, result=result
            )
    except Exception as exc:
        repo.update_scan(
            scan_id,
            state="failed",
            message=f"failed: {exc.__class__.__name__}",
            finished_at=utcnow(),
        )
        raise
    save(result)
    repo.update_scan(scan_id, state="done", message="; ".join(problems)[:300], finished_at=utcnow())
    return result
