"""Sound benchmark: how every built-in scene *sounds*, measured (issue #12).

Per scene (rendered at 48 kHz, seed 1 or each ``--seed``, ``--seconds`` long,
calibrated to -23 LUFS):

* ``LUFS``, ``dBTP``, ``rise``: integrated loudness, true peak and the worst startle
  rise (LU; the rule is 6) of the whole guarded render, fades included;
* ``guard``: share of time the startle guard cuts more than 1 dB, and its deepest cut;
* ``rep_wave`` / ``rep_env``: largest normalised autocorrelation of the waveform and of
  the spectral envelope at lags 0.5–60 s (1 = an exact repeat); ``rep_env_return``: the
  largest envelope correlation after it first fell below 0.3 (a loop or regular swell
  coming back, rather than a slow sound still resembling itself 0.5 s later);
  ``rep_env_change``: the largest normalised autocorrelation of the envelope's *changes*
  (how it moved over 1 s) at lags 1.5–60 s: a loop or a periodic swell repeats its
  changes, a smooth sound that never comes back does not (see
  :func:`envelope_change_repetition`; ``--control`` prints all three on test sounds);
* ``hf4k``: share of power above 4 kHz; ``lo100``: share of power below 100 Hz;
* ``phone_db``: how much of the scene a phone speaker plays (:func:`phone_level_db`):
  its K-weighted level through a phone-speaker model (4th-order high-pass at 300 Hz,
  2nd-order low-pass at 8 kHz) minus its full-band K-weighted level, dB;
* ``lr_db``: right minus left level;
* ``drops/min`` and ``distinct`` for scenes with rain: transient events per minute and
  the share of them unlike every other (8 ms waveforms correlating < 0.9).

Per struck layer of a scene (bowls, gong, chimes; the source alone at the scene's
parameters, one strike, ``rub = 0``) and per instrument at its defaults: energy above
4 kHz in the first 100 ms of the strike (dB re the whole strike window) and how many
times faster the upper modes decay than the lowest.

With ``--over-bed``, each struck layer is also heard against the rest of its scene at
its strikes (:func:`strikes_over_bed`): how far its energy above 4 kHz stands over the
rest's there.

Writes a spectrogram per scene to ``docs/sound/<scene>-<tag>.png`` and the figures to
``docs/sound/<tag>.json``.

With ``--plans``, the same figures for the plans the app composes from each recipe
(see ``benchmarks/sound_plans.py``) instead of the scenes.

Usage::

    python benchmarks/sound.py [--seconds 150] [--tag after] [--scenes rain gong-bath]
                               [--seed 1 [2 ...]] [--no-files] [--no-strikes]
                               [--control] [--over-bed]
    python benchmarks/sound.py --plans [gong temple ...] [--goals focus] [--seed 1 2 3 4]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from sonora.engine import soundcheck as sc
from sonora.engine.loudness import integrated_lufs, startle_check, true_peak_dbtp
from sonora.engine.registry import source_class
from sonora.scenes import builtin_names, load_scene
from sonora.scenes.build import build_mix

SR = 48_000
OUT = Path(__file__).resolve().parent.parent / "docs" / "sound"


def spectrogram_png(audio: np.ndarray, path: Path, title: str) -> None:
    """Save a log-frequency spectrogram (first 60 s) of ``audio`` as a small PNG.

    Drawn at 6 × 2.2 inches, 80 dpi, and stored with a 64-colour palette (~25–45 kB
    instead of ~160 kB in full colour): enough to see strikes, swells and bands.
    """
    import io

    import matplotlib
    from PIL import Image

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
    fig, ax = plt.subplots(figsize=(6, 2.2), dpi=80)
    ax.pcolormesh(t, f[1:], db[1:], vmin=-90, vmax=0, cmap="magma", shading="auto")
    ax.set_yscale("log")
    ax.set_ylim(40, 20_000)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("Hz")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    buf.seek(0)
    image = Image.open(buf).convert("RGB").quantize(colors=64)
    tmp = path.with_suffix(".tmp.png")
    image.save(tmp, optimize=True)
    tmp.replace(path)


#: The phone-speaker model of :func:`phone_level_db`: high-pass corner and order, and
#: the gentle low-pass corner (2nd order) above it.
PHONE_HP_HZ, PHONE_HP_ORDER, PHONE_LP_HZ = 300.0, 4, 8000.0


def phone_response_pow(freq_hz: np.ndarray) -> np.ndarray:
    """Power response (0–1) of the phone-speaker model at ``freq_hz`` (Hz, any shape):
    a Butterworth high-pass of order :data:`PHONE_HP_ORDER` at :data:`PHONE_HP_HZ` (a
    small speaker plays almost nothing below ~300 Hz) and a 2nd-order Butterworth
    low-pass at :data:`PHONE_LP_HZ` (its gentle top roll-off)."""
    f = np.asarray(freq_hz, dtype=np.float64)
    hp = (f / PHONE_HP_HZ) ** (2 * PHONE_HP_ORDER)
    return hp / (1.0 + hp) / (1.0 + (f / PHONE_LP_HZ) ** 4)


def phone_level_db(audio: np.ndarray, sample_rate: int) -> float:
    """K-weighted level of ``audio`` through a phone speaker, relative to full band, dB.

    The averaged power spectrum (32768-point Hann frames, channels summed) is weighted
    by the K-weighting of BS.1770 (what the loudness figures use) with and without
    :func:`phone_response_pow`; the figure is the ratio in dB (0 = the phone plays all
    of it; -20 = it plays a hundredth of the loudness-weighted power).  A scene whose
    power lies below 100 Hz nearly vanishes (brown noise: about -14 dB); a tone with
    harmonics in 300 Hz–3 kHz keeps most of its level even when its fundamental is lost,
    and the ear hears its pitch from them.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)`` or ``(frames,)``, at least 32768 frames.
    sample_rate : int
        Hz.

    Returns
    -------
    float
        dB, ≤ 0; nan for silence or audio shorter than one frame.
    """
    from sonora.engine.design import k_weighting_sos, sos_response

    a = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    n = 1 << 15
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    w = np.hanning(n)
    p = np.zeros(len(f))
    for ch in a:
        m = len(ch) // n
        if m:
            p += (np.abs(np.fft.rfft(ch[: m * n].reshape(m, n) * w, axis=1)) ** 2).sum(axis=0)
    k = np.abs(sos_response(k_weighting_sos(sample_rate), f, sample_rate)) ** 2
    full = float(p @ k)
    if full <= 0:
        return float("nan")
    return float(10 * np.log10(max(float(p @ (k * phone_response_pow(f))), 1e-30) / full))


def _vector_autocorr(v: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Normalised autocorrelation of a vector sequence ``v`` (``(frames, bands)``) at
    lags ``lo..hi`` frames: per-band products summed over bands, over the overlap."""
    frames = len(v)
    hi = min(hi, frames // 2)
    size = 1 << int(np.ceil(np.log2(2 * frames)))
    fv = np.fft.rfft(v, size, axis=0)
    num = np.fft.irfft(fv * np.conj(fv), size, axis=0)[: hi + 1].sum(axis=1)
    e = np.concatenate([[0.0], np.cumsum((v**2).sum(axis=1))])
    lags = np.arange(lo, hi + 1)
    return num[lags] / np.sqrt(np.maximum(e[frames - lags] * (e[frames] - e[lags]), 1e-30))


def envelope_change_repetition(
    audio: np.ndarray,
    sample_rate: int,
    *,
    step_s: float = 1.0,
    min_lag_s: float = 1.5,
    max_lag_s: float = 60.0,
) -> float:
    """Largest normalised autocorrelation of the spectral envelope's *changes*.

    The envelope (:func:`sonora.engine.soundcheck.band_envelope`, smoothed over 0.5 s so that a noise's frame-to-
    frame scatter does not count as change) is differenced over ``step_s``: how each band
    rose or fell in the last second.  A loop or a periodic swell repeats those
    changes at its period; a sound that changes smoothly without coming back does not,
    however slowly it moves.  The plain envelope correlation at 0.5 s cannot tell the
    two apart: any sound slower than half a second resembles itself half a second on.
    Lags start at ``min_lag_s`` (step plus smoothing: nearer, the differences share
    frames).  On :func:`control_sounds` (150 s): smooth 0.21, swell 0.88, loop 1.00.

    Returns
    -------
    float
        Largest correlation at lags ``min_lag_s``–``max_lag_s`` (1 = the same changes
        again), nan when the audio is shorter than two lags.
    """
    env = sc.band_envelope(audio, sample_rate)
    k = 10  # 0.5 s moving average
    c = np.cumsum(np.vstack([np.zeros((1, env.shape[1])), env]), axis=0)
    smooth = (c[k:] - c[:-k]) / k
    step = round(step_s / 0.05)
    change = smooth[step:] - smooth[:-step]
    lo, hi = round(min_lag_s / 0.05), round(max_lag_s / 0.05)
    if min(hi, len(change) // 2) < lo:
        return float("nan")
    return float(np.max(_vector_autocorr(change, lo, hi)))


def control_sounds(seconds: float = 150.0, seed: int = 7) -> dict[str, np.ndarray]:
    """Test sounds for the repetition measures, mono float64 at :data:`SR`.

    ``smooth``: pink-ish noise whose level (±6 dB) and tilt wander smoothly (random
    knots 3 s apart: nothing repeats); ``swell 8.4 s``: the same noise under a sine
    swell of 8.4 s (±6 dB, a metronomic breath); ``loop 20 s``: the first 20 s of
    ``smooth`` played over and over.
    """
    from scipy import signal

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    white = rng.standard_normal(n)
    pink = signal.lfilter([1.0], [1.0, -0.95], white)
    bright = signal.lfilter([1.0, -0.95], [1.0], white)
    t = np.arange(n) / SR
    knots = np.arange(0.0, seconds + 6.0, 3.0)
    level = np.interp(t, knots, rng.uniform(-6, 6, len(knots)))
    tilt = np.interp(t, knots, rng.uniform(0, 1, len(knots)))
    smooth = (pink * (1 - tilt) + 0.3 * bright * tilt) * 10 ** (level / 20)
    swell = pink * 10 ** (6 * np.sin(2 * np.pi * t / 8.4) / 20)
    loop = np.resize(smooth[: 20 * SR], n)
    return {"smooth": smooth, "swell 8.4 s": swell, "loop 20 s": loop}


def control_figures() -> dict[str, dict[str, float]]:
    """The three repetition figures of each :func:`control_sounds` sound."""
    out = {}
    for name, x in control_sounds().items():
        wave, env, ret = sc.repetition(x, SR)
        out[name] = {
            "rep_wave": wave,
            "rep_env": env,
            "rep_env_return": ret,
            "rep_env_change": envelope_change_repetition(x, SR),
        }
    return out


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
        ``rep_env_return``, ``rep_env_change``, ``hf4k``, ``lo100``, ``phone_db`` (dB), ``lr_db`` (dB) and, for scenes with
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
        "lufs": integrated_lufs(audio, SR),
        "true_peak_dbtp": true_peak_dbtp(audio),
        "startle_lu": startle_check(audio, SR).worst_rise_lu,
        "guard_share": share,
        "guard_worst_db": worst,
        "rep_wave": rep_w,
        "rep_env": rep_e,
        "rep_env_return": rep_r,
        "rep_env_change": envelope_change_repetition(body, SR),
        "hf4k": 1 - sc.band_share(body, SR, below_hz=4000.0),
        "lo100": sc.band_share(body, SR, below_hz=100.0),
        "phone_db": phone_level_db(body, SR),
        "lr_db": sc.lr_balance_db(body),
    }
    if any(layer.source == "rain" for layer in scene.layers):
        per_min, distinct = sc.event_count(body[:, : 60 * SR], SR)
        row["drops_per_min"] = per_min
        row["distinct"] = distinct
    return scene, audio, row, body


def strikes_over_bed(name: str, source: str, seconds: float, seed: int = 1) -> dict[str, float]:
    """How a struck layer is heard against the rest of its scene, at its strikes.

    The scene is rendered as built (calibrated) and again with ``source``'s layer
    silenced but every trim and the master gain kept; their difference is the layer as
    it sounds in the mix (reverb and all).  In 100 ms frames, a *strike* is a frame
    where the layer's power rises more than 6 dB over the frame before and lies within
    40 dB of its loudest frames (the first 6 s are left out).  At each strike the layer's power above 4 kHz is compared with the
    rest's above 4 kHz, and its whole-band power with the rest's.

    Returns
    -------
    dict
        ``strikes`` (count), ``hf_over_bed_db`` (median, dB), ``hf_over_bed_q3_db``
        (upper quartile, dB), ``hf_above_bed`` (share of strikes whose >4 kHz power
        exceeds the rest's) and ``over_bed_db`` (median whole-band, dB).
    """
    import dataclasses

    scene = load_scene(name)
    full_mix = build_mix(scene, duration_s=seconds, seed=seed, sample_rate=SR)
    trims = [layer.trim for layer in full_mix.layers]
    full = np.concatenate(list(full_mix.blocks()), axis=1)
    quiet = dataclasses.replace(
        scene,
        layers=tuple(
            dataclasses.replace(spec, gain_db=type(spec.gain_db).constant(-120.0))
            if spec.source == source
            else spec
            for spec in scene.layers
        ),
    )
    bed_mix = build_mix(quiet, duration_s=seconds, seed=seed, sample_rate=SR, target_lufs=None)
    for layer, trim in zip(bed_mix.layers, trims, strict=True):
        layer.trim = trim
    bed_mix.master_gain_db = full_mix.master_gain_db
    bed = np.concatenate(list(bed_mix.blocks()), axis=1)
    layer = full - bed
    hop = SR // 10

    def frames(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = x.mean(axis=0)
        n = len(m) // hop
        p = np.abs(np.fft.rfft(m[: n * hop].reshape(n, hop) * np.hanning(hop), axis=1)) ** 2
        f = np.fft.rfftfreq(hop, 1.0 / SR)
        return p[:, f >= 4000.0].sum(axis=1) + 1e-30, p.sum(axis=1) + 1e-30

    hf_l, all_l = frames(layer)
    hf_b, all_b = frames(bed)
    rise = np.diff(10 * np.log10(all_l))
    on = np.flatnonzero(rise > 6.0) + 1
    # a rise out of the layer's silence (rounding noise of the difference) is no strike
    on = on[(on >= 60) & (all_l[on] > 1e-4 * np.percentile(all_l, 99))]
    hf = 10 * np.log10(hf_l[on] / hf_b[on])
    return {
        "strikes": float(len(on)),
        "hf_over_bed_db": float(np.median(hf)) if len(on) else float("nan"),
        "hf_over_bed_q3_db": float(np.percentile(hf, 75)) if len(on) else float("nan"),
        "hf_above_bed": float(np.mean(hf > 0)) if len(on) else float("nan"),
        "over_bed_db": float(np.median(10 * np.log10(all_l[on] / all_b[on])))
        if len(on)
        else float("nan"),
    }


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


HEADER = (
    f"{'scene':20} {'seed':>4} {'LUFS':>6} {'dBTP':>5} {'rise':>4} {'guard%':>6} {'worst':>6} "
    f"{'repW':>5} {'repE':>5} {'repR':>5} {'repC':>5} {'>4k%':>5} {'<100%':>5} {'phone':>6} "
    f"{'L/R':>6}  rain"
)


def row_text(name: str, seed: int, row: dict[str, Any]) -> str:
    """One printed line of :data:`HEADER` for a measured scene or plan ``row``."""
    return (
        f"{name:20} {seed:4d} {row['lufs']:6.2f} {row['true_peak_dbtp']:5.1f} "
        f"{row['startle_lu']:4.1f} {100 * row['guard_share']:6.1f} {row['guard_worst_db']:6.1f} "
        f"{row['rep_wave']:5.2f} {row['rep_env']:5.2f} {row['rep_env_return']:5.2f} "
        f"{row['rep_env_change']:5.2f} {100 * row['hf4k']:5.1f} {100 * row['lo100']:5.1f} "
        f"{row['phone_db']:6.1f} {row['lr_db']:+6.2f}  {rain_text(row)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=150.0)
    ap.add_argument("--tag", default="after")
    ap.add_argument("--scenes", nargs="*", default=None)
    ap.add_argument("--seed", type=int, nargs="+", default=[1], help="one or more seeds")
    ap.add_argument("--no-files", action="store_true", help="print only (no PNG, no JSON)")
    ap.add_argument(
        "--no-strikes",
        action="store_true",
        help="leave out the struck layers' one-strike figures (they do not depend on the seed)",
    )
    ap.add_argument(
        "--control", action="store_true", help="only the repetition measures on test sounds"
    )
    ap.add_argument(
        "--over-bed",
        action="store_true",
        help="also each struck layer against the rest of its scene at its strikes (2 renders)",
    )
    ap.add_argument(
        "--plans",
        nargs="*",
        default=None,
        metavar="RECIPE",
        help="measure plans as the app composes them instead of scenes: every recipe "
        "(or those named) at each goal it may be played for (see benchmarks/sound_plans.py)",
    )
    ap.add_argument("--goals", nargs="*", default=None, help="with --plans: only these goals")
    ap.add_argument(
        "--minutes", type=float, default=5.0, help="with --plans: session length, minutes"
    )
    ap.add_argument("--rate", type=int, default=24_000, help="with --plans: sample rate, Hz")
    args = ap.parse_args()
    if args.control:
        print(f"{'control sound':20} {'repW':>5} {'repE':>5} {'repR':>5} {'repC':>5}")
        for name, r in control_figures().items():
            print(
                f"{name:20} {r['rep_wave']:5.2f} {r['rep_env']:5.2f} "
                f"{r['rep_env_return']:5.2f} {r['rep_env_change']:5.2f}"
            )
        return
    if args.plans is not None:
        from sound_plans import run_plans

        tag = "" if args.no_files else args.tag
        run_plans(args.plans, args.goals, args.seed, args.minutes, tag, args.rate)
        return
    OUT.mkdir(parents=True, exist_ok=True)
    names = args.scenes or builtin_names()
    result: dict[str, object] = {"seconds": args.seconds, "scenes": {}}
    print(HEADER)
    for name in names:
        for seed in args.seed:
            t0 = time.perf_counter()
            tag = "" if args.no_files or seed != args.seed[0] else args.tag
            scene, audio, row, _ = measure_scene(name, args.seconds, seed)
            if tag:
                spectrogram_png(audio, OUT / f"{name}-{tag}.png", f"{name} ({tag})")
            row["strikes"] = {} if args.no_strikes else scene_strikes(scene)
            key = name if len(args.seed) == 1 else f"{name}@{seed}"
            result["scenes"][key] = row  # type: ignore[index]
            print(f"{row_text(name, seed, row)}   ({time.perf_counter() - t0:.0f} s)", flush=True)
            for source, fig in row["strikes"].items():
                print(
                    f"{'':20} {source}: strike > 4 kHz {fig['strike_hf4k_db']:.0f} dB, upper "
                    f"modes decay {fig['upper_decay_x']:.1f}x faster, lowest T60 "
                    f"{fig['low_t60_s']:.1f} s",
                    flush=True,
                )
                if args.over_bed:
                    ob = strikes_over_bed(name, source, args.seconds, seed)
                    fig.update(ob)
                    print(
                        f"{'':20} {source} in the scene: {ob['strikes']:.0f} strikes, > 4 kHz "
                        f"{ob['hf_over_bed_db']:+.1f} dB over the rest (upper quartile "
                        f"{ob['hf_over_bed_q3_db']:+.1f}; {100 * ob['hf_above_bed']:.0f} % "
                        f"above it), whole band {ob['over_bed_db']:+.1f} dB",
                        flush=True,
                    )
    if not args.no_strikes:
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
