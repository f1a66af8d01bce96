"""Serving benchmark: real-time Opus streams per core, time to first audio, API latency.

Everything runs against servers started on loopback in this run (``uvicorn`` in a
subprocess); the load comes from a separate process; every phase is bounded in time.

1. **Streams per core.**  A server pinned to one core (``taskset``) on SQLite; a
   client process, on the other core, opens N concurrent Ogg Opus streams (20-minute
   plans, calibrated beforehand) and plays each like a player would: playback starts
   once 0.5 s is buffered and from then on the audio received (read from the Ogg
   granule positions) must stay ahead of the wall clock.  N rises until some stream
   underruns; the result is the largest N with no underrun.  Target: >= 30.
2. **Time to first audio.**  From sending the request to the first body byte, for
   every stream started in phase 1 and for 30 streams started one at a time on an idle
   server: p50 and p95.  Target: first bytes within 300 ms.
3. **API latency with PostgreSQL.**  A server on a fresh PostgreSQL database; a
   client process sends an open-loop 200 requests/s for ``--api-seconds``, half
   ``POST /api/checkins`` and half ``GET /api/history``, across 50 listeners.  p50,
   p95, p99 and errors.  (Background loudness calibration is switched off for this
   server: it would measure the matcher's CPU, not the API.)

Usage::

    python benchmarks/serve.py            # full run (a few minutes)
    python benchmarks/serve.py --quick    # shorter phases
    python benchmarks/serve.py --no-postgres

PostgreSQL: ``--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test`` (default);
the benchmark creates its own database next to it and drops it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable


# -- helpers ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    xs = sorted(values)
    k = (len(xs) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def tree_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process and its live children (psutil)."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            pass
    return total


class Server:
    """``uvicorn --factory sonora.web.app:create_app_from_env`` in a subprocess."""

    def __init__(self, env: dict[str, str], *, cpu: int | None, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cmd = [
            PY, "-m", "uvicorn", "--factory", "sonora.web.app:create_app_from_env",
            "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
            "--no-access-log", "--workers", str(workers),
        ]  # fmt: skip
        if cpu is not None and shutil.which("taskset"):
            cmd = ["taskset", "-c", str(cpu), *cmd]
        full_env = {**os.environ, **env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        self.proc = subprocess.Popen(cmd, env=full_env, cwd=ROOT)
        deadline = time.monotonic() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("server did not start") from None
                time.sleep(0.1)

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def run_client(args: list[str], *, cpu: int | None, timeout: float) -> dict[str, Any]:
    """Run this file's client mode in a separate process; returns its JSON result."""
    cmd = [PY, __file__, *args]
    if cpu is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(cpu), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if out.returncode != 0:
        raise RuntimeError(f"client failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- client side (separate process) ----------------------------------------------------
async def _guest(client: Any) -> dict[str, str]:
    """A new guest; returns the cookie header that signs its requests in."""
    client.cookies.clear()
    r = await client.post("/api/guest", json={})
    assert r.status_code == 201, r.text
    token = r.cookies["sonora_session"]
    client.cookies.clear()
    return {"Cookie": f"sonora_session={token}"}


async def _make_listener(client: Any, minutes: float, loved: str) -> tuple[dict, str]:
    cookies = await _guest(client)
    await client.put("/api/profile", json={"loved": [loved]}, headers=cookies)
    r = await client.post(
        "/api/checkins",
        json={"tension": 6, "mood": 5, "goal": "unwind", "minutes": minutes, "place": "sitting"},
        headers=cookies,
    )
    return cookies, r.json()["plan"]["id"]


def _granule_seconds(buf: bytes, pre_skip: int = 312) -> float:
    """Seconds of audio in complete Ogg pages of ``buf`` (last granule position)."""
    last = -1
    i = buf.rfind(b"OggS")
    while i >= 0:
        if i + 27 <= len(buf):
            n = buf[i + 26]
            end = i + 27 + n + sum(buf[i + 27 : i + 27 + n]) if i + 27 + n <= len(buf) else None
            if end is not None and end <= len(buf):
                g = int.from_bytes(buf[i + 6 : i + 14], "little", signed=True)
                if g >= 0:
                    last = g
                    break
        i = buf.rfind(b"OggS", 0, i)
    return max(0.0, (last - pre_skip) / 48_000) if last >= 0 else 0.0


async def _play(client: Any, url: str, cookies: dict, seconds: float) -> dict[str, Any]:
    """Stream like a player: start at 0.5 s buffered, then never run dry."""
    t_req = time.monotonic()
    first = None
    start_play = None
    underrun = 0.0
    buf = bytearray()
    try:
        async with client.stream("GET", url, headers=cookies) as r:
            if r.status_code != 200:
                return {"error": r.status_code}
            async for chunk in r.aiter_raw():
                now = time.monotonic()
                if first is None:
                    first = now - t_req
                buf += chunk
                have = _granule_seconds(bytes(buf[-65536:])) if len(buf) > 0 else 0.0
                if start_play is None:
                    if have >= 0.5:
                        start_play = now
                else:
                    deficit = (now - start_play) - have
                    underrun = max(underrun, deficit)
                if start_play is not None and now - start_play >= seconds:
                    break
    except Exception as exc:  # a refused or broken stream counts as a failure
        return {"error": repr(exc)}
    return {
        "first_byte_s": first,
        "worst_deficit_s": underrun,
        "bytes": len(buf),
        "audio_s": _granule_seconds(bytes(buf[-65536:])),
    }


async def client_streams(base: str, n: int, seconds: float, plans: list) -> dict[str, Any]:
    import httpx

    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=n + 10)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
        tasks = []
        for i in range(n):
            cookies, pid = plans[i % len(plans)]
            tasks.append(_play(client, f"/api/plans/{pid}/stream?format=opus", cookies, seconds))
            await asyncio.sleep(0.05)  # listeners arrive over a moment, not in one instant
        results = await asyncio.gather(*tasks)
    return {"streams": results}


