"""Turn a :class:`~sonora.scenes.spec.Scene` into a calibrated engine graph.

Loudness calibration is :mod:`sonora.scenes.calibration` (Sonora's one predictor,
shared with session plans).  For a scene: each layer is trimmed to -23 LUFS at
``gain_db = 0``; then the whole mix (trims, gains, reverb, startle guard; no limiter)
is measured over the whole session when it lasts at most
:data:`~sonora.scenes.calibration.MIX_CALIBRATION_S`, otherwise over that long a
window, or, when anything is automated, over 60 s windows at five moments (automation
frozen at each); the per-second loudness between those moments is interpolated, the
fades applied, and BS.1770 gating predicts the session's integrated loudness, which
the master gain moves to the target.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

import numpy as np

from sonora.engine.automation import Curve
from sonora.engine.base import DEFAULT_SAMPLE_RATE_HZ, check_sample_rate
from sonora.engine.effects import Filter, Reverb
from sonora.engine.forked import map_forked, quanta_to_render, shared_source
from sonora.engine.graph import MAX_DURATION_S, Layer, Mix
from sonora.engine.loudness import DEFAULT_TARGET_LUFS, MAX_TARGET_LUFS, MIN_TARGET_LUFS
from sonora.engine.registry import source_class
from sonora.errors import ParameterError, check_number
from sonora.scenes import calibration as cal
from sonora.scenes.calibration import LAYER_REFERENCE_LUFS, MAX_CALIBRATION_S, MIX_CALIBRATION_S
from sonora.scenes.spec import LayerSpec, Scene

__all__ = [
    "CEILING_DBTP",
    "LAYER_REFERENCE_LUFS",
    "MAX_CALIBRATION_S",
    "MIX_CALIBRATION_S",
    "build_mix",
    "build_mix_shared",
    "layer_seed",
    "layer_trim_db",
    "predict_master_gain_db",
]

#: Limiter ceiling; 0.5 dB below the promised -1 dBTP leaves room for encoders.
CEILING_DBTP = -1.5
#: Calibration window at each of the five moments of an automated scene, seconds.
AUTOMATED_WINDOW_S = 60.0


def _key(text: str) -> int:
    """A stable 64-bit number for ``text`` (not Python's salted ``hash``)."""
    return int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "little")


def layer_seed(seed: int, index: int, *, scene: str = "", source: str = "") -> int:
    """Seed of layer ``index`` of ``scene`` (playing ``source``) from the session seed.

    The scene and the source are part of the key, so the rain of ``rain`` and the rain
    of ``rain-with-bowls`` are different rain at the same session seed.
    """
    entropy = [int(seed) & 0xFFFFFFFFFFFFFFFF, index, _key(scene), _key(source)]
    return int(np.random.SeedSequence(entropy).generate_state(1)[0])


def _source(
    spec: LayerSpec, seed: int, index: int, sample_rate: int, at_s: float = 0.0, scene: str = ""
):
    params = dict(spec.params)
    for pname, curve in spec.automation.items():
        params[pname] = float(curve.at(at_s))
    cls = source_class(spec.source)
    lseed = layer_seed(seed, index, scene=scene, source=spec.source)
    return cls(sample_rate=sample_rate, seed=lseed, **params)


def layer_trim_db(
    spec: LayerSpec, seed: int, index: int, sample_rate: int, *, scene: str = ""
) -> float:
    """Gain in dB that brings the layer's source alone to :data:`LAYER_REFERENCE_LUFS`
    (:func:`~sonora.scenes.calibration.source_trim_db` with the layer's own seed)."""
    params = dict(spec.params)
    for pname, curve in spec.automation.items():
        params[pname] = float(curve.at(0.0))
    lseed = layer_seed(seed, index, scene=scene, source=spec.source)
    return cal.source_trim_db(spec.source, params, seed=lseed, sample_rate=sample_rate)


