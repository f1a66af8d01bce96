"""sonora.engine.loudness: one K-weighting, one gating, one true-peak estimator.

Checked against independent instruments (pyloudnorm for BS.1770 loudness, scipy's
polyphase resampler for 4x true peak) and for chunk-size independence.
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy import signal

from sonora.engine.loudness import (
    LoudnessMeter,
    TruePeakMeter,
    integrated_lufs,
    true_peak_dbtp,
    ungated_lufs,
)


def _bursty(rng: np.random.Generator, seconds: float = 6.0, sr: int = 48_000) -> np.ndarray:
    n = round(seconds * sr)
    x = 0.05 * rng.standard_normal((2, n))
    t = np.arange(n) / sr
    x += 0.6 * np.sin(2 * np.pi * 11_987.0 * t) * (np.abs(t - 3.0) < 0.05)  # near-Nyquist burst
    return x.astype(np.float32)


@pytest.mark.parametrize("chunk", [1_000, 4_096, 8_193, 65])
def test_meters_do_not_depend_on_block_size(chunk: int, rng: np.random.Generator) -> None:
    x = _bursty(rng, seconds=3.0 if chunk < 100 else 6.0)
    whole = LoudnessMeter(48_000)
    whole.add(x)
    parts = LoudnessMeter(48_000)
    for i in range(0, x.shape[1], chunk):
        parts.add(x[:, i : i + chunk])
    assert parts.integrated_lufs == pytest.approx(whole.integrated_lufs, abs=1e-9)
    assert parts.true_peak_dbtp == pytest.approx(whole.true_peak_dbtp, abs=1e-9)


def test_integrated_loudness_agrees_with_pyloudnorm(rng: np.random.Generator) -> None:
    x = _bursty(rng)
    ref = pyloudnorm.Meter(48_000).integrated_loudness(x.T.astype(np.float64))
    assert integrated_lufs(x, 48_000) == pytest.approx(ref, abs=0.05)


def test_true_peak_sees_inter_sample_peaks_like_scipy(rng: np.random.Generator) -> None:
    x = _bursty(rng)
    ref = max(float(np.max(np.abs(signal.resample_poly(c.astype(np.float64), 4, 1)))) for c in x)
    assert true_peak_dbtp(x) == pytest.approx(20 * np.log10(ref), abs=0.1)
    # a full-scale sine at fs/4 phase-shifted: samples at 0.707, true peak 1.0
    n = np.arange(4_800)
    s = np.sin(2 * np.pi * n / 4 + np.pi / 4)[None, :]
    assert float(np.max(np.abs(s))) == pytest.approx(np.sqrt(0.5))
    assert true_peak_dbtp(s) == pytest.approx(0.0, abs=0.1)


def test_true_peak_skips_only_what_cannot_beat_the_peak(rng: np.random.Generator) -> None:
    # The meter interpolates only frames that could make a new peak; the result must
    # be the peak of interpolating every frame, whatever the block sizes.
    from sonora.engine.loudness import oversampling_phases

    phases = oversampling_phases()
    for _ in range(10):
        sizes = rng.integers(1, 5_000, 15)
        x = (rng.standard_normal((2, int(sizes.sum()))) * rng.uniform(0.01, 0.3)).astype(np.float32)
        x[:, rng.integers(0, x.shape[1], 6)] *= 6.0  # sparse spikes, as rain drops
        # and once, the interpolator's worst case: samples just over peak / sum|h|
        # with the signs of its half-sample phase, whose true peak beats every sample
        at = int(rng.integers(x.shape[1] // 2, x.shape[1] - phases.shape[0]))
        worst = np.sign(phases[::-1, 2]) * 1.01 * float(np.max(np.abs(x[:, :at])))
        x[0, at : at + phases.shape[0]] = worst / float(np.abs(phases[:, 2]).sum())
        buf = np.concatenate([np.zeros((2, phases.shape[0] - 1)), x.astype(np.float64)], axis=1)
        windows = np.lib.stride_tricks.sliding_window_view(buf, phases.shape[0], axis=1)
        every = float(np.max(np.abs(windows @ phases)))
        m = TruePeakMeter(2)
        at = 0
        for n in sizes.tolist():
            m.add(x[:, at : at + n])
            at += n
        # exact up to BLAS rounding: the meter multiplies the copied hot rows, the
        # reference the strided view, and the two may sum in another order (1 ulp seen
        # with numpy 2.4); a wrongly skipped frame costs ~1 % (the worst case's margin)
        assert m.peak == pytest.approx(every, rel=1e-12, abs=0.0)


def test_ungated_loudness_of_a_sine() -> None:
    sr = 48_000
    t = np.arange(sr * 2) / sr
    s = (0.5 * np.sin(2 * np.pi * 997.0 * t))[None, :]
    ref = pyloudnorm.Meter(sr, block_size=0.4).integrated_loudness(s.T)
    assert ungated_lufs(s, sr) == pytest.approx(ref, abs=0.1)


def test_silence_is_minus_infinity_and_a_quiet_peak_is_low() -> None:
    m = TruePeakMeter(2)
    m.add(np.zeros((2, 1000), dtype=np.float32))
    assert m.true_peak_dbtp < -200
    assert integrated_lufs(np.zeros((2, 48_000)), 48_000) == float("-inf")


@pytest.mark.parametrize("kind", ["low-passed noise", "sine crests", "float64 noise"])
def test_true_peak_tight_bound_skips_nothing(kind: str, rng: np.random.Generator) -> None:
    # Where most frames pass the loose L1 bound (loud noise, low tones) the meter culls
    # with its tighter per-phase bound; the peak must still be that of every window.
    from sonora.engine.loudness import oversampling_phases

    phases = oversampling_phases()
    n = 40_000
    if kind == "low-passed noise":  # pink-like: neighbouring samples alike
        w = rng.standard_normal((2, n))
        x = np.cumsum(w, axis=1) - np.cumsum(np.roll(w, 40, axis=1), axis=1)
        x = (0.3 * x / np.max(np.abs(x))).astype(np.float32)
    elif kind == "sine crests":  # every window near a crest passes both bounds
        t = np.arange(n) / 48_000
        amp = 0.1 + 0.4 * np.sin(np.pi * np.arange(n) / n)  # the peak mid-way, not at the end
        x = np.stack([amp * np.sin(2 * np.pi * 997 * t), amp * np.cos(2 * np.pi * 13_001 * t)])
        x = x.astype(np.float32)
    else:  # float64 blocks: the history keeps their precision
        x = 0.1 * rng.standard_normal((2, n))
    buf = np.concatenate([np.zeros((2, phases.shape[0] - 1)), x.astype(np.float64)], axis=1)
    windows = np.lib.stride_tricks.sliding_window_view(buf, phases.shape[0], axis=1)
    every = float(np.max(np.abs(windows @ phases)))
    for sizes in ([n], rng.integers(1, 9_000, 30).tolist()):
        m = TruePeakMeter(2)
        at = 0
        for size in sizes:
            m.add(x[:, at : at + size])
            at += size
        m.add(x[:, at:])
        assert m.peak == pytest.approx(every, rel=1e-12, abs=0.0)


@pytest.mark.parametrize("kind", ["white noise", "low tone", "steps"])
def test_true_peak_slope_bound_holds_for_every_window(kind: str, rng: np.random.Generator) -> None:
    # |x| at the anchors times the DC weight plus the largest neighbour step times the
    # step weight must bound every phase's interpolated value of every window (the
    # meter skips windows on it); and on a low tone its largest value must be close to
    # the true peak (within 5 %).
    from sonora.engine.loudness import _slope_bound_weights, oversampling_phases

    phases = oversampling_phases()
    anchors, dc_w, step_w = _slope_bound_weights()
    f = phases.shape[0]
    n = 20_000
    if kind == "white noise":
        x = rng.standard_normal(n)
    elif kind == "low tone":
        x = np.sin(2 * np.pi * 174.0 * np.arange(n) / 48_000 + 0.3)
    else:  # alternating, the interpolator's worst steps
        x = np.sign(rng.standard_normal(n)) * rng.uniform(0.0, 1.0, n)
    windows = np.lib.stride_tricks.sliding_window_view(x, f)
    values = np.max(np.abs(windows @ phases), axis=1)
    steps = np.max(np.abs(np.diff(windows, axis=1)), axis=1)
    centre = np.max(np.abs(windows[:, list(anchors)]), axis=1)
    bound = centre * float(dc_w) + steps * float(step_w)
    assert np.all(values <= bound * (1.0 + 1e-12))
    if kind == "low tone":
        assert np.max(bound) < 1.05 * np.max(values)  # near the crests, where it matters
