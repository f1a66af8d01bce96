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
import os
import tempfile
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np

from sonora.engine.base import QUANTUM
from sonora.engine.forked import source_feed
from sonora.engine.graph import Mix, fade_gain
from sonora.engine.loudness import LoudnessMeter, gated_integrated_from_blocks
from sonora.engine.registry import source_class

if TYPE_CHECKING:
    from sonora.engine.base import Source

__all__ = [
    "LAYER_REFERENCE_LUFS",
    "MAX_CALIBRATION_S",
    "MIX_CALIBRATION_S",
    "master_gain_db",
    "measure_mix_lufs",
    "predict_session_lufs",
    "replayed_trim_db",
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
    return _window_lufs(src, sample_rate)


def _window_lufs(
    src: Source, sample_rate: int, keep: Callable[[np.ndarray], None] | None = None
) -> float:
    """Loudness (LUFS) of ``src``'s calibration window, from where it stands.

    Streamed (memory does not grow with the window); ``keep`` gets each block rendered
    (float32 ``(channels, frames)``), in order.
    """
    seconds = min(MAX_CALIBRATION_S, src.calibration_seconds())
    meter = LoudnessMeter(sample_rate, src.channels, true_peak=False)
    left = round(seconds * sample_rate)
    while left > 0:
        n = min(left, QUANTUM * 8)
        x = src.process(n)
        meter.add(x)
        if keep is not None:
            keep(x)
        left -= n
    return meter.integrated_lufs


def _trim_from_lufs(loud: float) -> float:
    return LAYER_REFERENCE_LUFS - loud if math.isfinite(loud) else 0.0


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
    return _trim_from_lufs(loud)


def replayed_trim_db(
    src: Source, *, sample_rate: int, spool_dir: str | os.PathLike[str] | None = None
) -> float:
    """:func:`source_trim_db` measured on ``src`` itself, whose window is then replayed.

    ``src`` (at its start, built with the layer's seed and starting parameters, as
    :func:`source_trim_db` builds its own copy) renders its calibration window once:
    the window is measured and kept in an unlinked temporary file in ``spool_dir``,
    and ``src.process`` gives those very frames back before rendering on.  Where the
    file cannot be written (a full disk), ``src`` is reset instead and renders the
    window again: the same samples, later.  Sources
    render quantum by quantum whatever the block size asked, so the session gets the
    samples it would have rendered, and the layer's trim costs no second render of
    its window (``sonora render``: the forked render process trims each layer this
    way before its first quantum).

    Parameters
    ----------
    src : Source
        A source at its start, not automated.
    sample_rate : int
        Hz.
    spool_dir : path-like, optional
        Folder for the temporary file (``None``: the system's).

    Returns
    -------
    float
        dB, exactly :func:`source_trim_db` for the same source, parameters and seed.
    """
    spool: Any = None
    written = [0]

    def keep(x: np.ndarray) -> None:
        nonlocal spool
        if spool is None:
            return
        try:
            spool.write(np.ascontiguousarray(x.T, dtype=np.float32).tobytes())
        except OSError:  # e.g. a full disk: no replay, the window is rendered again
            spool.close()
            spool = None
            return
        written[0] += x.shape[1]

    try:
        spool = tempfile.TemporaryFile(dir=spool_dir, prefix=".sonora-trim-")
    except OSError:
        spool = None
    try:
        loud = _window_lufs(src, sample_rate, keep)
        if spool is not None:
            spool.flush()
    except BaseException:
        if spool is not None:
            spool.close()
        raise
    if spool is None:  # nothing kept: the source starts over (same seed, same samples)
        src.reset()
    else:
        _Replay(src, spool, written[0])
    return _trim_from_lufs(loud)


class _Replay:
    """``src.process`` replaying ``frames`` kept frames from ``spool``, then rendering.

    Installed on the instance (``src.process``), removed (and the file closed) once the
    kept frames are used up.
    """

    def __init__(self, src: Source, spool: Any, frames: int) -> None:
        self._src = src
        self._spool = spool
        self._fd = spool.fileno()
        self._channels = int(src.channels)
        self._left = frames
        self._at = 0  # bytes read so far
        src.process = self  # type: ignore[method-assign]

    def __call__(self, frames: int) -> np.ndarray:
        n = min(int(frames), self._left)
        if n <= 0:
            return self._done()(frames)
        size = n * self._channels * 4
        buf = np.empty(size, dtype=np.uint8)
        view = memoryview(buf)
        done = 0
        while done < size:
            got = os.preadv(self._fd, [view[done:]], self._at + done)
            if got <= 0:  # pragma: no cover - a temporary file cannot shrink
                raise RuntimeError("the calibration spool was truncated")
            done += got
        self._at += size
        self._left -= n
        out = np.ascontiguousarray(buf.view(np.float32).reshape(n, self._channels).T)
        if self._left == 0:
            process = self._done()
            if frames > n:
                out = np.concatenate([out, process(frames - n)], axis=1)
        return out

    def _done(self) -> Callable[[int], np.ndarray]:
        """Put the source's own ``process`` back; return it."""
        self._src.__dict__.pop("process", None)
        if not self._spool.closed:
            self._spool.close()
        return self._src.process


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
