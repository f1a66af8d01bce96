"""Tests for sonora.engine.nature: rain, ocean waves, wind and a forest stream.

Every test measures rendered audio; nothing is mocked.  Most renders run at 24 kHz to
keep the suite fast; sample-rate handling is checked separately at 22.05 and 96 kHz.
"""

from __future__ import annotations

import numpy as np
import pyloudnorm
import pytest
from scipy import signal, stats

from sonora.engine.base import QUANTUM, Source
from sonora.engine.nature import OceanWaves, Rain, Stream, Wind
from sonora.errors import ParameterError

SR = 24_000
SOURCES: list[type[Source]] = [Rain, OceanWaves, Wind, Stream]
IDS = [c.__name__ for c in SOURCES]


def render(
    cls: type[Source], seconds: float, *, sr: int = SR, seed: int = 0, **params: float
) -> np.ndarray:
    """Render ``seconds`` of ``cls`` in one call; float32 ``(2, frames)``."""
    return cls(sample_rate=sr, seed=seed, **params).process(round(seconds * sr))


def extreme_params(cls: type[Source], which: str) -> dict[str, float]:
    """Every parameter at its low (``"low"``) or high (``"high"``) end."""
    return {name: getattr(spec, which) for name, spec in cls.PARAMS.items()}


# -- measurement helpers ------------------------------------------------------------
def momentary_power(x: np.ndarray, sr: int) -> np.ndarray:
    """BS.1770 K-weighted power of 400 ms windows every 100 ms (sum over channels)."""
    meter = pyloudnorm.Meter(sr)
    y = x.astype(np.float64)
    for stage in meter._filters.values():
        y = stage.apply_filter(y)
    hop = sr // 10
    n = y.shape[1] // hop
    p = (y[:, : n * hop] ** 2).reshape(y.shape[0], n, hop).mean(axis=-1).sum(axis=0)
    return np.convolve(p, np.ones(4) / 4, mode="valid")


def worst_startle_lu(x: np.ndarray, sr: int) -> float:
    """Largest rise (LU) of momentary loudness over the power mean of the previous 10 s."""
    m = momentary_power(x, sr)
    csum = np.concatenate([[0.0], np.cumsum(m)])
    idx = np.arange(100, m.size)
    ref = (csum[idx] - csum[idx - 100]) / 100
    return float(np.max(10 * np.log10(m[idx] / ref)))


