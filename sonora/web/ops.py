"""Operations endpoints: liveness (``/healthz``), readiness (``/readyz``) and Prometheus
metrics (``/metrics``), with the request metrics middleware.

``/metrics`` answers only clients on the loopback interface, or anyone presenting
``Authorization: Bearer <SONORA_METRICS_TOKEN>`` when that is set.  Behind nginx every
client looks local, so the nginx configuration in docs/deploy.md refuses ``/metrics``
from outside; Prometheus scrapes each process on its own port.
"""

from __future__ import annotations

import hmac
import logging
import math
import time
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.concurrency import run_in_threadpool
from starlette.types import Message, Receive, Scope, Send

from sonora.web.asgi import HttpMiddleware

__all__ = ["DatabaseUnavailable", "Metrics", "MetricsMiddleware", "router"]

router = APIRouter(include_in_schema=False)
log = logging.getLogger("sonora.web")

_LOCAL = {"127.0.0.1", "::1", "localhost"}


class Metrics:
    """One app's Prometheus metrics (its own registry, so apps in tests do not clash).

    Parameters
    ----------
    core : Core
        For the live stream count and the job queue's depth.
    """

    def __init__(self, core: Any) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "sonora_http_requests",
            "HTTP requests answered, by route template, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "sonora_http_request_duration_seconds",
            "Seconds from request to the response's first byte (streams: until audio starts).",
            ["route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.underruns = Counter(
            "sonora_stream_underruns",
            "Times a paced stream fell more than 0.25 s behind real time.",
            registry=r,
        )
        playing = Gauge("sonora_streams_playing", "Streams playing in this process.", registry=r)
        playing.set_function(lambda: float(core.hub.active_count()))
        depth = Gauge(
            "sonora_job_queue_depth",
            "Jobs waiting on the broker (NaN: no broker, or it is unreachable).",
            registry=r,
        )

        def _depth() -> float:
            if not core.settings.broker_url:  # no broker: Celery is not even imported
                return math.nan
            from sonora.core.queue import queue_depth

            n = queue_depth()
            return math.nan if n is None else float(n)

        depth.set_function(_depth)
        if core.settings.broker_url:
            r.register(_PublishFailures())


class _PublishFailures:
    """``sonora_job_publish_failures_total{job}``: jobs this process could not queue
    because the broker was unreachable (the request went on without them)."""

    def collect(self) -> Any:
        from prometheus_client.core import CounterMetricFamily

        from sonora.core.queue import publish_failures

        fam = CounterMetricFamily(
            "sonora_job_publish_failures",
            "Jobs not queued because the broker was unreachable, by job.",
            labels=["job"],
        )
        for name, n in sorted(publish_failures.items()):
            fam.add_metric([name], float(n))
        yield fam


class MetricsMiddleware(HttpMiddleware):
    """Count requests and time them to the first response byte (pure ASGI: streams flow)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                status["t"] = time.perf_counter() - t0  # type: ignore[assignment]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            metrics: Metrics | None = getattr(scope["app"].state, "metrics", None)
            if metrics is not None:
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                method = scope["method"]
                metrics.requests.labels(route, method, str(status["code"])).inc()
                metrics.latency.labels(route, method).observe(
                    float(status.get("t", time.perf_counter() - t0))
                )


def _is_unavailable(exc: BaseException) -> bool:
    """A database that does not answer (down, restarting, refusing connections)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.connection_invalidated:
        return True
    # sa.exc.TimeoutError: the connection pool's wait for a free connection ran out
    return isinstance(exc, (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError))


class DatabaseUnavailable(HttpMiddleware):
    """Answer ``503 Service Unavailable`` (``Retry-After: 2``) when the database does not
    answer, instead of a 500: during a PostgreSQL restart or failover every request
    fails cleanly, and the same process serves again once the database is back (the
    connection pool drops the dead connections on the first error; no restart needed).

    A response that has already started (a stream) cannot change its status: the error
    propagates and the connection closes, which the player treats as a dropped stream.
    """

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception as exc:
            if started or not _is_unavailable(exc):
                raise
            log.warning("database unavailable: %s", str(exc).splitlines()[0][:200])
            response = JSONResponse(
                {"detail": "database: unavailable, try again in a moment", "field": "database"},
                status_code=503,
                headers={"Retry-After": "2", "Cache-Control": "no-store"},
            )
            await response(scope, receive, send)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers (checks nothing else)."""
    return {"status": "ok"}


def _check_db(core: Any) -> str | None:
    try:
        with core.store.engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


def _check_broker(core: Any) -> str | None:
    if not core.settings.broker_url:
        return None
    from sonora.core.queue import celery_app

    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return None


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers, and the broker when one is configured (else 503)."""
    core = request.app.state.core
    db = await run_in_threadpool(_check_db, core)
    broker = await run_in_threadpool(_check_broker, core)
    checks = {
        "database": db or "ok",
        "broker": broker or ("ok" if core.settings.broker_url else "not configured"),
    }
    ready = db is None and broker is None
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus metrics (loopback clients, or ``Authorization: Bearer`` the token)."""
    token = request.app.state.core.settings.metrics_token
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    local = request.client is not None and request.client.host in _LOCAL
    if not (local or (token and given and hmac.compare_digest(given, token))):
        return JSONResponse({"detail": "metrics: operators only"}, status_code=403)
    body = generate_latest(request.app.state.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
