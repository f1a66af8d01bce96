"""Sonora's job queue on Celery: the application, :func:`job` and :func:`enqueue`.

The jobs themselves are in :mod:`sonora.core.jobs` (they need the application core,
which in turn queues jobs through this module); read its docstring for the why and how.
"""

from __future__ import annotations

import functools
import importlib
import logging
import os
from collections.abc import Callable
from typing import Any

try:
    from celery import Celery, Task
except ImportError as exc:  # the optional extra: `make run` (no broker) never imports this
    raise ImportError(
        "SONORA_BROKER_URL needs the job-queue extra: .venv/bin/pip install -e '.[queue]'"
    ) from exc

from sonora.settings import Settings

__all__ = [
    "MAX_BACKOFF_S",
    "MAX_RETRIES",
    "celery_app",
    "enqueue",
    "job",
    "publish_failures",
    "queue_depth",
]


log = logging.getLogger("sonora.jobs")

#: Retry policy of every job: up to this many retries, backoff 2, 4, 8 ... s (jittered),
#: at most :data:`MAX_BACKOFF_S` apart.
MAX_RETRIES = 6
MAX_BACKOFF_S = 300


def _make_app() -> Celery:
    settings = Settings()
    url = settings.broker_url
    app = Celery(
        "sonora", broker=url or "memory://", include=["sonora.core.jobs"], set_as_current=False
    )
    app.conf.update(
        task_always_eager=not url,
        task_eager_propagates=True,
        task_ignore_result=True,
        # Acknowledge after the job ran, and hand a job back when its worker dies: a
        # job is delivered at least once, so every job is idempotent.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=settings.job_queue,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=2.0,  # seconds to connect before a publish gives up
        # Redis only: how long a job taken by a dead worker waits before redelivery.
        broker_transport_options={"visibility_timeout": settings.job_visibility_timeout_s},
        timezone="UTC",
        beat_schedule={
            "outbox": {
                "task": "sonora.outbox.send",
                "schedule": max(settings.outbox_interval_s, 5.0),
            },
            "remind": {"task": "sonora.therapists.remind", "schedule": 6 * 3600.0},
            # hourly: a listener's reminder goes out within the hour the day starts
            "programmes": {"task": "sonora.programmes.remind", "schedule": 3600.0},
            # expired download files (SONORA_DOWNLOAD_TTL_H) and files whose row is gone
            "downloads": {"task": "sonora.downloads.expire", "schedule": 3600.0},
        },
    )
    return app


#: The Celery application (configured from ``SONORA_*`` settings at import).
celery_app = _make_app()


def job(name: str) -> Callable[[Callable[..., Any]], Task]:
    """Register an idempotent job ``name`` with Sonora's retry policy.

    Parameters
    ----------
    name : str
        Task name, ``sonora.<area>.<verb>``.
    """

    def wrap(fn: Callable[..., Any]) -> Task:
        return celery_app.task(  # type: ignore[no-any-return]
            name=name,
            bind=False,
            autoretry_for=(Exception,),
            retry_backoff=2,
            retry_backoff_max=MAX_BACKOFF_S,
            retry_jitter=True,
            max_retries=MAX_RETRIES,
        )(fn)

    return wrap


def _tasks() -> Any:
    # The jobs module imports the application core, which imports this module: import
    # it by name (as a Celery worker does through ``include``), not at the top.
    importlib.import_module("sonora.core.jobs")
    return celery_app.tasks


#: How a web process publishes a job: a few quick tries, then it gives up (the request
#: goes on; see :func:`enqueue`) rather than holding the request while the broker is away.
PUBLISH_RETRY = {"max_retries": 2, "interval_start": 0.1, "interval_step": 0.2, "interval_max": 0.3}

#: Jobs that could not be published (broker unreachable), by name, since the process
#: started (``sonora_job_publish_failures_total`` in /metrics).
publish_failures: dict[str, int] = {}


def enqueue(name: str, /, **kwargs: Any) -> bool:
    """Queue job ``name`` (runs at once, in this process, when no broker is configured).

    Returns
    -------
    bool
        ``True`` when the job was queued (or ran), ``False`` when the broker could not
        be reached in about a second.  Nothing is raised then, so a broker outage never
        fails a request: every caller has a way round a lost job (a stream calibrates its
        plan itself, the scheduler's outbox pass sends the mail, a download renders in
        the web process).
    """
    if celery_app.conf.task_always_eager:
        _tasks()[name].apply(kwargs=kwargs).get()
        return True
    try:
        celery_app.send_task(name, kwargs=kwargs, retry=True, retry_policy=PUBLISH_RETRY)
    except Exception as exc:  # kombu's OperationalError, socket errors: the broker is away
        publish_failures[name] = publish_failures.get(name, 0) + 1
        log.warning("job %s not queued (broker unreachable): %s", name, exc)
        return False
    return True


def queue_depth() -> int | None:
    """Jobs waiting in the default queue (``None`` when in-process or not knowable)."""
    if celery_app.conf.task_always_eager:
        return None
    try:
        with celery_app.connection_for_write() as conn:
            ch = conn.default_channel
            q = str(celery_app.conf.task_default_queue)
            return int(ch.queue_declare(queue=q, passive=True).message_count)
    except Exception:  # readiness reports the broker; depth is best effort
        return None


@functools.cache
def worker_argv(concurrency: int, beat: bool, loglevel: str = "INFO") -> tuple[str, ...]:
    """Celery worker arguments for ``sonora worker``."""
    queue = str(celery_app.conf.task_default_queue)
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}", "-Q", queue]
    # A node name of its own per worker process: two workers on one host (systemd
    # sonora-worker@1, @2) must not share Celery's default ``celery@<host>``, whose
    # exclusive remote-control queue makes the second one exit on RabbitMQ.
    argv.append(f"--hostname=sonora-{os.getpid()}@%h")
    if beat:
        argv.append("--beat")
    return tuple(argv)
