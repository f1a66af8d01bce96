"""The job queue (sonora/core/jobs.py): in-process without a broker, real workers on the
machine's RabbitMQ and Redis, and a worker killed mid-job whose job runs again, once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery import Celery
from typer.testing import CliRunner

from sonora.core import jobs

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"
REDIS = "redis://127.0.0.1:6379/0"


def _worker(tmp_path: Path, broker: str, queue: str, **extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        **extra,
        "SONORA_BROKER_URL": broker,
        "SONORA_JOB_QUEUE": queue,
        "SONORA_DATA_DIR": str(tmp_path / "data"),
    }
    log = (tmp_path / f"worker-{time.monotonic_ns()}.log").open("wb")
    return subprocess.Popen(
        [sys.executable, "-c", "from sonora.cli import main; main()", "worker", "-c", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: we kill the pool child too
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)


def _wait_for(path: Path, text: str, timeout_s: float = 90.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text():
            return path.read_text()
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not in {path} after {timeout_s} s")


@pytest.fixture
def sender() -> Iterator[tuple[Celery, str]]:
    """A producer of its own (as a web process on another host would be) and a queue
    no one else uses; the queue is deleted afterwards."""
    app = Celery("sonora-test", broker=RABBITMQ, set_as_current=False)
    queue = f"sonora-test-{uuid.uuid4().hex[:8]}"
    yield app, queue
    with app.connection_for_write() as conn:
        conn.default_channel.queue_delete(queue)


def test_worker_killed_mid_job_runs_it_again_once(
    tmp_path: Path, sender: tuple[Celery, str]
) -> None:
    app, queue = sender
    marker = tmp_path / "probe.txt"
    first = _worker(tmp_path, RABBITMQ, queue)
    try:
        app.send_task(
            "sonora.probe", kwargs={"marker": str(marker), "duration_s": 3.0}, queue=queue
        )
        _wait_for(marker, "start")
        _kill(first)  # SIGKILL mid-job: no acknowledgement was sent
        assert "done" not in marker.read_text()
    finally:
        _kill(first)
    second = _worker(tmp_path, RABBITMQ, queue)
    try:
        _wait_for(marker, "done")
        time.sleep(3.0)  # anything delivered a third time would show up by now
    finally:
        _kill(second)
    lines = marker.read_text().split()
    starts = [w for w in lines if w == "start"]
    assert len(starts) == 2, lines  # killed once, run again once
    assert lines.count("done") == 1 and "skip" not in lines, lines
    pids = [lines[i + 1] for i, w in enumerate(lines) if w == "start"]
    assert pids[0] != pids[1]  # the second run was on the other worker


def test_a_worker_measures_a_plan_made_by_the_web_process(
    tmp_path: Path, sender: tuple[Celery, str]
) -> None:
    from sonora.core.app import Core
    from sonora.settings import Settings

    app, queue = sender
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    web = Core(Settings(data_dir=tmp_path / "web", database_url=db, calibrate_ahead=False))
    worker = _worker(tmp_path, RABBITMQ, queue, SONORA_DATABASE_URL=db)
    try:
        user, _ = web.start_guest()
        _, plan, _ = web.check_in(user, {"tension": 5, "goal": "sleep", "minutes": 5})
        for _ in range(2):  # delivered twice: measured once, the second run finds it
            app.send_task(
                "sonora.calibrate", kwargs={"user_id": user.id, "plan_id": plan.id}, queue=queue
            )
        deadline = time.monotonic() + 120
        while (cal := web.store.get_plan(user.id, plan.id).calibration) is None:
            assert time.monotonic() < deadline, "no calibration from the worker"
            time.sleep(0.2)
        assert cal["key"] == web.calibrator.key(plan.plan) and cal["trims"]
    finally:
        _kill(worker)
        web.close()


@pytest.mark.slow
def test_a_download_renders_on_a_worker_and_a_killed_render_runs_again_once(
    tmp_path: Path, sender: tuple[Celery, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The web process only records and queues the download; a worker on the real broker
    renders it into the shared media folder; killed mid-render, the job is delivered again
    and a second worker renders it whole; delivered once more, it keeps the file."""
    from sonora.core.app import Core
    from sonora.core.download_models import DownloadRow
    from sonora.settings import Settings

    app, queue = sender
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    media = tmp_path / "shared-media"
    web = Core(
        Settings(data_dir=tmp_path / "web", database_url=db, media_dir=media, calibrate_ahead=False)
    )
    # the web process's publisher, on this test's own queue (as in the tests above)
    monkeypatch.setattr(
        web.downloads,
        "dispatch",
        lambda download_id: app.send_task(
            "sonora.downloads.render", kwargs={"download_id": download_id}, queue=queue
        ),
    )
    extra = {"SONORA_DATABASE_URL": db, "SONORA_MEDIA_DIR": str(media)}

    def row() -> DownloadRow:
        with web.store.reading() as s:
            found = s.get(DownloadRow, download.id)
            assert found is not None
            s.expunge(found)
            return found

    first = _worker(tmp_path, RABBITMQ, queue, **extra)
    try:
        user, _ = web.start_guest()
        _, plan, _ = web.check_in(user, {"tension": 5, "goal": "sleep", "minutes": 5})
        download, queued = web.downloads.start(
            user.id, web.store.get_plan(user.id, plan.id), "opus"
        )
        assert queued and row().status == "queued"
        deadline = time.monotonic() + 300
        while not (row().status == "running" and row().progress >= 0.05):
            assert time.monotonic() < deadline, "the worker did not start rendering"
            time.sleep(0.2)
        _kill(first)  # SIGKILL mid-render: no acknowledgement, a .part file left behind
        assert row().status == "running" and row().progress < 1.0
        assert not web.downloads.path(download.id, "opus").exists()
    finally:
        _kill(first)
    second = _worker(tmp_path, RABBITMQ, queue, **extra)
    try:
        deadline = time.monotonic() + 600
        while (r := row()).status != "done":
            assert r.status != "failed", r.error
            assert time.monotonic() < deadline, f"not rendered again: {r.status} {r.progress}"
            time.sleep(0.5)
        path = web.downloads.path(download.id, "opus")
        assert r.attempts == 2 and r.size_bytes == path.stat().st_size
        mtime = path.stat().st_mtime_ns
        web.downloads.dispatch(download.id)  # delivered once more: the file is kept
        time.sleep(5.0)
        assert path.stat().st_mtime_ns == mtime and row().attempts == 2
    finally:
        _kill(second)
        web.close()
    import soundfile as sf

    audio, rate = sf.read(path, dtype="float32", always_2d=True)
    assert abs(audio.shape[0] / rate - 300.0) < 0.1  # whole, not the killed half
    parts = [p.name for p in media.joinpath("downloads").iterdir() if p.suffix == ".part"]
    assert len(parts) == 1  # the killed render's: the hourly sweep removes it when stale


