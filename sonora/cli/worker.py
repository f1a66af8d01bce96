"""``sonora worker``: run job-queue workers (sonora/core/jobs.py) on any host."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from sonora.cli.options import whole_number_in

__all__ = ["worker_command"]


def worker_command(
    concurrency: Annotated[
        int,
        typer.Option(
            "--concurrency",
            "-c",
            callback=whole_number_in(1, 64, " processes"),
            help="Jobs run at once (processes, 1 to 64).",
        ),
    ] = min(64, max(1, os.cpu_count() or 1)),
    beat: Annotated[
        bool,
        typer.Option(
            "--beat/--no-beat",
            help="Also run the scheduler (outbox passes, daily re-check reminders). Run it "
            "on exactly one worker host (a second one is harmless: every job is idempotent).",
        ),
    ] = False,
    loglevel: Annotated[str, typer.Option("--loglevel", help="DEBUG, INFO, WARNING.")] = "INFO",
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            callback=whole_number_in(1, 65535),
            help="Serve Prometheus metrics (jobs run, retried, failed) on 127.0.0.1:PORT.",
        ),
    ] = None,
) -> None:
    """Run job workers: calibration, emails, reminders, library scans (needs a broker)."""
    from sonora.settings import Settings

    settings = Settings()
    if not settings.broker_url:
        typer.echo(
            "error: SONORA_BROKER_URL is not set, so jobs run inside `sonora serve`. Set it "
            "(e.g. amqp://guest:guest@127.0.0.1:5672//) on web and worker hosts to use workers.",
            err=True,
        )
        raise typer.Exit(code=2)
    if loglevel.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        typer.echo(f"error: --loglevel {loglevel!r}: allowed DEBUG, INFO, WARNING, ERROR", err=True)
        raise typer.Exit(code=2)
    from sonora.core.queue import celery_app, worker_argv

    if settings.log_format == "json":
        import logging.config

        from celery.signals import setup_logging

        from sonora.core.logs import log_config

        @setup_logging.connect(weak=False)
        def _json_logs(**_: object) -> None:  # Celery leaves logging to us
            logging.config.dictConfig(log_config(loglevel))

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if metrics_port is not None:
        from sonora.core.job_metrics import serve_worker_metrics

        serve_worker_metrics(metrics_port, settings.data_dir / f"worker-metrics-{os.getpid()}")
    celery_app.conf.beat_schedule_filename = str(settings.data_dir / "celerybeat-schedule")
    celery_app.worker_main(argv=list(worker_argv(concurrency, beat, loglevel.upper())))
