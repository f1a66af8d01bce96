"""Tests for sonora.engine.modal: singing bowls, gongs and chimes, measured.

Single events are isolated by making the interval between events much longer than
the render (the first event starts a fraction of a second in).  Where the random
detail of a strike (beating phase) could sway one measurement, the median over a few
seeds is used.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal
from testkit import SR, click_stats

from sonora.engine.base import QUANTUM, make_rng
from sonora.engine.tonal import Chimes, Gong, SingingBowl
from sonora.errors import ParameterError

BOWL_RATIOS = (1.0, 2.76, 5.2, 8.3, 12.1, 16.5)  # as documented in SingingBowl


def one_bowl(seed: int = 1, seconds: float = 10.0, **params: float) -> np.ndarray:
    args = {"bowls": 1, "interval_s": 120.0, "rub": 0.0, "brightness": 1.0, "pitch_hz": 200.0}
    args.update(params)
    return SingingBowl(sample_rate=SR, seed=seed, **args).process(round(seconds * SR))


def one_gong(seed: int = 1, seconds: float = 10.0, **params: float) -> np.ndarray:
    args = {"interval_s": 180.0, "pitch_hz": 70.0}
    args.update(params)
    return Gong(sample_rate=SR, seed=seed, **args).process(round(seconds * SR))


def spectrum_db(x: np.ndarray, a_s: float, b_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Hann-windowed power spectrum (dB) of the mono sum between two times."""
    m = x[:, round(a_s * SR) : round(b_s * SR)].astype(np.float64).mean(axis=0)
    spec = np.abs(np.fft.rfft(m * np.hanning(m.size))) ** 2
    return np.fft.rfftfreq(m.size, 1 / SR), 10 * np.log10(spec + 1e-30)


def envelope(x: np.ndarray, win_s: float, band: tuple[float, float] | None = None) -> np.ndarray:
    """RMS envelope of the mono sum (optionally band-passed) in windows of ``win_s``."""
    m = x.astype(np.float64).mean(axis=0)
    if band is not None:
        sos = signal.butter(4, band, "bandpass", fs=SR, output="sos")
        m = signal.sosfilt(sos, m)
    h = round(win_s * SR)
    n = m.size // h
    return np.sqrt(np.mean(m[: n * h].reshape(n, h) ** 2, axis=1))


def count_peaks(x: np.ndarray) -> int:
    """Spectral peaks (3 Hz smoothing, >= 15 dB prominence, within 60 dB of the top)."""
    f, d = spectrum_db(x, 1.0, 9.0)
    k = max(1, round(3.0 / f[1]))
    sm = 10 * np.log10(np.convolve(10 ** (d / 10), np.ones(k) / k, mode="same") + 1e-30)
    sel = (f > 30) & (f < 8000)
    idx, _ = signal.find_peaks(sm, prominence=15)
    return sum(1 for i in idx if sel[i] and sm[i] > sm[sel].max() - 60)


# -- singing bowl -------------------------------------------------------------------------
def test_bowl_spectrum_has_peaks_at_the_documented_ratios() -> None:
    pitch = 200.0
    f, d = spectrum_db(one_bowl(pitch_hz=pitch), 1.0, 9.0)
    top = {}
    for r in BOWL_RATIOS:
        near = (f > 0.97 * r * pitch) & (f < 1.03 * r * pitch)
        around = (f > 0.8 * r * pitch) & (f < 1.2 * r * pitch)
        assert d[near].max() - np.median(d[around]) > 20, f"no clear mode near {r} x pitch"
        top[r] = d[near].max()
    # inharmonic: nothing comparable at the harmonic positions 2x and 3x
    for h in (2.0, 3.0):
        near = (f > 0.99 * h * pitch) & (f < 1.01 * h * pitch)
        assert d[near].max() < top[1.0] - 30
    # and nothing below the fundamental
    below = (f > 30) & (f < 0.9 * pitch)
    assert d[below].max() < top[1.0] - 40


def test_bowl_pitch_follows_the_parameter() -> None:
    for pitch in (120.0, 330.0):
        f, d = spectrum_db(one_bowl(pitch_hz=pitch), 1.0, 9.0)
        idx, _ = signal.find_peaks(d, prominence=20)
        strong = [f[i] for i in idx if f[i] > 30 and d[i] > d.max() - 30]
        assert min(strong) == pytest.approx(pitch, rel=0.01)  # lowest mode = pitch


