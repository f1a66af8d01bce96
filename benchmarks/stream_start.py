"""What a stream start costs, part by part, each against its former way in the same run.

1. **Provisional gain** of a plan not measured yet: the per-source loudness table
   (``sonora/scenes/source_loudness.json``) against measuring each layer alone for 8 s
   (the former way, caches cleared: each new parameter set paid it), CPU ms per plan.
2. **Deep seek** of an all-night plan (offsets 600 s to 39,000 s): the master chain's
   10 s warm-up against the former 16 s (with its 3 s fade-in), CPU ms per seek.
3. **Event-loop lag while a plan is calibrated**: an asyncio loop (the server's) asks
   to wake every 5 ms while one 20-minute plan is measured in a thread of the same
   process (the former way: it holds the interpreter) or in a worker process at nice
   +10 (now); p50/p95/max of how late it wakes, with no measurement as the floor.

CPU time (``time.process_time`` / ``thread_time``) is used where it can be: the machine
may be shared, and wall-clock figures then mostly measure the neighbours.

4. **Paced streams while a plan is calibrated**: 20 streams in this process, each
   encoding a second of audio per trip to a worker thread once a second (as the
   server's streams do), while a 20-minute plan is measured in a thread of the same
   process, in a worker process (nice +10), or not at all: how long a trip takes
   (p50/p95/max), how late the loop wakes, and this process's CPU share.

Usage::

    python benchmarks/stream_start.py            # all four
    python benchmarks/stream_start.py --trips    # only part 4
"""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from sonora.core.audio import Renderer, build_stream_mix, provisional_calibration
from sonora.core.calibration import Calibrator
from sonora.core.database import Database
from sonora.engine import graph
from sonora.plan import CheckIn, Plan
from sonora.plan import render as plan_render
from sonora.plan.compose import compose
from sonora.plan.recipes import get_arm

SR = 48_000


def _plans() -> list[Plan]:
    out = []
    for k, arm in enumerate(["rain/mid", "rain-bowls/mid", "ocean/dark", "noise/mid", "drone/mid"]):
        for tension in (3, 8):
            checkin = CheckIn.from_dict({"tension": tension, "goal": "unwind", "minutes": 20})
            out.append(compose(checkin, get_arm(arm), seed=k * 10 + tension))
    return out


def _old_provisional(plan: Plan) -> None:
    plan_render.analysis_mix(plan, duration_s=min(plan.duration_s, 1.0), sample_rate=SR)


def provisional() -> None:
    plans = _plans()
    old, new = [], []
    for p in plans:
        plan_render._trim_db.cache_clear()
        t = time.process_time()
        _old_provisional(p)
        old.append(time.process_time() - t)
        t = time.process_time()
        provisional_calibration(p, sample_rate=SR, target_lufs=-23.0)
        new.append(time.process_time() - t)
    o, n = statistics.median(old) * 1000, statistics.median(new) * 1000
    print(f"1. provisional gain, {len(plans)} plans: table {n:.2f} ms CPU (median)")
    print(f"   reference (each layer measured alone, cold): {o:.0f} ms; ratio {n / o:.4f}")


def _seek_cpu(plan: Plan, offsets: list[float]) -> list[float]:
    cal = provisional_calibration(plan, sample_rate=SR, target_lufs=-23.0)
    out = []
    for off in offsets:
        r = Renderer(build_stream_mix(plan, cal, sample_rate=SR, gains=None), history_s=8.0)
        t = time.process_time()
        r.seek(off)
        out.append(time.process_time() - t)
    return out


def seek() -> None:
    checkin = CheckIn.from_dict({"tension": 6, "goal": "sleep", "minutes": "all night"})
    offsets = [600.0, 3600.0, 5 * 3600 + 17.0, 39_000.0]
    print("2. deep seek, all-night plans, CPU ms per seek (600 s, 1 h, 5 h, 10.8 h):")
    for arm in ("rain-bowls/mid", "ocean/dark"):
        plan = compose(checkin, get_arm(arm), seed=5)
        now = _seek_cpu(plan, offsets)
        saved = graph.MASTER_WARMUP_S, graph.WARMUP_RAMP_S
        graph.MASTER_WARMUP_S, graph.WARMUP_RAMP_S = 16.0, 3.0
        try:
            before = _seek_cpu(plan, offsets)
        finally:
            graph.MASTER_WARMUP_S, graph.WARMUP_RAMP_S = saved
        print(
            f"   {arm}: {' '.join(f'{x * 1000:.0f}' for x in now)}  reference (16 s): "
            f"{' '.join(f'{x * 1000:.0f}' for x in before)}  ratio "
            f"{sum(now) / sum(before):.2f}"
        )


async def _lag(seconds: float) -> list[float]:
    late = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t = time.monotonic()
        await asyncio.sleep(0.005)
        late.append(time.monotonic() - t - 0.005)
    return late


def _lag_during(cal: Calibrator | None, plan: dict, seconds: float) -> list[float]:
    if cal is not None:
        cal.ensure("bench", plan, None, play=True)
        time.sleep(0.5)  # the measurement is under way (a process: spawned)
    return asyncio.run(_lag(seconds))


