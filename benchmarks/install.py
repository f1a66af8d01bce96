"""Install weight: a fresh clone's ``make run`` to the first HTTP 200.

Clones this repository into a new temporary folder, runs ``make run`` there (which
creates ``.venv`` with the runtime packages only and serves the app), polls
``http://127.0.0.1:PORT/`` until it answers 200, then stops the server and prints the
time taken, the size of ``.venv`` and its ten largest installed packages.  Targets:
first 200 within 90 s, ``.venv`` <= 400 MB.

``make run`` installs without byte-compiling (``pip --no-compile``): Python writes
``.pyc`` files on first import, for the modules actually used.  So the size is printed
twice: at the first HTTP 200, and again after the clone's CLI has also rendered a
scene, triaged a note and listed the scenes (what a user's ``.venv`` grows to).

Usage::

    python benchmarks/install.py [--keep]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _size(path: Path) -> int:
    total = 0
    for dirpath, _, files in os.walk(path):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                total += os.path.getsize(p)
    return total


def largest_packages(venv: Path, n: int = 10) -> list[tuple[str, int]]:
    """The ``n`` largest top-level entries of site-packages, bytes."""
    site = next(venv.glob("lib/python*/site-packages"))
    sizes = []
    for entry in site.iterdir():
        if entry.name.endswith((".dist-info", ".pth")) or entry.name == "__pycache__":
            continue
        sizes.append((entry.name, _size(entry) if entry.is_dir() else entry.stat().st_size))
    return sorted(sizes, key=lambda t: -t[1])[:n]


def use_cli(clone: Path, env: dict[str, str]) -> None:
    """Run the clone's CLI as a user would: scenes, a short render, a triage."""
    sonora = str(clone / ".venv" / "bin" / "sonora")
    out = clone.parent / "use.flac"
    for cmd in (
        [sonora, "scenes"],
        [sonora, "render", "rain", "-o", str(out), "--duration", "20s", "--seed", "1"],
        [sonora, "triage", "I can't switch off tonight", "--country", "GB"],
    ):
        subprocess.run(cmd, cwd=clone, env=env, check=True, capture_output=True, timeout=600)


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--keep", action="store_true", help="keep the clone (path is printed)")
    ap.add_argument("--timeout", type=float, default=1200.0, help="give up after, seconds")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sonora-install-"))
    clone = tmp / "sonora"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    port = _free_port()
    env = dict(os.environ)
    for k in ("PYTHONPATH", "VIRTUAL_ENV"):
        env.pop(k, None)
    env.update(SONORA_PORT=str(port), SONORA_DATA_DIR=str(tmp / "data"))
    log = open(tmp / "make-run.log", "w")
    t0 = time.perf_counter()
    make = subprocess.Popen(
        ["make", "run"],
        cwd=clone,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    first_200 = None
    try:
        while time.perf_counter() - t0 < args.timeout and make.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as r:
                    if r.status == 200:
                        first_200 = time.perf_counter() - t0
                        break
            except OSError:
                time.sleep(0.5)
    finally:
        if make.poll() is None:
            os.killpg(make.pid, signal.SIGTERM)
            make.wait(timeout=60)
        log.close()
    lines = (tmp / "make-run.log").read_text().splitlines()
    if first_200 is None:
        print("no HTTP 200; make run said:\n" + "\n".join(lines[-40:]))
        return 1
    venv = clone / ".venv"
    print(f"fresh clone: make run -> first HTTP 200 in {first_200:.0f} s (target <= 90 s)")
    print(f"make run printed {len(lines)} lines before the first page")
    print(f".venv at the first HTTP 200: {_size(venv) / 1e6:.0f} MB (target <= 400 MB)")
    use_cli(clone, env)
    print(
        f".venv after `sonora scenes`, a render and a triage: {_size(venv) / 1e6:.0f} MB; "
        "ten largest packages:"
    )
    for name, size in largest_packages(venv):
        print(f"  {size / 1e6:7.1f} MB  {name}")
    if args.keep:
        print(f"clone kept at {clone}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
