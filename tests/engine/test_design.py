"""The numpy filter designs of sonora.engine.design agree with scipy and pyloudnorm.

The render path avoids importing scipy.signal (80 MB); these tests are where the
hand-written designs are held to the library ones.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pyloudnorm
import pytest
from scipy import ndimage, signal

from sonora.engine.design import (
    biquad,
    firwin_kaiser,
    k_weighting_sos,
    load_sosfilt_kernel,
    sos_response,
    sos_step_zi,
    window_min,
)
from sonora.engine.effects import Limiter


@pytest.mark.parametrize("kind", ["lowpass", "highpass"])
@pytest.mark.parametrize(
    ("cutoff_hz", "sample_rate"),
    [(40.0, 48_000), (2000.0, 48_000), (9000.0, 22_050), (30_000.0, 96_000)],
)
def test_biquad_equals_second_order_butterworth(
    kind: str, cutoff_hz: float, sample_rate: int
) -> None:
    ours = biquad(kind, cutoff_hz, sample_rate)
    ref = signal.butter(2, cutoff_hz, kind, fs=sample_rate, output="sos")
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("sample_rate", [22_050, 44_100, 48_000, 96_000])
def test_k_weighting_equals_pyloudnorm(sample_rate: int) -> None:
    meter = pyloudnorm.Meter(sample_rate)
    rows = [np.concatenate([f.b / f.a[0], f.a / f.a[0]]) for f in meter._filters.values()]
    np.testing.assert_allclose(k_weighting_sos(sample_rate), np.vstack(rows), rtol=1e-12)


def test_k_weighting_has_the_bs1770_shape() -> None:
    sos = k_weighting_sos(48_000)
    gain_db = 20 * np.log10(np.abs(sos_response(sos, np.array([20.0, 1000.0, 10_000.0]), 48_000)))
    assert gain_db[0] < -10.0  # high pass
    assert abs(gain_db[1]) < 1.0
    assert 3.5 < gain_db[2] < 4.5  # +4 dB shelf


def test_sos_response_matches_sosfreqz() -> None:
    sos = np.vstack([signal.butter(4, 700, fs=48_000, output="sos"), k_weighting_sos(48_000)])
    f = np.geomspace(10, 23_000, 300)
    _, ref = signal.sosfreqz(sos, worN=f, fs=48_000)
    np.testing.assert_allclose(sos_response(sos, f, 48_000), ref, rtol=1e-9, atol=1e-12)


def test_step_zi_matches_scipy_and_settles() -> None:
    sos = np.vstack([signal.butter(3, 300, fs=48_000, output="sos"), k_weighting_sos(48_000)])
    np.testing.assert_allclose(sos_step_zi(sos), signal.sosfilt_zi(sos), rtol=1e-9, atol=1e-12)
    y, _ = signal.sosfilt(sos, np.ones(64), zi=sos_step_zi(sos))
    dc = float(np.real(sos_response(sos, np.array([0.0]), 48_000))[0])
    np.testing.assert_allclose(y, dc, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("taps", "cutoff", "beta"), [(145, 0.25, 9.0), (64, 0.5, 7.5), (31, 0.1, 6.0)]
)
def test_firwin_kaiser_equals_scipy(taps: int, cutoff: float, beta: float) -> None:
    ref = signal.firwin(taps, cutoff, window=("kaiser", beta))
    np.testing.assert_allclose(firwin_kaiser(taps, cutoff, beta), ref, rtol=1e-9, atol=1e-14)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 241, 1000])
def test_window_min_equals_ndimage(size: int) -> None:
    x = np.random.default_rng(size).random(1000 + size)
    ours = window_min(x, size)
    # ndimage's centred window, shifted so that output j covers x[j : j + size]
    ref = ndimage.minimum_filter1d(x, size=size, origin=-(size // 2))[: len(x) - size + 1]
    np.testing.assert_array_equal(ours, ref)


def test_window_min_rejects_a_window_longer_than_the_signal() -> None:
    with pytest.raises(ValueError, match="size"):
        window_min(np.zeros(3), 4)


@pytest.mark.parametrize("loud_fraction", [1.0, 0.5, 0.05])  # dense and sparse paths
def test_limiter_peak_estimate_gives_the_gains_upfirdn_would(loud_fraction: float) -> None:
    """Interpolating only the "hot" frames changes no gain the limiter computes."""
    lim = Limiter(ceiling_dbtp=-1.0, sample_rate=48_000)
    n = 4096
    rng = np.random.default_rng(3)
    buf = rng.standard_normal((2, lim._hist_len + n)) * 0.3
    buf[:, : lim._hist_len + round(n * (1 - loud_fraction))] *= 0.05  # quiet, then loud
    buf = buf.astype(np.float32)
    f, os_ = lim._hist_len, lim._os
    ref = np.max(np.abs(buf[:, f:]), axis=0).astype(np.float64)
    for ch in range(2):
        up = signal.upfirdn(lim._fir, buf[ch].astype(np.float64), up=os_)
        seg = np.abs(up[os_ * (f - 1) + 1 : os_ * (f - 1) + 1 + n * os_])
        ref = np.maximum(ref, seg.reshape(n, os_).max(axis=1))
    ours = lim._peak_envelope(buf, n)
    assert np.any(ref > lim.ceiling)  # the case is not trivial
    hot = ref > lim.ceiling  # every frame the limiter must act on is estimated exactly
    np.testing.assert_allclose(ours[hot], ref[hot], rtol=1e-9)
    gain = np.minimum(1.0, lim.ceiling / ours)
    np.testing.assert_allclose(gain, np.minimum(1.0, lim.ceiling / ref), rtol=1e-9)


def test_limiter_safe_level_bounds_every_inter_sample_peak() -> None:
    """No signal below the safe level can interpolate above the ceiling (worst case)."""
    lim = Limiter(ceiling_dbtp=-1.0, sample_rate=48_000)
    for p in range(lim._os):
        taps = lim._phases[:, p]
        worst = np.sign(taps) * lim._safe * 0.999  # the signal that maximises phase p
        assert float(worst @ taps) < lim.ceiling


def test_kernel_loads_and_filters_like_sosfilt() -> None:
    kernel = load_sosfilt_kernel()
    assert kernel is not None
    sos = signal.butter(4, 1000, fs=48_000, output="sos")
    x = np.random.default_rng(1).standard_normal((2, 5000))
    y = x.copy()
    zi = np.zeros((2, sos.shape[0], 2))
    kernel(sos, y, zi)
    np.testing.assert_allclose(y, signal.sosfilt(sos, x, axis=-1), rtol=1e-12, atol=1e-12)


def test_the_render_path_does_not_import_scipy_signal() -> None:
    code = (
        "import sys; import sonora.engine.render, sonora.engine.noise, sonora.engine.tonal, "
        "sonora.engine.nature, sonora.engine.effects; "
        "print(sorted(m for m in sys.modules if m in ('scipy.signal', 'scipy.ndimage', "
        "'scipy.fft', 'scipy.stats', 'pyloudnorm')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_sos_kernel_is_found_while_another_thread_imports_scipy_signal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Mid-import, scipy.signal._sosfilt is in sys.modules without its functions yet: the
    # lookup took None from it, and the reverb fell back for the process's lifetime.
    import types

    name = "scipy.signal._sosfilt"
    monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    kernel = load_sosfilt_kernel()
    assert kernel is not None
    x = np.ones((1, 8))
    zi = np.zeros((1, 1, 2))
    kernel(np.array([[0.5, 0.0, 0.0, 1.0, 0.0, 0.0]]), x, zi)
    np.testing.assert_allclose(x, 0.5)