def test_worker_on_redis_runs_a_job(tmp_path: Path) -> None:
    app = Celery("sonora-test", broker=REDIS, set_as_current=False)
    queue = f"sonora-test-{uuid.uuid4().hex[:8]}"
    marker = tmp_path / "probe.txt"
    worker = _worker(tmp_path, REDIS, queue)
    try:
        app.send_task("sonora.probe", kwargs={"marker": str(marker)}, queue=queue)
        _wait_for(marker, "done")
    finally:
        _kill(worker)
        with app.connection_for_write() as conn:
            conn.default_channel.client.delete(queue)


def test_without_a_broker_jobs_run_in_process_and_twice_is_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert jobs.celery_app.conf.task_always_eager  # the test environment sets no broker
    monkeypatch.setenv("SONORA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SONORA_CALIBRATE_AHEAD", "false")
    monkeypatch.setattr(jobs, "_core", None)
    core = jobs.core()
    try:
        user, _ = core.start_guest()
        _, plan, _ = core.check_in(user, {"tension": 6, "goal": "unwind", "minutes": 5})
        assert core.store.get_plan(user.id, plan.id).calibration is None
        jobs.enqueue("sonora.calibrate", user_id=user.id, plan_id=plan.id)
        stored = core.store.get_plan(user.id, plan.id).calibration
        assert stored is not None and stored["key"] == core.calibrator.key(plan.plan)
        assert stored["trims"] and -60.0 < stored["master_gain_db"] < 60.0
        assert jobs.calibrate(user.id, plan.id) is False  # second run: nothing to do
        assert jobs.calibrate(user.id, "no-such-plan") is False  # gone: no retry storm
        marker = tmp_path / "probe.txt"
        jobs.enqueue("sonora.probe", marker=str(marker))
        jobs.enqueue("sonora.probe", marker=str(marker))
        words = marker.read_text().split()
        assert (words.count("start"), words.count("done"), words.count("skip")) == (1, 1, 1)
    finally:
        core.close()


