"""Scale-out benchmark: 1, 2 and 4 ``sonora serve`` processes behind a real nginx.

For each number of web processes N this starts, on loopback and in this run only:

* a fresh PostgreSQL database (on the machine's server, dropped afterwards);
* N ``sonora serve`` processes on that database, a Debian nginx (an unprivileged
  configuration in a temporary directory) in front of them, and one ``sonora worker`` on
  a queue of its own on the broker — all pinned to CPU 0 (``taskset``);
* a load generator pinned to CPU 1, which (a) drives a closed loop of
  ``--concurrency`` keep-alive connections through nginx for ``--seconds``, half
  ``POST /api/checkins`` and half ``GET /api/history`` across 50 listeners, and (b) plays
  ``--streams`` Ogg Opus streams through nginx for ``--stream-seconds`` like a player
  (starts at 0.5 s buffered, then must stay ahead of the wall clock).

It prints requests/s, p50/p99 per kind, errors, and the CPU time each side used during
the phase: the web processes, nginx, the worker, the PostgreSQL backends serving this
database, and the load generator; then the server CPU per request and per second of
audio, so a reader can see whether anything but CPU limits growth (if the server side
used all of CPU 0 and the cost per request stayed flat, CPU is the limit).  The streams'
plans are calibrated by the worker (jobs sent to the broker), which gives the worker's
CPU per calibration.  Finally: the ratio of requests/s with 2 processes to 1.

On a 2-core machine all server-side processes share CPU 0, so 2 processes cannot reach
2x of 1 process there, and packing processes on one core raises the CPU per request
(context switches, caches): the ratios printed are for this layout only.  Give the
server side more CPUs (``--server-cpu 0-1`` and the load elsewhere) on a bigger machine
to measure scale-out across cores.

Usage::

    python benchmarks/scale.py --quick          # 1 and 2 processes, short phases
    python benchmarks/scale.py                  # 1, 2 and 4 processes
    python benchmarks/scale.py --procs 1,2 --seconds 30 --concurrency 16

Loopback timings are pessimistic when the machine is shared: the load average is printed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve import Conn, _granule_seconds, _guest, free_port, make_listeners, pct, tree_cpu_s

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
TASKSET = shutil.which("taskset")


def _pinned(cmd: list[str], cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu, *cmd] if cpu is not None and TASKSET else cmd


# -- CPU accounting ----------------------------------------------------------------------


def _pg_backend_cpu(db_admin: Any, db: str) -> dict[int, float]:
    """CPU seconds of each PostgreSQL backend connected to database ``db`` (by pid)."""
    import psutil
    import sqlalchemy as sa

    with db_admin.connect() as conn:
        pids = conn.execute(
            sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": db}
        ).scalars()
        out = {}
        for pid in pids:
            try:
                t = psutil.Process(int(pid)).cpu_times()
                out[int(pid)] = t.user + t.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
    return out


class Cpu:
    """CPU seconds used by each side between :meth:`start` and :meth:`stop`."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack

    def snapshot(self) -> dict[str, Any]:
        s = self.stack
        return {
            "web": sum(tree_cpu_s(p.pid) for p in s.web),
            "nginx": tree_cpu_s(s.nginx.pid) if s.nginx else 0.0,
            "worker": tree_cpu_s(s.worker.pid) if s.worker else 0.0,
            "pg": _pg_backend_cpu(s.admin, s.db),
            "wall": time.monotonic(),
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, float]:
        pg = sum(v - a["pg"].get(pid, 0.0) for pid, v in b["pg"].items())
        out = {k: b[k] - a[k] for k in ("web", "nginx", "worker", "wall")}
        out["postgres"] = pg
        return out


