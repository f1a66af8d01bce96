"""``sonora render`` with its defaults vs sox, in the same run.

Renders 10 minutes (the CLI's default length) of a built-in scene to FLAC exactly as a
user would (``sonora render SCENE -o out.flac``: default loudness, sample rate and
check, a fresh seed), timing the whole command from process start to exit and
reading its peak memory, then renders the noise + low-pass + reverb job of the same
length in sox and prints both real-time factors and their ratio.  Target: the CLI at
least 2x sox's real-time factor; peak RSS <= 150 MB.

On a shared machine wall times swing with the load, so the two are run alternately
``--rounds`` times (default 3) and the best wall time of each is compared; the CPU
seconds (user + system, children included: sox's generators run as its children) are
printed beside them, and their ratio is less sensitive to the load.

Usage::

    python benchmarks/cli_render.py [--scene rain] [--minutes 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(scene: str, out: Path, minutes: float | None) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) and stdout of one ``sonora render``."""
    cmd = [sys.executable, "-m", "sonora.cli", "render", scene, "-o", str(out)]
    if minutes is not None:
        cmd += ["--duration", f"{minutes:g}m"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    out_text = proc.stdout.read() if proc.stdout else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"sonora render failed: {proc.stderr.read() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, out_text


def run_sox(seconds: float, out: Path) -> tuple[float, float]:
    """Noise + low-pass + reverb of the same length in sox, 24-bit FLAC.

    Returns wall seconds and CPU seconds (sox and the generators it runs).
    """
    pink = f"|sox -n -r 48000 -c 2 -b 24 -p synth {seconds} pinknoise lowpass 2000 vol -20dB"
    brown = f"|sox -n -r 48000 -c 2 -b 24 -p synth {seconds} brownnoise vol -24dB"
    cmd = ["sox", "-m", pink, brown, "-b", "24", str(out), "reverb", "80", "50", "100"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"sox failed: {proc.stderr.read() if proc.stderr else ''}")
    return wall, usage.ru_utime + usage.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scene", default="rain", help="built-in scene (default rain)")
    ap.add_argument(
        "--minutes", type=float, default=None, help="length (default: the CLI's own, 10)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternate runs of each (default 3)")
    args = ap.parse_args()
    seconds = 60.0 * (10.0 if args.minutes is None else args.minutes)
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="sonora-cli-bench-"))
    have_sox = shutil.which("sox") is not None
    try:
        cli, sox = [], []
        for _ in range(max(1, args.rounds)):
            cli.append(run_cli(args.scene, tmp / "cli.flac", args.minutes))
            if have_sox:
                sox.append(run_sox(seconds, tmp / "sox.flac"))
        wall, cpu, _, text = min(cli)
        rtf = seconds / wall
        print(
            f"sonora render {args.scene} (defaults), {seconds / 60:g} min to FLAC, best of {len(cli)}:"
        )
        print(
            f"  {wall:.1f} s wall ({rtf:.1f}x real time), {cpu:.1f} s CPU, "
            f"peak RSS {max(r[2] for r in cli):.0f} MB"
        )
        print("  walls: " + ", ".join(f"{r[0]:.1f}" for r in cli) + " s")
        m = re.search(r"Measured: .*", text)
        print(f"  {m.group(0) if m else 'no check line printed!'}")
        if not have_sox:
            print("sox not found (apt-get install sox): no reference")
            return 0
        sox_wall, sox_cpu = min(sox)
        sox_rtf = seconds / sox_wall
        print(
            f"sox noise + low-pass + reverb, same length, best of {len(sox)}: "
            f"{sox_wall:.1f} s wall ({sox_rtf:.1f}x), {sox_cpu:.1f} s CPU"
        )
        print("  walls: " + ", ".join(f"{r[0]:.1f}" for r in sox) + " s")
        print(f"ratio sonora/sox real-time factor: {rtf / sox_rtf:.2f} (target >= 2)")
        print(f"ratio by CPU seconds: {sox_cpu / cpu:.2f}")
        print(
            f"(machine load average: {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} now)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
