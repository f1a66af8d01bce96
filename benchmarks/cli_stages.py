"""Where ``sonora render`` spends its CPU: milliseconds per second of audio, by stage.

Renders a built-in scene (default ``rain``, 120 s, a fixed seed, calibrated to the
CLI's default -23 LUFS, so the limiter and the meter see what they see there) in one process
through the stages the CLI runs (layers, reverb, startle guard, limiter, the in-stream
meter's K-weighting and true peak, the FLAC encoder; the meter takes the guard's
K-weighted power while the guard and the limiter leave the signal unchanged, as the
CLI does, so its own K-weighting is 0 until they act), timing each with
``time.process_time`` (CPU seconds, so the machine's load matters less than for wall
times), and prints each stage's milliseconds of CPU per second of audio and its share
of the whole loop (the reference measured in the same run).  With ``processes=2`` the
CLI runs the layers and the reverb in a forked child and everything else in the
parent, so the two sums below are what each process spends per second of audio; the
calibration pass adds the guard and a K-weighting over its window, in the parent.

Usage::

    python benchmarks/cli_stages.py [--scene rain] [--seconds 120]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def _timed(acc: dict[str, float], key: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        t0 = time.process_time()
        try:
            return fn(*args, **kwargs)
        finally:
            acc[key] = acc.get(key, 0.0) + time.process_time() - t0

    return run


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--scene", default="rain", help="built-in scene (default rain)")
    ap.add_argument("--seconds", type=float, default=120.0, help="audio length (default 120)")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    t0 = time.process_time()
    from sonora.engine.encoders import Encoder
    from sonora.engine.loudness import LoudnessMeter
    from sonora.scenes import load_scene
    from sonora.scenes.build import build_mix

    imports = time.process_time() - t0
    mix = build_mix(load_scene(args.scene), duration_s=args.seconds, seed=3, target_lufs=-23.0)
    acc: dict[str, float] = {}
    child = []
    for i, layer in enumerate(mix.layers):
        key = f"child: layer {i} {type(layer.source).__name__}"
        layer.render_quantum = _timed(acc, key, layer.render_quantum)  # type: ignore[method-assign]
        child.append(key)
    if mix.reverb is not None:
        mix.reverb.process = _timed(acc, "child: reverb", mix.reverb.process)  # type: ignore[method-assign]
        child.append("child: reverb")
    parent = ["parent: startle guard", "parent: limiter"]
    if mix.guard is not None:
        mix.guard.process = _timed(acc, parent[0], mix.guard.process)  # type: ignore[method-assign]
    if mix.limiter is not None:
        mix.limiter.process = _timed(acc, parent[1], mix.limiter.process)  # type: ignore[method-assign]
    meter = LoudnessMeter(mix.sample_rate)
    if mix.guard is not None:  # as the CLI: the guard's K-weighting, shared while it is idle
        meter.share_k_weighting(mix.guard.k_weighting_tap())
    meter._k.process = _timed(acc, "parent: meter K-weighting", meter._k.process)  # type: ignore[method-assign]
    assert meter._tp is not None
    meter._tp.add = _timed(acc, "parent: meter true peak", meter._tp.add)  # type: ignore[method-assign]
    parent += ["parent: meter K-weighting", "parent: meter true peak", "parent: FLAC encoder"]
    with tempfile.TemporaryDirectory() as tmp:
        enc = Encoder(Path(tmp) / "out.flac", sample_rate=mix.sample_rate, channels=2)
        write = _timed(acc, "parent: FLAC encoder", enc.write)
        t0 = time.process_time()
        while mix.remaining_frames > 0:
            block = mix.process(32_768)
            meter.add(block)
            write(block)
        enc.close()
        total = time.process_time() - t0
    per_s = 1000.0 / args.seconds
    print(f"{args.scene}, {args.seconds:g} s of audio, one process (imports {imports:.2f} s CPU)")
    print(f"{'stage':<34} {'ms CPU / s audio':>17} {'share':>6}")
    for key in [*child, *parent]:
        v = acc.get(key, 0.0)
        print(f"{key:<34} {v * per_s:17.2f} {v / total:6.0%}")
    rest = total - sum(acc.values())
    print(f"{'(mix, fades, queues: the rest)':<34} {rest * per_s:17.2f} {rest / total:6.0%}")
    print(f"{'whole loop':<34} {total * per_s:17.2f}")
    print(
        f"child stages {sum(acc.get(k, 0.0) for k in child) * per_s:.2f} ms/s, "
        f"parent stages {sum(acc.get(k, 0.0) for k in parent) * per_s:.2f} ms/s"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
