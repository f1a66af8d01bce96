"""Check-in to plan: server CPU per ``POST /api/checkins`` on PostgreSQL.

A real server (``uvicorn``, one worker, its own fresh PostgreSQL database) and a real
HTTP client in this process.  ``--listeners`` guests each onboard and finish
``--history`` sessions (check-in, then check-out through the API), so the matcher has
something to learn from; then ``--requests`` check-ins are sent one at a time, spread
over the listeners, with varied goals, times of day, places and outputs, and as many
``GET /api/history`` reads.  The server process's CPU time (user + system, from
``/proc``) spent on the check-ins, divided by their number, is the figure.  Target:
<= 5 ms per check-in.

Reference measured in the same run: server CPU per ``GET /api/health`` (the cheapest
route: HTTP parsing, routing, JSON), so the ratio says how much the check-in itself
costs beyond serving any request on this machine.  Check-ins, history reads and the
reference run in ``--blocks`` interleaved blocks, so all three see the same load (on a
shared 2-core machine CPU time per request rises with the load average, printed).

Usage::

    python benchmarks/checkin_cpu.py [--requests 400] [--listeners 20] [--history 8]
        [--blocks 10] [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import Server  # benchmarks/serve.py: uvicorn in a subprocess

TARGET_MS = 5.0
GOALS = ("sleep", "unwind", "ease_anxiety", "focus")
TIMES = ("07:30", "10:15", "13:40", "17:05", "19:50", "22:30", "23:55", "01:10")


def checkin_body(i: int) -> dict[str, Any]:
    """A varied, valid check-in (deterministic in ``i``)."""
    goal = GOALS[i % 4]
    return {
        "tension": (3 + 7 * i) % 11,
        "mood": (2 + 3 * i) % 11,
        "energy": (5 + i) % 11,
        "goal": goal,
        "minutes": (10, 20, 30, 45)[(i // 4) % 4],
        "place": "in_bed" if goal == "sleep" else ("sitting", "on_the_move")[(i // 3) % 2],
        "output": ("headphones", "speaker")[(i // 2) % 2],
        "local_time": TIMES[(i * 3) % len(TIMES)],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Set up the server and listeners, then measure; returns the figures."""
    import httpx
    import sqlalchemy as sa

    db = f"sonora_cpu_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(args.postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    url = sa.engine.make_url(args.postgres).set(database=db).render_as_string(hide_password=False)
    tmp = Path(tempfile.mkdtemp(prefix="sonora-cpu-"))
    env = {
        "SONORA_DATA_DIR": str(tmp),
        "SONORA_DATABASE_URL": url,
        "SONORA_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "SONORA_TRIAGE_NOTES": "false",
        "SONORA_CALIBRATE_AHEAD": "false",
        # the limits stay on (their counters are part of what a check-in costs), high
        # enough for the hundreds of check-ins this benchmark sends from one address
        "SONORA_LIMIT_CHECKINS_PER_ACCOUNT": "100000/1h",
        "SONORA_LIMIT_CHECKINS_PER_CLIENT": "100000/1h",
    }
    server = Server(env, cpu=None)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            users = []
            for i in range(args.listeners):
                client.cookies.clear()
                r = client.post("/api/guest", json={})
                r.raise_for_status()
                cookie = {"Cookie": f"sonora_session={r.cookies['sonora_session']}"}
                client.cookies.clear()
                loved = [("rain", "bowls", "noise", "water")[i % 4]]
                client.put("/api/profile", json={"loved": loved}, headers=cookie)
                users.append(cookie)
            k = 0
            for _ in range(args.history):
                for cookie in users:
                    r = client.post("/api/checkins", json=checkin_body(k), headers=cookie)
                    r.raise_for_status()
                    pid = r.json()["plan"]["id"]
                    out = {"tension": 3, "mood": 6, "rating": 3 + k % 7, "completed": True}
                    client.post(f"/api/plans/{pid}/outcome", json=out, headers=cookie)
                    k += 1
            # warm-up (first-use imports and caches are not what a check-in costs)
            for j in range(20):
                client.post("/api/checkins", json=checkin_body(j), headers=users[j % len(users)])
                client.get("/api/health")
            # Interleaved blocks (check-ins, history reads, the reference), so that all
            # three see the same load on a shared machine: their ratios stay honest
            # even when the absolute figures swing with what else runs.
            cpu = {"checkin": 0.0, "history": 0.0, "health": 0.0}
            wall_checkin = 0.0
            block = max(1, args.requests // args.blocks)
            done = 0
            while done < args.requests:
                n = min(block, args.requests - done)
                cpu0, t0 = server.cpu_seconds(), time.perf_counter()
                for j in range(done, done + n):
                    r = client.post(
                        "/api/checkins", json=checkin_body(1000 + j), headers=users[j % len(users)]
                    )
                    if r.status_code != 201:
                        raise RuntimeError(f"check-in failed: {r.status_code} {r.text[:300]}")
                cpu["checkin"] += server.cpu_seconds() - cpu0
                wall_checkin += time.perf_counter() - t0
                cpu0 = server.cpu_seconds()
                for j in range(done, done + n):
                    client.get("/api/history", headers=users[j % len(users)]).raise_for_status()
                cpu["history"] += server.cpu_seconds() - cpu0
                cpu0 = server.cpu_seconds()
                for _ in range(n):
                    client.get("/api/health").raise_for_status()
                cpu["health"] += server.cpu_seconds() - cpu0
                done += n
    finally:
        server.stop()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
    per = cpu["checkin"] / args.requests * 1000
    hist = cpu["history"] / args.requests * 1000
    ref = cpu["health"] / args.requests * 1000
    return {
        "checkin_cpu_ms": per,
        "history_cpu_ms": hist,
        "health_cpu_ms": ref,
        "ratio": per / ref if ref else float("inf"),
        "history_ratio": hist / ref if ref else float("inf"),
        "checkin_wall_ms": wall_checkin / args.requests * 1000,
        "requests": args.requests,
        "listeners": args.listeners,
        "history": args.history,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns 1 when the target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--requests", type=int, default=400)
    ap.add_argument("--listeners", type=int, default=20)
    ap.add_argument("--history", type=int, default=8, help="finished sessions per listener")
    ap.add_argument("--blocks", type=int, default=10, help="interleaved measuring blocks")
    ap.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()
    res = run(args)
    load1 = os.getloadavg()
    ok = res["checkin_cpu_ms"] <= TARGET_MS
    print(
        f"Check-in to plan on PostgreSQL ({res['listeners']} listeners with {res['history']} "
        f"finished sessions each, {res['requests']} check-ins):"
    )
    print(
        f"  server CPU {res['checkin_cpu_ms']:.2f} ms per check-in "
        f"(wall {res['checkin_wall_ms']:.1f} ms); reference GET /api/health "
        f"{res['health_cpu_ms']:.2f} ms -> {res['ratio']:.1f}x"
    )
    print(
        f"  history read: server CPU {res['history_cpu_ms']:.2f} ms per GET /api/history "
        f"-> {res['history_ratio']:.1f}x the reference"
    )
    print(
        f"  load average {load0[0]:.2f} before, {load1[0]:.2f} after (2 cores shared: CPU "
        "time per request rises with the load; the ratios, measured in interleaved "
        "blocks, much less)"
    )
    print(f"  target <= {TARGET_MS} ms: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
