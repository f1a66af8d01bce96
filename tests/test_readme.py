"""Every command in the README runs as written (or as an explicitly mapped cheap variant).

The commands are extracted from the README's ``sh`` code blocks; a command the README
gains without an entry in :data:`RUNS` fails the test, so the README cannot drift from
what works.  Variants only shorten durations (``--duration 5s``, ``--minutes 5``), use
``make -n -B`` (print, do not run) for the two set-up targets (``make run`` serves forever and ``make test``
is the whole suite; ``serve`` itself is run for real) and run ``sonora`` as
``python -m sonora.cli`` so this checkout's code is what runs.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SONORA = ".venv/bin/sonora"

#: README command -> the command run (None: exactly as written).
RUNS: dict[str, str | None] = {
    "make run": "make -n -B run",
    "make test": "make -n -B test",
    f"{SONORA} serve": None,  # run for real below, until it answers HTTP 200
    f"{SONORA} scenes": None,
    f"{SONORA} describe singing-bowl-bath": None,
    f"{SONORA} render ocean-at-night -o ocean.opus --duration 45m --seed 3": (
        f"{SONORA} render ocean-at-night -o ocean.opus --duration 5s --seed 3"
    ),
    f"{SONORA} render my-scene.toml -o mine.flac --loudness -20 --sample-rate 44100": (
        f"{SONORA} render my-scene.toml -o mine.flac --loudness -20 --sample-rate 44100 -d 5s"
    ),
    f"{SONORA} play rain": None,
    f'{SONORA} triage "I can\'t switch off tonight" --country GB --json': None,
    f"{SONORA} recommend --goal sleep --tension 7 --minutes 20": None,
    f"{SONORA} recommend --goal unwind --tension 6 --dislike chimes --love rain --json > plan.json": (
        f"{SONORA} recommend --goal unwind --tension 6 --dislike chimes --love rain "
        "--minutes 5 --json > plan.json"
    ),
    f"{SONORA} render plan.json -o tonight.flac": None,
    f"{SONORA} recommend --goal ease_anxiety --tension 8 --headphones --render calm.opus": (
        f"{SONORA} recommend --goal ease_anxiety --tension 8 --headphones --minutes 5 "
        "--render calm.opus"
    ),
    f"{SONORA} admin grant me@example.org": None,
    f"{SONORA} therapists demo --verify-as me@example.org": None,
    f"{SONORA} therapists remind": None,
    f"{SONORA} outbox send": None,
}


def readme_commands() -> list[str]:
    """Command lines of the README's ``sh`` blocks, comments removed."""
    out = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        for line in block.splitlines():
            cmd = re.split(r"\s{2,}#", line)[0].strip()
            if cmd and not cmd.startswith("#"):
                out.append(cmd)
    return out


def _scene_file() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", README, flags=re.S)
    assert len(blocks) == 1, "the README's example scene"
    return blocks[0]


def test_every_readme_command_is_covered() -> None:
    commands = readme_commands()
    assert len(commands) >= 15
    assert set(commands) == set(RUNS), set(commands) ^ set(RUNS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("readme")


def _env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["SONORA_DATA_DIR"] = str(workdir / "data")
    env["COLUMNS"] = "200"
    return env


def _shell(cmd: str, workdir: Path) -> subprocess.CompletedProcess[str]:
    real = cmd.replace(SONORA, f"{shlex.quote(sys.executable)} -m sonora.cli")
    cwd = ROOT if cmd.startswith("make") else workdir
    return subprocess.run(
        real, shell=True, cwd=cwd, env=_env(workdir), capture_output=True, text=True, timeout=1800
    )


def test_readme_commands_run(workdir: Path) -> None:
    (workdir / "my-scene.toml").write_text(_scene_file(), encoding="utf-8")
    (workdir / "data").mkdir()
    # `serve` first (the directory commands need an account made "in the app")
    port = _free_port()
    env = _env(workdir)
    env["SONORA_PORT"] = str(port)
    server = subprocess.Popen(
        [sys.executable, "-m", "sonora.cli", "serve"],
        cwd=workdir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 300
        status = None
        while time.monotonic() < deadline and server.poll() is None:
            try:
                with urllib.request.urlopen(base + "/", timeout=10) as r:
                    status = r.status
                break
            except OSError:
                time.sleep(0.5)
        assert status == 200, server.stdout.read() if server.poll() is not None else "no answer"
        req = urllib.request.Request(
            base + "/api/signup",
            data=json.dumps(
                {"email": "me@example.org", "password": "readme-" + secrets.token_hex(8)}
            ).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=60) as r:
            assert r.status == 201
    finally:
        server.terminate()
        server.wait(timeout=60)
    for readme_cmd in readme_commands():
        if readme_cmd == f"{SONORA} serve":
            continue
        cmd = RUNS[readme_cmd] or readme_cmd
        proc = _shell(cmd, workdir)
        if readme_cmd == f"{SONORA} play rain":
            # no sound card here: the documented way out, not a traceback
            assert proc.returncode in (0, 1), proc.stderr
            if proc.returncode == 1:
                assert "sonora render rain -o" in proc.stderr, proc.stderr
            continue
        assert proc.returncode == 0, (cmd, proc.stdout[-2000:], proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, cmd
        if cmd.startswith("make -n -B run"):
            assert "sonora serve" in proc.stdout
            assert "[test" not in proc.stdout  # runtime packages only
            assert "postgres" not in proc.stdout  # SQLite needs no driver
        if cmd.startswith("make -n -B test"):
            assert "pytest" in proc.stdout and ".[test,postgres,queue,pdf]" in proc.stdout
    for name in ("ocean.opus", "mine.flac", "plan.json", "tonight.flac", "calm.opus"):
        assert (workdir / name).stat().st_size > 0, name
    assert json.loads((workdir / "plan.json").read_text())["kind"] == "sonora-plan"
