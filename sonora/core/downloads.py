"""Session downloads rendered on the job queue, not in the web process.

A download is a row in ``downloads`` (:mod:`sonora.core.download_models`) and a file in
the media folder (``SONORA_MEDIA_DIR``, default ``<data dir>/media``; on many hosts a
volume every web process and worker shares):

1. :meth:`Downloads.start` (``POST /api/plans/{id}/downloads``) finds the listener's
   download of the same plan content, mixer gains and format, finished or under way,
   and reuses it; otherwise it records a new one (within the per-account limits) and
   queues the job ``sonora.downloads.render`` (:mod:`sonora.core.jobs`).
2. :meth:`Downloads.render` (the job, on any worker; :mod:`sonora.core.download_job`)
   renders the plan unpaced with the stream's encoders, a block at a time, into a temporary file beside the final one,
   recording progress about once a second, then renames it into place and marks the
   row ``done`` with its size and expiry.  It is safe to run twice: a finished file is
   found and kept; an interrupted render (a killed worker) left only a ``.part`` file,
   and the rerun renders again into a fresh one, so a reader never sees half a file.
3. The file route serves it to its owner (``Range`` too); :meth:`Downloads.expire` (a
   scheduled job, hourly) removes expired files and rows and any file whose row is
   gone; deleting an account removes its files (:meth:`Downloads.remove_files`).

Without a broker (``make run``), the job runs in this process, in
``download_threads`` background threads, so a request never waits for a render; the
same happens when the broker cannot be reached.  A render stopped by a restart of that
single process is resumed when downloads are next used.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from sonora.core.audio import FORMATS
from sonora.core.download_job import RenderJob
from sonora.core.download_models import STATUS_OF, DownloadRow
from sonora.errors import ParameterError, SonoraError
from sonora.settings import parse_rate
from sonora.store import NotFound
from sonora.store.base import new_id, utcnow

if TYPE_CHECKING:
    from sonora.core.app import Core
    from sonora.listening.repo import PlanRecord

__all__ = ["ACTIVE", "DownloadLimitReached", "DownloadRecord", "Downloads", "render_key"]

log = logging.getLogger("sonora.downloads")

#: Statuses of a render someone may still be waiting for.
ACTIVE = ("queued", "running")
#: A ``running`` row not updated for this long lost its worker and its broker message
#: (a killed worker's job is normally delivered again by the broker): asking again
#: queues it again (the job is idempotent), seconds.  Long enough for the calibration
#: of an all-night plan, measured before the first progress report.
RUNNING_STALE_S = 600.0
#: A ``queued`` row this old was probably lost with its broker message: queued again, s.
QUEUED_STALE_S = 1800.0
#: ``.part`` files (renders whose worker died) older than this are swept, seconds.
PART_STALE_S = 6 * 3600.0
#: Without a broker: tries of an in-process render.
LOCAL_TRIES = 3
#: Without a broker, expired downloads are swept at most this often, on use, seconds.
LOCAL_SWEEP_EVERY_S = 600.0


class DownloadLimitReached(SonoraError):
    """Too many renders for this account; try again in ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, int(retry_after_s + 0.999))


@dataclass(frozen=True)
class DownloadRecord:
    """A download, detached from the database session."""

    id: str
    user_id: str
    plan_id: str
    format: str
    status: str
    progress: float
    size_bytes: int | None
    error: str | None
    attempts: int
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None
    expires_at: dt.datetime | None
    duration_s: float
    title: str

    @classmethod
    def of(cls, row: Any) -> DownloadRecord:
        """From a :class:`DownloadRow` or a row of :data:`STATUS_OF` (plan fields only)."""
        plan = (row.plan or {}) if isinstance(row, DownloadRow) else row._mapping
        return cls(
            id=row.id,
            user_id=row.user_id,
            plan_id=row.plan_id,
            format=row.format,
            status=row.status,
            progress=float(row.progress),
            size_bytes=row.size_bytes,
            error=row.error,
            attempts=int(row.attempts),
            created_at=row.created_at,
            updated_at=row.updated_at,
            finished_at=row.finished_at,
            expires_at=row.expires_at,
            duration_s=float(plan.get("duration_s") or 0.0),
            title=str(plan.get("title") or "session"),
        )

    @property
    def filename(self) -> str:
        """What the browser saves it as, e.g. ``sonora-evening-rain-20min.opus``."""
        slug = "".join(c if c.isalnum() else "-" for c in self.title.lower())
        slug = "-".join(p for p in slug.split("-") if p) or "session"
        ext = FORMATS[self.format][2]
        return f"sonora-{slug}-{round(self.duration_s / 60)}min.{ext}"


