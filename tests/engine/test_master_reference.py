"""The master stage's shortcuts write the samples and print the numbers of the plain code.

``sonora render`` spends its parent process on the master stage (fades, startle guard,
limiter), the in-stream meter and the FLAC encoder, and several of those skip work
they can prove changes nothing: :func:`~sonora.engine.graph.fade_gain` leaves out a
fade none of a quantum is in, the guard proves "no excess" without its vectorised
decision, the meter takes the guard's K-weighted power (and takes it again once its
filter state is the guard's to the bit) and culls true-peak windows by bounds.  Here
short renders of built-in scenes go through both: the code as it is, and the plain
code (both fades always, the guard's full decision every quantum, a meter filtering
everything itself, a true peak interpolating every window), computed in the test.
The FLAC files must decode to the same samples and the meters give the same numbers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonora.engine import graph
from sonora.engine.dynamics import StartleGuard
from sonora.engine.encoders import Encoder
from sonora.engine.loudness import LoudnessMeter, TruePeakMeter, oversampling_phases
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix


def plain_fade_gain(
    frames: np.ndarray, *, sample_rate: int, duration_s: float, fade_in_s: float, fade_out_s: float
) -> np.ndarray:
    """Both fades at every frame (the code before the shortcut)."""
    t = frames / sample_rate
    g = np.ones(t.shape)
    if fade_in_s > 0:
        g *= np.sin(0.5 * np.pi * np.clip(t / fade_in_s, 0.0, 1.0))
    if fade_out_s > 0:
        g *= np.sin(0.5 * np.pi * np.clip((duration_s - t) / fade_out_s, 0.0, 1.0))
    return g


def every_window_peak(audio: np.ndarray) -> float:
    """True peak of ``(channels, frames)`` audio interpolating every window (linear)."""
    phases = oversampling_phases()
    f = phases.shape[0]
    buf = np.concatenate([np.zeros((audio.shape[0], f - 1)), audio.astype(np.float64)], axis=1)
    best = 0.0
    for i in range(0, audio.shape[1], 8192):  # bounded memory
        part = buf[:, i : i + 8192 + f - 1]
        windows = np.lib.stride_tricks.sliding_window_view(part, f, axis=1)
        best = max(best, float(np.max(np.abs(windows @ phases))))
    return best


def _render(scene: str, seed: int, seconds: float, block: int, path: Path, *, plain: bool):
    mix = build_mix(load_scene(scene), duration_s=seconds, seed=seed, target_lufs=-23.0)
    meter = LoudnessMeter(mix.sample_rate, true_peak=not plain)
    if not plain and mix.guard is not None:
        meter.share_k_weighting(mix.guard.k_weighting_tap())
    kept = []
    with Encoder(path, sample_rate=mix.sample_rate, channels=2) as enc:
        while mix.remaining_frames > 0:
            b = mix.process(block)
            meter.add(np.clip(b, -1.0, 1.0))
            enc.write(b)
            if plain:
                kept.append(np.clip(b, -1.0, 1.0))
    peak = every_window_peak(np.concatenate(kept, axis=1)) if plain else meter._tp.peak
    ints, _ = sf.read(str(path), dtype="int32")
    return hashlib.sha256(ints.tobytes()).hexdigest(), meter._sums, meter.integrated_lufs, peak


@pytest.mark.parametrize(
    ("scene", "seed", "seconds", "block"),
    [
        ("singing-bowl-bath", 1, 24.0, 32_768),
        ("gong-bath", 2, 24.0, 32_768),
        ("rain", 3, 12.0, 10_000),
    ],
)
def test_master_stage_shortcuts_change_nothing(
    scene: str, seed: int, seconds: float, block: int, tmp_path: Path, monkeypatch
) -> None:
    fast = _render(scene, seed, seconds, block, tmp_path / "fast.flac", plain=False)
    monkeypatch.setattr(graph, "fade_gain", plain_fade_gain)
    monkeypatch.setattr(StartleGuard, "_no_excess", lambda self, played: False)
    plain = _render(scene, seed, seconds, block, tmp_path / "plain.flac", plain=True)
    assert fast[0] == plain[0]  # decoded samples, to the bit
    assert fast[1] == plain[1]  # every 100 ms K-weighted sum
    assert fast[2] == plain[2]
    # the culled true peak is the peak of every window, up to the BLAS rounding of one
    # product (1 ulp: rows multiplied in another grouping); printed to 0.1 dB
    assert fast[3] == pytest.approx(plain[3], rel=1e-12, abs=0.0)


def test_true_peak_meter_culls_most_windows_of_a_tonal_scene() -> None:
    # the point of the slope bound: on a bowl scene almost no window is interpolated
    mix = build_mix(load_scene("singing-bowl-bath"), duration_s=30.0, seed=1, target_lufs=-23.0)
    meter = TruePeakMeter(2)
    interpolated = []
    real = meter._interpolated_peak
    meter._interpolated_peak = lambda buf, hot: interpolated.append(hot.size) or real(buf, hot)  # type: ignore[method-assign]
    while mix.remaining_frames > 0:
        meter.add(mix.process(32_768))
    assert sum(interpolated) < 0.01 * mix.total_frames
