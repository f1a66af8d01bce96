"""Render benchmark: workload W in Sonora vs the same workload in sox, same run.

Workload W (issue #2): 10 min, stereo, 48 kHz, 24-bit FLAC of pink noise low-passed
at 2 kHz (-20 dBFS) + brown noise (-24 dBFS) + a singing-bowl strike every 20 s
(6 partials at 1, 2.71, 5.15, 8.43, 12.4, 17.1 x 220 Hz, decays 12 s down to 2 s)
+ reverb (room 0.8, wet 0.3) + limiter at -1 dBFS.

Prints Sonora's real-time factor and peak memory for W at 1, 10 and 60 minutes (each
in a fresh process, so peak RSS is W's own), once with ``render_to_file(mix, path)``
as the library calls it (``processes=1``: everything in one process) and once with
``processes=2`` (the reverb and most layers in a forked child, the master stage, the
encoder and the layers that even out the two processes in the parent; what
``sonora render`` uses on two or more cores; same bytes), each line named; CPU is that
of the parent plus its children.  Then runs the noise + low-pass + reverb part of W in sox at 10 minutes and
prints the ratio.  Target: >= 200x real time with peak memory <= 100 MB, flat in
duration.

``--scenes`` prints instead the CPU (ms per second of audio) of every built-in
scene's mix, streamed in memory as the server does (``Mix.process``, no encoder);
with ``--against DIR`` each scene is measured for another source tree too (e.g. a
``git worktree`` of main), alternating old and new ``--pairs`` times, medians shown.

Usage::

    python benchmarks/render.py [--minutes 1 10 60] [--processes 1 2] [--no-sox]
    python benchmarks/render.py --scenes [--seconds 60] [--against /tmp/old] [--pairs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORKER = r"""
import json, resource, sys, time
import numpy as np
from sonora.engine.effects import Reverb
from sonora.engine.graph import Layer, Mix
from sonora.engine.tonal import ModalStrikes
from sonora.engine.noise import BrownNoise, PinkNoise
from sonora.engine.render import render_to_file

def hwm_mb():
    # VmHWM is this process's own peak (ru_maxrss is inherited across exec on Linux).
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

minutes, path, processes = float(sys.argv[1]), sys.argv[2], int(sys.argv[3])
sr = 48_000
rss_before = hwm_mb()
cpu0 = time.process_time()
child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
t0 = time.perf_counter()
mix = Mix(
    [
        Layer(PinkNoise(seed=1, cutoff_hz=2000.0, sample_rate=sr), gain_db=-20.0, reverb_send=1.0),
        Layer(BrownNoise(seed=2, sample_rate=sr), gain_db=-24.0, reverb_send=1.0),
        Layer(ModalStrikes(seed=3, pitch_hz=220.0, interval_s=20.0, sample_rate=sr),
              gain_db=-12.0, reverb_send=1.0),
    ],
    duration_s=minutes * 60,
    reverb=Reverb(room_size=0.8, wet_level=0.3, sample_rate=sr),
    ceiling_dbtp=-1.0,
    startle_guard=False,
)
render_to_file(mix, path, processes=processes)
wall = time.perf_counter() - t0
child = resource.getrusage(resource.RUSAGE_CHILDREN)
child_s = (child.ru_utime + child.ru_stime) - (child0.ru_utime + child0.ru_stime)
print(json.dumps({
    "wall_s": wall,
    "cpu_s": time.process_time() - cpu0 + child_s,
    "peak_rss_mb": hwm_mb(),
    "import_rss_mb": rss_before,
}))
"""


SCENE_WORKER = r"""
import json, sys, time
from sonora.engine.base import QUANTUM
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix

name, seconds = sys.argv[1], float(sys.argv[2])
mix = build_mix(load_scene(name), duration_s=seconds, seed=0, target_lufs=None)
mix.process(QUANTUM)  # first use (filter kernels, tables) not counted
frames = mix.remaining_frames
cpu0 = time.process_time()
while mix.remaining_frames > 0:
    mix.process(2 * QUANTUM)
cpu = time.process_time() - cpu0
print(json.dumps({"ms_per_s": 1000 * cpu / (frames / mix.sample_rate)}))
"""


def run_scene(name: str, seconds: float, tree: str | None) -> float:
    """CPU ms per second of audio of one scene's mix, ``sonora`` imported from ``tree``
    (default: the tree this benchmark belongs to)."""
    env = dict(os.environ)
    root = tree or str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, "-c", SCENE_WORKER, name, str(seconds)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
        cwd=tempfile.gettempdir(),  # not the caller's directory: -c puts it first on the path
    )
    return float(json.loads(proc.stdout.strip().splitlines()[-1])["ms_per_s"])


def scenes_table(seconds: float, against: str | None, pairs: int) -> None:
    """Print every built-in scene's mix CPU, ms per s of audio (old vs new with ``against``)."""
    from sonora.scenes import builtin_names

    print(f"Mix CPU per scene, ms per second of audio ({seconds:g} s streamed, no encoder)")
    if against:
        print(f"{'scene':20s} {'old':>7s} {'new':>7s} {'new/old':>8s}   (medians of {pairs} pairs)")
    olds, news = [], []
    for name in builtin_names():
        new_v, old_v = [], []
        for _ in range(pairs if against else 1):
            if against:
                old_v.append(run_scene(name, seconds, against))
            new_v.append(run_scene(name, seconds, None))
        new = statistics.median(new_v)
        news.append(new)
        if against:
            old = statistics.median(old_v)
            olds.append(old)
            print(f"{name:20s} {old:7.2f} {new:7.2f} {new / old:8.2f}")
        else:
            print(f"{name:20s} {new:7.2f}")
    if against:
        print(
            f"{'mean':20s} {statistics.mean(olds):7.2f} {statistics.mean(news):7.2f} "
            f"{statistics.mean(news) / statistics.mean(olds):8.2f}"
        )