def loop_lag() -> None:
    checkin = CheckIn.from_dict({"tension": 6, "goal": "unwind", "minutes": 20})
    plan = compose(checkin, get_arm("rain-drone/mid"), seed=9).to_dict()
    tmp = Path(tempfile.mkdtemp(prefix="sonora-bench-"))
    store = Database.open(f"sqlite:///{tmp / 'b.db'}")
    seconds = 6.0
    results: dict[str, list[float]] = {"none": [], "thread": [], "process": []}
    try:
        for round_ in range(2):  # interleaved: the neighbours' load changes meanwhile
            results["none"] += _lag_during(None, plan, seconds)
            for name, processes in (("thread", False), ("process", True)):
                cal = Calibrator(
                    store, sample_rate=SR, target_lufs=-23.0, workers=1, processes=processes
                )
                try:
                    fresh = {**plan, "seed": plan["seed"] + 10 * round_ + len(name)}
                    results[name] += _lag_during(cal, fresh, seconds)
                finally:
                    cal.close()
    finally:
        store.close()
    print(f"3. event-loop lag (ms), 2 x {seconds:g} s each, while a 20-min plan is calibrated:")
    for name, xs in results.items():
        a = np.asarray(xs) * 1000
        print(
            f"   {name:>8}: p50 {np.percentile(a, 50):.1f}  p95 {np.percentile(a, 95):.1f}  "
            f"max {a.max():.0f}"
        )
    p_thread = np.percentile(np.asarray(results["thread"]), 95)
    p_proc = np.percentile(np.asarray(results["process"]), 95)
    print(f"   ratio process / thread (p95): {p_proc / max(p_thread, 1e-9):.2f}")


async def _streams(jobs: list, seconds: float) -> tuple[list[float], list[float]]:
    """Paced streams as the server runs them: a second of audio per trip to a worker
    thread, once a second each; returns each trip's wall time and the loop's lateness."""
    import functools

    import anyio.to_thread

    trips: list[float] = []
    end = time.monotonic() + seconds

    async def one(job: Any, delay: float) -> None:
        await asyncio.sleep(delay)
        while time.monotonic() < end:
            t = time.monotonic()
            await anyio.to_thread.run_sync(functools.partial(job.next_chunk, min_frames=SR))
            trips.append(time.monotonic() - t)
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t)))

    lag_task = asyncio.ensure_future(_lag(seconds))
    await asyncio.gather(*(one(j, k / len(jobs)) for k, j in enumerate(jobs)))
    return trips, await lag_task


def stream_trips(n: int = 20) -> None:
    """4. ``n`` paced streams in this process while a plan is calibrated in a thread of
    it, in a worker process, or not at all (interleaved rounds)."""
    from sonora.core.audio import StreamJob

    checkin = CheckIn.from_dict({"tension": 6, "goal": "unwind", "minutes": 20})
    plans = [compose(checkin, get_arm("rain-bowls/mid"), seed=k) for k in range(n)]
    jobs = []
    for p in plans:
        cal = provisional_calibration(p, sample_rate=SR, target_lufs=-23.0)
        r = Renderer(build_stream_mix(p, cal, sample_rate=SR, gains=None), history_s=8.0)
        jobs.append(StreamJob(r, "opus", 0.8, opus_complexity=5))
    measured = compose(checkin, get_arm("rain-drone/mid"), seed=99).to_dict()
    tmp = Path(tempfile.mkdtemp(prefix="sonora-bench-"))
    store = Database.open(f"sqlite:///{tmp / 'b.db'}")
    seconds = 6.0
    trips: dict[str, list[float]] = {"none": [], "thread": [], "process": []}
    lags: dict[str, list[float]] = {"none": [], "thread": [], "process": []}
    cpu: dict[str, float] = {"none": 0.0, "thread": 0.0, "process": 0.0}
    try:
        for round_ in range(2):
            for name in ("none", "thread", "process"):
                cal = None
                if name != "none":
                    cal = Calibrator(
                        store, sample_rate=SR, target_lufs=-23.0, workers=1,
                        processes=name == "process",
                    )  # fmt: skip
                    fresh = {**measured, "seed": measured["seed"] + 10 * round_ + len(name)}
                    cal.ensure("bench", fresh, None, play=True)
                    time.sleep(0.5)  # under way (a process: spawned)
                try:
                    c0 = time.process_time()
                    t, lag = asyncio.run(_streams(jobs, seconds))
                    cpu[name] += time.process_time() - c0
                    trips[name] += t
                    lags[name] += lag
                finally:
                    if cal is not None:
                        cal.close()
    finally:
        store.close()
    print(
        f"4. {n} paced streams (a second of audio per trip, once a second each), 2 x "
        f"{seconds:g} s each, while a 20-min plan is calibrated:"
    )
    for name in trips:
        a, b = np.asarray(trips[name]) * 1000, np.asarray(lags[name]) * 1000
        print(
            f"   {name:>8}: trip wall ms p50 {np.percentile(a, 50):.0f} p95 "
            f"{np.percentile(a, 95):.0f} max {a.max():.0f}; loop late ms p95 "
            f"{np.percentile(b, 95):.0f}; this process's CPU {cpu[name] / (2 * seconds):.0%} "
            f"of a core"
        )
    p95 = {k: np.percentile(np.asarray(v), 95) for k, v in trips.items()}
    print(
        f"   trip p95 ratio thread / none {p95['thread'] / p95['none']:.2f}, "
        f"process / none {p95['process'] / p95['none']:.2f}"
    )


def main() -> None:
    print(f"load average at start: {os.getloadavg()[0]:.1f} (2 cores; shared machine)")
    import sys

    if "--trips" in sys.argv:  # only part 4
        stream_trips()
        print(f"load average at end: {os.getloadavg()[0]:.1f}")
        return
    provisional()
    seek()
    loop_lag()
    stream_trips()
    print(f"load average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
