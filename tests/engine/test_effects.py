"""Tests for sonora.engine.effects: limiter, reverb, filter, startle guard, delay.

Each effect is driven with a generated signal and its output measured: true peak
(4x oversampling, see ``conftest``), tail energy, steady-state sine gain against the
Butterworth formula, and the no-startle rule.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import signal
from testkit import SR, sine, true_peak_dbtp

from sonora.engine.effects import Delay, Filter, Limiter, Reverb, StartleGuard
from sonora.engine.loudness import STARTLE_LIMIT_LU, startle_check
from sonora.errors import ParameterError


def smooth_edges(x: np.ndarray, *, fade_s: float = 0.05, tail_s: float = 0.1) -> np.ndarray:
    """Raised-cosine fade in/out plus trailing silence, so a signal has no edge clicks.

    (An abrupt start or end is itself an inter-sample peak; these tests are about the
    limiter, not about cut-off test signals.)
    """
    n = x.shape[-1]
    k = round(fade_s * SR)
    ramp = np.ones(n)
    ramp[:k] = np.sin(np.linspace(0, np.pi / 2, k)) ** 2
    ramp[-k:] = ramp[:k][::-1]
    tail = np.zeros((x.shape[0], round(tail_s * SR)))
    return np.concatenate([x * ramp, tail], axis=1).astype(np.float32)


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.asarray(x, dtype=np.float64) ** 2) + 1e-30))


# -- Limiter ---------------------------------------------------------------------------
@pytest.mark.parametrize("freq_hz", [997.0, 5000.0, 11_025.0, 15_000.0])
@pytest.mark.parametrize("ceiling", [-1.0, -6.0])
def test_limiter_holds_hot_sines_under_the_ceiling(freq_hz: float, ceiling: float) -> None:
    x = smooth_edges(sine(freq_hz, 1.5, amp=2.0))  # +6 dBFS
    y = Limiter(ceiling_dbtp=ceiling, sample_rate=SR).process(x)
    tp = true_peak_dbtp(y)
    assert tp <= ceiling + 0.05
    assert tp >= ceiling - 0.5  # limits to the ceiling, not far below it


def test_limiter_catches_inter_sample_peaks() -> None:
    """fs/4 at 45°: every sample is at -3 dBFS, the waveform peaks at 0 dBTP."""
    x = smooth_edges(sine(SR / 4, 1.0, amp=1.0, phase=np.pi / 4))
    assert 20 * np.log10(np.max(np.abs(x))) < -2.9  # samples under a -2 dBTP ceiling
    assert true_peak_dbtp(x) > -0.1
    y = Limiter(ceiling_dbtp=-2.0, sample_rate=SR).process(x)
    assert true_peak_dbtp(y) <= -2.0 + 0.05


@pytest.mark.parametrize("kind", ["lowpass-8k", "pole-0.9"])
def test_limiter_holds_hot_noise_under_the_ceiling(kind: str, rng: np.random.Generator) -> None:
    """Band-limited noise at -6 dBFS RMS: the kind of material a calm mix pushes in."""
    n = 8 * SR
    white = rng.standard_normal((2, n))
    if kind == "lowpass-8k":
        x = signal.sosfilt(signal.butter(4, 8000, fs=SR, output="sos"), white, axis=1)
    else:
        x = signal.lfilter([1.0], [1.0, -0.9], white, axis=1)
    x = smooth_edges(x / np.std(x) * 0.5)
    y = Limiter(ceiling_dbtp=-1.0, sample_rate=SR).process(x)
    assert float(np.max(np.abs(y))) <= 10 ** (-1.0 / 20) + 1e-6  # sample peaks: exact
    assert true_peak_dbtp(y) <= -1.0 + 0.05  # true peak, as documented


def test_limiter_passes_quiet_audio_bit_exactly(rng: np.random.Generator) -> None:
    lim = Limiter(ceiling_dbtp=-1.0, sample_rate=SR)
    x = (rng.standard_normal((2, 3 * SR)) * 10 ** (-30 / 20)).astype(np.float32)
    y = lim.process(x)
    lat = lim.latency_frames
    assert lat == round(0.005 * SR)  # the default 5 ms look-ahead
    np.testing.assert_array_equal(y[:, :lat], 0.0)
    np.testing.assert_array_equal(y[:, lat:], x[:, :-lat])


def test_limiter_recovers_after_a_loud_passage(rng: np.random.Generator) -> None:
    quiet = rng.standard_normal((2, 2 * SR)) * 0.03
    loud = sine(1000.0, 0.5, amp=3.0)
    x = smooth_edges(np.concatenate([quiet, loud, quiet], axis=1), tail_s=0.0)
    y = Limiter(ceiling_dbtp=-1.0, release_ms=120.0, sample_rate=SR).process(x)
    lat = round(0.005 * SR)
    # one second after the loud part the gain is back to exactly 1
    a = round(3.5 * SR)
    np.testing.assert_array_equal(
        y[:, a + lat : -round(0.06 * SR)], x[:, a : -lat - round(0.06 * SR)]
    )


def test_limiter_parameters_are_checked() -> None:
    for kwargs, field in (
        ({"ceiling_dbtp": 1.0}, "ceiling_dbtp"),
        ({"lookahead_ms": 0.1}, "lookahead_ms"),
        ({"release_ms": float("nan")}, "release_ms"),
    ):
        with pytest.raises(ParameterError) as exc:
            Limiter(sample_rate=SR, **kwargs)
        assert exc.value.field == field


# -- Reverb ------------------------------------------------------------------------------
def _impulse_response(room_size: float, seconds: float = 4.0) -> np.ndarray:
    x = np.zeros((2, round(seconds * SR)), dtype=np.float32)
    x[:, round(0.1 * SR)] = 1.0
    return Reverb(room_size=room_size, damping=0.5, wet_level=1.0, sample_rate=SR).process(x)


def _energy(y: np.ndarray, a_s: float, b_s: float) -> float:
    return float(np.sum(y[:, round(a_s * SR) : round(b_s * SR)].astype(np.float64) ** 2))


def test_reverb_tail_follows_an_impulse_and_decays() -> None:
    y = _impulse_response(0.8)
    assert np.all(np.isfinite(y))
    assert np.all(y[:, : round(0.1 * SR)] == 0.0)  # nothing before the impulse
    early = _energy(y, 0.1, 0.6)
    assert early > 0
    windows = [_energy(y, 0.6 + 0.5 * k, 1.1 + 0.5 * k) for k in range(5)]
    assert all(w > 0 for w in windows)  # still ringing two seconds later ...
    assert all(b < a for a, b in itertools.pairwise([early, *windows]))  # ... fading
    assert windows[-1] < early / 10


def test_bigger_room_rings_longer() -> None:
    small, big = _impulse_response(0.3), _impulse_response(0.9)
    ratio_small = _energy(small, 1.0, 2.0) / _energy(small, 0.1, 1.0)
    ratio_big = _energy(big, 1.0, 2.0) / _energy(big, 0.1, 1.0)
    assert ratio_big > 3 * ratio_small


def test_reverb_tail_is_stereo_and_wet_level_scales_it() -> None:
    y = _impulse_response(0.8)
    assert not np.array_equal(y[0], y[1])
    x = np.zeros((2, 2 * SR), dtype=np.float32)
    x[:, 1000] = 1.0
    loud = Reverb(wet_level=1.0, sample_rate=SR).process(x)
    soft = Reverb(wet_level=0.1, sample_rate=SR).process(x)
    assert rms_db(loud) - rms_db(soft) == pytest.approx(20.0, abs=0.5)


def test_reverb_in_quanta_equals_one_shot_at_any_start(rng: np.random.Generator) -> None:
    """A mix's aligned 4096-frame blocks take the reverb's one-segment wander path; it
    gives the same samples as one long block (the general path), from any start."""
    x = (rng.standard_normal((2, 4096 * 12)) * 0.1).astype(np.float32)
    for start in (0, 4096 * 7, 1000):
        one = Reverb(sample_rate=SR)
        one.start_at(start)
        whole = one.process(x)
        blocks = Reverb(sample_rate=SR)
        blocks.start_at(start)
        parts = [blocks.process(x[:, i : i + 4096]) for i in range(0, x.shape[1], 4096)]
        np.testing.assert_array_equal(np.concatenate(parts, axis=1), whole)
    assert np.any(whole != 0)


# -- Filter ------------------------------------------------------------------------------
def _sine_gain_db(f: Filter, freq_hz: float) -> float:
    x = sine(freq_hz, 1.0)
    y = f.process(x)
    f.reset()
    half = x.shape[1] // 2  # steady state only
    return rms_db(y[:, half:]) - rms_db(x[:, half:])


@pytest.mark.parametrize("kind", ["lowpass", "highpass"])
@pytest.mark.parametrize("order", [2, 4])
def test_filter_matches_the_butterworth_magnitude(kind: str, order: int) -> None:
    """|H|² = 1 / (1 + (Ω/Ωc)^2n), with Ω = tan(πf/fs) (bilinear transform, prewarped)."""
    fc = 1000.0
    f = Filter(kind, cutoff_hz=fc, order=order, sample_rate=SR)
    for freq in (125.0, 250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0):
        ratio = np.tan(np.pi * freq / SR) / np.tan(np.pi * fc / SR)
        if kind == "highpass":
            ratio = 1 / ratio
        expected = -10 * np.log10(1 + ratio ** (2 * order))
        assert _sine_gain_db(f, freq) == pytest.approx(expected, abs=0.1)


def test_lowpass_attenuates_noise_above_cutoff(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 4 * SR)).astype(np.float32)
    y = Filter("lowpass", cutoff_hz=1000.0, order=4, sample_rate=SR).process(x)
    f, px = signal.welch(x[0], fs=SR, nperseg=4096)
    _, py = signal.welch(y[0], fs=SR, nperseg=4096)
    gain = 10 * np.log10(py / px)
    assert np.all(np.abs(gain[(f > 50) & (f < 400)]) < 0.5)
    assert np.all(gain[(f > 4000) & (f < 20_000)] < -45)


def test_bandpass_passes_its_band_only() -> None:
    f = Filter("bandpass", cutoff_hz=1000.0, bandwidth_octaves=1.0, order=4, sample_rate=SR)
    assert _sine_gain_db(f, 1000.0) == pytest.approx(0.0, abs=0.5)
    assert _sine_gain_db(f, 4000.0) < -30
    assert _sine_gain_db(f, 250.0) < -30


def test_filter_parameters_are_checked() -> None:
    with pytest.raises(ParameterError) as exc:
        Filter("lowpass", cutoff_hz=30_000.0, sample_rate=SR)
    assert exc.value.field == "cutoff_hz" and "21600" in exc.value.message
    with pytest.raises(ParameterError) as exc:
        Filter("notch", cutoff_hz=1000.0, sample_rate=SR)
    assert exc.value.field == "kind"
    with pytest.raises(ParameterError) as exc:
        Filter("lowpass", cutoff_hz=1000.0, sample_rate=SR).process(np.zeros((3, 10)))
    assert exc.value.field == "audio"


# -- StartleGuard ------------------------------------------------------------------------
def _noise(rng: np.random.Generator, seconds: float, level_db: float) -> np.ndarray:
    b, a = signal.butter(2, 4000, fs=SR)
    x = signal.lfilter(b, a, rng.standard_normal((2, round(seconds * SR))), axis=1)
    return (x / np.std(x) * 10 ** (level_db / 20)).astype(np.float32)


def test_startle_check_instrument_flags_a_jump_and_passes_steady_noise(
    rng: np.random.Generator,
) -> None:
    steady = _noise(rng, 20.0, -30.0)
    assert startle_check(steady, SR).ok
    assert abs(startle_check(steady, SR).worst_rise_lu) < 1.0
    for step_db, ok in ((3.0, True), (10.0, False), (20.0, False)):
        jump = steady.copy()
        jump[:, 15 * SR :] *= 10 ** (step_db / 20)
        report = startle_check(jump, SR)
        assert report.ok is ok, (step_db, report)
        if not ok:
            assert 15.0 <= report.at_s <= 15.8  # the window that first holds the jump
            assert report.worst_rise_lu > step_db - 5.0


def test_startle_guard_softens_a_sudden_jump(rng: np.random.Generator) -> None:
    x = _noise(rng, 40.0, -30.0)
    x[:, 15 * SR : 35 * SR] *= 10.0  # +20 dB for 20 s
    guard = StartleGuard(sample_rate=SR)
    y = guard.process(x)
    lat = guard.latency_frames
    assert lat < 0.7 * SR
    assert not startle_check(x, SR).ok
    aligned = y[:, lat:]
    report = startle_check(aligned, SR)
    assert report.ok, report
    assert report.worst_rise_lu <= STARTLE_LIMIT_LU
    # untouched before the jump (exactly the delayed input) ...
    pre = 14 * SR
    np.testing.assert_array_equal(aligned[:, :pre], x[:, :pre])
    # ... and it recovers: by the end of the loud part the level is back within 1 dB
    end_in = rms_db(x[:, 33 * SR : 35 * SR])
    end_out = rms_db(aligned[:, 33 * SR : 35 * SR])
    assert end_out == pytest.approx(end_in, abs=1.0)


def test_startle_guard_leaves_steady_noise_untouched(rng: np.random.Generator) -> None:
    x = _noise(rng, 25.0, -25.0)
    guard = StartleGuard(sample_rate=SR)
    y = guard.process(x)
    lat = guard.latency_frames
    np.testing.assert_array_equal(y[:, :lat], 0.0)
    np.testing.assert_array_equal(y[:, lat:], x[:, :-lat])


def test_startle_guard_parameters_are_checked() -> None:
    with pytest.raises(ParameterError) as exc:
        StartleGuard(max_rise_lu=0.5, sample_rate=SR)
    assert exc.value.field == "max_rise_lu"


# -- Delay -------------------------------------------------------------------------------
def test_delay_shifts_exactly(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, 10_000)).astype(np.float32)
    y = Delay(123, channels=2, sample_rate=SR).process(x)
    np.testing.assert_array_equal(y[:, 123:], x[:, :-123])
    np.testing.assert_array_equal(y[:, :123], 0.0)
