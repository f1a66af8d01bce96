"""Render plans through the engine, and tell plan files from scene files.

:func:`plan_mix` builds a plan's calibrated graph (with a loudness calibration that
knows the plan's trajectory), :func:`render_plan` writes it to a file.
``sonora render plan.json`` tells plan files from scenes with :func:`is_plan_file`: a
JSON file whose ``kind`` is ``"sonora-plan"`` is a plan (a scene file never has a
``kind`` key, and :func:`sonora.scenes.read_scene_file` rejects one as an unknown
key); :func:`load_plan_or_scene` does the same for code that only needs a scene.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import numpy as np

from sonora.engine.automation import Curve
from sonora.engine.base import DEFAULT_SAMPLE_RATE_HZ
from sonora.engine.graph import Mix
from sonora.engine.loudness import (
    DEFAULT_TARGET_LUFS,
    MAX_TARGET_LUFS,
    MIN_TARGET_LUFS,
    ungated_lufs,
)
from sonora.engine.registry import source_class
from sonora.engine.render import render_array, render_to_file
from sonora.errors import ParameterError, SonoraError, check_number
from sonora.plan.model import PLAN_KIND, Plan
from sonora.plan.trajectory import SILENT_DB
from sonora.scenes import Scene, load_scene
from sonora.scenes import calibration as cal
from sonora.scenes.build import build_mix, layer_trim_db
from sonora.scenes.calibration import LAYER_REFERENCE_LUFS
from sonora.scenes.spec import parse_scene

#: Seconds of the mix measured at each intensity of a moving trajectory: an eighth of
#: the session, at least 45 s and at most 120 s (rain and wind swell over tens of
#: seconds), after :data:`CALIBRATION_WARMUP_S` seconds of warm-up (sparse,
#: long-decay sources such as bowls start cold; the session is mostly warm).
CALIBRATION_WINDOW_S = (45.0, 120.0)
CALIBRATION_WARMUP_S = 15.0
#: Sessions up to this long (seconds) are calibrated by measuring the whole session.
WHOLE_CALIBRATION_S = 300.0
#: Points measured inside each moving segment of the trajectory's intensity.
_CALIBRATION_SUBDIVISIONS = 2


class CalibrationStopped(SonoraError):
    """A calibration given a ``stop`` event found it set (its process is closing)."""


def _check_stop(stop: threading.Event | None) -> None:
    if stop is not None and stop.is_set():
        raise CalibrationStopped("the loudness calibration was stopped")


def _measure_stoppable(
    mix: Mix, stop: threading.Event | None, *, skip_frames: int = 0, processes: int = 1
) -> float:
    """:func:`~sonora.scenes.calibration.measure_mix_lufs`, checking ``stop`` before
    every quantum (then rendered here, not forked: same samples)."""
    if stop is None:
        return cal.measure_mix_lufs(mix, skip_frames=skip_frames, processes=processes)

    def feed(start: int) -> np.ndarray:
        _check_stop(stop)
        return mix.source_quantum(start)

    return cal.measure_mix_lufs(mix, skip_frames=skip_frames, feed=feed)


def plan_mix(
    plan: Plan,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    target_lufs: float | None = DEFAULT_TARGET_LUFS,
    processes: int = 1,
    stop: threading.Event | None = None,
) -> Mix:
    """The calibrated engine graph of ``plan`` (its own duration and seed).

    A plan whose trajectory moves (iso, U-shaped, sleep) is calibrated with what the
    plan knows about itself.  Up to :data:`WHOLE_CALIBRATION_S` the whole session is
    measured once (streamed, before the limiter).  Longer sessions are predicted: the
    mix is measured (see :data:`CALIBRATION_WINDOW_S`) at the intensities where the
    trajectory's intensity curve turns and in between, with the trajectory's gain
    offset removed; the loudness of each second of the session is then that
    measurement at its intensity plus its offset and fades, and BS.1770 gating of
    that curve predicts the integrated loudness.  The master gain moves it to
    ``target_lufs``.  (The scene builder's generic predictor samples five evenly
    spaced moments and interpolates between them, which misses a sleep descent's
    shape by 1–2.5 LU.)  Steady plans and plans made from scenes use the scene
    builder's calibration.

    Parameters
    ----------
    plan : Plan
        A plan with layers (not quiet rest).
    sample_rate : int
        Hz, 22 050–96 000.
    target_lufs : float or None
        Integrated loudness target (-30 to -14 LUFS); ``None`` skips calibration.
    processes : int
        2 calibrates with the layers rendered in a forked child process (same gain;
        :func:`~sonora.engine.forked.source_feed`).
    stop : threading.Event, optional
        Set by a closing process (a background calibration or download): checked
        between layers and windows and before every quantum measured (the plan's own
        measurement then renders here, whatever ``processes`` says).

    Returns
    -------
    Mix

    Raises
    ------
    CalibrationStopped
        ``stop`` was set before the calibration finished.
    """
    _check_stop(stop)
    scene = plan.to_scene()
    moving = plan.trajectory.kind in ("iso", "u_shape", "sleep")
    verbatim = any(layer.automation for layer in plan.plan_layers)
    if target_lufs is None or not moving or verbatim:
        return build_mix(
            scene,
            duration_s=plan.duration_s,
            seed=plan.seed,
            sample_rate=sample_rate,
            target_lufs=target_lufs,
            processes=processes,
        )
    target = check_number(
        "loudness", target_lufs, low=MIN_TARGET_LUFS, high=MAX_TARGET_LUFS, unit=" LUFS"
    )
    mix = build_mix(
        scene, duration_s=plan.duration_s, seed=plan.seed, sample_rate=sample_rate, target_lufs=None
    )
    trims = []
    for i, spec in enumerate(scene.layers):
        _check_stop(stop)
        trims.append(layer_trim_db(spec, plan.seed, i, sample_rate))
    for layer, trim in zip(mix.layers, trims, strict=True):
        layer.trim = float(10 ** (trim / 20.0))
    if plan.duration_s <= WHOLE_CALIBRATION_S:
        predicted = _measure_stoppable(mix, stop, processes=processes)
    else:
        predicted = _predict_plan_lufs(
            plan,
            trims,
            sample_rate,
            fade_in_s=mix.fade_in_s,
            fade_out_s=mix.fade_out_s,
            processes=processes,
            stop=stop,
        )
    mix.master_gain_db = cal.master_gain_db(target, predicted)
    mix.reset()
    return mix


def _frozen_scene(plan: Plan, t_s: float) -> Scene:
    """The plan's scene with every curve frozen at ``t_s`` and no trajectory gain offset."""
    data = plan.scene_dict()
    offset = float(plan.trajectory.gain_at(t_s))
    for layer in data["layers"]:
        for name, spec in layer.pop("automation", {}).items():
            layer["params"][name] = float(Curve.from_spec(spec, field=name).at(t_s))
        g = layer["gain_db"]
        g = float(Curve.from_spec(g, field="gain_db").at(t_s)) if isinstance(g, list) else g
        layer["gain_db"] = float(np.clip(g - offset, SILENT_DB, 12.0))
    data["fade_in_s"] = data["fade_out_s"] = 0.0
    return parse_scene(data)


