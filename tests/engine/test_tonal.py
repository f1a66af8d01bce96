"""Tests for the tonal sources: drone, melody, breath pacer and binaural beat.

Every test measures rendered audio (spectra, envelopes, BS.1770 loudness); nothing is
mocked.  The melody's ``note_log`` is checked against the audio before it is used.
"""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm as pyln
import pytest
from scipy.ndimage import median_filter

from sonora.engine.base import QUANTUM
from sonora.engine.tonal import MODES, Binaural, BreathPacer, Drone, Melody
from sonora.errors import ParameterError

SR = 48_000
SOURCES = [Drone, Melody, BreathPacer, Binaural]
# Melody at a high note rate so that notes appear within the first second.
FAST = {Melody: {"note_rate_hz": 1.5}}


def make(cls, *, seed=1, sample_rate=SR, **params):
    return cls(sample_rate=sample_rate, seed=seed, **{**FAST.get(cls, {}), **params})


def render(src, seconds: float) -> np.ndarray:
    return src.process(round(seconds * src.sample_rate))


def k_weighted_power(x: np.ndarray, sr: int) -> np.ndarray:
    """Per-sample K-weighted power summed over channels (ITU-R BS.1770 via pyloudnorm)."""
    meter = pyln.Meter(sr)
    y = x.astype(np.float64)
    for stage in meter._filters.values():
        y = np.stack([stage.apply_filter(ch) for ch in y])
    return (y**2).sum(axis=0)


def worst_startle_lu(x: np.ndarray, sr: int, skip_s: float = 10.0) -> float:
    """Largest rise of the 400 ms momentary loudness above the previous 10 s power mean.

    Windows hop by 50 ms; the 10 s reference ends where the 400 ms window starts.
    """
    p = k_weighted_power(x, sr)
    c = np.concatenate([[0.0], np.cumsum(p)])
    win, hop, ref = int(0.4 * sr), int(0.05 * sr), 10 * sr
    starts = np.arange(int(skip_s * sr), len(p) - win, hop)
    momentary = (c[starts + win] - c[starts]) / win
    previous = (c[starts] - c[starts - ref]) / ref
    return float(np.max(10 * np.log10(momentary / previous)))


def spectrum(x: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(x, dtype=np.float64)
    mag = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return np.fft.rfftfreq(len(x), 1 / sr), mag


def top_peaks(freqs: np.ndarray, mag: np.ndarray, count: int, merge: float = 0.03) -> list[float]:
    """Frequencies of the ``count`` largest spectral peaks, merging peaks within ``merge``."""
    peaks: list[float] = []
    for i in np.argsort(mag)[::-1]:
        f = freqs[i]
        if f > 20 and all(abs(f / p - 1) > merge for p in peaks):
            peaks.append(float(f))
            if len(peaks) == count:
                break
    return peaks


def frame_rms(x: np.ndarray, sr: int, hop_s: float = 0.05) -> np.ndarray:
    hop = int(hop_s * sr)
    n = x.shape[1] // hop
    return np.sqrt((x[:, : n * hop].astype(np.float64) ** 2).reshape(2, n, hop).mean(axis=(0, 2)))


# -- the contract -----------------------------------------------------------------
@pytest.mark.parametrize("cls", SOURCES)
def test_class_contract(cls):
    assert cls.channels == 2
    assert cls.FAMILY in {"drone", "melody", "breath", "binaural"}
    assert cls.CALIBRATION_S > 0
    assert cls.HEADPHONES_ONLY is (cls is Binaural)
    src = make(cls)
    out = src.process(1000)
    assert out.shape == (2, 1000) and out.dtype == np.float32


@pytest.mark.parametrize("cls", SOURCES)
def test_deterministic_from_seed(cls):
    a = render(make(cls, seed=7), 3.0)
    b = render(make(cls, seed=7), 3.0)
    c = render(make(cls, seed=8), 3.0)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)


@pytest.mark.parametrize("cls", SOURCES)
def test_reset_restarts(cls):
    src = make(cls, seed=3)
    a = render(src, 1.0)
    render(src, 0.5)
    src.reset()
    assert np.array_equal(a, render(src, 1.0))


@pytest.mark.parametrize("cls", SOURCES)
def test_block_size_invariance(cls):
    total = 3000 + 2 * (64 + 65 + 4096 + 8193) + 40_000
    one_shot = make(cls, seed=11).process(total)
    src = make(cls, seed=11)
    parts = [src.process(1) for _ in range(3000)]
    sizes = [64, 65, 4096, 8193]
    done, i = 3000, 0
    while done < total:
        k = min(sizes[i % len(sizes)], total - done)
        parts.append(src.process(k))
        done += k
        i += 1
    assert np.array_equal(np.concatenate(parts, axis=1), one_shot)