def _make_layers(
    scene: Scene,
    seed: int,
    sample_rate: int,
    trims: list[float],
    *,
    freeze_at_s: float | None = None,
) -> list[Layer]:
    layers = []
    for i, spec in enumerate(scene.layers):
        src = _source(spec, seed, i, sample_rate, at_s=freeze_at_s or 0.0, scene=scene.name)
        automation = {} if freeze_at_s is not None else dict(spec.automation)
        gain = (
            Curve.constant(float(spec.gain_db.at(freeze_at_s)))
            if freeze_at_s is not None
            else spec.gain_db
        )
        filt = None
        if spec.filter:
            f = spec.filter
            filt = Filter(
                f.get("kind", "lowpass"),
                cutoff_hz=min(float(f["cutoff_hz"]), 0.45 * sample_rate),
                order=int(f.get("order", 2)),
                bandwidth_octaves=float(f.get("bandwidth_octaves", 1.0)),
                channels=2,
                sample_rate=sample_rate,
            )
        layer = Layer(
            src,
            gain_db=gain,
            pan=spec.pan,
            width=spec.width,
            reverb_send=spec.reverb_send,
            filter=filt,
            automation=automation,
            name=spec.label or f"{i}:{spec.source}",
        )
        layer.trim = float(10 ** (trims[i] / 20))
        layers.append(layer)
    return layers


def _reverb(scene: Scene, sample_rate: int) -> Reverb | None:
    if scene.reverb is None:
        return None
    r = scene.reverb
    return Reverb(
        room_size=r.room_size, damping=r.damping, wet_level=r.wet_level, sample_rate=sample_rate
    )


def _is_automated(scene: Scene) -> bool:
    return any(spec.automation or not spec.gain_db.is_constant for spec in scene.layers)


def _calibration_windows(scene: Scene, duration_s: float) -> tuple[list[float], bool, float]:
    """Moments (s) measured, whether the window is the whole session, window (s)."""
    automated = _is_automated(scene)
    points = [0.0] if not automated else list(np.linspace(0.0, duration_s, 5))
    # A steady scene is measured over the whole session up to MIX_CALIBRATION_S (then
    # the calibration is exact); longer or automated sessions are predicted.
    whole = not automated and duration_s <= MIX_CALIBRATION_S
    if whole:
        window = duration_s
    else:
        window = AUTOMATED_WINDOW_S if automated else MIX_CALIBRATION_S
    return points, whole, max(window, 3.0)


def _window_mix(
    scene: Scene,
    at_s: float,
    *,
    window_s: float,
    whole: bool,
    seed: int,
    sample_rate: int,
    trims: list[float],
) -> Mix:
    """The mix measured for the calibration window at ``at_s`` (no limiter)."""
    return Mix(
        _make_layers(scene, seed, sample_rate, trims, freeze_at_s=at_s),
        duration_s=window_s,
        reverb=_reverb(scene, sample_rate),
        fade_in_s=scene.fade_in_s if whole else 0.0,
        fade_out_s=scene.fade_out_s if whole else 0.0,
        ceiling_dbtp=None,
    )


def _gain_from_windows(
    scene: Scene,
    loud: list[float],
    points: list[float],
    *,
    whole: bool,
    duration_s: float,
    sample_rate: int,
    target_lufs: float,
) -> float:
    """Master gain (dB) from the loudness measured at each calibration moment."""
    loud_arr = np.asarray(loud)
    if not np.all(np.isfinite(loud_arr)):
        return 0.0
    if whole:  # the calibration render *is* the session, fades included
        return cal.master_gain_db(target_lufs, float(loud_arr[0]))

    def loudness_at(t: np.ndarray) -> np.ndarray:
        if len(points) == 1:
            return np.full(t.shape, loud_arr[0])
        return np.interp(t, points, loud_arr)

    predicted = cal.predict_session_lufs(
        loudness_at,
        duration_s=duration_s,
        sample_rate=sample_rate,
        fade_in_s=min(scene.fade_in_s, duration_s / 2),
        fade_out_s=min(scene.fade_out_s, duration_s / 2),
    )
    return cal.master_gain_db(target_lufs, predicted)


