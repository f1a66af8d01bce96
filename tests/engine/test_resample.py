"""Tests for sonora.engine.resample: the streaming polyphase resampler (measured audio)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from sonora.engine.resample import StreamResampler


def _resample(x: np.ndarray, in_rate: int, out_rate: int, sizes: list[int]) -> np.ndarray:
    r = StreamResampler(in_rate, out_rate, x.shape[0])
    parts, i, k = [], 0, 0
    while i < x.shape[1]:
        n = sizes[k % len(sizes)]
        parts.append(r.process(x[:, i : i + n]))
        i, k = i + n, k + 1
    parts.append(r.flush())
    return np.concatenate(parts, axis=1)


def _sine(freq_hz: float, rate: int, seconds: float = 2.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return np.stack([amp * np.sin(2 * np.pi * freq_hz * t)] * 2).astype(np.float32)


def _spectrum_db(y: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Power spectrum (dB re the peak) of the steady middle of ``y``, Blackman-Harris."""
    seg = y[round(0.25 * rate) : round(0.25 * rate) + 65536].astype(np.float64)
    spec = np.abs(np.fft.rfft(seg * signal.windows.blackmanharris(len(seg)))) ** 2
    f = np.fft.rfftfreq(len(seg), 1 / rate)
    return f, 10 * np.log10(spec / spec.max() + 1e-30)


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "freq_hz"),
    [(44_100, 48_000, 1000.0), (22_050, 48_000, 440.0), (96_000, 48_000, 10_000.0)],
)
def test_a_sine_keeps_its_frequency_level_and_length(
    in_rate: int, out_rate: int, freq_hz: float
) -> None:
    x = _sine(freq_hz, in_rate)
    y = _resample(x, in_rate, out_rate, [4096])
    assert y.shape == (2, -(-x.shape[1] * out_rate // in_rate))
    mid = slice(round(0.1 * out_rate), round(1.9 * out_rate))
    level_db = 20 * np.log10(
        np.sqrt(np.mean(y[0, mid].astype(np.float64) ** 2)) / (0.5 / np.sqrt(2))
    )
    assert abs(level_db) < 0.1
    f, p = _spectrum_db(y[0], out_rate)
    assert f[np.argmax(p)] == pytest.approx(freq_hz, abs=1.0)
    # no delay: output frame k is the input signal at k / out_rate
    t = np.arange(y.shape[1]) / out_rate
    ref = 0.5 * np.sin(2 * np.pi * freq_hz * t)
    assert np.max(np.abs(y[0, mid] - ref[mid])) < 1e-4


@pytest.mark.parametrize(
    ("in_rate", "out_rate", "freq_hz"),
    [
        (44_100, 48_000, 15_000.0),  # images at 29.1 kHz would fold to 18.9 kHz
        (22_050, 48_000, 9_000.0),  # images at 13.05 and 31.1 kHz
        (96_000, 48_000, 30_000.0),  # above the new Nyquist: would alias to 18 kHz
        (96_000, 48_000, 15_000.0),
    ],
)
def test_images_and_aliases_stay_below_80_db(in_rate: int, out_rate: int, freq_hz: float) -> None:
    x = _sine(freq_hz, in_rate)
    y = _resample(x, in_rate, out_rate, [4096])
    f, p = _spectrum_db(y[0], out_rate)
    if freq_hz < out_rate / 2:  # the tone itself passes; everything else is > 80 dB down
        assert abs(f[np.argmax(p)] - freq_hz) < 2.0
        away = np.abs(f - freq_hz) > 200.0
        assert p[away].max() < -80.0
    else:  # the tone is above the new Nyquist frequency: only a faint alias may remain
        mid = y[0, round(0.1 * out_rate) : round(1.9 * out_rate)].astype(np.float64)
        in_db = 20 * np.log10(np.sqrt(np.mean(mid**2)) / (0.5 / np.sqrt(2)))
        assert in_db < -80.0


def test_output_is_identical_for_any_chunk_size(rng: np.random.Generator) -> None:
    x = (rng.standard_normal((2, 3 * 44_100)) * 0.1).astype(np.float32)
    whole = _resample(x, 44_100, 48_000, [x.shape[1]])
    for sizes in ([1, 7, 333, 4096, 99], [147], [50_000, 3]):
        np.testing.assert_array_equal(_resample(x, 44_100, 48_000, sizes), whole)


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="sample rates"):
        StreamResampler(0, 48_000, 2)
    with pytest.raises(ValueError, match="expected shape"):
        StreamResampler(44_100, 48_000, 2).process(np.zeros((1, 10)))
