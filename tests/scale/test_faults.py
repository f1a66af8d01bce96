"""Faults a multi-process deployment must survive, on real services of the tests' own
(tests/scale/services.py: a PostgreSQL cluster, a redis-server, a TCP proxy in front of
RabbitMQ), so the machine's shared services are never disturbed:

* PostgreSQL restarts: requests fail cleanly with 503 while it is down, and the same web
  process serves again once it is back;
* the broker (RabbitMQ behind a cut proxy, or Redis restarted) is away: no request fails
  (the job is given up after about a second; every job has a way round), and jobs flow
  again afterwards;
* a worker killed mid-job (Redis broker): the job runs again, once;
* a web process killed mid-stream behind nginx: the player resumes on another within
  its retry window (player.js: 5 retries, 0.5 s x attempt apart = 7.5 s).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from servers import PG_URL, free_port, kill, schema_url, start_server
from services import OwnPostgres, OwnRedis, TcpProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

CHECKIN = {"tension": 6, "energy": 4, "mood": 5, "goal": "unwind", "minutes": 5}
RABBITMQ_PORT = 5672
#: The player's retry window (sonora/web/static/player.js ``resume``): 0.5 + 1 + ... + 2.5 s.
PLAYER_RETRY_WINDOW_S = sum(0.5 * k for k in range(1, 6))


@pytest.fixture
def db_url() -> Iterator[str]:
    name = f"sonora_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
    yield schema_url(name)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    admin.dispose()


def _guest(base: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=30)
    r = c.post("/api/guest", json={})
    assert r.status_code == 201, r.text
    c.headers["Cookie"] = f"sonora_session={r.cookies['sonora_session']}"
    c.cookies.clear()
    return c


def _worker(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    log = (tmp_path / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-c", "from sonora.cli import main; main()", "worker", "-c", "1"],
        env={**os.environ, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(predicate: object, timeout_s: float, what: str) -> float:
    """Poll ``predicate()`` until true; returns the seconds it took."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if predicate():  # type: ignore[operator]
            return time.monotonic() - t0
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout_s} s")


# -- PostgreSQL restart ------------------------------------------------------------------
def test_postgres_restart_503_while_down_then_the_same_process_recovers(tmp_path: Path) -> None:
    pg = OwnPostgres()
    proc = None
    try:
        proc, base = start_server(tmp_path, pg.url)
        c = _guest(base)
        assert c.post("/api/checkins", json=CHECKIN).status_code == 201

        pg.stop()
        for _ in range(3):
            for r in (c.post("/api/checkins", json=CHECKIN), c.get("/api/history")):
                assert r.status_code == 503, (r.status_code, r.text[:300])
                assert r.json()["field"] == "database"
                assert r.headers["Retry-After"] == "2"
        assert c.get("/readyz").status_code == 503  # load balancers take it out
        assert c.get("/healthz").status_code == 200  # ... but do not restart it

        pg.start()
        took = _wait(lambda: c.get("/api/history").status_code == 200, 30, "recovery")
        codes = [c.post("/api/checkins", json=CHECKIN).status_code for _ in range(3)]
        assert codes == [201] * 3, codes
        assert c.get("/readyz").status_code == 200
        assert len(c.get("/api/history").json()["sessions"]) == 4  # nothing lost, nothing half
        assert proc.poll() is None, "the web process must survive the restart"
        assert took < 30
    finally:
        if proc is not None:
            kill(proc)
        pg.remove()


# -- broker outages ----------------------------------------------------------------------
def _check_ins_through_outage(c: httpx.Client, outage_s: float) -> list[tuple[int, float]]:
    """Check in repeatedly for ``outage_s``; (status, seconds) of each request."""
    out = []
    t_end = time.monotonic() + outage_s
    while time.monotonic() < t_end:
        t0 = time.monotonic()
        r = c.post("/api/checkins", json=CHECKIN)
        out.append((r.status_code, time.monotonic() - t0))
    return out


def _calibrated(c: httpx.Client, plan_id: str) -> bool:
    return bool(c.get(f"/api/plans/{plan_id}").json()["ready"])


def _broker_outage(tmp_path: Path, db_url: str, broker: str, cut: object, restore: object) -> None:
    queue = f"sonora-fault-{uuid.uuid4().hex[:8]}"
    env = {
        "SONORA_BROKER_URL": broker,
        "SONORA_JOB_QUEUE": queue,
        "SONORA_DATABASE_URL": db_url,
        "SONORA_DATA_DIR": str(tmp_path / "worker"),
        "SONORA_SECRET_KEY": "s" * 40,
    }
    proc, base = start_server(tmp_path, db_url, **env, SONORA_CALIBRATE_AHEAD="true")
    worker = _worker(tmp_path, env)
    try:
        c = _guest(base)
        plan = c.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
        _wait(lambda: _calibrated(c, plan), 90, "a worker calibrates the plan (queue works)")

        cut()  # type: ignore[operator]
        during = _check_ins_through_outage(c, 6.0)
        restore()  # type: ignore[operator]
        assert [s for s, _ in during] == [201] * len(during), during
        assert max(t for _, t in during) < 5.0, during  # no request held for the outage

        after = c.post("/api/checkins", json=CHECKIN)
        assert after.status_code == 201
        pid = after.json()["plan"]["id"]
        _wait(lambda: _calibrated(c, pid), 90, "jobs flow again after the outage")
        assert c.get("/readyz").status_code == 200
    finally:
        kill(proc)
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)


