"""``sonora render`` with its defaults vs sox, in the same run.

Renders 10 minutes (the CLI's default length) of a built-in scene to FLAC exactly as a
user would (``sonora render SCENE -o out.flac``: default loudness, sample rate and
check, a fresh seed), timing the whole command from process start to exit and
reading its peak memory, then renders the noise + low-pass + reverb job of the same
length in sox and prints both real-time factors and their ratio.  Target: the CLI at
least 2x sox's real-time factor; peak RSS <= 150 MB.

Each ``sonora render`` keeps the byte-code Python compiles, as it does on a user's
machine (this sandbox sets ``PYTHONDONTWRITEBYTECODE``, which would make every run
compile its imports from source), and one short render first warms that cache.

On a shared machine wall times swing with the load, so the two are run alternately
``--rounds`` times (default 3) and the best wall time of each is compared; the CPU
seconds (user + system, children included: sox's generators run as its children) are
printed beside them, and their ratio is less sensitive to the load.

With ``--scene all`` every built-in scene is run the same way (each beside its own
sox runs, so a change of load between scenes affects both) and a table is printed:
scene, wall, CPU, real-time factor, sox's, and both ratios.  The done-when is judged
on the typical scene, not the cheapest: read the whole table.

Usage::

    python benchmarks/cli_render.py [--scene rain|all] [--minutes 10] [--rounds 3]
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_cli(scene: str, out: Path, minutes: float | None) -> tuple[float, float, float, str]:
    """Wall seconds, CPU seconds, peak RSS (MB) and stdout of one ``sonora render``."""
    cmd = [sys.executable, "-m", "sonora.cli", "render", scene, "-o", str(out)]
    if minutes is not None:
        cmd += ["--duration", f"{minutes:g}m"]
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    # As on a user's machine, Python keeps the byte-code it compiles (__pycache__):
    # where PYTHONDONTWRITEBYTECODE is set (this sandbox sets it), every render would
    # otherwise compile numpy, scipy and Sonora from source first, ~1.3 s of CPU that
    # no user pays after their first run.  The first round warms the cache.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
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


def compare(scene: str, minutes: float | None, rounds: int, tmp: Path) -> dict[str, object]:
    """Alternate ``rounds`` CLI renders of ``scene`` with sox runs; the best of each."""
    seconds = 60.0 * (10.0 if minutes is None else minutes)
    have_sox = shutil.which("sox") is not None
    cli, sox = [], []
    run_cli(scene, tmp / "cli.flac", 0.05)  # byte-code cache and file system warm, not counted
    for _ in range(max(1, rounds)):
        cli.append(run_cli(scene, tmp / "cli.flac", minutes))
        if have_sox:
            sox.append(run_sox(seconds, tmp / "sox.flac"))
    wall, cpu, _, text = min(cli)
    row: dict[str, object] = {
        "scene": scene,
        "seconds": seconds,
        "wall": wall,
        "cpu": cpu,
        "rtf": seconds / wall,
        "rss": max(r[2] for r in cli),
        "walls": [r[0] for r in cli],
        "check": (m.group(0) if (m := re.search(r"Measured: .*", text)) else None),
    }
    if sox:
        sox_wall, sox_cpu = min(sox)
        row.update(
            sox_wall=sox_wall,
            sox_cpu=sox_cpu,
            sox_rtf=seconds / sox_wall,
            sox_walls=[r[0] for r in sox],
            ratio=(seconds / wall) / (seconds / sox_wall),
            cpu_ratio=sox_cpu / cpu,
        )
    return row


def print_one(row: dict[str, object]) -> None:
    """The detailed report of one scene."""
    r: dict[str, Any] = row
    print(f"sonora render {r['scene']} (defaults), {r['seconds'] / 60:g} min to FLAC:")
    print(
        f"  {r['wall']:.1f} s wall ({r['rtf']:.1f}x real time), {r['cpu']:.1f} s CPU, "
        f"peak RSS {r['rss']:.0f} MB"
    )
    print("  walls: " + ", ".join(f"{w:.1f}" for w in r["walls"]) + " s")
    print(f"  {r['check'] or 'no check line printed!'}")
    if "ratio" not in r:
        print("sox not found (apt-get install sox): no reference")
        return
    print(
        f"sox noise + low-pass + reverb, same length: "
        f"{r['sox_wall']:.1f} s wall ({r['sox_rtf']:.1f}x), {r['sox_cpu']:.1f} s CPU"
    )
    print("  walls: " + ", ".join(f"{w:.1f}" for w in r["sox_walls"]) + " s")
    print(f"ratio sonora/sox real-time factor: {r['ratio']:.2f} (target >= 2)")
    print(f"ratio by CPU seconds: {r['cpu_ratio']:.2f}")


def print_table(rows: list[dict[str, object]]) -> None:
    """One line per scene: wall, CPU, real-time factors and ratios (target >= 2)."""
    print(
        f"{'scene':<18} {'wall s':>7} {'CPU s':>6} {'RTF':>6} {'sox RTF':>8} "
        f"{'ratio':>6} {'CPU ratio':>9} {'RSS MB':>7}"
    )
    for row in rows:
        r: dict[str, Any] = row
        sox_rtf = f"{r['sox_rtf']:8.1f}" if "sox_rtf" in r else f"{'-':>8}"
        ratio = f"{r['ratio']:6.2f}" if "ratio" in r else f"{'-':>6}"
        cpu_ratio = f"{r['cpu_ratio']:9.2f}" if "cpu_ratio" in r else f"{'-':>9}"
        print(
            f"{r['scene']:<18} {r['wall']:7.1f} {r['cpu']:6.1f} {r['rtf']:6.1f} {sox_rtf} "
            f"{ratio} {cpu_ratio} {r['rss']:7.0f}"
        )
    ratios = sorted(float(r["ratio"]) for r in rows if "ratio" in r)  # type: ignore[arg-type]
    if ratios:
        print(
            f"ratio (target >= 2): median {ratios[len(ratios) // 2]:.2f}, "
            f"lowest {ratios[0]:.2f}, highest {ratios[-1]:.2f}"
        )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scene", default="rain", help="built-in scene, or all (default rain)")
    ap.add_argument(
        "--minutes", type=float, default=None, help="length (default: the CLI's own, 10)"
    )
    ap.add_argument("--rounds", type=int, default=3, help="alternate runs of each (default 3)")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    tmp = Path(tempfile.mkdtemp(prefix="sonora-cli-bench-"))
    try:
        if args.scene == "all":
            sys.path.insert(0, str(ROOT))
            from sonora.scenes import builtin_names

            rows = []
            for name in builtin_names():
                rows.append(compare(name, args.minutes, args.rounds, tmp))
                print(f"  ({name}: {rows[-1]['wall']:.1f} s)", file=sys.stderr, flush=True)
            print(f"sonora render SCENE (defaults) to FLAC vs sox, best of {args.rounds}:")
            print_table(rows)
        else:
            print_one(compare(args.scene, args.minutes, args.rounds, tmp))
        print(
            f"(machine load average: {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} now)"
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