def predict_master_gain_db(
    scene: Scene,
    *,
    duration_s: float,
    seed: int,
    sample_rate: int,
    target_lufs: float,
    trims: list[float],
    processes: int = 1,
) -> float:
    """Master gain (dB) that brings the session's integrated loudness to ``target_lufs``.

    ``processes=2`` renders each calibration window's layers in a forked child
    (:func:`~sonora.engine.forked.source_feed`): the same gain, sooner on two cores.
    """
    points, whole, window = _calibration_windows(scene, duration_s)
    loud = []
    for t in points:
        mix = _window_mix(
            scene, t, window_s=window, whole=whole, seed=seed, sample_rate=sample_rate, trims=trims
        )
        loud.append(cal.measure_mix_lufs(mix, processes=processes))
    return _gain_from_windows(
        scene,
        loud,
        points,
        whole=whole,
        duration_s=duration_s,
        sample_rate=sample_rate,
        target_lufs=target_lufs,
    )


def build_mix(
    scene: Scene,
    *,
    duration_s: float,
    seed: int = 0,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    target_lufs: float | None = DEFAULT_TARGET_LUFS,
    processes: int = 1,
) -> Mix:
    """Build the engine graph for a scene, calibrated to ``target_lufs``.

    Parameters
    ----------
    scene : Scene
        A validated scene.
    duration_s : float
        Session length in seconds, 0 < d <= 12 h.
    seed : int
        Seed for every random choice (0 <= seed < 2**63).
    sample_rate : int
        Output sample rate in Hz, 22 050–96 000.
    target_lufs : float or None
        Integrated loudness target, -30 to -14 LUFS; ``None`` skips calibration.
    processes : int
        2 calibrates with the layers rendered in a forked child process (same
        result; see :func:`~sonora.engine.forked.source_feed`).

    Returns
    -------
    Mix
        Ready to stream with ``process`` or :func:`~sonora.engine.render.render_to_file`.
    """
    duration_s, seed, sample_rate, target_lufs = _check_build_args(
        duration_s, seed, sample_rate, target_lufs
    )
    trims = _trims(scene, seed, sample_rate, target_lufs)
    master = 0.0
    if target_lufs is not None:
        master = predict_master_gain_db(
            _scene_for_calibration(scene, duration_s),
            duration_s=duration_s,
            seed=seed,
            sample_rate=sample_rate,
            target_lufs=target_lufs,
            trims=trims,
            processes=processes,
        )
    return _session_mix(scene, duration_s, seed, sample_rate, trims, master)


def _check_build_args(
    duration_s: float, seed: int, sample_rate: int, target_lufs: float | None
) -> tuple[float, int, int, float | None]:
    duration_s = check_number(
        "duration", duration_s, low=0.0, high=MAX_DURATION_S, low_inclusive=False, unit=" s"
    )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**63:
        raise ParameterError("seed", f"expected a whole number in [0, 2^63), got {seed!r}")
    sample_rate = check_sample_rate(sample_rate)
    if target_lufs is not None:
        target_lufs = check_number(
            "loudness", target_lufs, low=MIN_TARGET_LUFS, high=MAX_TARGET_LUFS, unit=" LUFS"
        )
    return duration_s, seed, sample_rate, target_lufs


def _trims(
    scene: Scene, seed: int, sample_rate: int, target_lufs: float | None, processes: int = 1
) -> list[float]:
    if target_lufs is None:
        return [0.0] * len(scene.layers)

    def trim(i: int) -> float:
        return layer_trim_db(scene.layers[i], seed, i, sample_rate, scene=scene.name)

    # each layer's trim renders its source alone: on two cores, two layers at once
    return map_forked(trim, range(len(scene.layers)), processes)


def _trim_in_render_process(
    sample_rate: int, spool_dir: str | os.PathLike[str] | None
) -> Callable[[Mix, int], float]:
    """``prepare`` for :func:`~sonora.engine.forked.shared_source`: in the process
    that renders it, a layer's trim (dB) measured on its own source
    (:func:`~sonora.scenes.calibration.replayed_trim_db`: what :func:`layer_trim_db`
    gives, steady layers only) and set on that process's copy of the mix."""

    def prepare(mix: Mix, index: int) -> float:
        layer = mix.layers[index]
        trim_db = cal.replayed_trim_db(layer.source, sample_rate=sample_rate, spool_dir=spool_dir)
        layer.trim = float(10 ** (trim_db / 20))
        return trim_db

    return prepare


