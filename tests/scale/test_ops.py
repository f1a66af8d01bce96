"""/healthz, /readyz (database and broker) and /metrics (operators only, real counts)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sonora.core.app import Core
from sonora.settings import Settings
from sonora.web.app import create_app


def _client(tmp_path: Path, **kw: object) -> TestClient:
    core = Core(Settings(data_dir=tmp_path, **kw))  # type: ignore[arg-type]
    return TestClient(create_app(core), client=("127.0.0.1", 5000))


def test_health_ready_and_metrics_count_requests(tmp_path: Path) -> None:
    with _client(tmp_path) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "broker": "not configured"}
        for _ in range(3):
            assert c.get("/api/health").status_code == 200
        text = c.get("/metrics").text
        assert (
            'sonora_http_requests_total{method="GET",route="/api/health",status="200"} 3.0' in text
        )
        assert (
            'sonora_http_request_duration_seconds_count{method="GET",route="/api/health"} 3.0'
            in text
        )
        assert "sonora_streams_playing 0.0" in text
        assert "sonora_stream_underruns_total 0.0" in text
        assert "sonora_job_queue_depth NaN" in text


def test_metrics_are_for_operators_only(tmp_path: Path) -> None:
    core = Core(Settings(data_dir=tmp_path, metrics_token="t" * 32))
    with TestClient(create_app(core), client=("203.0.113.9", 5000)) as c:
        assert c.get("/metrics").status_code == 403
        assert c.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        ok = c.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})
        assert ok.status_code == 200 and "sonora_streams_playing" in ok.text


def test_readiness_fails_when_the_broker_is_away(tmp_path: Path) -> None:
    # The web process's queue module is configured at import (no broker in tests); the
    # readiness check asks the configured broker, so point the app at a closed port.
    from sonora.core import queue

    old = queue.celery_app.conf.broker_url
    queue.celery_app.conf.broker_url = "amqp://guest:guest@127.0.0.1:1//"
    try:
        with _client(tmp_path, broker_url="amqp://guest:guest@127.0.0.1:1//") as c:
            r = c.get("/readyz")
            assert r.status_code == 503
            assert r.json()["checks"]["database"] == "ok"
            assert r.json()["checks"]["broker"] != "ok"
    finally:
        queue.celery_app.conf.broker_url = old