def test_rabbitmq_outage_fails_no_request_and_jobs_flow_after(tmp_path: Path, db_url: str) -> None:
    proxy = TcpProxy(RABBITMQ_PORT)
    try:
        broker = f"amqp://guest:guest@127.0.0.1:{proxy.port}//"
        _broker_outage(tmp_path, db_url, broker, proxy.cut, proxy.restore)
    finally:
        proxy.close()


def test_redis_restart_fails_no_request_and_jobs_flow_after(tmp_path: Path, db_url: str) -> None:
    redis = OwnRedis(tmp_path)
    try:
        _broker_outage(tmp_path, db_url, redis.url, redis.stop, redis.start)
    finally:
        redis.stop()


# -- a worker killed mid-job (Redis: redelivery after the visibility timeout) --------------
def test_worker_killed_mid_job_on_redis_runs_it_again_once(tmp_path: Path) -> None:
    from celery import Celery

    redis = OwnRedis(tmp_path)
    queue = f"sonora-fault-{uuid.uuid4().hex[:8]}"
    env = {
        "SONORA_BROKER_URL": redis.url,
        "SONORA_JOB_QUEUE": queue,
        "SONORA_JOB_VISIBILITY_TIMEOUT_S": "10",
        "SONORA_DATA_DIR": str(tmp_path / "worker"),
    }
    marker = tmp_path / "probe.txt"
    app = Celery("sonora-test", broker=redis.url, set_as_current=False)
    app.conf.broker_transport_options = {"visibility_timeout": 10}
    first = _worker(tmp_path, env)
    second = None
    try:
        app.send_task("sonora.probe", kwargs={"marker": str(marker), "duration_s": 4}, queue=queue)
        _wait(lambda: marker.exists() and "start" in marker.read_text(), 60, "job started")
        os.killpg(first.pid, signal.SIGKILL)  # mid-job: never acknowledged
        first.wait(timeout=30)
        second = _worker(tmp_path, env)
        _wait(lambda: "done" in marker.read_text(), 120, "the job ran again")
        time.sleep(11)  # past another visibility timeout: it must not run a third time
        lines = marker.read_text().split()
        assert lines.count("start") == 2 and lines.count("done") == 1, lines
    finally:
        for w in (first, second):
            if w is not None and w.poll() is None:
                os.killpg(w.pid, signal.SIGKILL)
                w.wait(timeout=30)
        redis.stop()


# -- a web process killed mid-stream, behind nginx -----------------------------------------
def _served_stream(tmp_path: Path, base: str) -> bool:
    """Whether the process at ``base`` answered a stream request (its access log)."""
    port = base.rsplit(":", 1)[1]
    return "/stream HTTP" in (tmp_path / f"server-{port}.log").read_text()


def test_web_process_killed_mid_stream_player_resumes_on_another_within_retry_window(
    tmp_path: Path, db_url: str
) -> None:
    from test_nginx import NGINX, _nginx_conf

    procs = [start_server(tmp_path, db_url) for _ in range(2)]
    port = free_port()
    conf = _nginx_conf(tmp_path, port, [b.removeprefix("http://") for _, b in procs])
    nginx = subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"])
    try:
        front = f"http://127.0.0.1:{port}"
        _wait(lambda: _ok(f"{front}/healthz"), 30, "nginx answers")
        c = _guest(front)
        plan = c.post("/api/checkins", json=CHECKIN).json()["plan"]["id"]
        url = f"/api/plans/{plan}/stream"
        got = 0
        with c.stream("GET", url, timeout=60) as r:
            assert r.status_code == 200
            chunks = r.iter_raw()
            while got < 8_000:
                got += len(next(chunks))
            playing = [p for p, b in procs if _served_stream(tmp_path, b)]
            assert len(playing) == 1, "exactly one process plays the stream"
            t_drop = time.monotonic()
            kill(playing[0])  # the process playing it dies mid-stream
            with pytest.raises(httpx.HTTPError):
                for _ in chunks:  # the player notices the drop
                    pass
        # the player (player.js resume): retry after 0.5 s x attempt, at most 5 times
        resumed = None
        for attempt in range(1, 6):
            time.sleep(0.5 * attempt)
            try:
                with c.stream("GET", f"{url}?offset_s=2.5", timeout=30) as r2:
                    if r2.status_code == 200:
                        resumed = next(r2.iter_raw())
                        break
            except httpx.HTTPError:
                continue
        took = time.monotonic() - t_drop
        assert resumed is not None and resumed.startswith(b"OggS")
        assert took <= PLAYER_RETRY_WINDOW_S + 5.0, took  # + the kill and first bytes
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        for p, _ in procs:
            kill(p)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
