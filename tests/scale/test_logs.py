"""Structured logs: each line one JSON object with the fields docs/app.md names."""

from __future__ import annotations

import json
import logging

from sonora.core.logs import JsonFormatter, log_config


def test_a_record_is_one_json_line_with_its_exception() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        rec = logging.getLogger("sonora.x").makeRecord(
            "sonora.x", logging.ERROR, __file__, 1, "failed %s", ("job",), exc_info=True
        )
        import sys

        rec.exc_info = sys.exc_info()
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "error" and data["logger"] == "sonora.x"
    assert data["msg"] == "failed job" and "ValueError: boom" in data["exc"]
    assert data["ts"].endswith("+00:00") and isinstance(data["pid"], int)


def test_the_config_routes_uvicorn_through_json() -> None:
    cfg = log_config("info")
    import logging.config as lc

    lc.dictConfig(cfg)
    try:
        handler = logging.getLogger("uvicorn.access").handlers[0]
        assert isinstance(handler.formatter, JsonFormatter)
    finally:
        logging.getLogger().handlers.clear()
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "celery"):
            logging.getLogger(name).handlers.clear()
            logging.getLogger(name).propagate = True
