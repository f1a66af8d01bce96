"""The first check-in after start-up, against the ones after it (wall time, seconds).

A real server (``uvicorn``, one worker, SQLite, triage of notes on) is started; the
script waits for its first ``200`` (``GET /api/health``, reported as the start-up
time), then for ``--pause`` seconds, as a listener would spend opening the page and
writing a note, and sends ``--checkins`` check-ins with a note, one at a time, each
from a fresh guest.  The first one used to wait for the triage reader's sentence model
to load and to touch its weights for the first time; the server now warms it in the
background at start-up, so the first should cost what the later ones do.

``--pause 0`` sends the first check-in while the warm-up is still running: it waits for
that warm-up once (bounded by the check-in's one-second wait for the model), not for a
second load of its own.

Usage::

    python benchmarks/first_checkin.py [--pause 5] [--checkins 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from serve import Server  # benchmarks/serve.py: uvicorn in a subprocess

NOTE = "Long day at work, my shoulders are tight and I keep replaying a meeting."


def one_run(pause_s: float, checkins: int) -> dict[str, Any]:
    """Start a server, time its first 200 and ``checkins`` check-ins; returns seconds."""
    import httpx

    tmp = Path(tempfile.mkdtemp(prefix="sonora-first-"))
    env = {
        "SONORA_DATA_DIR": str(tmp),
        "SONORA_DATABASE_URL": f"sqlite:///{tmp / 'sonora.db'}",
        "SONORA_SECRET_KEY": "bench-" + uuid.uuid4().hex,
        "SONORA_TRIAGE_NOTES": "true",
        "SONORA_CALIBRATE_AHEAD": "false",
    }
    t0 = time.perf_counter()
    server = Server(env, cpu=None)
    try:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            while True:
                try:
                    if client.get("/api/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.02)
            first_200 = time.perf_counter() - t0
            time.sleep(pause_s)
            walls = []
            for i in range(checkins):
                client.cookies.clear()
                r = client.post("/api/guest", json={})
                assert r.status_code == 201, r.text
                body = {"tension": 6, "mood": 4, "goal": "unwind", "minutes": 20}
                body |= {"place": "sitting", "note": f"{NOTE} ({i})"}
                t = time.perf_counter()
                r = client.post("/api/checkins", json=body)
                walls.append(time.perf_counter() - t)
                assert r.status_code in (200, 201), r.text
    finally:
        server.stop()
    return {"first_200_s": first_200, "checkins_s": walls}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pause", type=float, default=5.0, help="seconds after the first 200")
    ap.add_argument("--checkins", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    runs = [one_run(args.pause, args.checkins) for _ in range(args.repeats)]
    first = [r["checkins_s"][0] for r in runs]
    later = [w for r in runs for w in r["checkins_s"][1:]]
    out = {
        "pause_s": args.pause,
        "first_200_s": [round(r["first_200_s"], 3) for r in runs],
        "first_checkin_s": [round(w, 3) for w in first],
        "later_checkin_median_s": round(statistics.median(later), 3) if later else None,
        "first_over_later": round(statistics.median(first) / statistics.median(later), 2)
        if later
        else None,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