async def client_setup(base: str, listeners: int, minutes: float) -> dict[str, Any]:
    import httpx

    families = ["rain", "water", "bowls", "drone", "noise", "wind"]
    async with httpx.AsyncClient(base_url=base, timeout=600) as client:
        plans = [
            await _make_listener(client, minutes, families[i % len(families)])
            for i in range(listeners)
        ]
        deadline = time.monotonic() + 600
        for cookies, pid in plans:
            while not (await client.get(f"/api/plans/{pid}", headers=cookies)).json()["ready"]:
                if time.monotonic() > deadline:
                    raise RuntimeError("calibration took too long")
                await asyncio.sleep(0.2)
        # what the matcher chose (its Thompson draws differ per server start, and a plan
        # with steady noise costs ~1.5x one of rain: the figure depends on the mix)
        recipes = [
            (await client.get(f"/api/plans/{pid}", headers=cookies)).json()["plan"].get("recipe")
            for cookies, pid in plans
        ]
    return {"plans": plans, "recipes": recipes}


async def client_ttfa(base: str, count: int, plans: list) -> dict[str, Any]:
    import httpx

    out = []
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for i in range(count):
            cookies, pid = plans[i % len(plans)]
            t0 = time.monotonic()
            async with client.stream(
                "GET", f"/api/plans/{pid}/stream?format=opus", headers=cookies
            ) as r:
                async for _ in r.aiter_raw():
                    out.append(time.monotonic() - t0)
                    break
            await asyncio.sleep(0.1)
    return {"ttfa": out}