def run_sonora(minutes: float, out: Path, processes: int = 1) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(minutes), str(out), str(processes)],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_sox(minutes: float, out: Path) -> float:
    seconds = str(minutes * 60)
    pink = f"|sox -n -r 48000 -c 2 -b 24 -p synth {seconds} pinknoise lowpass 2000 vol -20dB"
    brown = f"|sox -n -r 48000 -c 2 -b 24 -p synth {seconds} brownnoise vol -24dB"
    cmd = [
        "sox",
        "-m",
        pink,
        brown,
        "-b",
        "24",
        str(out),
        "reverb",
        "80",
        "50",
        "100",
        "100",
        "0",
        "-7",
    ]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def measure(path: Path) -> str:
    import numpy as np
    import soundfile as sf

    from sonora.engine.loudness import integrated_lufs, true_peak_dbtp

    audio, sr = sf.read(str(path), dtype="float32", always_2d=True)
    x = audio[: sr * 120].T  # first two minutes
    return (
        f"{integrated_lufs(x, sr):.1f} LUFS, true peak {true_peak_dbtp(x):.1f} dBTP, "
        f"rms {20 * np.log10(np.sqrt(np.mean(x**2))):.1f} dBFS"
    )


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--minutes", type=float, nargs="+", default=[1.0, 10.0, 60.0])
    ap.add_argument(
        "--processes", type=int, nargs="+", default=[1, 2], help="render_to_file processes"
    )
    ap.add_argument("--no-sox", action="store_true", help="skip the sox reference")
    ap.add_argument("--scenes", action="store_true", help="per-scene mix CPU table instead")
    ap.add_argument("--seconds", type=float, default=60.0, help="audio per scene (--scenes)")
    ap.add_argument("--against", help="another source tree to compare with (--scenes)")
    ap.add_argument("--pairs", type=int, default=3, help="old/new pairs per scene (--against)")
    args = ap.parse_args()
    if args.scenes:
        scenes_table(args.seconds, args.against, args.pairs)
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="sonora-bench-"))
    print(
        "Workload W: pink LP 2 kHz -20 dBFS + brown -24 dBFS + bowl every 20 s + reverb "
        "+ limiter -1 dBFS -> 24-bit FLAC, 48 kHz stereo"
    )
    results: dict[tuple[int, float], dict] = {}
    for procs in args.processes:
        label = "1 process " if procs == 1 else f"{procs} processes"
        for m in args.minutes:
            out = tmp / f"w_{m:g}min_{procs}p.flac"
            r = run_sonora(m, out, procs)
            results[procs, m] = r
            print(
                f"sonora {label} {m:5g} min: {m * 60 / r['wall_s']:7.1f}x real time  "
                f"({r['wall_s']:6.2f} s wall, {r['cpu_s']:6.2f} s CPU)  "
                f"peak RSS {r['peak_rss_mb']:6.1f} MB "
                f"(after imports {r['import_rss_mb']:.1f} MB)  "
                f"[{out.stat().st_size / 1e6:.0f} MB file]"
            )
            if m == args.minutes[0] and procs == args.processes[0]:
                print(f"        level check: {measure(out)}")
    if len(args.processes) > 1:
        print("        (CPU: parent + forked child; peak RSS: the parent's own)")
    ref_min = 10.0 if 10.0 in args.minutes else args.minutes[0]
    rtf = {p: ref_min * 60 / results[p, ref_min]["wall_s"] for p in args.processes}
    if not args.no_sox:
        if shutil.which("sox") is None:
            print("sox not installed (apt-get install sox): no reference measured")
        else:
            wall = run_sox(ref_min, tmp / "sox.flac")
            sox_rtf = ref_min * 60 / wall
            print(
                f"sox     {ref_min:5g} min: {sox_rtf:7.1f}x real time  ({wall:6.2f} s) "
                "[noise + lowpass + reverb only, no bowl or limiter]"
            )
            for p in args.processes:
                print(f"ratio sonora ({p} proc.)/sox at {ref_min:g} min: {rtf[p] / sox_rtf:.2f}x")
    for p in args.processes:
        peaks = [r["peak_rss_mb"] for (q, _), r in results.items() if q == p]
        print(
            f"{p} proc.: peak memory spread across durations: {max(peaks) - min(peaks):.1f} MB "
            f"(max {max(peaks):.1f} MB; target <= 100 MB, flat)"
        )
    for p in args.processes:
        print(
            f"target >= 200x real time at {ref_min:g} min, {p} proc.: "
            f"{'met' if rtf[p] >= 200 else 'NOT met'} ({rtf[p]:.0f}x)"
        )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
