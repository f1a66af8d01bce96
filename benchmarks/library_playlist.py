"""How long building a playlist arc takes on a large library (the cost of one music check-in).

``sonora.library.playlist.build_arc`` is greedy: each step looks at every unused track,
so its cost grows with the library and the length asked for.  This script makes a
synthetic library of ``--tracks`` analysed tracks (tempo 50–150 BPM, energy and loudness
loosely following the tempo, 3–5 minute tracks; the figures a scan would store), then
times ``build_arc`` for sleep from a tense, awake check-in for 30 minutes and for a whole
night (720 minutes), ``--repeat`` times each, and prints the median with CPU seconds.

Reference measured in the same run: sorting the same tracks once by their distance to the
start (``sorted`` with a key), the least any arc builder has to do.  A music check-in
also builds a 5-minute arc first (a dry run before the check-in is stored), timed too.

Usage::

    python benchmarks/library_playlist.py [--tracks 10000] [--repeat 5] [--seed 3]
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

from sonora.library.playlist import StepLimits, build_arc
from sonora.library.repo import Track


def library(n: int, seed: int) -> list[Track]:
    """``n`` analysed tracks with figures like a scan stores."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        bpm = rng.uniform(50, 150)
        energy = min(1.0, max(0.0, (bpm - 50) / 120 + rng.uniform(-0.15, 0.15)))
        out.append(
            Track(
                id=f"{i:032x}",
                folder_id="f",
                rel_path=f"{i // 12}/{i:05d}.flac",
                size_bytes=1,
                mtime_ns=1,
                title=f"Track {i}",
                artist=f"Artist {i % 300}",
                album="",
                genre=("Ambient", "Jazz", "Folk", "Pop")[i % 4],
                codec="flac",
                duration_s=rng.uniform(180, 300),
                tempo_bpm=bpm,
                energy=energy,
                loudness_lufs=-30 + 16 * energy + rng.uniform(-2, 2),
                voice=rng.random() * 0.6,
                key="C major",
                analysis=None,
                error=None,
            )
        )
    return out


def timed(fn: object, repeat: int) -> tuple[float, float, object]:
    """Median wall and CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        result = fn()  # type: ignore[operator]
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus), result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tracks", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    tracks = library(args.tracks, args.seed)
    start = (60 + 60 * 0.75, 0.1 + 0.7 * 0.75)  # the builder's start for tension 8, energy 7
    lim = StepLimits()

    def reference() -> list[Track]:
        return sorted(
            tracks,
            key=lambda t: (
                abs(t.tempo_bpm - start[0]) / lim.tempo_bpm  # type: ignore[operator]
                + abs(t.energy - start[1]) / lim.energy
            ),  # type: ignore[operator]
        )

    ref_wall, ref_cpu, _ = timed(reference, args.repeat)
    print(f"library: {args.tracks} tracks; median of {args.repeat} runs")
    print(
        f"reference (one sort of the library): {ref_wall * 1000:.1f} ms wall, {ref_cpu * 1000:.1f} ms CPU"
    )
    for minutes in (5.0, 30.0, 720.0):
        wall, cpu, arc = timed(
            lambda m=minutes: build_arc(tracks, goal="sleep", tension=8, energy=7, minutes=m),
            args.repeat,
        )
        n = len(arc.tracks)  # type: ignore[attr-defined]
        print(
            f"build_arc sleep {minutes:.0f} min: {n} tracks, {wall * 1000:.1f} ms wall, "
            f"{cpu * 1000:.1f} ms CPU ({cpu / ref_cpu:.1f}x the reference)"
        )


if __name__ == "__main__":
    main()
