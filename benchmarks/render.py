"""Render benchmark: workload W in Sonora vs the same workload in sox, same run.

Workload W (issue #2): 10 min, stereo, 48 kHz, 24-bit FLAC of pink noise low-passed
at 2 kHz (-20 dBFS) + brown noise (-24 dBFS) + a singing-bowl strike every 20 s
(6 partials at 1, 2.71, 5.15, 8.43, 12.4, 17.1 x 220 Hz, decays 12 s down to 2 s)
+ reverb (room 0.8, wet 0.3) + limiter at -1 dBFS.

Prints Sonora's real-time factor and peak memory for W at 1, 10 and 60 minutes (each
in a fresh process, so peak RSS is W's own), runs the noise + low-pass + reverb part
of W in sox at 10 minutes, and prints the ratio.  Target: >= 200x real time with peak
memory <= 100 MB, flat in duration.

Usage::

    python benchmarks/render.py [--minutes 1 10 60] [--no-sox]
"""

from __future__ import annotations

import argparse
import json
import shutil
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

minutes, path = float(sys.argv[1]), sys.argv[2]
sr = 48_000
rss_before = hwm_mb()
cpu0 = time.process_time()
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
render_to_file(mix, path)
wall = time.perf_counter() - t0
print(json.dumps({
    "wall_s": wall,
    "cpu_s": time.process_time() - cpu0,
    "peak_rss_mb": hwm_mb(),
    "import_rss_mb": rss_before,
}))
"""


def run_sonora(minutes: float, out: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, "-c", WORKER, str(minutes), str(out)],
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
    ap.add_argument("--no-sox", action="store_true", help="skip the sox reference")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sonora-bench-"))
    print(
        "Workload W: pink LP 2 kHz -20 dBFS + brown -24 dBFS + bowl every 20 s + reverb "
        "+ limiter -1 dBFS -> 24-bit FLAC, 48 kHz stereo"
    )
    results = {}
    for m in args.minutes:
        out = tmp / f"w_{m:g}min.flac"
        r = run_sonora(m, out)
        results[m] = r
        print(
            f"sonora  {m:5g} min: {m * 60 / r['wall_s']:7.1f}x real time  "
            f"({r['wall_s']:6.2f} s wall, {r['cpu_s']:6.2f} s CPU)  "
            f"peak RSS {r['peak_rss_mb']:6.1f} MB "
            f"(after imports {r['import_rss_mb']:.1f} MB)  [{out.stat().st_size / 1e6:.0f} MB file]"
        )
        if m == args.minutes[0]:
            print(f"        level check: {measure(out)}")
    ref_min = 10.0 if 10.0 in results else args.minutes[0]
    sonora_rtf = ref_min * 60 / results[ref_min]["wall_s"]
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
            print(f"ratio sonora/sox at {ref_min:g} min: {sonora_rtf / sox_rtf:.2f}x")
    peaks = [r["peak_rss_mb"] for r in results.values()]
    print(
        f"peak memory spread across durations: {max(peaks) - min(peaks):.1f} MB "
        f"(max {max(peaks):.1f} MB; target <= 100 MB, flat)"
    )
    print(
        f"target >= 200x real time at {ref_min:g} min: "
        f"{'met' if sonora_rtf >= 200 else 'NOT met'} ({sonora_rtf:.0f}x)"
    )
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
