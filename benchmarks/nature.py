"""Nature benchmark: how the scenes with rain, ocean, wind or a stream sound and cost.

Per scene that uses a nature source (48 kHz, seed 1, ``--seconds`` long, calibrated to
-23 LUFS; the fades are left out of the spectral figures):

* ``guard``: share of time the startle guard cuts more than 1 dB;
* ``rep_wave`` / ``rep_env`` / ``rep_env_return``: repetition, as in
  ``benchmarks/sound.py`` (largest normalised autocorrelation at lags 0.5-60 s);
* ``lr_db``: right minus left level;
* ``band_2k_5k`` / ``lo100`` / ``hf4k``: shares of power (:func:`sound.nature_band_figures`);
* ``drops_per_min`` / ``distinct`` for scenes with rain.

Per nature source alone (defaults, 60 s at 48 kHz): the real-time factor in CPU time.
Writes ``docs/sound/<scene>-nature-<tag>.png`` and ``docs/sound/nature-<tag>.json``.

To compare with another tree, run this file with that tree's ``sonora`` first on the
path (``PYTHONPATH=/path/to/other/tree``): the figures are computed by this file.

Usage::

    python benchmarks/nature.py [--seconds 150] [--tag after] [--scenes rain wind]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sound

from sonora.engine import soundcheck as sc
from sonora.engine.registry import source_class
from sonora.scenes import builtin_names, load_scene
from sonora.scenes.build import build_mix

SR = 48_000
NATURE = ("rain", "ocean_waves", "wind", "stream")


def nature_scenes() -> list[str]:
    """Built-in scenes with at least one nature layer."""
    return [n for n in builtin_names() if any(la.source in NATURE for la in load_scene(n).layers)]


def scene_row(name: str, seconds: float, tag: str) -> dict[str, float]:
    scene = load_scene(name)
    mix = build_mix(scene, duration_s=seconds, seed=1, sample_rate=SR)
    blocks: list[np.ndarray] = []
    share, worst, _ = sc.guard_activity(mix, collect=blocks)
    audio = np.concatenate(blocks, axis=1)
    a, b = int(scene.fade_in_s * SR), audio.shape[1] - int(scene.fade_out_s * SR)
    body = audio[:, a:b]
    rep_w, rep_e, rep_r = sc.repetition(body, SR)
    row = {
        "guard_share": share,
        "guard_worst_db": worst,
        "rep_wave": rep_w,
        "rep_env": rep_e,
        "rep_env_return": rep_r,
        "lr_db": sc.lr_balance_db(body),
        **sound.nature_band_figures(body, SR),
    }
    if any(la.source == "rain" for la in scene.layers):
        per_min, distinct = sc.event_count(body[:, : 60 * SR], SR)
        row["drops_per_min"] = per_min
        row["distinct"] = distinct
    sound.spectrogram_png(audio, sound.OUT / f"{name}-nature-{tag}.png", f"{name} ({tag})")
    return row


def source_speed(name: str, seconds: float = 60.0) -> float:
    """Real-time factor (CPU time) of one nature source alone at its defaults."""
    src = source_class(name)(sample_rate=SR, seed=1)
    src.process(4096)  # tables built, caches warm
    t0 = time.process_time()
    src.process(int(seconds * SR))
    return seconds / (time.process_time() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--tag", default="after")
    ap.add_argument("--scenes", nargs="*", default=None)
    ap.add_argument("--no-speed", action="store_true")
    args = ap.parse_args()
    import sonora

    print("sonora from", Path(sonora.__file__).parent)
    sound.OUT.mkdir(parents=True, exist_ok=True)
    result: dict[str, object] = {"seconds": args.seconds, "scenes": {}, "speed_x": {}}
    print(
        f"{'scene':18} {'guard%':>6} {'repW':>5} {'repE':>5} {'repR':>5} {'L/R dB':>7} "
        f"{'2-5k%':>6} {'<100%':>6} {'>4k%':>5}  rain"
    )
    for name in args.scenes or nature_scenes():
        row = scene_row(name, args.seconds, args.tag)
        result["scenes"][name] = row  # type: ignore[index]
        rain = (
            f"{row['drops_per_min']:.0f}/min {100 * row['distinct']:.0f}% distinct"
            if "drops_per_min" in row
            else ""
        )
        print(
            f"{name:18} {100 * row['guard_share']:6.1f} {row['rep_wave']:5.2f} "
            f"{row['rep_env']:5.2f} {row['rep_env_return']:5.2f} {row['lr_db']:+7.2f} "
            f"{100 * row['band_2k_5k']:6.1f} {100 * row['lo100']:6.1f} {100 * row['hf4k']:5.1f}  "
            f"{rain}",
            flush=True,
        )
    if not args.no_speed:
        for name in NATURE:
            x = source_speed(name)
            result["speed_x"][name] = x  # type: ignore[index]
            print(f"{name:12} {x:7.0f}x real time (CPU)", flush=True)
    out = sound.OUT / f"nature-{args.tag}.json"
    out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
