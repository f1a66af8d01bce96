"""How the built-in sound *sounds* (issue #12), measured in the audio.

The instruments are written here (numpy/scipy), independently of
:mod:`sonora.engine.soundcheck`, so the engine is not graded with its own ruler.  Renders
are short and at 24 kHz where the figure does not depend on the top octave.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from sonora.engine.base import QUANTUM, Source
from sonora.engine.tonal import Chimes, Drone, Gong, SingingBowl
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix, layer_seed

SR = 48_000
LOW_SR = 24_000


def guard_gains_db(scene: str, seconds: float, sample_rate: int) -> np.ndarray:
    """Gain (dB) the startle guard gave each block it played, over a whole render."""
    mix = build_mix(load_scene(scene), duration_s=seconds, seed=7, sample_rate=sample_rate)
    guard = mix.guard
    gains: list[float] = []
    decide = guard._block

    def spy(x: np.ndarray) -> None:
        n = len(guard._pending)
        decide(x)
        if len(guard._pending) == n:  # a block was decided and played
            gains.append(guard._gain_db)

    guard._block = spy
    for _ in mix.blocks():
        pass
    return np.asarray(gains)


@pytest.mark.parametrize("scene", ["gong-bath", "singing-bowl-bath", "rain-with-bowls"])
def test_guard_acts_at_most_two_percent_of_the_time(scene: str) -> None:
    """Strikes are shaped at the source: the guard is a safety net, not the mixer."""
    g = guard_gains_db(scene, 150.0, LOW_SR)
    assert len(g) > 0.9 * 150.0 * LOW_SR / QUANTUM
    assert np.mean(g < -1.0) <= 0.02, f"guard cut > 1 dB for {100 * np.mean(g < -1.0):.1f} %"


def strike(cls: type[Source], seed: int, **params: float) -> tuple[np.ndarray, int]:
    """First strike of ``cls`` alone (mono, float64) and its onset frame."""
    y = cls(sample_rate=SR, seed=seed, **params).process(12 * SR).astype(np.float64).mean(axis=0)
    onset = int(np.argmax(np.abs(y) > 1e-3 * np.abs(y).max()))
    return y, onset


INSTRUMENTS = [
    (SingingBowl, {"rub": 0.0, "bowls": 1.0, "interval_s": 120.0, "pitch_hz": 196.0}),
    (Gong, {"interval_s": 180.0, "pitch_hz": 70.0}),
    (Chimes, {"rate_per_min": 1.0}),
]


@pytest.mark.parametrize(("cls", "params"), INSTRUMENTS, ids=lambda v: getattr(v, "__name__", ""))
def test_strikes_carry_energy_above_4_khz(cls: type[Source], params: dict) -> None:
    """Within 100 ms of a strike, more than -40 dB of the energy lies above 4 kHz."""
    for seed in range(3):
        y, onset = strike(cls, seed, **params)
        seg = y[onset : onset + SR // 10]
        f, p = signal.periodogram(seg, fs=SR, window="hann")
        share_db = 10 * np.log10(p[f > 4000].sum() / p.sum())
        assert share_db > -40.0, (cls.__name__, seed, share_db)


def test_a_chime_strike_starts_with_a_bright_tink() -> None:
    """The clapper's contact is heard above 4 kHz and is gone within a few tenths of a
    second: the >4 kHz share of the first 20 ms is well above that of 20 ms at 0.3 s."""

    def hf_share_db(seg: np.ndarray) -> float:
        f, p = signal.periodogram(seg, fs=SR, window="boxcar")
        return float(10 * np.log10(p[f > 4000].sum() / p.sum()))

    lift = []
    for seed in range(4):
        y, onset = strike(Chimes, seed, rate_per_min=1.0)
        early = hf_share_db(y[onset : onset + SR // 50])
        late = hf_share_db(y[onset + int(0.3 * SR) : onset + int(0.32 * SR)])
        assert early > -30.0, (seed, early)
        lift.append(early - late)
    # without the tink (modes only) the lift averaged 3 dB; with it 15 dB
    assert np.mean(lift) >= 8.0, lift


def band_decay_db_per_s(y: np.ndarray, onset: int, lo: float, hi: float, span_s: float) -> float:
    """Decay rate (dB/s) of the energy in ``lo``–``hi`` Hz from its peak to 30 dB down."""
    sos = signal.butter(8, [lo, hi], "bandpass", fs=SR, output="sos")  # steep: no leaks
    b = signal.sosfilt(sos, y[onset:])
    hop = SR // 20
    n = int(span_s * SR) // hop
    e = 10 * np.log10(np.mean(b[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-30)
    # The peak after the contact transient (the first 0.25 s): a gong's upper modes
    # bloom for a second or two before they decay.
    top = 5 + int(np.argmax(e[5 : int(3.5 * 20)]))
    t = np.arange(n) / 20
    keep = (np.arange(n) >= top) & (e > e[top] - 30)
    keep &= np.cumsum(~keep & (np.arange(n) > top)) == 0
    return float(-np.polyfit(t[keep], e[keep], 1)[0])


@pytest.mark.parametrize(
    ("cls", "params", "f0", "upper"),
    [
        (SingingBowl, INSTRUMENTS[0][1], 196.0, (1400.0, 6000.0)),  # modes 8.3x and up
        (Gong, INSTRUMENTS[1][1], 70.0, (2400.0, 8000.0)),  # modes 34x and up
        (Chimes, {"rate_per_min": 1.0, "pitch_hz": 880.0}, None, None),
    ],
    ids=["SingingBowl", "Gong", "Chimes"],
)
def test_upper_modes_decay_at_least_three_times_faster(
    cls: type[Source], params: dict, f0: float | None, upper: tuple[float, float] | None
) -> None:
    for seed in range(2):
        y, onset = strike(cls, seed, **params)
        fund, band = f0, upper
        if fund is None:  # chimes: which tube was struck? the strongest peak above 300 Hz
            seg = y[onset : onset + SR // 4]
            f, p = signal.periodogram(seg, fs=SR, window="hann")
            p[f < 300] = 0
            fund = float(f[np.argmax(p)])
            band = (2.2 * fund, min(11_000.0, 6.0 * fund))
        low = band_decay_db_per_s(y, onset, 0.93 * fund, 1.07 * fund, 10.0)
        high = band_decay_db_per_s(y, onset, *band, 10.0)
        assert high >= 3.0 * low, (cls.__name__, seed, low, high)


def norm_autocorr_max(x: np.ndarray, lo: int, hi: int) -> float:
    x = x - x.mean()
    c = signal.correlate(x, x, mode="full", method="fft")[len(x) - 1 :]
    e = np.concatenate([[0.0], np.cumsum(x * x)])
    k = np.arange(lo, hi)
    return float(np.max(c[k] / np.sqrt(e[len(x) - k] * (e[-1] - e[k]))))


def test_deep_drone_does_not_repeat_and_is_balanced() -> None:
    """No waveform correlation > 0.5 at lags 0.5–60 s; L/R within 0.3 dB; not all bass."""
    d = Drone(sample_rate=LOW_SR, seed=3, pitch_hz=73.4, brightness=0.35, detune_cents=9.0)
    y = d.process(130 * LOW_SR).astype(np.float64)[:, 5 * LOW_SR :]
    mono = y.mean(axis=0)
    assert norm_autocorr_max(mono, LOW_SR // 2, 60 * LOW_SR) < 0.5
    lr_db = 10 * np.log10(np.mean(y[1] ** 2) / np.mean(y[0] ** 2))
    assert abs(lr_db) < 0.3
    f, p = signal.welch(mono, fs=LOW_SR, nperseg=8192)
    assert p[f < 100].sum() / p.sum() < 0.6  # was 0.77: inaudible on a phone


def test_layer_seeds_depend_on_scene_and_source() -> None:
    a = layer_seed(1, 0, scene="rain", source="rain")
    assert a == layer_seed(1, 0, scene="rain", source="rain")
    assert a != layer_seed(1, 0, scene="binaural-calm", source="rain")
    assert a != layer_seed(1, 0, scene="rain", source="wind")
    assert a != layer_seed(2, 0, scene="rain", source="rain")


def test_same_source_in_two_scenes_plays_different_rain() -> None:
    def first_layer(scene: str) -> np.ndarray:
        mix = build_mix(load_scene(scene), duration_s=2.0, seed=1, target_lufs=None)
        return mix.layers[0].source.process(SR)

    assert not np.allclose(first_layer("rain"), first_layer("binaural-calm"), atol=1e-3)


@pytest.mark.parametrize("cls", [SingingBowl, Gong, Chimes])
def test_modal_source_resumes_anywhere_after_its_warmup(cls: type[Source]) -> None:
    """Started ``warmup_s`` before an offset, a source plays what it played there.

    Events are drawn per slot/segment (not from one stream since time zero), so a source
    started at quantum ``k`` only misses strikes older than its warm-up, which have
    rung down by then.
    """
    sr = LOW_SR
    params = {"interval_s": 6.0} if cls is not Chimes else {"rate_per_min": 20.0}
    at_s = cls.warmup_s + 10.0
    whole = cls(sample_rate=sr, seed=4, **params).process(int((at_s + 5.0) * sr))
    late = cls(sample_rate=sr, seed=4, **params)
    k0 = int((at_s - cls.warmup_s) * sr) // QUANTUM * QUANTUM
    late.frame = k0  # start mid-session, on a quantum boundary
    part = late.process(int((at_s + 5.0) * sr) - k0)
    a = whole[:, -5 * sr :].astype(np.float64)
    b = part[:, -5 * sr :].astype(np.float64)
    err_db = 10 * np.log10(np.mean((a - b) ** 2) / np.mean(a**2))
    assert err_db < -40.0, err_db


def _phone_share_db(y: np.ndarray, sample_rate: int) -> float:
    """Power through a phone speaker (4th-order Butterworth high-pass at 300 Hz) over
    the full-band power, dB (own code; the benchmark K-weights, this does not)."""
    mono = y.mean(axis=0)
    sos = signal.butter(4, 300.0, "highpass", fs=sample_rate, output="sos")
    return float(10 * np.log10(np.mean(signal.sosfilt(sos, mono) ** 2) / np.mean(mono**2)))


@pytest.mark.parametrize(("source", "params"), [(Drone, {"pitch_hz": 65.0, "brightness": 0.2})])
def test_a_low_drone_carries_on_a_phone_speaker(source: type[Source], params: dict) -> None:
    """A 65 Hz drone (gong-bath's until round 8): its formant harmonics reach a phone (was -20.6 dB)."""
    y = source(sample_rate=LOW_SR, seed=2, **params).process(40 * LOW_SR).astype(np.float64)
    assert _phone_share_db(y[:, 5 * LOW_SR :], LOW_SR) > -12.0


def test_a_gong_carries_on_a_phone_speaker() -> None:
    """gong-bath's gong: its body modes (up to 4× the hum) reach a phone."""
    g = Gong(sample_rate=LOW_SR, seed=2, pitch_hz=65.0, interval_s=6.0, brightness=0.45)
    y = g.process(60 * LOW_SR).astype(np.float64)[:, 10 * LOW_SR :]
    assert _phone_share_db(y, LOW_SR) > -15.0


def test_each_breath_sounds_different_but_keeps_time() -> None:
    """The breath noise's colour differs from breath to breath; its peaks stay on time."""
    from sonora.engine.tonal import BreathPacer

    src = BreathPacer(sample_rate=LOW_SR, seed=4, breaths_per_min=6.0, tone_mix=0.0)
    y = src.process(125 * LOW_SR).astype(np.float64).mean(axis=0)
    t = np.arange(10 * LOW_SR) / LOW_SR  # each breath: 10 s, the top at 4 s (ratio 0.4)
    ideal = np.where(
        t < 4, 0.5 - 0.5 * np.cos(np.pi * t / 4), 0.5 + 0.5 * np.cos(np.pi * (t - 4) / 6)
    )

    def top_centre_s(power: np.ndarray) -> float:
        """Centre of the part of a breath within 70 % of its top (s)."""
        top = power > 0.7 * power.max()
        return float(np.mean(t[top]))

    want = top_centre_s(0.12 + 0.88 * ideal)
    smooth = signal.butter(2, 1.0, fs=LOW_SR, output="sos")
    power = signal.sosfiltfilt(smooth, y**2)
    centroids, peaks = [], []
    for k in range(1, 12):
        breath = y[k * 10 * LOW_SR : (k + 1) * 10 * LOW_SR]
        peaks.append(top_centre_s(power[k * 10 * LOW_SR : (k + 1) * 10 * LOW_SR]))
        top = breath[3 * LOW_SR : 5 * LOW_SR]
        f, p = signal.welch(top, fs=LOW_SR, nperseg=4096)
        band = (f > 150) & (f < 3000)
        centroids.append(np.sum(f[band] * p[band]) / np.sum(p[band]))
    assert max(centroids) / min(centroids) > 1.3, centroids  # was ~1.05: one colour
    assert np.all(np.abs(np.array(peaks) - want) < 0.5), (want, peaks)  # ... on time


def test_gong_bath_is_balanced_left_right() -> None:
    """The gong (centred) and the drone (twins left and right) do not share a pitch.

    With the drone in unison with the gong's hum, a strike detuned within a cent of
    one twin beat with it for tens of seconds on that side only: 150 s at seed 1 leaned
    +0.42 dB.  The drone now sits an octave above the hum.
    """
    mix = build_mix(load_scene("gong-bath"), duration_s=150.0, seed=1, sample_rate=LOW_SR)
    y = np.concatenate(list(mix.blocks()), axis=1).astype(np.float64)
    y = y[:, 10 * LOW_SR : -25 * LOW_SR]  # the fades left out
    lr_db = 10 * np.log10(np.mean(y[1] ** 2) / np.mean(y[0] ** 2))
    assert abs(lr_db) < 0.3, lr_db
