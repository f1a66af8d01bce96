"""Sonora's job queue: work that is not a request, on Celery.

Why Celery: it is BSD-licensed (Dramatiq is LGPL), runs on RabbitMQ or Redis, has retries
with exponential backoff, late acknowledgement (a job whose worker dies is delivered
again) and a scheduler (``beat``, embedded in ``sonora worker --beat``) so re-check
reminders need no cron.  We recommend RabbitMQ as the broker: it hands an unacknowledged
job back the moment a worker's connection drops, where Redis waits for a visibility
timeout.  With no broker configured (``SONORA_BROKER_URL`` empty, the default, which is
what ``make run`` uses) jobs run in-process at once (Celery's *eager* mode), so a
single-process SQLite install needs no services.

Every job is safe to run twice: calibration stores a result keyed by the plan's content
(a second run finds it and stops), the outbox claims each email before sending, and a
re-check reminder is queued once per expiry, and a download render writes a temporary
file renamed into place (a second run finds the file).

Adding a job (e.g. library scans)
---------------------------------
Write a function in this module decorated with :func:`job` that builds what it needs
from :func:`core` and is idempotent; call it with ``enqueue("sonora.<name>", **kwargs)``
(JSON-serialisable keyword arguments only).  ``sonora.library.scan`` below runs a
library scan.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sonora.core.queue import (
    MAX_BACKOFF_S,
    MAX_RETRIES,
    celery_app,
    enqueue,
    job,
    queue_depth,
)
from sonora.settings import Settings
from sonora.store.errors import NotFound

if TYPE_CHECKING:
    from sonora.core.app import Core

__all__ = [
    "MAX_BACKOFF_S",
    "MAX_RETRIES",
    "celery_app",
    "core",
    "enqueue",
    "job",
    "queue_depth",
]

log = logging.getLogger("sonora.jobs")

_core_lock = threading.Lock()
_core: Core | None = None


def core() -> Core:
    """The worker's application core (built once per worker process)."""
    global _core
    with _core_lock:
        if _core is None:
            from sonora.core.app import Core

            _core = Core(Settings())
        return _core


# -- the jobs ----------------------------------------------------------------------------
@job("sonora.calibrate")
def calibrate(user_id: str, plan_id: str) -> bool:
    """Measure a plan's loudness and store it; ``False`` when already stored."""
    c = core()
    try:
        rec = c.store.get_plan(user_id, plan_id)
    except NotFound:  # deleted since (its account too): nothing to do, no retry
        return False
    cal = c.calibrator
    key = cal.key(rec.plan)
    if rec.calibration is not None and rec.calibration.get("key") == key:
        return False
    cal._measure(rec.id, rec.plan, key, in_process=True)  # a worker: this process
    return True


@job("sonora.outbox.send")
def send_outbox() -> int:
    """Send every due email once (each is claimed before sending); returns how many."""
    report = core().therapists.deliver()
    return int(getattr(report, "sent", 0))


@job("sonora.therapists.remind")
def remind(days_ahead: int = 30) -> int:
    """Queue re-check reminders (once per expiry) and send them; returns how many."""
    done = core().therapists.remind(days_ahead=days_ahead)
    if done:
        enqueue("sonora.outbox.send")
    return len(done)


@job("sonora.programmes.remind")
def programmes_remind() -> int:
    """Queue today's programme reminders (at most one a day per programme: ``reminded_on``
    is set in the same transaction) and send them; returns how many."""
    c = core()
    done = c.programmes.send_reminders(base_url=c.settings.base_url, mail_from=c.settings.mail_from)
    if done:
        enqueue("sonora.outbox.send")
    return len(done)


@job("sonora.library.scan")
def library_scan(scan_id: str) -> Any:
    """A library scan on a worker: :func:`sonora.library.service.run_scan` (incremental:
    a second run re-reads only files changed since, so running it twice is safe).  The web
    app still runs scans in-process today; this is the entry point for moving them."""
    from sonora.library.service import run_scan

    return run_scan(core(), scan_id)


@job("sonora.downloads.render")
def render_download(download_id: str) -> str:
    """Render a session download to its file (:meth:`sonora.core.downloads.Downloads.render`:
    a finished file is found and kept, an interrupted one rendered again into a fresh
    temporary file and renamed into place, so running it twice is safe)."""
    from celery import current_task

    retries = int(getattr(current_task.request, "retries", 0) or 0) if current_task else 0
    return core().downloads.render(download_id, final_attempt=retries >= MAX_RETRIES)


@job("sonora.downloads.expire")
def expire_downloads() -> int:
    """Remove expired download files and rows, and files whose row is gone (hourly)."""
    return core().downloads.expire()


@job("sonora.probe")
def probe(marker: str, duration_s: float = 0.0) -> str:
    """Diagnostic job: appends ``start``/``done`` lines to the file ``marker``.

    Operators use it to check that workers take jobs (``sonora worker --probe``); the
    fault tests use it to kill a worker mid-job.  Idempotent: a second run after a
    finished one only adds a ``skip`` line.
    """
    path = Path(marker)
    if path.exists() and "done\n" in path.read_text():
        with path.open("a") as f:
            f.write(f"skip {os.getpid()}\n")
        return "skip"
    with path.open("a") as f:
        f.write(f"start {os.getpid()}\n")
    time.sleep(max(0.0, min(duration_s, 600.0)))
    with path.open("a") as f:
        f.write("done\n")
    return "done"