def _scene_for_calibration(scene: Scene, duration_s: float) -> Scene:
    return replace(
        scene,
        fade_in_s=min(scene.fade_in_s, duration_s / 2),
        fade_out_s=min(scene.fade_out_s, duration_s / 2),
    )


def _session_mix(
    scene: Scene, duration_s: float, seed: int, sample_rate: int, trims: list[float], master: float
) -> Mix:
    return Mix(
        _make_layers(scene, seed, sample_rate, trims),
        duration_s=duration_s,
        master_gain_db=master,
        fade_in_s=min(scene.fade_in_s, duration_s / 2),
        fade_out_s=min(scene.fade_out_s, duration_s / 2),
        reverb=_reverb(scene, sample_rate),
        ceiling_dbtp=CEILING_DBTP,
    )


@contextmanager
def build_mix_shared(
    scene: Scene,
    *,
    duration_s: float,
    seed: int = 0,
    sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    target_lufs: float | None = DEFAULT_TARGET_LUFS,
    processes: int = 2,
    spool_dir: str | os.PathLike[str] | None = None,
) -> Iterator[Mix]:
    """:func:`build_mix` for one render on two cores: the calibration reads the
    session's own source render instead of rendering its window a second time.

    A steady scene's calibration window is the start of the session, and the source
    quanta (layers plus reverb return) do not depend on the master gain, fades or
    limiter: the child process forked for the render
    (:func:`~sonora.engine.forked.shared_source`) renders them once, the calibration
    measures the first window's worth (kept in a temporary file in ``spool_dir``),
    and the render then reads them again.  The master gain, so every byte, is what
    :func:`build_mix` gives (``tests/engine/test_forked.py``); only the time differs.
    Automated scenes, ``target_lufs=None``, ``processes < 2`` or no ``os.fork``:
    exactly :func:`build_mix`.

    Yields the mix, at its start, for one pass inside the ``with`` block (rendered
    with ``processes=1``: its source already comes from the child).
    """
    duration_s, seed, sample_rate, target_lufs = _check_build_args(
        duration_s, seed, sample_rate, target_lufs
    )
    cal_scene = _scene_for_calibration(scene, duration_s)
    points, whole, window = _calibration_windows(cal_scene, duration_s)
    # (a session shorter than the 3 s shortest window is calibrated the plain way)
    if target_lufs is None or processes < 2 or _is_automated(scene) or window > duration_s:
        yield build_mix(
            scene,
            duration_s=duration_s,
            seed=seed,
            sample_rate=sample_rate,
            target_lufs=target_lufs,
            processes=processes,
        )
        return
    # The trims are measured in the render process, on the session's own sources
    # (each layer's window rendered once: measured, then replayed into the session);
    # this process reads them before the first quantum.  Until then: placeholders.
    unknown = [0.0] * len(scene.layers)
    mix = _session_mix(scene, duration_s, seed, sample_rate, unknown, 0.0)
    cal_mix = _window_mix(
        cal_scene,
        0.0,
        window_s=window,
        whole=whole,
        seed=seed,
        sample_rate=sample_rate,
        trims=unknown,
    )
    trim_here = _trim_in_render_process(sample_rate, spool_dir)
    with shared_source(
        mix,
        processes,
        ahead_quanta=quanta_to_render(cal_mix),
        spool_dir=spool_dir,
        prepare=trim_here,
        helper=True,
    ) as shared:
        trims = (
            _trims(scene, seed, sample_rate, target_lufs, processes)
            if shared is None  # no fork here: the plain way
            else list(shared.prepared)
        )
        for layer, cal_layer, trim_db in zip(mix.layers, cal_mix.layers, trims, strict=True):
            layer.trim = cal_layer.trim = float(10 ** (trim_db / 20))
        if shared is None:
            loud = cal.measure_mix_lufs(cal_mix)
        else:
            loud = cal.measure_mix_lufs(cal_mix, feed=shared.tap())
        mix.master_gain_db = _gain_from_windows(
            cal_scene,
            [loud],
            points,
            whole=whole,
            duration_s=duration_s,
            sample_rate=sample_rate,
            target_lufs=target_lufs,
        )
        yield mix