def test_bowl_brightness_strengthens_the_upper_modes() -> None:
    def upper_share_db(brightness: float) -> float:
        f, d = spectrum_db(one_bowl(brightness=brightness), 1.0, 9.0)
        p = 10 ** (d / 10)
        low = p[(f > 150) & (f < 700)].sum()  # modes 1 and 2.76
        high = p[(f > 900) & (f < 3500)].sum()  # modes 5.2 .. 16.5
        return float(10 * np.log10(high / low))

    assert upper_share_db(1.0) > upper_share_db(0.0) + 10


def test_bowl_beats_but_a_gong_fundamental_does_not() -> None:
    """The fundamental band's envelope swells and fades (pairs of close modes)."""

    def wobble_db(x: np.ndarray, band: tuple[float, float]) -> float:
        e = envelope(x, 0.02, band)
        t = np.arange(e.size) * 0.02
        sel = (t > 1.0) & (t < 9.0)
        level = 20 * np.log10(e[sel])
        resid = level - np.polyval(np.polyfit(t[sel], level, 1), t[sel])  # minus the decay
        return float(np.ptp(resid))

    for seed in range(3):
        assert wobble_db(one_bowl(seed=seed), (185.0, 215.0)) > 6.0
        assert wobble_db(one_gong(seed=seed), (60.0, 82.0)) < 3.0


def _attack(x: np.ndarray) -> tuple[float, float]:
    """(time to peak, time to half the peak) of a single event, from its onset, seconds."""
    e = envelope(x, 0.01)
    onset = int(np.argmax(e > 1e-3 * e.max()))
    rel = e[onset : onset + 400]
    return float(np.argmax(rel) * 0.01), float(np.argmax(rel >= 0.5 * rel.max()) * 0.01)


def test_rub_swells_slowly_and_strike_is_immediate() -> None:
    strikes = [_attack(one_bowl(seed=s, seconds=5.0, rub=0.0)) for s in range(6)]
    rubs = [_attack(one_bowl(seed=s, seconds=5.0, rub=1.0)) for s in range(6)]
    assert np.median([half for _, half in strikes]) < 0.1
    assert np.median([peak for peak, _ in rubs]) > 0.5
    assert min(peak for peak, _ in rubs) > 0.5
    assert np.median([half for _, half in rubs]) > 3 * np.median([half for _, half in strikes])


# -- gong -------------------------------------------------------------------------------
def test_gong_has_many_more_modes_than_a_bowl() -> None:
    bowl, gong = count_peaks(one_bowl()), count_peaks(one_gong())
    assert bowl >= len(BOWL_RATIOS)
    assert gong >= 2 * bowl


def test_gong_high_modes_bloom_after_the_low_hum() -> None:
    for seed in range(3):
        g = one_gong(seed=seed, bloom_s=3.0)
        low = envelope(g, 0.05, (60.0, 82.0))
        high = envelope(g, 0.05, (8 * 70.0, 40 * 70.0))
        assert np.argmax(high) * 0.05 > np.argmax(low) * 0.05 + 0.4


def test_longer_bloom_peaks_later() -> None:
    def high_peak_s(bloom: float, seed: int) -> float:
        g = one_gong(seed=seed, bloom_s=bloom)
        return float(np.argmax(envelope(g, 0.05, (8 * 70.0, 40 * 70.0))) * 0.05)

    short = np.median([high_peak_s(0.5, s) for s in range(3)])
    long = np.median([high_peak_s(6.0, s) for s in range(3)])
    assert long > short + 0.2


def test_gong_fundamental_decays_at_the_documented_t60() -> None:
    decay_s = 25.0
    for seed in range(2):
        e = envelope(one_gong(seed=seed, seconds=16.0, decay_s=decay_s), 0.1, (60.0, 82.0))
        t = np.arange(e.size) * 0.1
        sel = (t > 2.0) & (t < 15.0)
        slope_db_per_s = np.polyfit(t[sel], 20 * np.log10(e[sel]), 1)[0]
        t60 = -60.0 / slope_db_per_s
        assert 0.75 * decay_s < t60 < 1.25 * decay_s  # documented: ±20 % per strike