# -- the stack under test ----------------------------------------------------------------
class Stack:
    """N web processes + nginx + a worker on a fresh database, pinned to ``cpu``."""

    def __init__(self, n: int, args: argparse.Namespace, tmp: Path) -> None:
        import sqlalchemy as sa

        self.tmp = tmp / f"n{n}"
        self.tmp.mkdir()
        self.db = f"sonora_scale_{uuid.uuid4().hex[:10]}"
        self.admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with self.admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.db}"'))
        url = sa.engine.make_url(args.postgres).set(database=self.db)
        self.db_url = url.render_as_string(hide_password=False)
        self.queue = f"sonora-bench-{uuid.uuid4().hex[:8]}"
        self.broker = args.broker
        self.env = {
            **os.environ,
            "SONORA_DATABASE_URL": self.db_url,
            "SONORA_DATA_DIR": str(self.tmp / "data"),
            "SONORA_SECRET_KEY": "bench-" + uuid.uuid4().hex,
            "SONORA_TRIAGE_NOTES": "false",
            "SONORA_RATE_LIMITS": "false",  # one client address makes every request
            "SONORA_CALIBRATE_AHEAD": "false",  # the API phase measures the API
            "SONORA_MAX_STREAMS": "1000",
            "SONORA_BROKER_URL": self.broker,
            "SONORA_JOB_QUEUE": self.queue,
            "SONORA_LOG_LEVEL": "warning",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
        }
        self.web: list[subprocess.Popen[bytes]] = []
        self.nginx: subprocess.Popen[bytes] | None = None
        self.worker: subprocess.Popen[bytes] | None = None
        self.ports: list[int] = []
        self.cpu = args.server_cpu
        try:
            for i in range(n):  # the first applies the migrations, then the others start
                self._start_web(i)
            self._start_worker()
            self._probe_worker()
            self.port = free_port()
            self._start_nginx()
        except BaseException:
            self.stop()
            raise

    def _log(self, name: str) -> Any:
        return (self.tmp / f"{name}.log").open("wb")

    def _start_web(self, i: int) -> None:
        import httpx

        port = free_port()
        cmd = [PY, "-c", "from sonora.cli import main; main()", "serve", "--port", str(port)]
        proc = subprocess.Popen(
            _pinned(cmd, self.cpu),
            env=self.env,
            cwd=ROOT,
            stdout=self._log(f"web{i}"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.web.append(proc)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError((self.tmp / f"web{i}.log").read_text()[-2000:])
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                    self.ports.append(port)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"web process on {port} did not start")

    def _start_worker(self) -> None:
        cmd = [PY, "-c", "from sonora.cli import main; main()", "worker", "-c", "1"]
        cmd += ["--loglevel", "WARNING"]
        self.worker = subprocess.Popen(
            _pinned(cmd, self.cpu),
            env=self.env,
            cwd=ROOT,
            stdout=self._log("worker"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _probe_worker(self) -> None:
        """Wait until the worker takes jobs (so its start-up is not measured)."""
        from celery import Celery

        marker = self.tmp / "probe.txt"
        app = Celery("sonora-bench", broker=self.broker, set_as_current=False)
        app.send_task("sonora.probe", kwargs={"marker": str(marker)}, queue=self.queue)
        deadline = time.monotonic() + 180
        while not (marker.exists() and "done" in marker.read_text()):
            if time.monotonic() > deadline:
                raise RuntimeError("the worker took no job in 180 s")
            time.sleep(0.2)

    def _start_nginx(self) -> None:
        import httpx

        site = (ROOT / "deploy" / "nginx" / "sonora.conf").read_text()
        ups = "".join(
            f"    server 127.0.0.1:{p} max_fails=2 fail_timeout=5s;\n" for p in self.ports
        )
        head, rest = site.split("upstream sonora_web {\n", 1)
        body = rest.split("    keepalive", 1)[1]
        site = head + "upstream sonora_web {\n" + ups + "    keepalive" + body
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        t = self.tmp
        conf = t / "nginx.conf"
        conf.write_text(
            f"pid {t}/nginx.pid;\nerror_log {t}/nginx-error.log;\nworker_processes 1;\n"
            "events { worker_connections 4096; }\n"
            f"http {{\n access_log off;\n keepalive_requests 1000000;\n"
            f" client_body_temp_path {t}/body;\n proxy_temp_path {t}/proxy;\n"
            f" fastcgi_temp_path {t}/fcgi;\n uwsgi_temp_path {t}/uwsgi;\n"
            f" scgi_temp_path {t}/scgi;\n{site}\n}}\n"
        )
        cmd = [NGINX, "-c", str(conf), "-g", "daemon off;"]
        self.nginx = subprocess.Popen(
            _pinned(cmd, self.cpu), stdout=self._log("nginx"), stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("nginx did not start: " + (t / "nginx-error.log").read_text()[-1000:])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def calibrate(self, plan_ids: list[str], timeout_s: float) -> tuple[int, float]:
        """Queue a calibration job for each plan; returns (plans, worker CPU seconds)."""
        import sqlalchemy as sa
        from celery import Celery

        eng = sa.create_engine(self.db_url)
        with eng.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT user_id, id FROM plans WHERE id IN :ids").bindparams(
                    sa.bindparam("ids", expanding=True)
                ),
                {"ids": plan_ids},
            ).all()
        app = Celery("sonora-bench", broker=self.broker, set_as_current=False)
        assert self.worker is not None
        cpu0 = tree_cpu_s(self.worker.pid)
        for user_id, plan_id in rows:
            app.send_task(
                "sonora.calibrate",
                kwargs={"user_id": user_id, "plan_id": plan_id},
                queue=self.queue,
            )
        deadline = time.monotonic() + timeout_s
        with eng.connect() as conn:
            while True:
                left = conn.execute(
                    sa.text(
                        "SELECT count(*) FROM plans WHERE calibration IS NULL AND id IN :ids"
                    ).bindparams(sa.bindparam("ids", expanding=True)),
                    {"ids": plan_ids},
                ).scalar_one()
                conn.rollback()
                if not left:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{left} calibrations not done in {timeout_s} s")
                time.sleep(0.3)
        cpu = tree_cpu_s(self.worker.pid) - cpu0
        eng.dispose()
        return len(rows), cpu

    def stop(self) -> None:
        procs = [*self.web, self.worker]
        for p in procs:
            if p is not None and p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        if self.nginx is not None and self.nginx.poll() is None:
            self.nginx.terminate()
        for p in [*procs, self.nginx]:
            if p is None:
                continue
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL) if p is not self.nginx else p.kill()
                p.wait()
        try:
            from celery import Celery

            app = Celery("sonora-bench", broker=self.broker, set_as_current=False)
            with app.connection_for_write() as conn:
                conn.default_channel.queue_delete(self.queue)
        except Exception as exc:  # best effort: the queue is named for this run only
            print(f"  (could not delete queue {self.queue}: {exc})")
        import sqlalchemy as sa

        with self.admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)'))
        self.admin.dispose()