@pytest.mark.parametrize("cls", SOURCES)
@pytest.mark.parametrize("sample_rate", [22_050, 44_100, 96_000])
def test_finite_quiet_dc_and_band_limited(cls, sample_rate):
    src = make(
        cls,
        sample_rate=sample_rate,
        seed=2,
        **({"brightness": 1.0} if "brightness" in cls.PARAMS else {}),
    )
    x = render(src, 12.0)
    assert np.isfinite(x).all()
    assert np.abs(x).max() < 0.9
    assert np.all(np.abs(x[:, sample_rate:].mean(axis=1)) < 1e-3)
    f, mag = spectrum(x[0, sample_rate:], sample_rate)
    above = np.sum(mag[f >= 0.45 * sample_rate] ** 2) / np.sum(mag**2)
    assert above < 1e-8  # nothing at or near Nyquist


@pytest.mark.parametrize("cls", SOURCES)
def test_level_at_defaults(cls):
    x = render(cls(sample_rate=SR, seed=1), 40.0)[:, 10 * SR :]
    rms = np.sqrt((x.astype(np.float64) ** 2).mean())
    assert 0.08 < rms < 0.3
    assert np.abs(x).max() < 0.7


# -- parameter validation -----------------------------------------------------------
@pytest.mark.parametrize("cls", SOURCES)
def test_param_validation_names_the_field(cls):
    for name, spec in cls.PARAMS.items():
        with pytest.raises(ParameterError) as err:
            cls(sample_rate=SR, **{name: spec.high + 1.0})
        assert err.value.field.endswith(name)
        assert name in str(err.value)
        with pytest.raises(ParameterError) as err:
            cls(sample_rate=SR, **{name: spec.low - 1.0})
        assert err.value.field.endswith(name)
    with pytest.raises(ParameterError) as err:
        cls(sample_rate=SR, volume=1.0)
    assert "volume" in str(err.value)
    with pytest.raises(ParameterError):
        cls(sample_rate=SR, seed=1.5)
    with pytest.raises(ParameterError):
        cls(sample_rate=8000)


def test_melody_mode_must_be_whole():
    with pytest.raises(ParameterError) as err:
        Melody(sample_rate=SR, mode=1.5)
    assert err.value.field.endswith("mode")
    assert "major pentatonic" in str(err.value)


# -- no startle ----------------------------------------------------------------------
def _extremes(cls, which):
    return {name: (spec.low if which == "min" else spec.high) for name, spec in cls.PARAMS.items()}


STARTLE_CASES = [
    (cls, params) for cls in SOURCES for params in (_extremes(cls, "min"), _extremes(cls, "max"))
] + [
    # the sparse, bright, wide melody and the low, sweeping drone are the hardest cases
    (Melody, {"note_rate_hz": 0.05, "brightness": 1.0, "register_spread": 1.0, "pitch_hz": 880.0}),
    (Melody, {"note_rate_hz": 0.3, "brightness": 0.7, "register_spread": 1.0, "pitch_hz": 550.0}),
    (Drone, {"pitch_hz": 40.0, "brightness": 0.0, "detune_cents": 3.0, "movement": 1.0}),
    (BreathPacer, {"breaths_per_min": 3.0, "inhale_ratio": 0.3, "tone_mix": 1.0}),
]


@pytest.mark.parametrize(
    ("cls", "params"), STARTLE_CASES, ids=lambda v: getattr(v, "__name__", str(v))
)
def test_no_startle(cls, params):
    src = cls(sample_rate=SR, seed=5, **params)
    x = render(src, 60.0)
    assert worst_startle_lu(x, SR) < 6.0


# -- drone ---------------------------------------------------------------------------
def test_drone_spectrum_peaks_at_root_fifth_octave():
    x = render(
        Drone(sample_rate=SR, seed=1, pitch_hz=110.0, brightness=0.3, detune_cents=8.0), 25.0
    )
    f, mag = spectrum(x[:, 5 * SR :].mean(axis=0), SR)
    peaks = top_peaks(f, mag, 3)
    for want in (110.0, 165.0, 220.0):
        assert any(abs(p / want - 1) < 0.01 for p in peaks), (want, peaks)
    assert abs(peaks[0] / 110.0 - 1) < 0.01  # the root is the strongest