# -- chimes -----------------------------------------------------------------------------
def test_chimes_ring_at_and_above_pitch() -> None:
    pitch = 880.0
    x = Chimes(sample_rate=SR, seed=0, rate_per_min=60.0, pitch_hz=pitch).process(20 * SR)
    f, d = spectrum_db(x, 0.0, 20.0)
    p = 10 ** (d / 10)
    audible = f > 40
    below = audible & (f < 0.95 * pitch)
    assert 10 * np.log10(p[below].sum() / p[audible].sum()) < -30
    idx, _ = signal.find_peaks(d, prominence=20)
    strong = [f[i] for i in idx if d[i] > d.max() - 30]
    assert min(strong) >= 0.99 * pitch
    # the strongest peak is one of the pentatonic tubes' fundamentals
    tubes = pitch * 2 ** (np.array([0, 2, 4, 7, 9, 12, 14]) / 12)
    fmax = f[np.argmax(d * audible)]
    assert np.min(np.abs(fmax / tubes - 1)) < 0.01


def test_chimes_rate_sets_how_busy_they_are() -> None:
    def strikes(rate: float) -> int:
        x = Chimes(sample_rate=SR, seed=2, rate_per_min=rate).process(120 * SR)
        e = envelope(x, 0.02)
        jumps = np.diff(e) > 0.05 * e.max()
        return int(np.sum(jumps[1:] & ~jumps[:-1]))

    # 10x the rate: clustered strikes merge, so ask for clearly busier, not exactly 10x
    assert strikes(40.0) > 2.5 * strikes(4.0)


# -- seams --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cls", "params"),
    [
        (Gong, {"interval_s": 180.0}),
        (SingingBowl, {"interval_s": 120.0, "bowls": 1}),
        (Chimes, {"rate_per_min": 6.0}),
    ],
    ids=["Gong", "SingingBowl", "Chimes"],
)
def test_ringing_modes_have_no_seams_at_quantum_boundaries(cls: type, params: dict) -> None:
    """A ringing tail is smooth: nothing may jump where one quantum meets the next."""
    x = cls(sample_rate=SR, seed=0, **params).process(40 * SR)
    c = click_stats(x, period=QUANTUM, offset=0)
    assert c.worst_ratio <= 1.5 * c.control_worst_ratio, c


# -- common -----------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [SingingBowl, Gong, Chimes])
def test_modal_sources_are_seeded(cls: type) -> None:
    a = cls(sample_rate=SR, seed=5).process(3 * SR)
    np.testing.assert_array_equal(a, cls(sample_rate=SR, seed=5).process(3 * SR))
    assert not np.array_equal(a, cls(sample_rate=SR, seed=6).process(3 * SR))
    assert a.shape == (2, 3 * SR) and np.all(np.isfinite(a))


@pytest.mark.parametrize(
    ("cls", "param", "value", "allowed"),
    [
        (SingingBowl, "pitch_hz", 20.0, "[60, 700]"),
        (Gong, "bloom_s", 9.0, "[0.3, 8]"),
        (Chimes, "rate_per_min", 0.0, "[1, 60]"),
        (SingingBowl, "rub", float("nan"), "[0, 1]"),
    ],
)
def test_modal_parameter_errors_name_field_and_range(
    cls: type, param: str, value: float, allowed: str
) -> None:
    with pytest.raises(ParameterError) as exc:
        cls(sample_rate=SR, **{param: value})
    assert exc.value.field == f"{cls.__name__}.{param}"
    assert allowed in exc.value.message


def test_modes_above_nyquist_are_dropped_at_low_sample_rates() -> None:
    sr = 22_050
    x = Chimes(sample_rate=sr, seed=1, rate_per_min=60.0, pitch_hz=2500.0).process(10 * sr)
    assert np.all(np.isfinite(x)) and np.max(np.abs(x)) > 0
    f, p = signal.welch(x.mean(axis=0), fs=sr, nperseg=4096)
    assert p[f > 0.46 * sr].sum() < 1e-6 * p.sum()


