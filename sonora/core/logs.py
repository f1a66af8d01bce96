"""Structured logs: one JSON object per line (``SONORA_LOG_FORMAT=json``).

For log shippers (journald -> Loki, Vector, Fluent Bit): every record has ``ts`` (UTC,
ISO 8601), ``level``, ``logger``, ``msg``, ``pid`` and, when there was one, ``exc`` (the
traceback); a web request's unhandled error also has ``request_id`` (the id its 500
answer names, :mod:`sonora.web.errors`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
from typing import Any

__all__ = ["JsonFormatter", "log_config", "log_thread_errors"]


class JsonFormatter(logging.Formatter):
    """Format a log record as one JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            "pid": os.getpid(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            out["request_id"] = str(request_id)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def log_config(level: str = "info") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` (and uvicorn ``log_config``) with JSON lines."""
    lvl = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "sonora.core.logs.JsonFormatter"}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": lvl},
        "loggers": {
            name: {"handlers": ["stderr"], "level": lvl, "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery")
        },
    }


def log_thread_errors() -> None:
    """Log an exception that ends a thread (``threading.excepthook``) through
    ``logging`` (logger ``sonora.threads``, with its traceback), so it reaches the same
    stream, in the same format, as every other record of the process."""
    thread_log = logging.getLogger("sonora.threads")

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "?"
        thread_log.error(
            "uncaught error in thread %s",
            name,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),  # type: ignore[arg-type]
        )

    threading.excepthook = hook
