"""Render plans through the engine, and tell plan files from scene files.

``sonora render plan.json`` works through :func:`load_plan_or_scene`: a JSON file whose
``kind`` is ``"sonora-plan"`` is a plan (a scene file never has a ``kind`` key, and
:func:`sonora.scenes.read_scene_file` rejects one as an unknown key).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import numpy as np
from scipy import signal

from sonora.engine.base import DEFAULT_SAMPLE_RATE_HZ
from sonora.engine.effects import k_weighting_sos
from sonora.engine.graph import Mix
from sonora.engine.loudness import DEFAULT_TARGET_LUFS
from sonora.engine.registry import source_class
from sonora.engine.render import render_array, render_to_file
from sonora.errors import ParameterError
from sonora.plan.model import PLAN_KIND, Plan
from sonora.scenes import Scene, load_scene
from sonora.scenes.build import LAYER_REFERENCE_LUFS, build_mix


def plan_mix(
    plan: Plan,
    *,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    target_lufs: float | None = DEFAULT_TARGET_LUFS,
) -> Mix:
    """The calibrated engine graph of ``plan`` (its own duration and seed).

    Parameters
    ----------
    plan : Plan
        A plan with layers (not quiet rest).
    sample_rate : int
        Hz, 22 050–96 000.
    target_lufs : float or None
        Integrated loudness target (-30 to -14 LUFS); ``None`` skips calibration.

    Returns
    -------
    Mix
    """
    return build_mix(
        plan.to_scene(),
        duration_s=plan.duration_s,
        seed=plan.seed,
        sample_rate=sample_rate,
        target_lufs=target_lufs,
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


def ungated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Loudness of a short excerpt: K-weighted mean power (BS.1770, no gating), LUFS."""
    sos = k_weighting_sos(sample_rate)
    y = signal.sosfilt(sos, np.asarray(audio, dtype=np.float64), axis=-1)
    p = float(np.sum(np.mean(y * y, axis=-1)))
    return -0.691 + 10.0 * math.log10(p) if p > 0 else -math.inf


def plan_excerpt(
    plan: Plan,
    *,
    seconds: float = 3.0,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    target_lufs: float = DEFAULT_TARGET_LUFS,
) -> np.ndarray:
    """The first ``seconds`` of the plan, as the listener would first hear it.

    Renders the plan's own layers, automation and seed for the opening seconds, without
    the fade-in, startle guard or limiter, balanced approximately like the full render (each layer brought to
    -23 LUFS at 0 dB, measured over its first 8 seconds at its starting parameters,
    coarsely rounded so calibrations can be cached) and scaled so that the excerpt's
    ungated BS.1770 loudness is ``target_lufs``.  Much cheaper than calibrating a
    whole session, so simulated listeners can afford it.

    Returns
    -------
    numpy.ndarray
        float32 ``(2, frames)`` at ``sample_rate``; zeros for a quiet-rest plan.
    """
    frames = round(seconds * sample_rate)
    if plan.quiet_rest:
        return np.zeros((2, frames), dtype=np.float32)
    scene = replace(plan.to_scene(), fade_in_s=0.0, fade_out_s=0.0)
    mix = build_mix(
        scene, duration_s=seconds, seed=plan.seed, sample_rate=sample_rate, target_lufs=None
    )
    # An opening excerpt for analysis: no startle guard (nothing precedes it) and no
    # limiter (levels are calibrated well below full scale); both cost more than the
    # sources themselves over three seconds.
    mix.guard = None
    mix.limiter = None
    mix.reset()
    for layer, spec in zip(mix.layers, scene.layers, strict=True):
        specs = source_class(spec.source).PARAMS
        start = dict(spec.params)
        for name, curve in spec.automation.items():
            start[name] = float(curve.at(0.0))
        key = tuple(sorted((k, _coarse(specs[k].low, specs[k].high, v)) for k, v in start.items()))
        layer.trim = float(10 ** (_trim_db(spec.source, key, sample_rate) / 20.0))
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