def render_key(
    plan_id: str,
    plan: dict[str, Any],
    gains: list[float] | None,
    fmt: str,
    *,
    settings_key: str,
) -> str:
    """One render per key: SHA-256 (hex) of the plan (id and content: an edited plan is
    another render), mixer gains, format and render settings."""
    text = json.dumps(
        {"id": plan_id, "plan": plan, "gains": gains, "format": fmt, "settings": settings_key},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Downloads:
    """Downloads of sessions: start, status, file, the render job and expiry.

    Parameters
    ----------
    core : Core
        The application core (settings, store, calibrator).
    """

    def __init__(self, core: Core) -> None:
        self.core = core
        self.settings = core.settings
        self.store = core.store
        self.folder = Path(self.settings.media_folder) / "downloads"
        self._local: ThreadPoolExecutor | None = None
        self._local_lock = threading.Lock()
        self._last_sweep = 0.0
        self._stop = threading.Event()
        self.job = RenderJob(core, self.path, self._stop)

    # -- paths -------------------------------------------------------------------------
    def path(self, download_id: str, fmt: str) -> Path:
        """The finished file of a download (named by its random id, not its owner)."""
        return self.folder / f"{download_id}.{FORMATS[fmt][2]}"

    def _settings_key(self) -> str:
        s = self.settings
        return (
            f"{s.sample_rate}:{s.target_lufs:g}:{s.opus_compression:g}:"
            f"{s.mp3_compression:g}:{s.opus_complexity}"
        )

    # -- requests (web process) --------------------------------------------------------
    def start(self, user_id: str, record: PlanRecord, fmt: str) -> tuple[DownloadRecord, bool]:
        """Find or start the render of ``record`` as ``fmt`` for its owner.

        Returns
        -------
        (DownloadRecord, bool)
            The download, and whether a render was queued by this call (``False``:
            a finished or running one of the same plan, gains and format is reused).

        Raises
        ------
        ParameterError
            ``format`` not one of ``opus``, ``mp3``.
        DownloadLimitReached
            A new render would pass ``limit_downloads_per_account`` or
            ``download_renders_per_account``.
        """
        if fmt not in FORMATS:
            raise ParameterError("format", f"{fmt!r} is not a format; allowed: opus, mp3")
        self._maybe_sweep()
        gains = None if record.gains is None else [float(g) for g in record.gains]
        key = render_key(record.id, record.plan, gains, fmt, settings_key=self._settings_key())
        now = utcnow()
        try:
            with self.store.transaction() as s:
                row = s.scalars(
                    select(DownloadRow).where(
                        DownloadRow.user_id == user_id, DownloadRow.render_key == key
                    )
                ).first()
                if row is not None and self._reusable(row, now):
                    return DownloadRecord.of(row), False
                self._check_limits(s, user_id, now)
                if row is None:
                    row = DownloadRow(
                        id=new_id(),
                        user_id=user_id,
                        plan_id=record.id,
                        format=fmt,
                        render_key=key,
                        plan=record.plan,
                        gains=gains,
                        status="queued",
                        progress=0.0,
                        attempts=0,
                        created_at=now,
                        updated_at=now,
                    )
                    s.add(row)
                else:  # failed, expired, file lost or worker lost: render it again
                    row.status, row.progress, row.error = "queued", 0.0, None
                    row.size_bytes, row.finished_at, row.expires_at = None, None, None
                    row.created_at = row.updated_at = now
                s.flush()
                out = DownloadRecord.of(row)
        except IntegrityError:  # the same request at the same moment: theirs is the one
            with self.store.reading() as s:
                found = s.scalars(
                    select(DownloadRow).where(
                        DownloadRow.user_id == user_id, DownloadRow.render_key == key
                    )
                ).one()
                return DownloadRecord.of(found), False
        self.dispatch(out.id)
        return out, True

    def _reusable(self, row: DownloadRow, now: dt.datetime) -> bool:
        if row.status == "done":
            fresh = row.expires_at is None or row.expires_at > now
            return fresh and self.path(row.id, row.format).exists()
        if row.status == "running":
            return (now - row.updated_at).total_seconds() < RUNNING_STALE_S
        if row.status == "queued":
            return (now - row.updated_at).total_seconds() < QUEUED_STALE_S
        return False  # failed: asking again tries again

    def _check_limits(self, s: Any, user_id: str, now: dt.datetime) -> None:
        running = int(
            s.scalar(
                select(func.count())
                .select_from(DownloadRow)
                .where(DownloadRow.user_id == user_id, DownloadRow.status.in_(ACTIVE))
            )
            or 0
        )
        most = self.settings.download_renders_per_account
        if running >= most:
            raise DownloadLimitReached(
                f"download: {running} of your downloads are still being prepared (at most "
                f"{most} at once); wait for one to finish",
                30.0,
            )
        if not self.settings.rate_limits:
            return
        count, period_s = parse_rate(self.settings.limit_downloads_per_account)
        since = now - dt.timedelta(seconds=period_s)
        recent = list(
            s.scalars(
                select(DownloadRow.created_at)
                .where(DownloadRow.user_id == user_id, DownloadRow.created_at >= since)
                .order_by(DownloadRow.created_at)
            )
        )
        if len(recent) >= count:
            wait_s = (recent[0] + dt.timedelta(seconds=period_s) - now).total_seconds()
            raise DownloadLimitReached(
                f"download: at most {count} new downloads per {period_s / 3600:g} h; "
                "try again later (ready ones stay available)",
                wait_s,
            )

    def get(self, user_id: str, download_id: str) -> DownloadRecord:
        """A download of this listener (:class:`~sonora.store.NotFound` otherwise)."""
        self._maybe_sweep()
        with self.store.connection() as conn:  # columns, not the ORM row (issue #15)
            row = conn.execute(STATUS_OF, {"download_id": download_id, "user_id": user_id}).first()
        if row is None:  # none, or someone else's: the same answer
            raise NotFound("download", download_id)
        rec = DownloadRecord.of(row)
        if rec.status == "done" and not self.path(rec.id, rec.format).exists():
            # the file went (expired, or a volume not shared): say so, do not 500
            return _replace(rec, status="failed", error="the file is no longer there; ask again")
        return rec

    def list(self, user_id: str) -> list[DownloadRecord]:
        """This listener's downloads, newest first."""
        with self.store.reading() as s:
            rows = s.scalars(
                select(DownloadRow)
                .where(DownloadRow.user_id == user_id)
                .order_by(DownloadRow.created_at.desc(), DownloadRow.id)
            )
            return [DownloadRecord.of(r) for r in rows]

    # -- running the job -----------------------------------------------------------------
    def dispatch(self, download_id: str) -> None:
        """Queue the render on a worker; without a broker (or with the broker unreachable)
        run it in this process's background threads."""
        if self.settings.broker_url:
            from sonora.core.queue import enqueue

            if enqueue("sonora.downloads.render", download_id=download_id):
                return
            log.warning("download %s renders in this process: broker unreachable", download_id)
        with self._local_lock:
            if self._local is None:
                self._local = ThreadPoolExecutor(
                    max_workers=self.settings.download_threads,
                    thread_name_prefix="sonora-download",
                )
            pool = self._local
        pool.submit(self._run_local, download_id)

    def _run_local(self, download_id: str) -> None:
        """The job in this process, with the queue's retry policy shortened: a few tries,
        2 then 4 s apart."""
        for attempt in range(LOCAL_TRIES):
            if self._stop.is_set():  # closing: resumed on the next start
                return
            last = attempt == LOCAL_TRIES - 1
            try:
                self.render(download_id, final_attempt=last)
                return
            except Exception:  # recorded on the row by render()
                log.exception("download %s failed (try %d)", download_id, attempt + 1)
                if not last and self._stop.wait(2.0 * 2**attempt):
                    return  # closing while waiting to try again

    def close(self) -> None:
        """Stop the in-process render threads and wait for them: a render under way
        stops at its next block (its calibration at its next quantum), leaving its row
        ``running`` (asked again once stale, it is queued again); queued ones are
        dropped (resumed when downloads are next used).  No thread outlives this call."""
        self._stop.set()
        with self._local_lock:
            pool, self._local = self._local, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def render(self, download_id: str, *, final_attempt: bool = True) -> str:
        """The job: render download ``download_id`` to its file (idempotent); see
        :meth:`sonora.core.download_job.RenderJob.run`."""
        return self.job.run(download_id, final_attempt=final_attempt)

    # -- expiry and account deletion ---------------------------------------------------
    def expire(self, now: dt.datetime | None = None) -> int:
        """Remove expired downloads (rows and files), failed or lost ones a download
        lifetime old, and files with no row; returns how many files were removed."""
        now = now or utcnow()
        ttl = dt.timedelta(hours=self.settings.download_ttl_h)
        with self.store.transaction() as s:
            gone = list(
                s.execute(
                    select(DownloadRow.id, DownloadRow.format).where(
                        (DownloadRow.expires_at < now)
                        | ((DownloadRow.status != "done") & (DownloadRow.updated_at < now - ttl))
                    )
                )
            )
            if gone:
                s.execute(delete(DownloadRow).where(DownloadRow.id.in_([g[0] for g in gone])))
        removed = 0
        for download_id, fmt in gone:
            path = self.path(download_id, fmt)
            if path.exists():
                path.unlink(missing_ok=True)
                removed += 1
        return removed + self._sweep_orphans(now)

    def _sweep_orphans(self, now: dt.datetime) -> int:
        if not self.folder.is_dir():
            return 0
        files = [p for p in self.folder.iterdir() if p.is_file()]
        removed = 0
        parts = [p for p in files if p.name.endswith(".part")]
        for p in parts:
            if now.timestamp() - p.stat().st_mtime > PART_STALE_S:
                p.unlink(missing_ok=True)
                removed += 1
        named = {p.stem: p for p in files if not p.name.startswith(".")}
        ids = list(named)
        known: set[str] = set()
        with self.store.reading() as s:
            for i in range(0, len(ids), 500):
                batch = ids[i : i + 500]
                known.update(s.scalars(select(DownloadRow.id).where(DownloadRow.id.in_(batch))))
        for download_id, p in named.items():
            # a file younger than a minute may belong to a row being written right now
            if download_id not in known and now.timestamp() - p.stat().st_mtime > 60:
                p.unlink(missing_ok=True)
                removed += 1
        return removed

    def file_paths(self, user_id: str) -> list[Path]:
        """Files of this listener's downloads (read before their rows are deleted)."""
        with self.store.reading() as s:
            rows = s.execute(
                select(DownloadRow.id, DownloadRow.format).where(DownloadRow.user_id == user_id)
            )
            return [self.path(i, f) for i, f in rows]

    @staticmethod
    def remove_files(paths: list[Path]) -> int:
        """Delete these files (an account's, after its rows went); returns how many."""
        n = 0
        for p in paths:
            if p.exists():
                p.unlink(missing_ok=True)
                n += 1
        return n

    def _maybe_sweep(self) -> None:
        """Without a broker nothing schedules :meth:`expire`: run it now and then, on use.

        On first use it also resumes renders a previous run of this (single) process
        left waiting or running (stopped by a restart): nothing else would.
        """
        if self.settings.broker_url:
            return
        now = time.monotonic()
        with self._local_lock:
            first = self._last_sweep == 0.0
            if not first and now - self._last_sweep < LOCAL_SWEEP_EVERY_S:
                return
            self._last_sweep = now
        try:
            self.expire()
            if first:
                with self.store.reading() as s:
                    left = list(
                        s.scalars(select(DownloadRow.id).where(DownloadRow.status.in_(ACTIVE)))
                    )
                for download_id in left:
                    self.dispatch(download_id)
        except Exception:  # pragma: no cover - best effort
            log.exception("sweeping expired downloads failed")


def _replace(rec: DownloadRecord, **changes: Any) -> DownloadRecord:
    from dataclasses import replace

    return replace(rec, **changes)
