"""Structured logs: one JSON object per line (``SONORA_LOG_FORMAT=json``).

For log shippers (journald -> Loki, Vector, Fluent Bit): every record has ``ts`` (UTC,
ISO 8601), ``level``, ``logger``, ``msg``, ``pid`` and, when there was one, ``exc``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from typing import Any

__all__ = ["JsonFormatter", "log_config"]


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