class Conn:
    """A minimal HTTP/1.1 keep-alive connection (light, so the client is not the limit)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, headers: dict, body: bytes = b"") -> int:
        if self.w is None:
            self.r, self.w = await asyncio.open_connection(self.host, self.port)
        head = [f"{method} {path} HTTP/1.1", f"Host: {self.host}"]
        head += [f"{k}: {v}" for k, v in headers.items()]
        if body:
            head += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        self.w.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await self.w.drain()
        assert self.r is not None
        lines = (await self.r.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        length, close = 0, False
        for line in lines[1:]:
            k, _, v = line.partition(":")
            if k.lower() == "content-length":
                length = int(v)
            elif k.lower() == "connection" and v.strip().lower() == "close":
                close = True
        if length:
            await self.r.readexactly(length)
        if close:
            self.close()
        return status

    def close(self) -> None:
        if self.w is not None:
            self.w.close()
            self.w = None


async def make_listeners(base: str, n: int) -> list[dict[str, str]]:
    """``n`` onboarded guests (half love rain, half bowls): their cookie headers."""
    import httpx

    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        users = []
        for i in range(n):
            cookies = await _guest(client)
            await client.put(
                "/api/profile", json={"loved": [["rain", "bowls"][i % 2]]}, headers=cookies
            )
            users.append(cookies)
    return users


async def client_api(base: str, rate: float, seconds: float, listeners: int) -> dict[str, Any]:
    """Open-loop load: requests are due at a fixed rate; latency counts from when each
    was due, so a server that falls behind is measured as such (no coordinated
    omission)."""

    users = await make_listeners(base, listeners)
    host, port = base.split("//", 1)[1].split(":")
    lat: dict[str, list[float]] = {"checkin": [], "history": []}
    errors: dict[str, int] = {}
    queue: asyncio.Queue = asyncio.Queue()
    body = json.dumps({"tension": 6, "mood": 4, "goal": "sleep", "minutes": 20}).encode()
    deadline = [0.0]

    async def worker() -> None:
        conn = Conn(host, int(port))
        while True:
            item = await queue.get()
            if item is None:
                conn.close()
                return
            kind, headers, due = item
            try:
                remaining = max(0.1, deadline[0] - time.monotonic())
                if kind == "checkin":
                    coro = conn.request("POST", "/api/checkins", headers, body)
                else:
                    coro = conn.request("GET", "/api/history", headers)
                status = await asyncio.wait_for(coro, timeout=remaining)
                key, ok = str(status), status < 400
            except Exception as exc:
                conn.close()
                conn = Conn(host, int(port))
                key, ok = type(exc).__name__, False
            if ok:
                lat[kind].append(time.monotonic() - due)
            else:
                errors[key] = errors.get(key, 0) + 1

    workers = [asyncio.create_task(worker()) for _ in range(64)]
    start = time.monotonic()
    deadline[0] = start + seconds + 30.0
    i = 0
    while True:
        due = start + i / rate
        if due - start >= seconds:
            break
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
        kind = "checkin" if i % 2 == 0 else "history"
        queue.put_nowait((kind, users[i % len(users)], due))
        i += 1
    sent_for = time.monotonic() - start
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.wait(workers, timeout=45)
    return {"latency": lat, "errors": errors, "sent": i, "sent_for_s": sent_for}


def client_main(argv: list[str]) -> None:
    mode, base = argv[0], argv[1]
    if mode == "setup":
        res = asyncio.run(client_setup(base, int(argv[2]), float(argv[3])))
    elif mode == "streams":
        plans = json.loads(Path(argv[4]).read_text())
        res = asyncio.run(client_streams(base, int(argv[2]), float(argv[3]), plans))
    elif mode == "ttfa":
        plans = json.loads(Path(argv[3]).read_text())
        res = asyncio.run(client_ttfa(base, int(argv[2]), plans))
    elif mode == "api":
        res = asyncio.run(client_api(base, float(argv[2]), float(argv[3]), int(argv[4])))
    else:
        raise SystemExit(f"unknown client mode {mode}")
    print(json.dumps(res))


# -- orchestration ---------------------------------------------------------------------
def bench_streams(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    env = {
        "SONORA_DATA_DIR": str(tmp / "streams"),
        "SONORA_DATABASE_URL": f"sqlite:///{tmp / 'streams' / 'bench.db'}",
        "SONORA_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "SONORA_TRIAGE_NOTES": "false",
        "SONORA_MAX_STREAMS": "1000",
        "SONORA_CALIBRATION_WORKERS": "1",
    }
    server = Server(env, cpu=0)
    try:
        t0 = time.monotonic()
        setup = run_client(["setup", server.url, str(args.plans), "20"], cpu=1, timeout=900)
        print(
            f"  {args.plans} plans made and calibrated in {time.monotonic() - t0:.0f} s: "
            + ", ".join(str(r) for r in setup.get("recipes", []))
        )
        plans_file = tmp / "plans.json"
        plans_file.write_text(json.dumps(setup["plans"]))
        idle = run_client(["ttfa", server.url, "30", str(plans_file)], cpu=1, timeout=300)
        ttfa_idle = idle["ttfa"]
        print(
            f"  time to first audio, idle server: p50 {pct(ttfa_idle, 0.5) * 1000:.0f} ms, "
            f"p95 {pct(ttfa_idle, 0.95) * 1000:.0f} ms"
        )
        best, ttfa_load, levels = 0, [], []
        n = args.start
        while n <= args.max_streams:
            time.sleep(2)  # let parked renderers from the last level expire from the CPU
            cpu0, wall0 = server.cpu_seconds(), time.monotonic()
            res = run_client(
                ["streams", server.url, str(n), str(args.stream_seconds), str(plans_file)],
                cpu=1,
                timeout=args.stream_seconds + 120,
            )
            cpu = server.cpu_seconds() - cpu0
            streams = res["streams"]
            failed = [s for s in streams if "error" in s]
            audio_s = sum(s["audio_s"] for s in streams if "error" not in s)
            worst = max((s["worst_deficit_s"] for s in streams if "error" not in s), default=0)
            ttfa_load += [s["first_byte_s"] for s in streams if s.get("first_byte_s")]
            ok = not failed and worst <= 0.0
            # server CPU per second of audio delivered: independent of other load
            per_audio_s = cpu / max(audio_s, 1e-9)
            levels.append(
                {
                    "streams": n,
                    "ok": ok,
                    "worst_deficit_s": worst,
                    "failed": len(failed),
                    "server_cpu_s": cpu,
                    "wall_s": time.monotonic() - wall0,
                    "cpu_per_audio_s": per_audio_s,
                }
            )
            print(
                f"  {n:3d} streams: {'no underrun' if ok else 'UNDERRUN'}"
                f" (worst deficit {worst:.2f} s, {len(failed)} failed); server CPU "
                f"{per_audio_s * 1000:.0f} ms per second of audio"
                f" -> {1 / max(per_audio_s, 1e-9):.0f} streams per fully free core"
            )
            if not ok:
                break
            best = n
            n += args.step
        return {
            "streams_per_core": best,
            "levels": levels,
            "ttfa_idle_p50_ms": pct(ttfa_idle, 0.5) * 1000,
            "ttfa_idle_p95_ms": pct(ttfa_idle, 0.95) * 1000,
            "ttfa_load_p50_ms": pct(ttfa_load, 0.5) * 1000,
            "ttfa_load_p95_ms": pct(ttfa_load, 0.95) * 1000,
        }
    finally:
        server.stop()


def bench_api(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    import sqlalchemy as sa

    db = f"sonora_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    url = sa.engine.make_url(args.postgres).set(database=db).render_as_string(hide_password=False)
    env = {
        "SONORA_DATA_DIR": str(tmp / "api"),
        "SONORA_DATABASE_URL": url,
        "SONORA_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "SONORA_TRIAGE_NOTES": "false",
        "SONORA_CALIBRATE_AHEAD": "false",
    }
    pinned = 0 if args.api_workers == 1 else None
    server = Server(env, cpu=pinned, workers=args.api_workers)
    try:
        cpu0 = server.cpu_seconds()
        res = run_client(
            ["api", server.url, str(args.rate), str(args.api_seconds), "50"],
            cpu=1 if pinned is not None else None,
            timeout=args.api_seconds + 180,
        )
        cpu = server.cpu_seconds() - cpu0  # the parent only: exact with one worker
    finally:
        server.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
    done = sum(len(v) for v in res["latency"].values())
    out: dict[str, Any] = {
        "server_cpu_ms_per_request": cpu / max(done, 1) * 1000 if args.api_workers == 1 else None,
        "rate_rps": args.rate,
        "seconds": args.api_seconds,
        "sent": res["sent"],
        "errors": res["errors"],
    }
    for kind, xs in res["latency"].items():
        out[kind] = {
            "n": len(xs),
            "p50_ms": pct(xs, 0.5) * 1000,
            "p95_ms": pct(xs, 0.95) * 1000,
            "p99_ms": pct(xs, 0.99) * 1000,
        }
        print(
            f"  {kind:8s} n={len(xs):5d}  p50 {pct(xs, 0.5) * 1000:6.1f} ms  "
            f"p95 {pct(xs, 0.95) * 1000:6.1f} ms  p99 {pct(xs, 0.99) * 1000:6.1f} ms"
        )
    print(f"  errors: {res['errors'] or 'none'}; sent {res['sent']} in {res['sent_for_s']:.1f} s")
    if out["server_cpu_ms_per_request"]:
        per = out["server_cpu_ms_per_request"]
        print(
            f"  server CPU {per:.1f} ms per request (setup included) -> about "
            f"{1000 / per:.0f} requests/s on a fully free core"
        )
    return out


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("setup", "streams", "ttfa", "api"):
        client_main(sys.argv[1:])
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="shorter phases")
    ap.add_argument("--plans", type=int, default=4, help="distinct plans streamed")
    ap.add_argument("--start", type=int, default=8, help="first number of streams")
    ap.add_argument("--step", type=int, default=4)
    ap.add_argument("--max-streams", type=int, default=80)
    ap.add_argument("--stream-seconds", type=float, default=30.0)
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--api-seconds", type=float, default=30.0)
    ap.add_argument(
        "--api-workers",
        type=int,
        default=1,
        help="uvicorn workers for the API server (1: pinned to CPU 0, load on CPU 1)",
    )
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    ap.add_argument("--no-postgres", action="store_true")
    ap.add_argument("--no-streams", action="store_true")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    if args.quick:
        args.stream_seconds, args.api_seconds, args.plans = 12.0, 10.0, 2
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "load_before": os.getloadavg(),
        "args": {k: str(v) for k, v in vars(args).items()},
    }
    print(f"Sonora serving benchmark ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f})")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if not args.no_streams:
            print("Streams on one core (server pinned to CPU 0, listeners on CPU 1):")
            results["streams"] = bench_streams(args, tmp)
            s = results["streams"]
            print(
                f"=> {s['streams_per_core']} real-time Opus streams on one core without an "
                f"underrun (target >= 30); time to first audio p50 "
                f"{s['ttfa_idle_p50_ms']:.0f} ms / p95 {s['ttfa_idle_p95_ms']:.0f} ms idle, "
                f"p50 {s['ttfa_load_p50_ms']:.0f} ms / p95 {s['ttfa_load_p95_ms']:.0f} ms "
                "while streams start (target 300 ms)"
            )
        if not args.no_postgres:
            where = "server on CPU 0" if args.api_workers == 1 else f"{args.api_workers} workers"
            print(f"API at {args.rate:g} requests/s on PostgreSQL ({where}):")
            results["api"] = bench_api(args, tmp)
    results["load_after"] = os.getloadavg()
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
