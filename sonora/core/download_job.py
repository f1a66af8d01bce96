"""The render job of a session download: one plan rendered and encoded into its file.

:meth:`RenderJob.run` is what ``sonora.downloads.render`` (:mod:`sonora.core.jobs`) runs
on a worker, or a background thread of the web process without a broker
(:class:`sonora.core.downloads.Downloads` starts, finds and expires downloads).  It
renders the plan unpaced with the stream's encoders, a block at a time, into a
temporary file beside the final one, records progress about once a second, then renames
it into place and marks the row ``done`` with its size and expiry.  Each row update is
its own short transaction.
"""

from __future__ import annotations

import datetime as dt
import os
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from sonora.core.audio import Renderer, StreamJob, build_stream_mix
from sonora.core.download_models import DownloadRow
from sonora.plan import Plan
from sonora.plan.render import CalibrationStopped
from sonora.store import NotFound
from sonora.store.base import utcnow

if TYPE_CHECKING:
    from sonora.core.app import Core
    from sonora.listening.repo import PlanRecord

__all__ = ["PROGRESS_EVERY_S", "WRITE_BYTES", "RenderJob"]

#: A running render records progress about this often, seconds.
PROGRESS_EVERY_S = 1.0
#: Bytes encoded before each write to the file (the encoder gets a block at a time).
WRITE_BYTES = 64 * 1024


class RenderJob:
    """Renders downloads into their files (any worker, or a thread of the web process).

    Parameters
    ----------
    core : Core
        The application core (settings, store, calibrator, listening).
    path : callable
        ``path(download_id, fmt)``: the finished file of a download.
    stop : threading.Event
        Set when this process is closing: a render under way stops at its next block,
        a calibration at its next quantum (the row stays ``running``).
    """

    def __init__(self, core: Core, path: Callable[[str, str], Path], stop: threading.Event) -> None:
        self.core = core
        self.settings = core.settings
        self.store = core.store
        self.path = path
        self.stop = stop

    def run(self, download_id: str, *, final_attempt: bool = True) -> str:
        """Render download ``download_id`` to its file (idempotent).

        Parameters
        ----------
        download_id : str
        final_attempt : bool
            Whether a failure now is the last try (the row is then ``failed``;
            otherwise it stays ``queued`` with the error, for the retry).

        Returns
        -------
        str
            ``"done"`` (rendered now), ``"skip"`` (already there) or ``"gone"`` (the
            row, its plan or its account was deleted: nothing to do, no retry).
        """
        with self.store.reading() as s:
            row = s.get(DownloadRow, download_id)
            if row is None:
                return "gone"
            user_id, plan_id, fmt = row.user_id, row.plan_id, row.format
            plan_dict, gains, status = dict(row.plan), row.gains, row.status
        final = self.path(download_id, fmt)
        if final.exists():  # a finished render (perhaps its row update was lost): keep it
            if status != "done":
                self._finish(download_id, final.stat().st_size)
            return "skip"
        try:
            record = self.core.listening.get_plan(user_id, plan_id)
        except NotFound:
            self._fail(download_id, "plan: it no longer exists", final=True)
            return "gone"
        if not self._claim(download_id):
            return "gone"
        tmp = final.with_name(f".{download_id}.{uuid.uuid4().hex[:8]}.part")
        try:
            try:
                calibration = self._calibration(record, plan_dict)
            except CalibrationStopped:  # this process is closing: the row stays running
                return "gone"
            plan = Plan.from_dict(plan_dict)
            if not self._encode(download_id, plan, calibration, gains, fmt, tmp):
                tmp.unlink(missing_ok=True)
                return "gone"
            os.replace(tmp, final)  # atomic: readers see no file or the whole file
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            self._fail(download_id, f"render: {type(exc).__name__}: {exc}", final=final_attempt)
            raise
        if not self._finish(download_id, final.stat().st_size):
            final.unlink(missing_ok=True)  # deleted while rendering (account, expiry)
            return "gone"
        return "done"

    def _calibration(self, record: PlanRecord, plan: dict[str, Any]) -> dict[str, Any]:
        """The plan's exact loudness calibration (measured here when not stored yet;
        :class:`~sonora.plan.render.CalibrationStopped` when :attr:`stop` is set
        meanwhile)."""
        from sonora.core.calibration import measure_plan
        from sonora.store.keys import plan_key

        cal = self.core.calibrator
        key = cal.key(plan)
        stored = record.calibration
        if stored is not None and stored.get("key") == key:
            return stored
        if plan_key(record.plan) == plan_key(plan):  # still the plan: keep it for streams
            return cal._measure(record.id, plan, key, in_process=True, stop=self.stop)
        s = self.settings
        return measure_plan(plan, s.sample_rate, s.target_lufs, stop=self.stop)

    def _encode(
        self,
        download_id: str,
        plan: Plan,
        calibration: dict[str, Any],
        gains: list[float] | None,
        fmt: str,
        tmp: Path,
    ) -> bool:
        """Render and encode into ``tmp``; ``False`` when the row went away meanwhile
        (or this process is closing)."""
        s = self.settings
        mix = build_stream_mix(plan, calibration, sample_rate=s.sample_rate, gains=gains)
        renderer = Renderer(mix, history_s=0.0)
        compression = s.opus_compression if fmt == "opus" else s.mp3_compression
        job = StreamJob(renderer, fmt, compression, opus_complexity=s.opus_complexity)
        total_s = max(plan.duration_s, 1e-9)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        next_report = time.monotonic() + PROGRESS_EVERY_S
        try:
            with tmp.open("wb") as f:
                while not job.closed:
                    if self.stop.is_set():  # this process is shutting down
                        return False
                    f.write(job.next_chunk(min_bytes=WRITE_BYTES))
                    if time.monotonic() >= next_report:
                        next_report = time.monotonic() + PROGRESS_EVERY_S
                        if not self._progress(download_id, renderer.position_s / total_s):
                            return False
                f.flush()
                os.fsync(f.fileno())
        finally:
            if not job.closed:
                job.abort()
        return True

    # -- row updates (each its own short transaction) ----------------------------------
    def _update(self, download_id: str, **values: Any) -> bool:
        """Set ``values`` on the row; ``False`` when it is gone (deleted meanwhile)."""
        with self.store.transaction() as s:
            res = s.execute(
                update(DownloadRow).where(DownloadRow.id == download_id).values(**values)
            )
            return bool(res.rowcount)

    def _claim(self, download_id: str) -> bool:
        return self._update(
            download_id,
            status="running",
            progress=0.0,
            attempts=DownloadRow.attempts + 1,
            updated_at=utcnow(),
        )

    def _progress(self, download_id: str, fraction: float) -> bool:
        progress = min(max(fraction, 0.0), 0.999)
        return self._update(download_id, progress=progress, updated_at=utcnow())

    def _finish(self, download_id: str, size_bytes: int) -> bool:
        now = utcnow()
        return self._update(
            download_id,
            status="done",
            progress=1.0,
            size_bytes=int(size_bytes),
            error=None,
            updated_at=now,
            finished_at=now,
            expires_at=now + dt.timedelta(hours=self.settings.download_ttl_h),
        )

    def _fail(self, download_id: str, error: str, *, final: bool) -> None:
        status = "failed" if final else "queued"
        self._update(download_id, status=status, error=error[:500], updated_at=utcnow())