def _calibration_times(plan: Plan) -> list[float]:
    """Times at which the intensity curve turns, and points inside moving segments."""
    pts = [(t, v) for t, v in plan.trajectory.intensity if t <= plan.duration_s]
    times = [pts[0][0]]
    for (t0, v0), (t1, v1) in zip(pts[:-1], pts[1:], strict=True):
        if v0 != v1:
            times.extend(np.linspace(t0, t1, _CALIBRATION_SUBDIVISIONS + 2)[1:-1].tolist())
        times.append(t1)
    seen: dict[float, float] = {}
    for t in times:  # one measurement per distinct intensity
        seen.setdefault(round(float(plan.trajectory.intensity_at(t)), 4), t)
    return sorted(seen.values())


def _calibration_seed(seed: int, k: int) -> int:
    """Seed of the ``k``-th calibration window (deterministic in the plan's seed)."""
    if k == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), 0xCA1, k]).generate_state(2, np.uint64)[0] >> 1)


def _predict_plan_lufs(
    plan: Plan,
    trims: list[float],
    sample_rate: int,
    *,
    fade_in_s: float,
    fade_out_s: float,
    processes: int = 1,
    stop: threading.Event | None = None,
) -> float:
    """Predicted integrated loudness (LUFS) of ``plan`` with layer ``trims`` (dB)."""
    traj = plan.trajectory
    warm = round(CALIBRATION_WARMUP_S * sample_rate)
    window = float(np.clip(plan.duration_s / 8.0, *CALIBRATION_WINDOW_S))
    levels, loud = [], []
    for k, t in enumerate(_calibration_times(plan)):
        # Each point hears its own stretch of the sources' slow random variation
        # (rain swells over tens of seconds), so the errors average out instead of
        # repeating the same opening everywhere.
        frozen = build_mix(
            _frozen_scene(plan, t),
            duration_s=CALIBRATION_WARMUP_S + window,
            seed=_calibration_seed(plan.seed, k),
            sample_rate=sample_rate,
            target_lufs=None,
        )
        for layer, trim in zip(frozen.layers, trims, strict=True):
            layer.trim = float(10 ** (trim / 20.0))
        levels.append(float(traj.intensity_at(t)))
        loud.append(_measure_stoppable(frozen, stop, skip_frames=warm, processes=processes))
    if not all(math.isfinite(x) for x in loud):
        return -math.inf
    order = np.argsort(levels)
    lv, ld = np.asarray(levels)[order], np.asarray(loud)[order]

    def loudness_at(t: np.ndarray) -> np.ndarray:
        # the loudness measured at each second's intensity, plus its gain offset
        return np.interp(np.asarray(traj.intensity_at(t)), lv, ld) + np.asarray(traj.gain_at(t))

    return cal.predict_session_lufs(
        loudness_at,
        duration_s=plan.duration_s,
        sample_rate=sample_rate,
        fade_in_s=fade_in_s,
        fade_out_s=fade_out_s,
    )


