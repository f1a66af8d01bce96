"""Prometheus metrics of a ``sonora worker`` (``--metrics-port``): jobs run, retried and
failed, by job name.

Celery runs jobs in child processes (the prefork pool), so the counters use
prometheus-client's multiprocess mode: each process writes its values to files in a
directory of the worker's own, and the parent's HTTP endpoint adds them up.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

__all__ = ["serve_worker_metrics"]


def serve_worker_metrics(port: int, directory: Path, host: str = "127.0.0.1") -> None:
    """Count jobs in every process of this worker and serve them on ``host:port``.

    Call before the worker starts (it forks its pool afterwards).

    Parameters
    ----------
    port : int
        TCP port of the ``/metrics`` endpoint (scrape each worker on its own).
    directory : Path
        Empty directory for the per-process value files (emptied first).
    host : str
        Address to listen on (loopback by default: operators only).
    """
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    from celery.signals import task_failure, task_retry, task_success
    from prometheus_client import CollectorRegistry, Counter, start_http_server, values
    from prometheus_client.multiprocess import MultiProcessCollector

    # prometheus-client picks its value class when first imported: make sure the counters
    # below are file-backed even if it was imported before the variable was set.
    values.ValueClass = values.MultiProcessValue()
    jobs = Counter("sonora_jobs", "Jobs finished by this worker, by job.", ["job"])
    retries = Counter(
        "sonora_job_retries", "Job runs that failed and were scheduled again, by job.", ["job"]
    )
    failures = Counter(
        "sonora_job_failures", "Jobs that failed for good (retries exhausted), by job.", ["job"]
    )

    def _name(sender: Any) -> str:
        return str(getattr(sender, "name", None) or "unknown")

    @task_success.connect(weak=False)
    def _ok(sender: Any = None, **_: Any) -> None:
        jobs.labels(_name(sender)).inc()

    @task_retry.connect(weak=False)
    def _retry(sender: Any = None, **_: Any) -> None:
        retries.labels(_name(sender)).inc()

    @task_failure.connect(weak=False)
    def _failed(sender: Any = None, **_: Any) -> None:
        failures.labels(_name(sender)).inc()

    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=str(directory))
    start_http_server(port, addr=host, registry=registry)
