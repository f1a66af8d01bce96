"""Unhandled errors (sonora/web/errors.py): never a bare 500, never one without its cause.

A real ``sonora serve`` process is made to fail while it prepares a stream (a plan whose
stored mixer gains are corrupt in its database): the answer is JSON naming a request id,
and the server's log has the traceback under that id, in plain and in JSON logs.  The
middleware's other cases (an app that never answers, a stray ``CancelledError``, an error
after the response started) run on small ASGI apps.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from sonora.web.errors import ErrorLog, request_id_of

CHECKIN = {"tension": 6, "energy": 4, "mood": 5, "goal": "unwind", "minutes": 5}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(tmp_path: Path, **env: str) -> tuple[subprocess.Popen[bytes], str, Path, str]:
    """A ``sonora serve`` process on SQLite; returns it, its URL, its log and its DB URL."""
    port = _free_port()
    db_url = f"sqlite:///{tmp_path / 'errors.db'}"
    log = tmp_path / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sonora.cli import main; main()", "serve", "--port", str(port)],
        env={
            **os.environ,
            "SONORA_DATABASE_URL": db_url,
            "SONORA_DATA_DIR": str(tmp_path / "data"),
            "SONORA_SECRET_KEY": "e" * 40,
            "SONORA_TRIAGE_NOTES": "false",
            "SONORA_CALIBRATE_AHEAD": "false",  # nothing measured: the test is about errors
            "SONORA_CALIBRATION_WAIT_S": "0",
            **env,
        },
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(log.read_text())
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return proc, base, log, db_url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    _stop(proc)
    raise AssertionError(f"server on {port} did not start:\n{log.read_text()}")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


def _log_with(log: Path, needle: str, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        text = log.read_text(errors="replace")
        if needle in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def _corrupt_stream(base: str, db_url: str, headers: dict[str, str]) -> httpx.Response:
    """A listener's plan with its stored mixer gains corrupt, then a press of play."""
    c = httpx.Client(base_url=base, timeout=60)
    assert c.post("/api/guest", json={}).status_code == 201
    plan = c.post("/api/checkins", json=CHECKIN).json()["plan"]
    engine = sa.create_engine(db_url)
    with engine.begin() as conn:
        stored = conn.execute(sa.text("SELECT plan FROM plans WHERE id = :i"), {"i": plan["id"]})
        n_layers = len(json.loads(stored.scalar_one())["layers"])
        conn.execute(
            sa.text("UPDATE plans SET gains = :g WHERE id = :i"),
            {"g": json.dumps(["loud"] * n_layers), "i": plan["id"]},
        )
    engine.dispose()
    with c.stream("GET", f"/api/plans/{plan['id']}/stream", headers=headers) as r:
        if r.status_code == 200:  # not failed: do not listen to the whole session
            return r
        r.read()
        return r


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_stream_that_fails_before_its_first_byte_is_logged_and_answered_with_an_id(
    tmp_path: Path, log_format: str
) -> None:
    proc, base, log, db_url = _serve(tmp_path, SONORA_LOG_FORMAT=log_format)
    try:
        given = {"json": {"X-Request-ID": "nginx-7f3a9c"}, "text": {}}[log_format]
        r = _corrupt_stream(base, db_url, given)
        assert r.status_code == 500, r.text
        assert r.headers["content-type"].startswith("application/json")
        body = r.json()
        rid = body["request_id"]
        assert rid == r.headers["X-Request-ID"]
        assert rid in body["detail"] and body["field"] == "server"
        if given:  # the proxy's id is kept, so both logs agree
            assert rid == "nginx-7f3a9c"
        else:
            assert len(rid) == 16 and int(rid, 16) >= 0
        text = _log_with(log, "TypeError")
        assert proc.poll() is None, text  # one failed request; the server serves on
        assert c_health(base) == 200
    finally:
        _stop(proc)
    if log_format == "text":
        start = text.index(f"(request id {rid})")
        after = text[start:]
        assert "Traceback (most recent call last)" in after, text
        assert "in prepare" in after and "TypeError" in after, text  # the worker thread's frame
        assert "/stream failed" in text[:start].splitlines()[-1] + after.splitlines()[0]
        assert "ASGI callable" not in text and "Exception in ASGI application" not in text
    else:
        records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
        errors = [r for r in records if r.get("request_id") == rid]
        assert len(errors) == 1, text
        (err,) = errors
        assert err["level"] == "error" and err["logger"] == "sonora.web.errors"
        assert "/stream failed" in err["msg"] and rid in err["msg"]
        assert "Traceback (most recent call last)" in err["exc"] and "in prepare" in err["exc"]
        assert "TypeError" in err["exc"]
        assert not any("Exception in ASGI" in r["msg"] for r in records)


def c_health(base: str) -> int:
    return httpx.get(f"{base}/api/health", timeout=10).status_code


# -- the middleware's other cases, on small ASGI apps ------------------------------------
async def _no_answer(scope: Scope, receive: Receive, send: Send) -> None:
    return None


async def _stray_cancel(scope: Scope, receive: Receive, send: Send) -> None:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[None] = loop.create_future()
    future.cancel()  # a measurement dropped: awaiting it raises CancelledError
    await future


async def _fails_midway(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"half", "more_body": True})
    raise RuntimeError("the encoder broke")


def _client(inner: Any) -> TestClient:
    """A test client of ``inner`` behind :class:`ErrorLog` (wrapped in a coroutine
    function: the test client takes a plain callable for an ASGI 2 app)."""
    wrapped = ErrorLog(inner)

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await wrapped(scope, receive, send)

    return TestClient(app)


@pytest.mark.parametrize(
    ("app", "logged"),
    [(_no_answer, "returned without a response"), (_stray_cancel, "CancelledError")],
)
def test_no_answer_or_a_stray_cancel_is_a_500_with_an_id(
    app: Any, logged: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="sonora.web.errors"):
        r = _client(app).get("/api/x?email=someone@example.org")
    assert r.status_code == 500
    rid = r.json()["request_id"]
    (rec,) = caplog.records
    assert rid in rec.getMessage() and "GET /api/x" in rec.getMessage()
    assert "someone@" not in rec.getMessage()  # the query string stays out of the log
    assert rec.request_id == rid  # type: ignore[attr-defined]
    shown = rec.getMessage() + (caplog.text if rec.exc_info else "")
    assert logged in shown


def test_an_error_after_the_response_started_is_logged_and_the_stream_cut(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR, logger="sonora.web.errors"):
        r = _client(_fails_midway).get("/api/plans/p/stream")
    assert r.status_code == 200 and r.content == b"half"  # the status was already sent
    (rec,) = caplog.records
    assert "after its response started" in rec.getMessage()
    assert rec.exc_info is not None and "the encoder broke" in caplog.text


def test_a_request_id_from_the_proxy_is_kept_when_it_is_a_plain_token() -> None:
    def scope(value: bytes) -> Scope:
        return {"type": "http", "headers": [(b"x-request-id", value)]}

    assert request_id_of(scope(b"abc-123.X:y_z")) == "abc-123.X:y_z"
    for bad in (b"", b"a b", b"x" * 65, b"<script>"):
        made = request_id_of(scope(bad))
        assert made != bad.decode() and len(made) == 16
    assert request_id_of({"type": "http", "headers": []}) != request_id_of(
        {"type": "http", "headers": []}
    )