def render_plan(
    plan: Plan,
    path: str | os.PathLike[str],
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    target_lufs: float = DEFAULT_TARGET_LUFS,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Render ``plan`` to an audio file (format from the extension, written atomically).

    Returns
    -------
    pathlib.Path
        The written file.
    """
    mix = plan_mix(plan, sample_rate=sample_rate, target_lufs=target_lufs)
    return render_to_file(mix, path, progress=progress)


def _coarse(spec_low: float, spec_high: float, v: float) -> float:
    """A parameter rounded for the excerpt's calibration cache.

    Unit-range parameters to 0.25, positive ones to half an octave, the rest to whole
    numbers: a few calibrations per source cover every plan (balance within ~1 dB).
    """
    if spec_high <= 1.0:
        r = round(v * 4.0) / 4.0
    elif v > 0:
        r = 2.0 ** (round(2.0 * math.log2(v)) / 2.0)
    else:
        r = float(round(v))
    return float(min(max(r, spec_low), spec_high))


#: Seconds rendered to balance one layer of an excerpt.
EXCERPT_CALIBRATION_S = 8.0


@lru_cache(maxsize=1024)
def _trim_db(source: str, params: tuple[tuple[str, float], ...], sample_rate: int) -> float:
    """Gain (dB) bringing the source alone to -23 LUFS over its first seconds (seed 0)."""
    src = source_class(source)(sample_rate=sample_rate, seed=0, **dict(params))
    seconds = min(EXCERPT_CALIBRATION_S, src.calibration_seconds())
    loud = ungated_lufs(src.process(round(seconds * sample_rate)), sample_rate)
    return LAYER_REFERENCE_LUFS - loud if math.isfinite(loud) else 0.0


def excerpt_trim_db(source: str, params: dict[str, float], sample_rate: int) -> float:
    """Gain (dB) bringing ``source`` alone to -23 LUFS over its first seconds, at
    ``params`` rounded coarsely (cached: a few measurements cover every plan)."""
    specs = source_class(source).PARAMS
    key = tuple(sorted((k, _coarse(specs[k].low, specs[k].high, v)) for k, v in params.items()))
    return _trim_db(source, key, sample_rate)


def analysis_mix(
    plan: Plan,
    *,
    duration_s: float | None = None,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
) -> Mix:
    """A quick, uncalibrated mix of ``plan`` for measuring it (not for listening).

    The plan's own layers, automation, seed and fades, balanced approximately like the
    full render (each layer brought to -23 LUFS at 0 dB, measured over its first
    8 seconds at its starting parameters, coarsely rounded so calibrations can be
    cached), with no session loudness calibration, startle guard or limiter.  Relative
    loudness and spectra over time are faithful; absolute loudness is only roughly
    -23 LUFS at the start.

    Parameters
    ----------
    plan : Plan
        A plan with layers.
    duration_s : float, optional
        Render only this much of the session (default: all of it).
    sample_rate : int
        Hz.
    """
    scene = plan.to_scene()
    mix = build_mix(
        scene,
        duration_s=plan.duration_s if duration_s is None else duration_s,
        seed=plan.seed,
        sample_rate=sample_rate,
        target_lufs=None,
    )
    for layer, spec in zip(mix.layers, scene.layers, strict=True):
        start = dict(spec.params)
        for name, curve in spec.automation.items():
            start[name] = float(curve.at(0.0))
        layer.trim = float(10 ** (excerpt_trim_db(spec.source, start, sample_rate) / 20.0))
    mix.guard = None
    mix.limiter = None
    mix.reset()
    return mix


def plan_excerpt(
    plan: Plan,
    *,
    seconds: float = 3.0,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    target_lufs: float = DEFAULT_TARGET_LUFS,
) -> np.ndarray:
    """The first ``seconds`` of the plan, as the listener would first hear it.

    Renders the plan's opening with :func:`analysis_mix` (its own layers, automation
    and seed, balanced like the full render), without the fade-in, and scales it so
    that the excerpt's ungated BS.1770 loudness is ``target_lufs``.  Much cheaper than
    calibrating a whole session, so simulated listeners can afford it.

    Returns
    -------
    numpy.ndarray
        float32 ``(2, frames)`` at ``sample_rate``; zeros for a quiet-rest plan.
    """
    frames = round(seconds * sample_rate)
    if plan.quiet_rest:
        return np.zeros((2, frames), dtype=np.float32)
    mix = analysis_mix(plan, duration_s=seconds, sample_rate=sample_rate)
    mix.fade_in_s = 0.0
    mix.fade_out_s = 0.0
    mix.reset()
    audio = render_array(mix)
    loud = ungated_lufs(audio, sample_rate)
    if math.isfinite(loud):
        audio = audio * np.float32(10 ** ((target_lufs - loud) / 20.0))
    return audio.astype(np.float32, copy=False)


def spectral_centroid_hz(audio: np.ndarray, sample_rate: int) -> float:
    """Spectral centroid of the mono sum (Hann-windowed power spectrum), Hz.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)`` or ``(frames,)`` audio.
    sample_rate : int
        Hz.

    Returns
    -------
    float
        Power-weighted mean frequency; 0.0 for silence.
    """
    x = np.asarray(audio, dtype=np.float64)
    mono = x.mean(axis=0) if x.ndim == 2 else x
    if mono.size < 2:
        return 0.0
    p = np.abs(np.fft.rfft(mono * np.hanning(mono.size))) ** 2
    f = np.fft.rfftfreq(mono.size, 1.0 / sample_rate)
    total = float(np.sum(p))
    return float(np.sum(f * p) / total) if total > 0 else 0.0


def is_plan_file(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a JSON file whose ``kind`` is ``"sonora-plan"``."""
    p = Path(path)
    if p.suffix.lower() != ".json" or not p.is_file():
        return False
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(data, dict) and data.get("kind") == PLAN_KIND


def load_plan(path: str | os.PathLike[str]) -> Plan:
    """Read a plan JSON file.

    Raises
    ------
    ParameterError
        Naming ``plan`` for an unreadable file, or the first invalid field.
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ParameterError("plan", f"cannot read {str(p)!r}: {exc.strerror or exc}") from exc
    return Plan.from_json(text)


def load_plan_or_scene(path_or_name: str | os.PathLike[str]) -> Scene:
    """A scene to render: a plan file's scene, or a built-in / file scene.

    Parameters
    ----------
    path_or_name : str or path-like
        A plan JSON file (``"kind": "sonora-plan"``), a scene file, or a built-in
        scene name.

    Returns
    -------
    Scene
        For a plan, :meth:`Plan.to_scene` (render it with the plan's ``duration_s``
        and ``seed`` to hear the plan exactly; :func:`load_plan` gives those).
    """
    if is_plan_file(path_or_name):
        return load_plan(path_or_name).to_scene()
    return load_scene(path_or_name)
