"""Loudness calibration of sessions: Sonora's one predictor.

A stream cannot measure a whole session before playing it, so the master gain that
brings a session to its loudness target is *predicted*.  Scenes
(:func:`sonora.scenes.build.build_mix`) and session plans
(:func:`sonora.plan.render.plan_mix`) both calibrate with the functions here, in
three steps:

1. :func:`source_trim_db`: each layer's source is rendered alone for its calibration
   window (its own seed, its starting parameters) and trimmed so that ``gain_db = 0``
   means :data:`LAYER_REFERENCE_LUFS`: scene gains are relative balances, whatever the
   source.
2. :func:`measure_mix_lufs`: the mix (trims, gains, reverb, fades, startle guard; no
   limiter) is measured, streamed, over the whole session when it is short, or over
   windows where its loudness is known to be steady (automation frozen at a moment;
   for plans, a trajectory's intensity held).
3. :func:`predict_session_lufs`: those measurements become a loudness for each second
   of the session (the caller knows how: interpolation over time for a scene,
   over intensity plus the trajectory's gain offset for a plan), the fades are
   applied, and BS.1770 gating of that curve predicts the integrated loudness;
   :func:`master_gain_db` moves it to the target.

Every measurement goes through :mod:`sonora.engine.loudness` (one K-weighting, one
gating, one true peak).  Calibration renders with the session's own seeds, so it is
deterministic: the same scene or plan, seed, duration and sample rate always give the
same master gain, and so the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.forked import source_feed
from sonora.engine.graph import Mix, fade_gain
from sonora.engine.loudness import LoudnessMeter, gated_integrated_from_blocks
from sonora.engine.registry import source_class

__all__ = [
    "LAYER_REFERENCE_LUFS",
    "MAX_CALIBRATION_S",
    "MIX_CALIBRATION_S",
    "master_gain_db",
    "measure_mix_lufs",
    "predict_session_lufs",
    "session_seconds",
    "source_trim_db",
]

#: Reference loudness of a layer at ``gain_db = 0``, LUFS.
LAYER_REFERENCE_LUFS = -23.0
#: Longest window rendered to calibrate one layer, seconds.
MAX_CALIBRATION_S = 180.0
#: Longest window rendered to calibrate a steady scene's mix, seconds.
MIX_CALIBRATION_S = 240.0
#: Master gain range a calibration may set, dB (as :class:`~sonora.engine.graph.Mix`).
_MASTER_RANGE_DB = (-120.0, 60.0)


@lru_cache(maxsize=256)
def _source_lufs(
    source: str, params: tuple[tuple[str, float], ...], seed: int, sample_rate: int
) -> float:
    cls = source_class(source)
    src = cls(sample_rate=sample_rate, seed=seed, **dict(params))
    seconds = min(MAX_CALIBRATION_S, src.calibration_seconds())
    meter = LoudnessMeter(sample_rate, src.channels, true_peak=False)
    left = round(seconds * sample_rate)
    while left > 0:  # streamed: memory does not grow with the window
        n = min(left, QUANTUM * 8)
        meter.add(src.process(n))
        left -= n
    return meter.integrated_lufs


def source_trim_db(source: str, params: dict[str, float], *, seed: int, sample_rate: int) -> float:
    """Gain (dB) that brings ``source`` alone to :data:`LAYER_REFERENCE_LUFS`.

    Parameters
    ----------
    source : str
        Registered source name.
    params : dict of str to float
        Its parameters at the start of the session.
    seed : int
        The layer's own seed (what the session renders with).
    sample_rate : int
        Hz.

    Returns
    -------
    float
        dB; 0.0 for a silent source.  Cached per process.
    """
    loud = _source_lufs(source, tuple(sorted(params.items())), int(seed), int(sample_rate))
    return LAYER_REFERENCE_LUFS - loud if math.isfinite(loud) else 0.0


def measure_mix_lufs(
    mix: Mix,
    *,
    skip_frames: int = 0,
    processes: int = 1,
    feed: Callable[[int], np.ndarray] | None = None,
) -> float:
    """Integrated loudness (LUFS) of ``mix`` from its start, before its limiter.

    The startle guard stays in (it softens sudden rises such as a bowl's strike, and
    works on relative levels, so what it takes away does not depend on the master
    gain); the limiter works on absolute levels and is left out.  Streamed (memory
    does not grow); the first ``skip_frames`` are not measured; the mix is reset
    afterwards.

    Parameters
    ----------
    mix : Mix
        The graph to measure (its limiter is restored afterwards).
    skip_frames : int
        Frames at the start left unmeasured (a warm-up).
    processes : int
        2 renders the layers in a forked child process
        (:func:`~sonora.engine.forked.source_feed`; same result).
    feed : callable, optional
        Where the mix's source quanta come from instead (``feed(start)``, in order
        from the start; e.g. :meth:`~sonora.engine.forked.SharedSource.tap`, the
        session's own render); then nothing is forked here.

    Returns
    -------
    float
        LUFS; ``-inf`` for silence.
    """
    limiter = mix.limiter
    mix.limiter = None
    mix.reset()
    meter = LoudnessMeter(mix.sample_rate, true_peak=False)
    if mix.guard is not None and skip_frames == 0:
        # the guard K-weights these very samples (while it leaves them unchanged)
        meter.share_k_weighting(mix.guard.k_weighting_tap())
    done = 0
    try:
        with source_feed(mix, 1 if feed is not None else processes):
            if feed is not None:
                mix._feed = feed
            for block in mix.blocks():
                n = block.shape[1]
                if done + n > skip_frames:
                    meter.add(block[:, max(0, skip_frames - done) :])
                done += n
    finally:
        mix.limiter = limiter
        mix.reset()
    return meter.integrated_lufs


def session_seconds(duration_s: float) -> np.ndarray:
    """Mid-points (s) of the session's seconds: where :func:`predict_session_lufs` wants
    a loudness (one point in the middle for sessions under a second)."""
    if duration_s >= 1.0:
        return np.arange(0.0, duration_s, 1.0) + 0.5
    return np.array([duration_s / 2])


def predict_session_lufs(
    loudness_at: Callable[[np.ndarray], np.ndarray],
    *,
    duration_s: float,
    sample_rate: int,
    fade_in_s: float,
    fade_out_s: float,
) -> float:
    """Predicted integrated loudness (LUFS) of a session from its loudness over time.

    Parameters
    ----------
    loudness_at : callable
        ``loudness_at(t)`` gives the loudness (LUFS, no fades) at times ``t`` (s,
        float64 ``(n,)``, from :func:`session_seconds`), as measured.
    duration_s : float
        Session length, s.
    sample_rate : int
        Hz (the fades are computed as the mix applies them).
    fade_in_s, fade_out_s : float
        The session's fades, s.

    Returns
    -------
    float
        BS.1770 gating of the per-second curve with the fades; ``-inf`` for silence.
    """
    t = session_seconds(duration_s)
    base = np.asarray(loudness_at(t), dtype=np.float64)
    fades = fade_gain(
        t * sample_rate,
        sample_rate=sample_rate,
        duration_s=duration_s,
        fade_in_s=fade_in_s,
        fade_out_s=fade_out_s,
    )
    return gated_integrated_from_blocks(base + 20 * np.log10(np.maximum(fades, 1e-6)))


def master_gain_db(target_lufs: float, predicted_lufs: float) -> float:
    """Master gain (dB) moving ``predicted_lufs`` to ``target_lufs``; 0 if unknown.

    Returns
    -------
    float
        dB, clipped to the range a :class:`~sonora.engine.graph.Mix` accepts.
    """
    if not math.isfinite(predicted_lufs):
        return 0.0
    return float(np.clip(target_lufs - predicted_lufs, *_MASTER_RANGE_DB))
