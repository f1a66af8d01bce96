"""Sound benchmark: how every built-in scene *sounds*, measured (issue #12).

Per scene (rendered at 48 kHz, seed 1, ``--seconds`` long, calibrated to -23 LUFS):

* ``guard``: share of time the startle guard cuts more than 1 dB, and its deepest cut;
* ``rep_wave`` / ``rep_env``: largest normalised autocorrelation of the waveform and of
  the spectral envelope at lags 0.5–60 s (1 = an exact repeat); ``rep_env_return``: the
  largest envelope correlation after it first fell below 0.3 (a loop or regular swell
  coming back, rather than a slow sound still resembling itself 0.5 s later);
* ``hf4k``: share of power above 4 kHz; ``lo100``: share of power below 100 Hz;
* ``lr_db``: right minus left level;
* ``drops/min`` and ``distinct`` for scenes with rain: transient events per minute and
  the share of them unlike every other (8 ms waveforms correlating < 0.9).

Per struck layer of a scene (bowls, gong, chimes; the source alone at the scene's
parameters, one strike, ``rub = 0``) and per instrument at its defaults: energy above
4 kHz in the first 100 ms of the strike (dB re the whole strike window) and how many
times faster the upper modes decay than the lowest.

Writes a spectrogram per scene to ``docs/sound/<scene>-<tag>.png`` and the figures to
``docs/sound/<tag>.json``.

Usage::

    python benchmarks/sound.py [--seconds 150] [--tag after] [--scenes rain gong-bath]
                               [--seed 1] [--no-files]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from sonora.engine import soundcheck as sc
from sonora.engine.registry import source_class
from sonora.scenes import builtin_names, load_scene
from sonora.scenes.build import build_mix

SR = 48_000
OUT = Path(__file__).resolve().parent.parent / "docs" / "sound"


def spectrogram_png(audio: np.ndarray, path: Path, title: str) -> None:
    """Save a log-frequency spectrogram (first 60 s) of ``audio`` as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = audio.mean(axis=0)[: 60 * SR]
    n, hop = 2048, 1024
    m = (len(x) - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(m)[:, None]
    s = np.abs(np.fft.rfft(x[idx] * np.hanning(n), axis=1)) ** 2
    db = 10 * np.log10(s.T + 1e-12)
    db -= db.max()
    f = np.fft.rfftfreq(n, 1.0 / SR)
    t = np.arange(m) * hop / SR
    fig, ax = plt.subplots(figsize=(7, 2.6), dpi=90)
    ax.pcolormesh(t, f[1:], db[1:], vmin=-90, vmax=0, cmap="magma", shading="auto")
    ax.set_yscale("log")
    ax.set_ylim(40, 20_000)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Hz")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def measure_scene(
    name: str, seconds: float, seed: int = 1
) -> tuple[Any, np.ndarray, dict[str, Any], np.ndarray]:
    """Render scene ``name`` through the startle guard and measure what every sound
    benchmark reports (this file's and ``benchmarks/nature.py``'s).

    Returns
    -------
    scene : Scene
        The built-in scene.
    audio : numpy.ndarray
        The guarded render, shape ``(2, frames)``, float32, at :data:`SR` Hz.
    row : dict
        ``guard_share``, ``guard_worst_db`` (dB), ``rep_wave``, ``rep_env``,
        ``rep_env_return``, ``hf4k``, ``lo100``, ``lr_db`` (dB) and, for scenes with
        rain, ``drops_per_min`` and ``distinct``; the fades are left out of all but the
        guard figures.
    body : numpy.ndarray
        ``audio`` without the fades, shape ``(2, frames)``.
    """
    scene = load_scene(name)
    mix = build_mix(scene, duration_s=seconds, seed=seed, sample_rate=SR)
    blocks: list[np.ndarray] = []
    share, worst, _ = sc.guard_activity(mix, collect=blocks)
    audio = np.concatenate(blocks, axis=1)
    # Steady state only for the spectral figures: skip the fades.
    a, b = int(scene.fade_in_s * SR), audio.shape[1] - int(scene.fade_out_s * SR)
    body = audio[:, a:b]
    rep_w, rep_e, rep_r = sc.repetition(body, SR)
    row: dict[str, Any] = {
        "guard_share": share,
        "guard_worst_db": worst,
        "rep_wave": rep_w,
        "rep_env": rep_e,
        "rep_env_return": rep_r,
        "hf4k": 1 - sc.band_share(body, SR, below_hz=4000.0),
        "lo100": sc.band_share(body, SR, below_hz=100.0),
        "lr_db": sc.lr_balance_db(body),
    }
    if any(layer.source == "rain" for layer in scene.layers):
        per_min, distinct = sc.event_count(body[:, : 60 * SR], SR)
        row["drops_per_min"] = per_min
        row["distinct"] = distinct
    return scene, audio, row, body


def scene_figures(name: str, seconds: float, tag: str, seed: int = 1) -> dict[str, Any]:
    """:func:`measure_scene`'s figures and the struck layers' (:func:`scene_strikes`);
    with a ``tag``, the spectrogram written to ``docs/sound/<scene>-<tag>.png``."""
    scene, audio, row, _ = measure_scene(name, seconds, seed)
    row["strikes"] = scene_strikes(scene)
    if tag:
        spectrogram_png(audio, OUT / f"{name}-{tag}.png", f"{name} ({tag})")
    return row