def test_chunked_modal_render_is_the_sum_of_damped_exponentials() -> None:
    """Strikes starting mid-quantum, rendered in chunks, equal the closed form.

    ModalStrikes (a strike every second from frame 0, centre, fixed modes with a 5 ms
    attack) is compared over its first 2 s (before any mode falls 80 dB and is
    dropped) with ``sum_onsets Im(sum_m A_m exp(s_m (t - t0)))`` evaluated directly:
    each onset's own chunk, the chunk-start phasors and the quantum steps all have to
    be right for this to hold to float32 precision.
    """
    from sonora.engine.tonal import ModalStrikes
    from sonora.engine.tonal.modal import _pan_gains

    src = ModalStrikes(sample_rate=SR, seed=0, pitch_hz=330.0, interval_s=1.0)
    out = src.process(2 * SR).astype(np.float64)
    s, amp, pan = src._make_modes(np.random.default_rng(0))
    ref = np.zeros_like(out)
    for onset in (0, SR):
        t = np.arange(out.shape[1] - onset) / SR
        mono = (amp[:, None] * np.exp(np.multiply.outer(s, t))).sum(axis=0).imag
        ref[:, onset:] += _pan_gains(pan)[:, None].astype(np.float64) * mono
    assert SR % QUANTUM and np.max(np.abs(ref)) > 0.1  # onsets mid-quantum, audible
    np.testing.assert_allclose(out, ref, rtol=0, atol=1e-6 * np.max(np.abs(ref)))


def _friction_reference(
    seed: int,
    frame: int,
    sample_rate: int,
    rubs: list[tuple[int, int, float, float, np.ndarray, float, float]],
) -> np.ndarray:
    """The friction noise of one quantum, written plainly (the reference for tests).

    Parameters
    ----------
    seed : int
        The source's seed.
    frame : int
        Absolute frame of the quantum's start (a multiple of ``QUANTUM``).
    sample_rate : int
        Sample rate in Hz.
    rubs : list of tuple
        ``(onset_frame, frames, f0_hz, level, pan gains float64 (2,), hard, edge)``.

    Returns
    -------
    numpy.ndarray
        float32 ``(2, QUANTUM)``: what :meth:`SingingBowl._extra` adds to zeros.
    """
    out = np.zeros((2, QUANTUM), dtype=np.float32)
    start, end = frame, frame + QUANTUM
    rubs = [r for r in rubs if r[0] + r[1] > start]
    if not rubs:
        return out
    q = frame // QUANTUM
    pts = QUANTUM // 32
    a = make_rng(seed, "SingingBowl", "friction", q).standard_normal((2, pts))
    b = make_rng(seed, "SingingBowl", "friction", q + 1).standard_normal((2, pts))
    ctrl = np.concatenate([a, b[:, :1]], axis=1)
    x = np.arange(QUANTUM) / 32
    i0 = x.astype(np.int64)
    w = x - i0
    narrow = ctrl[0, i0] * (1 - w) + ctrl[0, i0 + 1] * w
    scratch = make_rng(seed, "SingingBowl", "scratch", q).standard_normal(QUANTUM)
    t = (np.arange(start, end)) / sample_rate
    for onset, dur, f0, level, pan, hard, edge in rubs:
        k = np.arange(start, end) - onset
        if k[-1] < 0:
            continue
        ph = np.clip(k / dur, 0.0, 1.0)
        env = np.sin(np.pi * ph) ** 2 * (k >= 0)
        carrier = np.sin(2 * np.pi * f0 * t) + 0.4 * hard * np.sin(2 * np.pi * 2.76 * f0 * t)
        y = level * hard * env * (narrow * carrier + 0.15 * hard * edge * scratch)
        out += (pan[:, None] * y[None, :]).astype(np.float32)
    return out


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_bowl_friction_noise_is_the_plain_reference_bit_for_bit(seed: int) -> None:
    """The rubs' friction noise (cached draws, in-place arithmetic) adds exactly what
    the plain formula (``_friction_reference``) gives, quantum by quantum."""
    bowl = SingingBowl(sample_rate=SR, seed=seed, rub=1.0, interval_s=3.0, bowls=3)
    checked = 0
    for _ in range(round(40 * SR / QUANTUM)):
        rubs = list(bowl._rubs)
        frame = bowl.frame
        mine = np.zeros((2, QUANTUM), dtype=np.float32)
        bowl._extra(mine)
        ref = _friction_reference(bowl.seed, frame, SR, rubs)
        np.testing.assert_array_equal(mine, ref)
        checked += bool(np.any(ref))
        bowl._rubs = rubs  # as it was: the quantum below renders them again
        bowl.process(QUANTUM)
    assert checked > 100  # most quanta carry friction noise
