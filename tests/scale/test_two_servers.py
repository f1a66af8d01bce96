"""Two real web processes on one PostgreSQL: a session made on one works on the other,
and a stream dropped when its process dies resumes on the other (seek, no stickiness)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from servers import kill, start_server

pytestmark = pytest.mark.postgres

CHECKIN = {"tension": 6, "energy": 4, "mood": 5, "goal": "unwind", "minutes": 5}


def _read(client: httpx.Client, url: str, n_bytes: int) -> bytes:
    got = b""
    with client.stream("GET", url, timeout=60) as r:
        assert r.status_code == 200, r.read()
        for chunk in r.iter_bytes():
            got += chunk
            if len(got) >= n_bytes:
                break
    return got


def test_a_stream_dropped_on_one_process_resumes_on_the_other(tmp_path: Path, db_url: str) -> None:
    a, base_a = start_server(tmp_path, db_url)
    try:
        b, base_b = start_server(tmp_path, db_url)
    except BaseException:
        kill(a)
        raise
    try:
        ca = httpx.Client(base_url=base_a)
        r = ca.post("/api/guest", json={})
        assert r.status_code == 201
        cookie = {"Cookie": f"sonora_session={r.cookies['sonora_session']}"}
        ca.headers.update(cookie)
        plan = ca.post("/api/checkins", json=CHECKIN).json()["plan"]
        first = _read(ca, f"/api/plans/{plan['id']}/stream", 8_000)
        assert first.startswith(b"OggS")
        kill(a)  # the process playing it dies mid-stream

        cb = httpx.Client(base_url=base_b, headers=cookie)
        assert cb.get("/api/me").status_code == 200  # same session, other process
        resumed = _read(cb, f"/api/plans/{plan['id']}/stream?offset_s=2.5", 8_000)
        assert resumed.startswith(b"OggS")
        history = cb.get("/api/history").json()
        assert plan["id"] in str(history)
    finally:
        kill(a)
        kill(b)