def rain_text(row: dict[str, Any]) -> str:
    """The rain column of a printed row: drops per minute and the share distinct."""
    if "drops_per_min" not in row:
        return ""
    return f"{row['drops_per_min']:.0f}/min {100 * row['distinct']:.0f}% distinct"


def first_onset_s(y: np.ndarray) -> float:
    """Time of the first sample above 1/1000 of the peak, s (where the strike lands)."""
    m = np.abs(y).max(axis=0)
    return float(np.argmax(m > 1e-3 * m.max()) / SR)


#: Struck instruments: the parameters that isolate one strike, and the decay span (s).
_STRIKES = {
    "singing_bowl": ({"rub": 0.0, "bowls": 1.0, "interval_s": 60.0}, 2.5),
    "gong": ({"interval_s": 60.0}, 6.0),
    "chimes": ({"rate_per_min": 3.0}, 2.5),
}


def strike_figures(source: str, params: dict[str, float] | None = None) -> dict[str, float]:
    """One strike of ``source`` alone: energy above 4 kHz and upper/lowest decay ratio.

    ``params`` are the scene's (or the defaults); the interval, the bowl count and the
    rub share are overridden so that the first strike rings alone.
    """
    alone, span = _STRIKES[source]
    p = {**(params or {}), **alone}
    f0 = p.get("pitch_hz", source_class(source).PARAMS["pitch_hz"].default)
    return _one_strike(source, p, None if source == "chimes" else f0, span)


def scene_strikes(scene) -> dict[str, dict[str, float]]:
    """:func:`strike_figures` for every struck layer of ``scene``, at its parameters."""
    return {
        layer.source: strike_figures(layer.source, dict(layer.params))
        for layer in scene.layers
        if layer.source in _STRIKES
    }


def instrument_figures() -> dict[str, dict[str, float]]:
    """One strike of each tonal instrument alone (defaults; bowls struck, not rubbed)."""
    return {source: strike_figures(source) for source in _STRIKES}


def _one_strike(
    source: str, params: dict[str, float], f0: float | None, span: float
) -> dict[str, float]:
    cls = source_class(source)
    src = cls(sample_rate=SR, seed=3, **params)
    y = src.process(90 * SR).astype(np.float64)
    onset = first_onset_s(y)
    y = y[:, max(0, int(onset * SR) - 480) : int(onset * SR) + 10 * SR]
    onset = 0.01
    row: dict[str, float] = {"strike_hf4k_db": sc.strike_hf_db(y, SR, onset)}
    if f0 is None:  # chimes: the tube is random; take the strongest peak above 200 Hz
        seg = y.mean(axis=0)[int(onset * SR) : int((onset + 0.3) * SR)]
        p = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        f = np.fft.rfftfreq(len(seg), 1.0 / SR)
        p[f < 200] = 0
        f0 = float(f[np.argmax(p)])
    ratio, t60 = sc.mode_decay_ratio(y, SR, onset, fundamental_hz=f0, upper_from=2.0, span_s=span)
    row["upper_decay_x"] = ratio
    row["low_t60_s"] = t60
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--tag", default="after")
    ap.add_argument("--scenes", nargs="*", default=None)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--no-files", action="store_true", help="print only (no PNG, no JSON)")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    names = args.scenes or builtin_names()
    result: dict[str, object] = {"seconds": args.seconds, "scenes": {}}
    hdr = f"{'scene':20} {'guard%':>6} {'worst':>6} {'repW':>5} {'repE':>5} {'repR':>5} {'>4k%':>5} {'<100%':>5} {'L/R':>6}  rain"
    print(hdr)
    for name in names:
        t0 = time.perf_counter()
        row = scene_figures(name, args.seconds, "" if args.no_files else args.tag, args.seed)
        result["scenes"][name] = row  # type: ignore[index]
        rain = rain_text(row)
        print(
            f"{name:20} {100 * row['guard_share']:6.1f} {row['guard_worst_db']:6.1f} "
            f"{row['rep_wave']:5.2f} {row['rep_env']:5.2f} {row['rep_env_return']:5.2f} {100 * row['hf4k']:5.1f} "
            f"{100 * row['lo100']:5.1f} {row['lr_db']:+6.2f}  {rain}   ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        for source, fig in row["strikes"].items():
            print(
                f"{'':20} {source}: strike > 4 kHz {fig['strike_hf4k_db']:.0f} dB, upper modes "
                f"decay {fig['upper_decay_x']:.1f}x faster, lowest T60 {fig['low_t60_s']:.1f} s",
                flush=True,
            )
    inst = instrument_figures()
    result["instruments"] = inst
    for k, v in inst.items():
        print(k, {a: (round(b, 2) if isinstance(b, float) else b) for a, b in v.items()})
    if not args.no_files:
        path = OUT / f"{args.tag}.json"
        if args.scenes and path.exists():  # a subset updates its rows of the same tag
            old = json.loads(path.read_text())
            if old.get("seconds") == args.seconds:
                result["scenes"] = {**old.get("scenes", {}), **result["scenes"]}  # type: ignore[dict-item]
        path.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