# -- the load generator (a separate process, pinned to the other CPU) --------------------


async def client_api(base: str, conc: int, seconds: float, listeners: int) -> dict[str, Any]:

    users = await make_listeners(base, listeners)
    host, port = base.split("//", 1)[1].split(":")
    lat: dict[str, list[float]] = {"checkin": [], "history": []}
    errors: dict[str, int] = {}
    body = json.dumps({"tension": 6, "mood": 4, "goal": "sleep", "minutes": 20}).encode()
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    stop = start + seconds
    counter = [0]

    async def loop() -> None:
        conn = Conn(host, int(port))
        while time.monotonic() < stop:
            i = counter[0]
            counter[0] += 1
            kind = "checkin" if i % 2 == 0 else "history"
            headers = users[i % len(users)]
            t0 = time.monotonic()
            try:
                if kind == "checkin":
                    status = await conn.request("POST", "/api/checkins", headers, body)
                else:
                    status = await conn.request("GET", "/api/history", headers)
                key, ok = str(status), status < 400
            except Exception as exc:
                conn.close()
                key, ok = type(exc).__name__, False
            if ok:
                lat[kind].append(time.monotonic() - t0)
            else:
                errors[key] = errors.get(key, 0) + 1
        conn.close()

    await asyncio.gather(*(loop() for _ in range(conc)))
    wall = time.monotonic() - start
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    client_cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"latency": lat, "errors": errors, "wall_s": wall, "client_cpu_s": client_cpu}


async def client_make_plans(base: str, n: int) -> dict[str, Any]:
    import httpx

    families = ["rain", "water", "bowls", "drone", "noise", "wind"]
    plans = []
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        for i in range(n):
            cookies = await _guest(client)
            await client.put("/api/profile", json={"loved": [families[i % 6]]}, headers=cookies)
            r = await client.post(
                "/api/checkins",
                json={"tension": 6, "mood": 5, "goal": "unwind", "minutes": 5},
                headers=cookies,
            )
            assert r.status_code in (200, 201), r.text
            plans.append((cookies, r.json()["plan"]["id"]))
    return {"plans": plans}


async def _play(client: Any, url: str, cookies: dict, seconds: float) -> dict[str, Any]:
    t_req, first, start_play, worst = time.monotonic(), None, None, 0.0
    buf = bytearray()
    try:
        async with client.stream("GET", url, headers=cookies) as r:
            if r.status_code != 200:
                return {"error": r.status_code}
            async for chunk in r.aiter_raw():
                now = time.monotonic()
                first = first if first is not None else now - t_req
                buf += chunk
                have = _granule_seconds(bytes(buf[-65536:]))
                if start_play is None:
                    start_play = now if have >= 0.5 else None
                else:
                    worst = max(worst, (now - start_play) - have)
                    if now - start_play >= seconds:
                        break
    except Exception as exc:
        return {"error": repr(exc)}
    audio_s = _granule_seconds(bytes(buf[-65536:]))
    return {"first_byte_s": first, "worst_deficit_s": worst, "audio_s": audio_s, "bytes": len(buf)}


