"""Where a download's CPU goes: the worker renders, the web process only answers.

Starts a real ``sonora serve`` and a real ``sonora worker`` (RabbitMQ on 127.0.0.1, a
queue of its own) on one SQLite database and one media folder, makes a plan of
``--minutes`` minutes, then does what the player does: ``POST
/api/plans/{id}/downloads``, polls the status URL once a second until it is done, and
fetches the file.  Prints, in CPU seconds (``/proc`` via psutil, so the machine's load
does not inflate them):

* the worker's CPU for the render (calibration included, as the old in-request
  download also waited for it);
* the web process's CPU over the same span (start, polls, the file transfer);
* their ratio: the share of a download's cost left in the web process.

Before this change the whole render ran inside the web process, so the reference for
"web CPU per download" is the worker's figure itself: the ratio is what moved away.

Usage::

    .venv/bin/python benchmarks/downloads.py --minutes 60
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
RABBITMQ = "amqp://guest:guest@127.0.0.1:5672//"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import free_port, tree_cpu_s  # noqa: E402


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    """Run the measurement and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=60.0, help="plan length, minutes")
    ap.add_argument("--format", choices=("opus", "mp3"), default="opus")
    args = ap.parse_args()

    import httpx
    from celery import Celery

    tmp = Path(tempfile.mkdtemp(prefix="sonora-bench-downloads-"))
    queue = f"sonora-bench-{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {
        **os.environ,
        "SONORA_DATA_DIR": str(tmp / "data"),
        "SONORA_DATABASE_URL": f"sqlite:///{tmp / 'sonora.db'}",
        "SONORA_MEDIA_DIR": str(tmp / "media"),
        "SONORA_BROKER_URL": RABBITMQ,
        "SONORA_JOB_QUEUE": queue,
        "SONORA_SECRET_KEY": "bench-" + "k" * 40,
        "SONORA_TRIAGE_NOTES": "false",
        "SONORA_CALIBRATE_AHEAD": "false",  # the render measures it: counted on the worker
        "SONORA_RATE_LIMITS": "false",
    }
    cli = [PY, "-c", "from sonora.cli import main; main()"]
    procs: list[subprocess.Popen[bytes]] = []

    def start(name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        p = subprocess.Popen(
            [*cli, *argv],
            env=env,
            cwd=ROOT,
            stdout=(tmp / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(p)
        return p

    try:
        web = start("web", ["serve", "--port", str(port)])
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or web.poll() is not None:
                raise SystemExit((tmp / "web.log").read_text()[-2000:])
            time.sleep(0.3)
        worker = start("worker", ["worker", "-c", "1", "--loglevel", "WARNING"])
        marker = tmp / "probe.txt"  # wait until the worker takes jobs
        Celery("bench", broker=RABBITMQ, set_as_current=False).send_task(
            "sonora.probe", kwargs={"marker": str(marker)}, queue=queue
        )
        while not (marker.exists() and "done" in marker.read_text()):
            if time.monotonic() > deadline + 120:
                raise SystemExit("the worker took no job")
            time.sleep(0.2)

        c = httpx.Client(base_url=base, timeout=120)
        assert c.post("/api/guest", json={}).status_code == 201
        body = {"tension": 6, "goal": "sleep", "minutes": args.minutes, "place": "in_bed"}
        made = c.post("/api/checkins", json=body)
        if made.status_code != 201:
            raise SystemExit(f"check-in: {made.status_code} {made.text[:300]}")
        plan = made.json()["plan"]
        time.sleep(1.0)  # let the check-in's own work settle before measuring
        web0, worker0, wall0 = tree_cpu_s(web.pid), tree_cpu_s(worker.pid), time.monotonic()
        r = c.post(f"/api/plans/{plan['id']}/downloads", json={"format": args.format})
        status: dict[str, Any] = r.json()
        polls = 0
        while status["status"] != "done":
            if status["status"] == "failed":
                raise SystemExit(f"render failed: {status['error']}")
            time.sleep(1.0)
            status = c.get(status["status_url"]).json()
            polls += 1
        web1, worker1, wall1 = tree_cpu_s(web.pid), tree_cpu_s(worker.pid), time.monotonic()
        data = c.get(status["file_url"]).content
        web2 = tree_cpu_s(web.pid)
        render_cpu = worker1 - worker0
        web_during = web1 - web0
        web_file = web2 - web1
        print(f"plan: {args.minutes:g} min, {args.format}, file {len(data) / 1e6:.1f} MB")
        print(f"worker CPU for the render: {render_cpu:.2f} s (wall {wall1 - wall0:.1f} s)")
        print(f"web process CPU while it rendered ({polls} status polls): {web_during:.3f} s")
        print(f"web process CPU sending the file: {web_file:.3f} s")
        share = (web_during + web_file) / max(render_cpu, 1e-9)
        print(
            f"ratio web/worker: {share:.4f} (before: the render ran in the web process, 1.0); "
            f"render speed {args.minutes * 60 / max(render_cpu, 1e-9):.0f}x real time per core"
        )
        print(_load())
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, 15)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
        try:
            app = Celery("bench", broker=RABBITMQ, set_as_current=False)
            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(queue)
        except Exception:
            pass


if __name__ == "__main__":
    main()