def _centroid_track(x: np.ndarray, sr: int) -> np.ndarray:
    """Spectral centroid (Hz) of 2 s windows every second, from L and R power spectra."""
    out = []
    for k in range(4, x.shape[1] // sr - 2):
        seg = x[:, k * sr : (k + 2) * sr].astype(np.float64) * np.hanning(2 * sr)
        power = (np.abs(np.fft.rfft(seg, axis=1)) ** 2).sum(axis=0)
        f = np.fft.rfftfreq(2 * sr, 1 / sr)
        out.append(float(np.sum(f * power) / np.sum(power)))
    return np.array(out)


def test_drone_spectral_centroid_moves_slowly():
    sr = 22_050
    still = _centroid_track(
        render(Drone(sample_rate=sr, seed=4, brightness=0.5, movement=0.0), 60.0), sr
    )
    moving = _centroid_track(
        render(Drone(sample_rate=sr, seed=4, brightness=0.5, movement=1.0), 150.0), sr
    )
    spread_moving = moving.max() / moving.min() - 1
    spread_still = still.max() / still.min() - 1
    assert spread_moving > 0.25  # the filter really moves ...
    assert spread_moving > 2 * spread_still  # ... more with more `movement` ...
    spec = np.abs(np.fft.rfft(moving - moving.mean())) ** 2
    freqs = np.fft.rfftfreq(len(moving), 1.0)
    assert spec[freqs < 0.15].sum() > 0.95 * spec.sum()  # ... and slowly (periods > 6.7 s)


# -- melody --------------------------------------------------------------------------
def _onsets_from_audio(x: np.ndarray, sr: int) -> np.ndarray:
    """Note onsets (frames): peaks of log-spectral flux above 3.5x its local median."""
    mono = x.mean(axis=0).astype(np.float64)
    n_fft, hop = 2048, 512
    frames = np.lib.stride_tricks.sliding_window_view(mono, n_fft)[::hop] * np.hanning(n_fft)
    mag = np.log1p(100 * np.abs(np.fft.rfft(frames, axis=1)))
    flux = np.maximum(np.diff(mag, axis=0), 0).sum(axis=1)
    threshold = 3.5 * median_filter(flux, size=int(2 * sr / hop)) + 1e-9
    peaks = [
        i
        for i in range(1, len(flux) - 1)
        if flux[i] > threshold[i] and flux[i] >= flux[i - 1] and flux[i] > flux[i + 1]
    ]
    onsets: list[int] = []
    for i in peaks:  # merge peaks closer than 150 ms
        if not onsets or (i - onsets[-1]) * hop > 0.15 * sr:
            onsets.append(i)
    return np.array(onsets) * hop + n_fft // 2


def _pitch_at_onset(mono: np.ndarray, sr: int, onset: int) -> float:
    """Fundamental of the note starting at ``onset``: spectrum after minus before."""
    n = 8192
    after = mono[onset + int(0.05 * sr) : onset + int(0.05 * sr) + n]
    before = mono[onset - n - int(0.05 * sr) : onset - int(0.05 * sr)]
    f, a = spectrum(after, sr)
    _, b = spectrum(before, sr)
    gain = np.maximum(a - b, 0)
    gain[f < 60] = 0
    return float(f[np.argmax(gain)])


@pytest.mark.parametrize("mode", [0, 1, 3])
def test_melody_notes_belong_to_scale_and_match_the_log(mode):
    rate = 0.5
    tonic = 261.63
    m = Melody(sample_rate=SR, seed=3, pitch_hz=tonic, mode=mode, note_rate_hz=rate, brightness=0.0)
    seconds = 70.0
    x = render(m, seconds)
    mono = x.mean(axis=0).astype(np.float64)
    scale = set(MODES[mode][1])
    onsets = _onsets_from_audio(x, SR)
    onsets = onsets[(onsets > SR) & (onsets < x.shape[1] - SR)]
    assert abs(len(onsets) / (seconds - 2) - rate) < 0.15 * rate  # about note_rate_hz
    log = [e for e in m.note_log if e.velocity > 0]
    log_frames = np.array([e.frame for e in log])
    matched = 0
    for onset in onsets:
        freq = _pitch_at_onset(mono, SR, int(onset))
        semis = 12 * math.log2(freq / tonic)
        nearest = round(semis)
        assert abs(semis - nearest) < 0.3, (onset / SR, freq)  # in tune
        assert nearest % 12 in scale, (onset / SR, freq, nearest)  # in the scale
        j = int(np.argmin(np.abs(log_frames - onset)))
        if abs(log_frames[j] - onset) < 0.06 * SR and log[j].semitone == nearest:
            matched += 1
    assert matched >= 0.9 * len(onsets)  # the log says what the audio plays


def test_melody_onset_rate_follows_note_rate():
    for rate, seconds in ((0.2, 100.0), (1.2, 50.0)):
        m = Melody(sample_rate=SR, seed=9, note_rate_hz=rate)
        onsets = _onsets_from_audio(render(m, seconds), SR)
        assert abs(len(onsets) / seconds - rate) < 0.2 * rate, (rate, len(onsets))


def test_melody_phrases_move_stepwise_and_end_on_the_tonic():
    m = Melody(sample_rate=SR, seed=5, note_rate_hz=1.0, register_spread=0.5)
    render(m, 180.0)
    semis = np.array([e.semitone for e in m.note_log])
    frames = np.array([e.frame for e in m.note_log])
    steps = np.abs(np.diff(semis))
    assert np.mean(steps <= 4) > 0.7  # mostly scale steps (pentatonic steps are 2-3)
    # phrase ends: followed by a gap clearly longer than the mean inter-onset interval
    ioi = np.diff(frames)
    ends = np.flatnonzero(ioi > 1.4 * np.mean(ioi))
    assert len(ends) > 10
    resolved = np.isin(semis[ends] % 12, (0, 7))
    assert resolved.mean() > 0.8


def test_melody_never_loops():
    sr = 22_050  # only the sequence of notes matters here
    m = Melody(sample_rate=sr, seed=2, note_rate_hz=1.5)
    render(m, 300.0)
    log = list(m.note_log)
    assert len(log) > 400
    semis = [e.semitone for e in log]
    ioi = np.round(np.diff([e.frame for e in log]) / sr, 2)
    events = list(zip(semis[1:], ioi, strict=True))
    seen_full: set[tuple] = set()
    seen_pitch: set[tuple] = set()
    for i in range(len(events) - 19):
        full = tuple(events[i : i + 20])
        pitch = tuple(e[0] for e in full)
        assert full not in seen_full
        assert pitch not in seen_pitch  # not even the pitches alone repeat
        seen_full.add(full)
        seen_pitch.add(pitch)


def test_melody_follows_automation_of_mode_and_rate():
    m = Melody(sample_rate=SR, seed=8, mode=0, note_rate_hz=0.3)
    render(m, 20.0)
    m.set_param("mode", 3.0)  # lydian from here on
    before = len(m.note_log)
    render(m, 40.0)
    lydian = set(MODES[3][1])
    assert all(e.semitone % 12 in lydian for e in list(m.note_log)[before:])
    # the beat clock integrates the rate: automate 0.3 -> 1.2 notes/s linearly over 60 s
    start = len(m.note_log)
    for k in range(60):
        m.set_param("note_rate_hz", 0.3 + 0.9 * k / 59)
        render(m, 1.0)
    expected = sum(0.3 + 0.9 * k / 59 for k in range(60))
    assert abs((len(m.note_log) - start) - expected) < 0.12 * expected


def test_melody_notes_are_soft():
    """Each note swells in: its fundamental takes >= 40 ms to rise from 10 % to 90 %."""
    m = Melody(sample_rate=SR, seed=4, note_rate_hz=0.1, brightness=1.0, register_spread=1.0)
    x = render(m, 90.0)
    mono = x.mean(axis=0).astype(np.float64)
    notes = [e for e in m.note_log if e.velocity > 0 and e.frame + SR < x.shape[1]]
    assert len(notes) >= 5
    smooth = int(0.02 * SR)
    for e in notes:
        lo, hi = e.frame - int(0.2 * SR), e.frame + int(0.8 * SR)
        t = np.arange(lo, hi) / SR
        z = mono[lo:hi] * np.exp(-2j * np.pi * e.freq_hz * t)  # heterodyne to the note
        env = np.abs(np.convolve(z, np.ones(smooth) / smooth, mode="same"))
        base = env[smooth : int(0.15 * SR)].mean()
        rise = env - base
        peak = rise.max()
        t10 = np.argmax(rise > 0.1 * peak)
        t90 = np.argmax(rise > 0.9 * peak)
        assert (t90 - t10) / SR >= 0.04, (e, (t90 - t10) / SR)


# -- breath pacer ----------------------------------------------------------------------
def _period_s(env: np.ndarray, hop_s: float, lo_s: float, hi_s: float) -> float:
    e = env - env.mean()
    ac = np.correlate(e, e, mode="full")[len(e) - 1 :]
    lo, hi = int(lo_s / hop_s), int(hi_s / hop_s)
    return (lo + int(np.argmax(ac[lo:hi]))) * hop_s


@pytest.mark.parametrize("bpm", [3.0, 6.0, 14.0])
def test_breath_envelope_period(bpm):
    x = render(BreathPacer(sample_rate=SR, seed=1, breaths_per_min=bpm), 130.0)
    env = frame_rms(x, SR)[100:]
    period = 60.0 / bpm
    assert abs(_period_s(env, 0.05, 0.5 * period, 1.5 * period) - period) < 0.03 * period
    assert env.max() / env.min() > 2.0  # a swell you can follow (> 6 dB)


def test_breath_envelope_peaks_where_phase_says_exhale_begins():
    src = BreathPacer(sample_rate=SR, seed=2, breaths_per_min=6.0, inhale_ratio=0.4, tone_mix=1.0)
    x = render(src, 60.0)
    env = frame_rms(x, SR)
    peak_frames = [
        int((k * 10 + np.argmax(env[k * 200 : (k + 1) * 200]) * 0.05) * SR) for k in range(1, 5)
    ]
    for frame in peak_frames:
        assert abs(src.phase_at(frame) - 0.4) < 0.03
        assert src.envelope_at(frame) > 0.98


def test_breath_rate_automation_is_continuous():
    src = BreathPacer(sample_rate=SR, seed=3, breaths_per_min=10.0, tone_mix=1.0)
    chunks, phases = [], []
    seconds, block = 240.0, 4801  # automate 10 -> 6 breaths/min over 4 minutes (exp)
    for k in range(int(seconds * SR / block)):
        t = k * block / SR
        src.set_param("breaths_per_min", 10.0 * (6.0 / 10.0) ** (t / seconds))
        chunks.append(src.process(block))
        phases.append(src.phase_at(k * block))
    x = np.concatenate(chunks, axis=1)
    env = frame_rms(x, SR)[20:]  # after the first second's fade-in
    steady = frame_rms(
        render(BreathPacer(sample_rate=SR, seed=3, breaths_per_min=10.0, tone_mix=1.0), 30.0), SR
    )
    # no jump in the swell: never steeper than the steepest slope at a steady 10/min
    assert np.max(np.abs(np.diff(env))) < 1.2 * np.max(np.abs(np.diff(steady[20:])))
    dphase = np.mod(np.diff(phases), 1.0)  # phase advances smoothly, never jumps
    expected = np.array([10.0 * 0.6 ** (k * block / SR / seconds) for k in range(len(phases) - 1)])
    assert np.allclose(dphase, expected / 60.0 * block / SR, rtol=0.02, atol=1e-6)
    # the envelope ends with the slower period
    tail = frame_rms(render(src, 60.0), SR)
    assert abs(_period_s(tail, 0.05, 6.0, 14.0) - 10.0) < 0.4


def test_breath_phase_history_and_errors():
    src = BreathPacer(sample_rate=SR, seed=1)
    assert src.phase_at(0) == 0.0
    render(src, 125.0)
    with pytest.raises(ParameterError):
        src.phase_at(0)  # older than the kept history
    with pytest.raises(ParameterError):
        src.phase_at(1.5)
    ahead = src.frame + 5 * SR  # not yet rendered: extrapolated at the current rate
    assert 0.0 <= src.phase_at(ahead) < 1.0


# -- binaural ------------------------------------------------------------------------
@pytest.mark.parametrize(("carrier", "beat"), [(200.0, 6.0), (100.0, 1.0), (500.0, 30.0)])
def test_binaural_peaks_at_carrier_plus_minus_half_beat(carrier, beat):
    x = render(Binaural(sample_rate=SR, seed=1, carrier_hz=carrier, beat_hz=beat), 21.0)[:, SR:]
    for ch, want in ((0, carrier - beat / 2), (1, carrier + beat / 2)):
        f, mag = spectrum(x[ch], SR)
        assert abs(f[np.argmax(mag)] - want) < 0.15
    rms = np.sqrt((x.astype(np.float64) ** 2).mean(axis=1))
    assert np.all(rms < 0.2)  # soft


def test_binaural_is_headphones_only():
    assert Binaural.HEADPHONES_ONLY is True
    doc = Binaural.__doc__.lower()
    assert "headphones" in doc and "limited" in doc
    for cls in (Drone, Melody, BreathPacer):
        assert cls.HEADPHONES_ONLY is False


# -- automation never clicks -------------------------------------------------------------
def _hf_peaks(x: np.ndarray, sr: int) -> np.ndarray:
    """Max |second difference| in 5 ms windows (clicks are broadband spikes)."""
    d2 = np.abs(np.diff(x.astype(np.float64), n=2, axis=1)).max(axis=0)
    w = int(0.005 * sr)
    n = len(d2) // w
    return d2[: n * w].reshape(n, w).max(axis=1)


CLICK_CASES = [
    (Drone, {"pitch_hz": 165.0, "brightness": 0.9, "detune_cents": 25.0, "movement": 1.0}),
    (Melody, {"pitch_hz": 330.0, "mode": 3.0, "note_rate_hz": 0.2, "brightness": 1.0}),
    (
        BreathPacer,
        {"breaths_per_min": 16.0, "inhale_ratio": 0.6, "pitch_hz": 300.0, "tone_mix": 0.9},
    ),
    (Binaural, {"carrier_hz": 320.0, "beat_hz": 20.0}),
]


@pytest.mark.parametrize(("cls", "changes"), CLICK_CASES, ids=lambda v: getattr(v, "__name__", ""))
def test_set_param_mid_render_does_not_click(cls, changes):
    src = cls(sample_rate=SR, seed=6)
    change_at = 8 * SR + 1234  # not on a quantum boundary
    before = src.process(change_at)
    for name, value in changes.items():
        src.set_param(name, value)
    after = src.process(12 * SR)
    hf = _hf_peaks(np.concatenate([before, after], axis=1), SR)
    k = change_at // int(0.005 * SR)
    around = hf[k - 20 : k + 400].max()  # up to 2 s after the change
    steady = max(hf[200 : k - 40].max(), hf[k + 800 :].max())
    assert around < 1.5 * steady


def test_quantum_alignment_of_set_param_is_absolute():
    """A set_param between two blocks applies from the next quantum, whatever the blocks."""
    a = Drone(sample_rate=SR, seed=1)
    b = Drone(sample_rate=SR, seed=1)
    a.process(QUANTUM * 3)
    b.process(QUANTUM * 2)
    b.process(QUANTUM)
    a.set_param("brightness", 0.9)
    b.set_param("brightness", 0.9)
    assert np.array_equal(a.process(5 * QUANTUM), b.process(5 * QUANTUM))


def test_breath_noise_filter_matches_scipy_firwin2():
    """The breath noise's band (numpy) is scipy.signal.firwin2's design, tap for tap."""
    from scipy import signal

    from sonora.engine.tonal.bank import _firwin2_kaiser

    for rate in (11_025.0, 12_000.0, 24_000.0):
        in_rate = rate / 4
        freqs = [0.0, 100.0, 250.0, 500.0, 0.3 * in_rate, 0.42 * in_rate, 0.58 * in_rate, rate / 2]
        gains = [0.0, 0.15, 0.9, 1.0, 0.7, 0.3, 0.0, 0.0]
        ref = signal.firwin2(65, freqs, gains, fs=rate, window=("kaiser", 6.0))
        np.testing.assert_allclose(
            _firwin2_kaiser(65, freqs, gains, rate, 6.0), ref, rtol=0, atol=1e-12
        )


def test_breath_pacer_renders_without_importing_scipy_signal():
    """scipy.signal pulls in scipy.stats (~50 MB of memory, ~1 s of CPU per process)."""
    import subprocess
    import sys

    code = (
        "import sys; from sonora.engine.tonal import BreathPacer; "
        "BreathPacer(sample_rate=48000, seed=1).process(48000); "
        "print(sorted(m for m in sys.modules if m in ('scipy.signal', 'scipy.stats')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_breath_vowel_power_gain_closed_form_matches_the_response():
    from sonora.engine.design import sos_response

    b = BreathPacer(sample_rate=48_000, seed=1)
    b.process(QUANTUM)
    band = np.geomspace(150.0, 0.42 * b._noise_rate, 48)
    for freq_hz in (300.0, 650.0, 1500.0, 2900.0):
        sos = b._peak(freq_hz)
        ref = float(np.mean(np.abs(sos_response(sos, band, b._noise_rate)) ** 2))
        assert b._band_power_gain(sos[0]) == pytest.approx(ref, rel=1e-12)
        assert ref > 1.2  # the +10 dB vowel raises the band's mean power
