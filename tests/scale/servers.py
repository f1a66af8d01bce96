"""Real ``sonora serve`` processes on one PostgreSQL schema, for the scale-out tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from testkit import PG_URL


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def schema_url(schema: str) -> str:
    """The shared database URL with the test's schema as search_path."""
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def start_server(tmp_path: Path, db_url: str, **extra: str) -> tuple[subprocess.Popen[bytes], str]:
    """A ``sonora serve`` process; returns it and its base URL once it answers."""
    port = free_port()
    env = {
        **os.environ,
        "SONORA_DATABASE_URL": db_url,
        "SONORA_DATA_DIR": str(tmp_path / f"server-{port}"),
        "SONORA_SECRET_KEY": "s" * 40,  # every process of a deployment shares it
        "SONORA_TRIAGE_NOTES": "false",
        **extra,
    }
    log = (tmp_path / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", "from sonora.cli import main; main()", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError((tmp_path / f"server-{port}.log").read_text())
        try:
            if httpx.get(f"{base}/api/health", timeout=2).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"server on {port} did not start")


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process group (no clean shutdown: a crash)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
