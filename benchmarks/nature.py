"""Nature benchmark: how the scenes with rain, ocean, wind or a stream sound and cost.

Per scene that uses a nature source (48 kHz, seed 1, ``--seconds`` long, calibrated to
-23 LUFS; the fades are left out of the spectral figures):

* ``guard``: share of time the startle guard cuts more than 1 dB;
* ``rep_wave`` / ``rep_env`` / ``rep_env_return``: repetition, as in
  ``benchmarks/sound.py`` (largest normalised autocorrelation at lags 0.5-60 s);
* ``lr_db``: right minus left level;
* ``band_2k_5k`` / ``lo100`` / ``hf4k``: shares of power at 2-5 kHz, below 100 Hz and
  above 4 kHz;
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
import sound

from sonora.engine import soundcheck as sc
from sonora.engine.registry import source_class
from sonora.scenes import builtin_names, load_scene

SR = 48_000
NATURE = ("rain", "ocean_waves", "wind", "stream")


def nature_scenes() -> list[str]:
    """Built-in scenes with at least one nature layer."""
    return [n for n in builtin_names() if any(la.source in NATURE for la in load_scene(n).layers)]


def scene_row(name: str, seconds: float, tag: str) -> dict[str, float]:
    """:func:`sound.measure_scene`'s figures and ``band_2k_5k``; the spectrogram written
    to ``docs/sound/<scene>-nature-<tag>.png``."""
    _, audio, row, body = sound.measure_scene(name, seconds, seed=1)
    below_2k = sc.band_share(body, SR, below_hz=2000.0)
    below_5k = sc.band_share(body, SR, below_hz=5000.0)
    row["band_2k_5k"] = below_5k - below_2k  # where rain gets bright and hissy
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
        rain = sound.rain_text(row)
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