def test_the_scheduler_runs_every_reminder_and_the_outbox_without_cron() -> None:
    tasks = {entry["task"] for entry in jobs.celery_app.conf.beat_schedule.values()}
    assert tasks == {
        "sonora.outbox.send",
        "sonora.therapists.remind",
        "sonora.programmes.remind",
        "sonora.downloads.expire",
    }
    assert tasks <= set(jobs.celery_app.tasks)  # each names a registered job


def test_a_job_the_broker_cannot_take_fails_no_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from kombu.exceptions import OperationalError

    from sonora.core import queue

    def unreachable(*_: object, **__: object) -> None:
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setitem(queue.celery_app.conf, "task_always_eager", False)
    monkeypatch.setattr(queue.celery_app, "send_task", unreachable)
    monkeypatch.setattr(queue, "publish_failures", {})
    assert queue.enqueue("sonora.outbox.send") is False
    assert queue.enqueue("sonora.outbox.send") is False
    assert queue.publish_failures == {"sonora.outbox.send": 2}


def test_every_job_retries_with_backoff() -> None:
    for name in (
        "sonora.calibrate",
        "sonora.outbox.send",
        "sonora.therapists.remind",
        "sonora.programmes.remind",
        "sonora.downloads.render",
        "sonora.downloads.expire",
    ):
        task = jobs.celery_app.tasks[name]
        assert task.max_retries == jobs.MAX_RETRIES
        assert task.retry_backoff == 2 and task.retry_backoff_max == jobs.MAX_BACKOFF_S
        assert Exception in task.autoretry_for


def test_worker_command_without_a_broker_says_how_to_set_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from sonora.cli import app

    monkeypatch.delenv("SONORA_BROKER_URL", raising=False)
    result = CliRunner().invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "SONORA_BROKER_URL" in result.output


def test_worker_metrics_count_jobs_run_and_failed(
    tmp_path: Path, sender: tuple[Celery, str]
) -> None:
    import socket

    import httpx

    app, queue = sender
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {
        **os.environ,
        "SONORA_BROKER_URL": RABBITMQ,
        "SONORA_JOB_QUEUE": queue,
        "SONORA_DATA_DIR": str(tmp_path / "data"),
    }
    log = (tmp_path / "worker.log").open("wb")
    argv = ["worker", "-c", "1", "--metrics-port", str(port)]
    worker = subprocess.Popen(
        [sys.executable, "-c", "from sonora.cli import main; main()", *argv],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        marker = tmp_path / "probe.txt"
        app.send_task("sonora.probe", kwargs={"marker": str(marker)}, queue=queue)
        app.send_task("sonora.calibrate", kwargs={"no_such_argument": 1}, queue=queue)

        def scrape() -> str:
            try:
                return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.HTTPError:
                return ""

        want = (  # a job called with arguments it does not take fails for good (no retry)
            'sonora_jobs_total{job="sonora.probe"} 1.0',
            'sonora_job_failures_total{job="sonora.calibrate"} 1.0',
        )
        deadline = time.monotonic() + 90
        text = ""
        while time.monotonic() < deadline and not all(w in text for w in want):
            time.sleep(0.5)
            text = scrape()
        assert all(w in text for w in want), text or (tmp_path / "worker.log").read_text()
        assert 'sonora_job_failures_total{job="sonora.probe"}' not in text
    finally:
        _kill(worker)