async def client_streams(base: str, n: int, seconds: float, plans: list) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        tasks = []
        for i in range(n):
            cookies, pid = plans[i % len(plans)]
            url = f"/api/plans/{pid}/stream?format=opus"
            tasks.append(asyncio.create_task(_play(client, url, cookies, seconds)))
            await asyncio.sleep(0.05)
        return {"streams": await asyncio.gather(*tasks)}


def client_main(argv: list[str]) -> None:
    mode, base = argv[0], argv[1]
    if mode == "api":
        res = asyncio.run(client_api(base, int(argv[2]), float(argv[3]), int(argv[4])))
    elif mode == "plans":
        res = asyncio.run(client_make_plans(base, int(argv[2])))
    elif mode == "streams":
        plans = json.loads(Path(argv[4]).read_text())
        res = asyncio.run(client_streams(base, int(argv[2]), float(argv[3]), plans))
    else:
        raise SystemExit(f"unknown client mode {mode}")
    print(json.dumps(res))


def run_client(args: list[str], cpu: str | None, timeout: float) -> dict[str, Any]:
    out = subprocess.run(
        _pinned([PY, __file__, "--client", *args], cpu),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    if out.returncode != 0:
        raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- one configuration -------------------------------------------------------------------
def bench(n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    stack = Stack(n, args, tmp)
    cpu = Cpu(stack)
    out: dict[str, Any] = {"procs": n}
    try:
        a = cpu.snapshot()
        res = run_client(
            ["api", stack.url, str(args.concurrency), str(args.seconds), "50"],
            args.client_cpu,
            args.seconds + 300,
        )
        b = cpu.snapshot()
        d = Cpu.delta(a, b)
        done = sum(len(v) for v in res["latency"].values())
        rps = done / res["wall_s"]
        server_cpu = d["web"] + d["nginx"] + d["worker"]
        out["api"] = {
            "requests_per_s": rps,
            "errors": res["errors"],
            "cpu_s": {**d, "client": res["client_cpu_s"]},
            "web_cpu_ms_per_request": d["web"] / max(done, 1) * 1000,
            "server_cpu_ms_per_request": server_cpu / max(done, 1) * 1000,
            "pg_cpu_ms_per_request": d["postgres"] / max(done, 1) * 1000,
            "server_core_busy": server_cpu / d["wall"],
        }
        for kind, xs in res["latency"].items():
            out["api"][kind] = {
                "n": len(xs),
                "p50_ms": pct(xs, 0.5) * 1000,
                "p99_ms": pct(xs, 0.99) * 1000,
            }
        _print_api(out["api"], res["wall_s"])

        made = run_client(["plans", stack.url, str(args.plans)], args.client_cpu, 600)
        plans_file = stack.tmp / "plans.json"
        plans_file.write_text(json.dumps(made["plans"]))
        t0 = time.monotonic()
        ids = [pid for _, pid in made["plans"]]
        n_cal, worker_cpu = stack.calibrate(ids, timeout_s=900)
        print(
            f"  worker: {n_cal} plans calibrated from the queue in {time.monotonic() - t0:.0f} s,"
            f" {worker_cpu / max(n_cal, 1):.2f} CPU s per calibration"
        )
        a = cpu.snapshot()
        res = run_client(
            ["streams", stack.url, str(args.streams), str(args.stream_seconds), str(plans_file)],
            args.client_cpu,
            args.stream_seconds + 180,
        )
        d = Cpu.delta(a, cpu.snapshot())
        streams = res["streams"]
        ok = [s for s in streams if "error" not in s]
        audio_s = sum(s["audio_s"] for s in ok)
        worst = max((s["worst_deficit_s"] for s in ok), default=float("nan"))
        per_audio = (d["web"] + d["nginx"]) / max(audio_s, 1e-9)
        ttfa = [s["first_byte_s"] for s in ok if s.get("first_byte_s")]
        out["streams"] = {
            "n": len(streams),
            "failed": len(streams) - len(ok),
            "worst_deficit_s": worst,
            "server_cpu_per_audio_s": per_audio,
            "streams_per_core": 1 / max(per_audio, 1e-9),
            "nginx_cpu_per_audio_s": d["nginx"] / max(audio_s, 1e-9),
            "first_byte_p50_ms": pct(ttfa, 0.5) * 1000,
            "first_byte_p99_ms": pct(ttfa, 0.99) * 1000,
            "worker_cpu_s_per_calibration": worker_cpu / max(n_cal, 1),
            "kbit_per_s": sum(s["bytes"] for s in ok) * 8 / 1000 / max(audio_s, 1e-9),
        }
        print(
            f"  streams: {len(streams)} through nginx, {len(streams) - len(ok)} failed, worst "
            f"deficit {worst:.2f} s (> 0: an underrun); first byte p50 "
            f"{pct(ttfa, 0.5) * 1000:.0f} ms p99 {pct(ttfa, 0.99) * 1000:.0f} ms; server CPU "
            f"{per_audio * 1000:.0f} ms per second of audio (nginx "
            f"{d['nginx'] / max(audio_s, 1e-9) * 1000:.1f} ms) -> "
            f"{1 / max(per_audio, 1e-9):.0f} streams per fully free core; "
            f"{out['streams']['kbit_per_s']:.0f} kbit/s per stream"
        )
    finally:
        stack.stop()
    return out


def _print_api(api: dict[str, Any], wall: float) -> None:
    c = api["cpu_s"]
    print(
        f"  API: {api['requests_per_s']:.0f} requests/s over {wall:.0f} s; errors "
        f"{api['errors'] or 'none'}"
    )
    for kind in ("checkin", "history"):
        k = api[kind]
        print(f"    {kind:8s} n={k['n']:6d}  p50 {k['p50_ms']:7.1f} ms  p99 {k['p99_ms']:7.1f} ms")
    print(
        f"    CPU s: web {c['web']:.1f}, nginx {c['nginx']:.1f}, worker {c['worker']:.1f} "
        f"(CPU 0 busy {api['server_core_busy'] * 100:.0f}%); postgres backends "
        f"{c['postgres']:.1f}; load generator {c['client']:.1f} (CPU 1)"
    )
    print(
        f"    per request: web {api['web_cpu_ms_per_request']:.2f} ms, web+nginx+worker "
        f"{api['server_cpu_ms_per_request']:.2f} ms, postgres "
        f"{api['pg_cpu_ms_per_request']:.2f} ms -> "
        f"{1000 / max(api['server_cpu_ms_per_request'], 1e-9):.0f} requests/s per fully "
        "free core"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        client_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 and 2 processes, short phases")
    ap.add_argument("--procs", default="1,2,4", help="web process counts to measure")
    ap.add_argument("--seconds", type=float, default=30.0, help="API phase length (s)")
    ap.add_argument("--concurrency", type=int, default=16, help="API connections")
    ap.add_argument("--streams", type=int, default=8, help="concurrent streams")
    ap.add_argument("--stream-seconds", type=float, default=20.0)
    ap.add_argument("--plans", type=int, default=4, help="distinct plans streamed")
    ap.add_argument("--server-cpu", default="0", help="CPU list for web, nginx and worker")
    ap.add_argument("--client-cpu", default="1", help="CPU list for the load generator")
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--broker", default="amqp://guest:guest@127.0.0.1:5672//")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.procs, args.seconds, args.stream_seconds, args.plans = "1,2", 10.0, 10.0, 2
        args.streams = 4
    if not Path(NGINX).exists():
        raise SystemExit("nginx is not installed: apt-get install -y nginx-light")
    counts = [int(x) for x in args.procs.split(",")]
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()}
    print(
        f"Sonora scale-out benchmark ({os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}); server side on CPU {args.server_cpu}, load on CPU "
        f"{args.client_cpu}"
    )
    runs = []
    with tempfile.TemporaryDirectory() as d:
        for n in counts:
            print(f"{n} web process{'es' if n > 1 else ''} behind nginx, 1 worker:")
            runs.append(bench(n, args, Path(d)))
    results["runs"] = runs
    by_n = {r["procs"]: r["api"] for r in runs}
    if 1 in by_n and 2 in by_n:
        one, two = by_n[1], by_n[2]
        eff = (1 / two["server_cpu_ms_per_request"]) / (1 / one["server_cpu_ms_per_request"])
        ratio = two["requests_per_s"] / max(one["requests_per_s"], 1e-9)
        results["ratio_2_to_1"] = {"requests_per_s": ratio, "requests_per_cpu_s": eff}
        print(
            f"=> 2 processes / 1 process: {ratio:.2f}x requests/s on the same CPU "
            f"{args.server_cpu}; {eff:.2f}x requests per server CPU-second (both on the same "
            "CPUs: packing processes costs CPU)"
        )
    results["load_after"] = os.getloadavg()
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