def centroid_hz(x: np.ndarray, sr: int) -> float:
    """Spectral centroid of the mono sum, in Hz."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64).mean(axis=0))) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1 / sr)
    return float(np.sum(spec * f) / np.sum(spec))


def band_envelope(x: np.ndarray, sr: int, low_hz: float, smooth_hz: float = 150.0) -> np.ndarray:
    """Smoothed magnitude envelope of the mono sum above ``low_hz``."""
    hp = signal.butter(4, low_hz, "highpass", fs=sr, output="sos")
    lp = signal.butter(2, smooth_hz, fs=sr, output="sos")
    return signal.sosfilt(lp, np.abs(signal.sosfilt(hp, x.astype(np.float64).mean(axis=0))))


def onset_rate(env: np.ndarray, sr: int, *, k: float, median_s: float) -> float:
    """Onsets per second: upward crossings of ``k`` × a running median (1 ms grid)."""
    e = env[:: sr // 1000]
    med = signal.medfilt(e, 2 * int(median_s * 500) + 1)
    above = e > k * med
    onsets = np.flatnonzero(above[1:] & ~above[:-1])
    kept, last = 0, -100
    for o in onsets:  # at most one onset per 10 ms
        if o - last >= 10:
            kept, last = kept + 1, o
    return kept / (e.size / 1000)


def frame_tracks(x: np.ndarray, sr: int, hop_s: float):
    """Per-hop RMS and spectral centroid (Hz) of the mono sum."""
    hop = round(hop_s * sr)
    mono = x.astype(np.float64).mean(axis=0)
    n = mono.size // hop
    frames = mono[: n * hop].reshape(n, hop) * np.hanning(hop)
    spec = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    f = np.fft.rfftfreq(hop, 1 / sr)
    rms = np.sqrt(np.mean(mono[: n * hop].reshape(n, hop) ** 2, axis=1))
    return rms, spec @ f / spec.sum(axis=1)


# -- contract ---------------------------------------------------------------------------
@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_declares_the_source_contract(cls: type[Source]) -> None:
    assert cls.channels == 2
    assert cls.FAMILY == {"Rain": "rain", "Wind": "wind"}.get(cls.__name__, "water")
    assert cls.CALIBRATION_S >= 10
    for name, spec in cls.PARAMS.items():
        assert spec.low <= spec.default <= spec.high, name
        assert spec.doc, name
    x = render(cls, 0.5)
    assert x.dtype == np.float32
    assert x.shape == (2, SR // 2)


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_same_seed_same_samples_other_seed_other_samples(cls: type[Source]) -> None:
    a = render(cls, 2.0, seed=7)
    b = render(cls, 2.0, seed=7)
    c = render(cls, 2.0, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)
    # reset() returns to the start.
    src = cls(sample_rate=SR, seed=7)
    src.process(5000)
    src.reset()
    np.testing.assert_array_equal(src.process(a.shape[1]), a)


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_block_size_invariance(cls: type[Source]) -> None:
    sizes = [1] * 3000 + [64] * 30 + [65] * 30 + [4096] * 3 + [8193] * 2
    params = extreme_params(cls, "high")  # busiest: densest rain, most events
    src = cls(sample_rate=SR, seed=3, **params)
    chunked = np.concatenate([src.process(n) for n in sizes], axis=1)
    one_shot = render(cls, sum(sizes) / SR, seed=3, **params)
    assert chunked.shape == one_shot.shape
    np.testing.assert_array_equal(chunked, one_shot)


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
@pytest.mark.parametrize("which", ["low", "default", "high"])
def test_finite_no_dc_sane_level(cls: type[Source], which: str) -> None:
    params = {} if which == "default" else extreme_params(cls, which)
    x = render(cls, 20.0, **params).astype(np.float64)
    assert np.all(np.isfinite(x))
    rms = float(np.sqrt(np.mean(x**2)))
    assert 0.02 < rms < 0.3
    assert np.max(np.abs(x)) < 0.9
    assert np.all(np.abs(x.mean(axis=1)) < 0.01 * rms)


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
@pytest.mark.parametrize("sr", [22_050, 96_000])
def test_other_sample_rates(cls: type[Source], sr: int) -> None:
    x = render(cls, 3.0, sr=sr).astype(np.float64)
    assert np.all(np.isfinite(x))
    assert 0.02 < np.sqrt(np.mean(x**2)) < 0.3
    spec = np.abs(np.fft.rfft(x.mean(axis=0))) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1 / sr)
    assert spec[f > 0.45 * sr].sum() < 0.01 * spec.sum()  # nothing piles up at Nyquist


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_parameter_errors_name_the_field(cls: type[Source]) -> None:
    name = cls.__name__
    with pytest.raises(ParameterError) as err:
        cls(sample_rate=SR, volume=1.0)
    assert err.value.field == f"{name}.volume"
    for pname, spec in cls.PARAMS.items():
        for bad in (spec.low - 1.0, spec.high + 1.0):
            with pytest.raises(ParameterError) as err:
                cls(sample_rate=SR, **{pname: bad})
            assert err.value.field == f"{name}.{pname}"
            assert "out of range" in str(err.value)
        with pytest.raises(ParameterError):
            cls(sample_rate=SR, **{pname: float("nan")})
    with pytest.raises(ParameterError) as err:
        cls(sample_rate=SR).set_param("volume", 1.0)
    assert err.value.field == "volume"
    with pytest.raises(ParameterError) as err:
        cls(sample_rate=SR, seed=1.5)
    assert err.value.field == "seed"


# -- no startle -----------------------------------------------------------------------
@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
@pytest.mark.parametrize("which", ["low", "high"])
def test_no_startle(cls: type[Source], which: str) -> None:
    x = render(cls, 60.0, seed=11, **extreme_params(cls, which))
    assert worst_startle_lu(x, SR) < 6.0


@pytest.mark.parametrize(
    "cls, params",
    [
        (Rain, {"density": 0.0, "drop_level_db": 0.0}),  # sparse, loud drops
        (OceanWaves, {"swell_s": 16.0, "intensity": 1.0, "brightness": 1.0}),
        (OceanWaves, {"swell_s": 10.0, "intensity": 1.0, "brightness": 1.0}),
        (Wind, {"strength": 0.0, "gustiness": 1.0}),
    ],
)
def test_no_startle_at_the_hardest_settings(cls: type[Source], params: dict) -> None:
    for seed in (1, 2):
        x = render(cls, 75.0, seed=seed, **params)
        assert worst_startle_lu(x, SR) < 6.0


# -- automation -----------------------------------------------------------------------
def _max_jump(x: np.ndarray) -> float:
    return float(np.max(np.abs(np.diff(x.astype(np.float64), axis=1))))


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_automation_is_click_free(cls: type[Source]) -> None:
    """Jumping a parameter end to end between blocks makes no click."""
    sr = 48_000
    for pname, spec in cls.PARAMS.items():
        for start, end in ((spec.low, spec.high), (spec.high, spec.low)):
            src = cls(sample_rate=sr, seed=5, **{pname: start})
            before = src.process(3 * sr)
            src.set_param(pname, end)
            after = src.process(3 * sr)
            # The new value applies from the next quantum boundary.
            boundary = -(-3 * sr // QUANTUM) * QUANTUM - 3 * sr
            change = after[:, max(boundary - 64, 0) : boundary + QUANTUM]
            steady = max(_max_jump(before), _max_jump(after[:, sr:]))
            assert _max_jump(change) <= 1.1 * steady, (pname, start, end)
            # ...and the source does follow the new value.
            if pname in ("density", "strength", "flow"):
                lo, hi = (before, after[:, sr:]) if end > start else (after[:, sr:], before)
                assert np.std(hi) > 1.2 * np.std(lo), pname


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_quantum_boundaries_are_seamless(cls: type[Source]) -> None:
    x = render(cls, 20.0, **extreme_params(cls, "high")).astype(np.float64)
    d = np.abs(np.diff(x, axis=1))
    at_boundary = d[:, QUANTUM - 1 :: QUANTUM]
    assert at_boundary.mean() < 1.3 * d.mean()
    assert at_boundary.max() <= d.max()


# -- sounds like what it is named -----------------------------------------------------
def test_rain_has_transient_drops_that_follow_density() -> None:
    x = render(Rain, 20.0)
    env = band_envelope(x, SR, 2000.0)[SR:]
    assert stats.kurtosis(env) > 8.0  # peaky: drops over a hiss
    bed_only = band_envelope(render(Rain, 20.0, drop_level_db=-30.0), SR, 2000.0)[SR:]
    assert stats.kurtosis(bed_only) < 2.0
    rates = []
    for density in (0.0, 0.5, 1.0):
        env = band_envelope(render(Rain, 30.0, density=density), SR, 2000.0)
        rates.append(onset_rate(env, SR, k=2.5, median_s=0.5))
    assert rates[0] < rates[1] < rates[2], rates
    assert 1.0 < rates[0] < 6.0, rates
    # Louder and a fuller bed as it pours.
    assert np.sqrt(np.mean(render(Rain, 10.0, density=1.0) ** 2)) > 2 * np.sqrt(
        np.mean(render(Rain, 10.0, density=0.0) ** 2)
    )


def test_rain_drop_level_sets_the_balance() -> None:
    """Louder near drops stand further out of the hiss (a peakier envelope above 1 kHz)."""

    def peakiness(db: float) -> float:
        x = render(Rain, 20.0, seed=2, drop_level_db=db)
        return float(stats.kurtosis(band_envelope(x, SR, 1000.0)[SR:]))

    levels = [peakiness(db) for db in (-30.0, -15.0, -8.0, 0.0)]
    assert levels == sorted(levels)
    assert levels[-1] > 5.0 * max(levels[0], 0.5)


def _crests(rms: np.ndarray, hop_s: float, min_gap_s: float) -> np.ndarray:
    env = np.convolve(20 * np.log10(rms), np.ones(15) / 15, mode="same")  # 1.5 s smoothing
    peaks, _ = signal.find_peaks(env, distance=int(min_gap_s / hop_s), prominence=1.0)
    return peaks * hop_s


@pytest.mark.parametrize("swell_s", [6.0, 9.0])
def test_waves_swell_slowly_and_irregularly(swell_s: float) -> None:
    hop = 0.1
    seconds = 180.0
    x = render(OceanWaves, seconds, seed=4, swell_s=swell_s, intensity=0.7)
    rms, cent = frame_tracks(x, SR, hop)
    # Dominant period of the loudness envelope in 4-16 s, near swell_s.
    level = 20 * np.log10(rms)
    spec = np.convolve(np.abs(np.fft.rfft(level - level.mean())) ** 2, np.ones(5) / 5, "same")
    f = np.fft.rfftfreq(level.size, hop)
    band = (f > 1 / 30) & (f < 1)
    period = 1 / f[band][np.argmax(spec[band])]
    assert 4.0 <= period <= 16.0
    assert 0.6 * swell_s <= period <= 1.6 * swell_s
    # Crest to crest: several seconds apart, of irregular length (not a loop).
    cycles = np.diff(_crests(rms, hop, 0.45 * swell_s))
    assert cycles.size >= seconds / swell_s / 2
    assert 0.6 * swell_s < np.median(cycles) < 1.5 * swell_s
    assert np.std(cycles) / np.mean(cycles) > 0.1
    # The surf brightens as it swells (the bright backwash as it recedes blurs this).
    assert np.corrcoef(level, np.log(cent))[0, 1] > 0.2


def test_waves_swell_period_follows_the_parameter() -> None:
    def median_cycle_s(swell_s: float) -> float:
        rms = frame_tracks(render(OceanWaves, 150.0, swell_s=swell_s), SR, 0.1)[0]
        return float(np.median(np.diff(_crests(rms, 0.1, 0.45 * swell_s))))

    assert 2.0 < median_cycle_s(14.0) / median_cycle_s(5.0) < 4.0


def test_wind_band_wanders_and_follows_pitch() -> None:
    def centroid_track(pitch: float) -> np.ndarray:
        x = render(Wind, 120.0, seed=6, pitch_hz=pitch)
        return np.log2(frame_tracks(x, SR, 0.5)[1])

    low, high = centroid_track(200.0), centroid_track(800.0)
    assert 1.4 < np.median(high) - np.median(low) < 2.6  # two octaves apart
    for track in (low, high):
        assert np.std(track) > 0.15  # wanders (octaves)...
        assert np.corrcoef(track[:-1], track[1:])[0, 1] > 0.6  # ...slowly


def test_wind_gusts_move_the_level() -> None:
    def level_spread(gustiness: float) -> float:
        rms = frame_tracks(render(Wind, 120.0, seed=2, gustiness=gustiness), SR, 0.4)[0]
        return float(np.std(20 * np.log10(rms)))

    assert level_spread(1.0) > 1.3 * level_spread(0.0)


def test_stream_is_dense_bubbly_babble() -> None:
    for flow in (0.0, 0.5, 1.0):
        x = render(Stream, 20.0, flow=flow)
        spec = np.abs(np.fft.rfft(x.astype(np.float64).mean(axis=0))) ** 2
        f = np.fft.rfftfreq(x.shape[1], 1 / SR)
        assert spec[(f >= 400) & (f <= 3000)].sum() > 0.75 * spec.sum()
        env = band_envelope(x, SR, 400.0)[SR:]
        assert onset_rate(env, SR, k=1.5, median_s=0.2) > 15.0  # many small events
    quiet = np.sqrt(np.mean(render(Stream, 10.0, flow=0.0) ** 2))
    loud = np.sqrt(np.mean(render(Stream, 10.0, flow=1.0) ** 2))
    assert loud > 1.6 * quiet


@pytest.mark.parametrize("cls", [Rain, OceanWaves, Stream], ids=["Rain", "OceanWaves", "Stream"])
def test_brightness_raises_the_spectral_centroid(cls: type[Source]) -> None:
    dull = centroid_hz(render(cls, 30.0, brightness=0.0), SR)
    mid = centroid_hz(render(cls, 30.0, brightness=0.5), SR)
    bright = centroid_hz(render(cls, 30.0, brightness=1.0), SR)
    assert dull < mid < bright
    assert bright > 1.3 * dull


# -- detail (issue #12) ----------------------------------------------------------------
def band_power_share(x: np.ndarray, sr: int, lo_hz: float, hi_hz: float) -> float:
    """Share (0-1) of the power of the mono sum between ``lo_hz`` and ``hi_hz``."""
    spec = np.abs(np.fft.rfft(x.astype(np.float64).mean(axis=0))) ** 2
    f = np.fft.rfftfreq(x.shape[1], 1 / sr)
    return float(spec[(f >= lo_hz) & (f < hi_hz)].sum() / spec.sum())


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_resumes_exactly_after_its_warmup(cls: type[Source]) -> None:
    """Randomness is keyed to absolute quanta: a seek plus ``warmup_s`` is the same sound."""
    sr = 24_000
    params = extreme_params(cls, "high")
    ref = cls(sample_rate=sr, seed=9, **params).process(40 * sr)
    off = (31 * sr) // QUANTUM * QUANTUM
    warm = -(-round(cls.warmup_s * sr) // QUANTUM) * QUANTUM
    src = cls(sample_rate=sr, seed=9, **params)
    src.seek(off - warm)
    src.process(warm)
    got = src.process(5 * sr)
    want = ref[:, off : off + 5 * sr]
    err_db = 10 * np.log10(np.mean((got - want) ** 2) / np.mean(want**2) + 1e-30)
    assert err_db < -60.0, err_db


@pytest.mark.parametrize("cls", SOURCES, ids=IDS)
def test_no_repetition_and_balanced(cls: type[Source]) -> None:
    """Waveform never comes back (r <= 0.5 at 0.5-60 s), nor the spectral envelope
    (its return after decorrelating), and left and right are level within 0.3 dB."""
    from sonora.engine import soundcheck as sc

    x = render(cls, 150.0, seed=5)
    wave, env, ret = sc.repetition(x, SR)
    assert wave <= 0.5, wave
    assert ret <= 0.5, ret
    if cls in (Rain, Stream):  # a swell or a gust is still like itself 0.5 s later
        assert env <= 0.5, env
    assert abs(sc.lr_balance_db(x)) <= 0.3


def test_rain_drops_are_distinct_and_many() -> None:
    from sonora.engine import soundcheck as sc

    x = render(Rain, 60.0, sr=48_000, seed=3, brightness=0.6)
    per_min, distinct = sc.event_count(x, 48_000)
    assert per_min > 300, per_min
    assert distinct >= 0.97, distinct


def test_rain_default_is_dark_for_sleep() -> None:
    x = render(Rain, 40.0, sr=48_000, seed=1)
    assert band_power_share(x, 48_000, 2000.0, 5000.0) < 0.2
    assert band_power_share(x, 48_000, 0.0, 100.0) < 0.1  # and not a rumble


def test_rain_surfaces_and_nearness_change_the_sound() -> None:
    only = {"leaves": 0.0, "roof": 0.0, "puddles": 0.0}
    roof = render(Rain, 20.0, drop_level_db=0.0, near=1.0, **{**only, "roof": 1.0})
    leaves = render(Rain, 20.0, drop_level_db=0.0, near=1.0, **{**only, "leaves": 1.0})
    assert centroid_hz(roof, SR) < 0.8 * centroid_hz(leaves, SR)
    # Near drops stand out of the hiss; far away they merge into it.
    peaky = [
        stats.kurtosis(band_envelope(render(Rain, 20.0, near=n), SR, 2000.0)[SR:])
        for n in (0.0, 1.0)
    ]
    assert peaky[1] > 2.0 * peaky[0], peaky


def test_wind_gusts_move_more_than_a_decibel_without_a_period() -> None:
    x = render(Wind, 240.0, seed=8)
    rms = frame_tracks(x, SR, 1.0)[0]
    level = 20 * np.log10(rms)
    assert np.percentile(level, 95) - np.percentile(level, 5) > 3.0  # > ±1 dB, and then some
    # No countable LFO: the level's autocorrelation has no strong peak beyond 5 s.
    lv = level - level.mean()
    ac = np.correlate(lv, lv, "full")[lv.size - 1 :] / np.sum(lv * lv)
    assert np.max(ac[5:60]) < 0.5


def test_wind_whistles_in_gusts() -> None:
    """A narrow spectral peak (the whistle) stands out in the gustiest seconds."""

    def peakiness(whistle: float) -> float:
        x = render(Wind, 60.0, seed=2, whistle=whistle, gustiness=1.0).astype(np.float64)
        mono = x.mean(axis=0)
        best = 0.0
        for i in range(0, mono.size - 2 * SR, SR):
            f, p = signal.welch(mono[i : i + 2 * SR], fs=SR, nperseg=4096)
            local = signal.medfilt(p, 61)  # the spectrum ±180 Hz around each bin
            band = (f > 400) & (f < 3000)
            best = max(best, float(np.max(p[band] / local[band])))
        return best

    assert peakiness(1.0) > 3.0 * peakiness(0.0)


def test_wind_rustle_adds_leaves() -> None:
    calm = render(Wind, 30.0, seed=2, rustle=0.0)
    leafy = render(Wind, 30.0, seed=2, rustle=1.0)
    assert band_power_share(leafy, SR, 1500.0, 6000.0) > 2.0 * band_power_share(
        calm, SR, 1500.0, 6000.0
    )


def test_stream_gurgles() -> None:
    babble = render(Stream, 30.0, seed=4, gurgle=0.0)
    gurgly = render(Stream, 30.0, seed=4, gurgle=1.0)
    assert band_power_share(gurgly, SR, 120.0, 500.0) > 2.0 * band_power_share(
        babble, SR, 120.0, 500.0
    )
    env = band_envelope(gurgly, SR, 120.0)[SR:]
    assert stats.kurtosis(env) > stats.kurtosis(band_envelope(babble, SR, 120.0)[SR:])


def test_waves_crash_and_wash_back_and_distance_darkens() -> None:
    near = render(OceanWaves, 120.0, seed=6, distance=0.0, intensity=0.8)
    far = render(OceanWaves, 120.0, seed=6, distance=1.0, intensity=0.8)
    assert band_power_share(near, SR, 2000.0, 10000.0) > 1.5 * band_power_share(
        far, SR, 2000.0, 10000.0
    )
    # The crash and backwash: high-frequency energy peaks after the body's crest and
    # outlasts it.
    hop = 0.1
    rms, _ = frame_tracks(near, SR, hop)
    hf = np.sqrt(band_envelope(near, SR, 2000.0, smooth_hz=5.0)[:: round(hop * SR)][: rms.size])
    crests = _crests(rms, hop, 4.0)
    lags = []
    for c in crests:
        i = int(c / hop)
        if 30 <= i < rms.size - 60:
            lags.append(np.argmax(hf[i - 10 : i + 50]) - 10)
    assert len(lags) >= 5
    assert np.median(lags) * hop > 0.0
    # Waves differ in size: crest levels spread by more than 1 dB.
    levels = [20 * np.log10(rms[int(c / hop)]) for c in crests]
    assert np.std(levels) > 0.6
