"""Engine-wide properties: determinism, block-size invariance, loudness, peaks, clicks.

Every built-in scene is rendered for two minutes once per session (see ``conftest``)
and measured: integrated loudness (pyloudnorm), true peak (4x oversampling), the
no-startle rule, DC, channel count and discontinuities at the engine's quantum
boundaries.  Block-size invariance is checked on whole mixes and on each node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal
from testkit import SR, SceneMetrics, click_stats, lufs, true_peak_dbtp

from sonora.engine.base import QUANTUM, Source, check_sample_rate, make_rng
from sonora.engine.dsp import SosFilter
from sonora.engine.effects import Delay, Filter, Limiter, Reverb, StartleGuard
from sonora.engine.graph import Layer, Mix
from sonora.engine.loudness import STARTLE_LIMIT_LU
from sonora.engine.loudness import true_peak_dbtp as engine_true_peak_dbtp
from sonora.engine.noise import BrownNoise, PinkNoise, WhiteNoise
from sonora.engine.render import render_array, render_to_file
from sonora.engine.tonal import Chimes, Gong, SingingBowl
from sonora.errors import ParameterError
from sonora.scenes import builtin_names, load_scene
from sonora.scenes.build import build_mix

SCENES = builtin_names()
ODD_BLOCKS = (64, 65, 4096, 8193)
#: Scene and seed of the short whole-mix renders: bowls (modal), rain (noise + drops)
#: and a shared reverb.  One seed, so the layers' loudness calibration (cached per
#: source, parameters and seed) is computed once for all of them.
SHARED_SCENE, SHARED_SEED = "rain-with-bowls", 5


def chunked(process: Callable[[int], np.ndarray], total: int, sizes: Iterable[int]) -> np.ndarray:
    """Call ``process(n)`` with ``sizes`` (cycled) until ``total`` frames are produced."""
    sizes = list(sizes)
    out, done, i = [], 0, 0
    while done < total:
        n = min(sizes[i % len(sizes)], total - done)
        out.append(process(n))
        done += n
        i += 1
    return np.concatenate(out, axis=1)


def chunked_effect(effect, x: np.ndarray, sizes: Iterable[int]) -> np.ndarray:
    """Feed ``x`` to ``effect.process`` in chunks of ``sizes`` (cycled)."""
    pos = [0]

    def step(n: int) -> np.ndarray:
        y = effect.process(x[:, pos[0] : pos[0] + n])
        assert y.shape == (x.shape[0], n)
        pos[0] += n
        return y

    return chunked(step, x.shape[1], sizes)


# -- determinism ---------------------------------------------------------------------
def test_same_scene_and_seed_render_identical_samples() -> None:
    scene = load_scene(SHARED_SCENE)
    a = render_array(build_mix(scene, duration_s=4.0, seed=SHARED_SEED))
    b = render_array(build_mix(scene, duration_s=4.0, seed=SHARED_SEED))
    assert a.dtype == np.float32 and a.shape == (2, 4 * SR)
    np.testing.assert_array_equal(a, b)


def test_different_seed_renders_different_audio_at_the_same_loudness() -> None:
    scene = load_scene("rain")
    a = render_array(build_mix(scene, duration_s=6.0, seed=5))
    b = render_array(build_mix(scene, duration_s=6.0, seed=6))
    assert a.shape == b.shape
    diff = np.sqrt(np.mean((a.astype(np.float64) - b) ** 2))
    assert diff > 0.5 * np.sqrt(np.mean(a.astype(np.float64) ** 2))  # not a near-copy
    assert lufs(a, SR) == pytest.approx(lufs(b, SR), abs=1.0)


def test_reset_replays_the_session_exactly() -> None:
    mix = build_mix(load_scene(SHARED_SCENE), duration_s=3.0, seed=SHARED_SEED)
    first = render_array(mix)
    assert mix.remaining_frames == 0
    mix.reset()
    np.testing.assert_array_equal(render_array(mix), first)


def test_flac_renders_are_byte_identical(tmp_path: Path) -> None:
    scene = load_scene(SHARED_SCENE)
    paths = []
    for i in range(2):
        p = tmp_path / f"take{i}.flac"
        render_to_file(build_mix(scene, duration_s=5.0, seed=SHARED_SEED), p)
        paths.append(p)
    assert paths[0].read_bytes() == paths[1].read_bytes()


def test_file_render_has_the_same_samples_as_an_in_memory_render(tmp_path: Path) -> None:
    """render_to_file (render + encoder threads) == render_array, to 24-bit precision."""
    scene = load_scene(SHARED_SCENE)
    expected = render_array(build_mix(scene, duration_s=4.0, seed=SHARED_SEED))
    path = render_to_file(build_mix(scene, duration_s=4.0, seed=SHARED_SEED), tmp_path / "g.wav")
    got, rate = sf.read(path, dtype="float64", always_2d=True)
    assert rate == SR
    assert got.T.shape == expected.shape
    np.testing.assert_allclose(got.T, expected, rtol=0, atol=2.0**-22)


# -- block-size invariance -------------------------------------------------------------
def test_mix_block_sizes_give_identical_samples() -> None:
    mix = build_mix(load_scene(SHARED_SCENE), duration_s=3.5, seed=SHARED_SEED)
    whole = mix.process(mix.total_frames)
    assert whole.shape == (2, round(3.5 * SR))
    for size in ODD_BLOCKS:
        mix.reset()
        np.testing.assert_array_equal(chunked(mix.process, mix.total_frames, [size]), whole)
    mix.reset()
    mixed = chunked(mix.process, mix.total_frames, [1, 8193, 65, 4096, 64, 3, 12_000])
    np.testing.assert_array_equal(mixed, whole)


def test_mix_block_size_one() -> None:
    mix = build_mix(load_scene(SHARED_SCENE), duration_s=1.5, seed=SHARED_SEED)
    whole = mix.process(mix.total_frames)
    mix.reset()
    ones = np.concatenate([mix.process(1) for _ in range(mix.total_frames)], axis=1)
    np.testing.assert_array_equal(ones, whole)
    assert mix.process(1).shape == (2, 0)  # the session is over


@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    name=st.sampled_from(SCENES),
    seed=st.integers(0, 2**63 - 1),
    seconds=st.floats(1.0, 2.0),
    sizes=st.lists(st.integers(1, 20_000), min_size=1, max_size=6),
)
def test_any_scene_any_block_sizes(name: str, seed: int, seconds: float, sizes: list[int]) -> None:
    mix = build_mix(load_scene(name), duration_s=seconds, seed=seed, target_lufs=None)
    whole = mix.process(mix.total_frames)
    mix.reset()
    np.testing.assert_array_equal(chunked(mix.process, mix.total_frames, sizes), whole)


SOURCE_CASES: list[tuple[type[Source], dict[str, float]]] = [
    (WhiteNoise, {"cutoff_hz": 3000.0}),
    (PinkNoise, {}),
    (BrownNoise, {"cutoff_hz": 900.0}),
    (SingingBowl, {"interval_s": 2.0, "rub": 0.5}),
    (Gong, {"interval_s": 6.0}),
    (Chimes, {"rate_per_min": 60.0}),
]


@pytest.mark.parametrize(("cls", "params"), SOURCE_CASES, ids=[c.__name__ for c, _ in SOURCE_CASES])
def test_source_chunked_equals_one_shot(cls: type[Source], params: dict[str, float]) -> None:
    total = 3 * SR
    one = cls(sample_rate=SR, seed=3, **params).process(total)
    assert one.shape == (2, total) and one.dtype == np.float32
    assert np.any(one != 0)
    src = cls(sample_rate=SR, seed=3, **params)
    np.testing.assert_array_equal(chunked(src.process, total, [1, 65, 8193, 4096, 7, 1]), one)
    src.reset()
    np.testing.assert_array_equal(src.process(total), one)


def _test_signal(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Pink-ish noise at -30 dBFS that jumps +26 dB for two seconds, then drops back."""
    n = round(seconds * SR)
    x = signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal((2, n)), axis=1) * 0.01
    env = np.ones(n)
    env[round(8 * SR) : round(10 * SR)] = 20.0
    return (x * env).astype(np.float32)


EFFECTS: dict[str, Callable[[], object]] = {
    "Filter-lowpass": lambda: Filter("lowpass", cutoff_hz=1200.0, order=4, sample_rate=SR),
    "Filter-bandpass": lambda: Filter("bandpass", cutoff_hz=800.0, order=3, sample_rate=SR),
    "Limiter": lambda: Limiter(ceiling_dbtp=-6.0, sample_rate=SR),
    "Reverb": lambda: Reverb(room_size=0.8, sample_rate=SR),
    "StartleGuard": lambda: StartleGuard(sample_rate=SR),
    "Delay": lambda: Delay(333, channels=2, sample_rate=SR),
}


@pytest.mark.parametrize("name", list(EFFECTS))
def test_effect_chunked_equals_one_shot(name: str, rng: np.random.Generator) -> None:
    x = _test_signal(14.0, rng)
    one = EFFECTS[name]().process(x)  # type: ignore[attr-defined]
    assert one.shape == x.shape
    assert np.all(np.isfinite(one)) and np.any(one != 0)
    eff = EFFECTS[name]()
    got = chunked_effect(eff, x, [1, 65, 8193, 4096, 12_345, 64, 2])
    np.testing.assert_array_equal(got, one)
    eff.reset()  # type: ignore[attr-defined]
    np.testing.assert_array_equal(eff.process(x), one)  # type: ignore[attr-defined]


def test_limiter_is_actually_working_in_the_chunked_test(rng: np.random.Generator) -> None:
    """The chunked-limiter case above exercises gain reduction, not just a delay line."""
    x = _test_signal(12.0, rng)
    lim = Limiter(ceiling_dbtp=-6.0, sample_rate=SR)
    y = lim.process(x)
    lat = lim.latency_frames
    assert not np.array_equal(y[:, lat:], x[:, :-lat])
    assert float(np.max(np.abs(x))) > 10 ** (-6.0 / 20)
    assert float(np.max(np.abs(y))) <= 10 ** (-6.0 / 20) + 1e-6


def test_sos_filter_chunked_equals_scipy(rng: np.random.Generator) -> None:
    """The docstring promises chunked == one-shot == scipy.signal.sosfilt."""
    sos = signal.butter(6, [300, 3000], "bandpass", fs=SR, output="sos")
    x = rng.standard_normal((2, 50_000))
    got = chunked_effect(SosFilter(sos, channels=2), x, [1, 65, 8193, 4096])
    np.testing.assert_array_equal(got, signal.sosfilt(sos, x, axis=-1))
    f = SosFilter(sos, channels=2)
    one = f.process(x)
    f.reset()
    np.testing.assert_array_equal(chunked_effect(f, x, [997]), one)


# -- every built-in scene, two minutes, measured ---------------------------------------
Metrics = Callable[[str], SceneMetrics]


def test_the_true_peak_instrument_agrees_with_the_engines(rng: np.random.Generator) -> None:
    """Two independent 4x meters agree on band-limited audio (they may differ near Nyquist)."""
    sos = signal.butter(8, 15_000, fs=SR, output="sos")
    x = signal.sosfilt(sos, rng.standard_normal((2, 2 * SR)), axis=1) * 0.05
    x[0, 30_000:30_400] += 0.8 * np.hanning(400) * np.sin(2 * np.pi * 9_000 / SR * np.arange(400))
    assert true_peak_dbtp(x) == pytest.approx(engine_true_peak_dbtp(x), abs=0.05)
    assert true_peak_dbtp(x, floor_dbtp=-3.0) == true_peak_dbtp(x)  # above the floor: exact
    quiet = x * 0.01
    assert true_peak_dbtp(quiet, floor_dbtp=-3.0) >= true_peak_dbtp(quiet)  # an upper bound
    t = np.arange(SR)
    s = 0.5 * np.sin(np.pi * t / 2 + np.pi / 4) * np.hanning(SR)  # fs/4: samples miss the top
    assert 20 * math.log10(np.max(np.abs(s))) < 20 * math.log10(0.5) - 2.5
    assert true_peak_dbtp(s[None]) == pytest.approx(20 * math.log10(0.5), abs=0.05)


def test_the_click_instrument_finds_seams_and_only_seams(rng: np.random.Generator) -> None:
    t = np.arange(40 * QUANTUM) / SR
    tone = 0.3 * np.sin(2 * np.pi * 220.0 * t) * np.exp(-t / 2)  # a smooth decaying tail
    hiss = signal.lfilter([1.0], [1.0, -0.95], rng.standard_normal(t.size)) * 0.01
    for clean in (np.stack([tone, tone]), np.stack([hiss, hiss[::-1]])):
        c = click_stats(clean, period=QUANTUM)
        assert c.worst_ratio <= 1.5 * c.control_worst_ratio
        assert c.local_max_share <= 3 * c.control_local_max_share + 0.01
        seamed = clean.copy()
        seamed[:, QUANTUM * 20 :] += 4 * np.abs(np.diff(clean)).max()  # one step, at a seam
        assert click_stats(seamed, period=QUANTUM).worst_ratio > 1.5 * c.control_worst_ratio


@pytest.mark.parametrize("name", SCENES)
def test_scene_loudness_is_on_target(name: str, scene_metrics: Metrics) -> None:
    assert scene_metrics(name).lufs == pytest.approx(-23.0, abs=1.0)


@pytest.mark.parametrize("name", SCENES)
def test_scene_true_peak_below_minus_one(name: str, scene_metrics: Metrics) -> None:
    assert scene_metrics(name).true_peak_dbtp <= -1.0


@pytest.mark.parametrize("name", SCENES)
def test_scene_never_startles(name: str, scene_metrics: Metrics) -> None:
    m = scene_metrics(name)
    assert m.startle_ok
    assert m.startle_worst_lu <= STARTLE_LIMIT_LU


@pytest.mark.parametrize("name", SCENES)
def test_scene_is_finite_stereo_without_dc(name: str, scene_metrics: Metrics) -> None:
    m = scene_metrics(name)
    assert m.finite
    assert m.channels == 2
    assert m.frames == round(120 * SR)
    assert all(abs(dc) < 1e-3 for dc in m.dc)
    assert m.channel_correlation < 0.999  # two channels, not a copied mono signal


@pytest.mark.parametrize("name", SCENES)
def test_scene_has_no_clicks_at_quantum_boundaries(name: str, scene_metrics: Metrics) -> None:
    """The engine works in quanta of 4096 frames; their seams must not be heard.

    Jumps across the seams are compared with jumps at control positions between them.
    """
    c = scene_metrics(name).clicks
    assert c.n > 1000
    # no seam jump stands out more than the worst jump at the controls ...
    assert c.worst_ratio <= 1.5 * c.control_worst_ratio, c
    # ... and seams are not systematically the largest jump in their neighbourhood
    assert c.local_max_share <= 3 * c.control_local_max_share + 0.01, c


@pytest.mark.parametrize(
    ("name", "target"),
    [("rain", -16.0), ("rain", -30.0), ("gong-bath", -16.0), ("rain-with-bowls", -14.0)],
)
def test_other_loudness_targets(name: str, target: float) -> None:
    # 10 s, calibrated as a whole (under MIX_CALIBRATION_S): 22 gated 400 ms blocks
    audio = render_array(build_mix(load_scene(name), duration_s=10.0, seed=0, target_lufs=target))
    assert lufs(audio, SR) == pytest.approx(target, abs=1.0)
    assert true_peak_dbtp(audio) <= -1.0


@pytest.mark.parametrize(
    ("name", "rate"),
    [("rain", 22_050), ("rain", 96_000), ("gong-bath", 22_050), ("pink-noise", 96_000)],
)
def test_other_sample_rates(name: str, rate: int) -> None:
    mix = build_mix(load_scene(name), duration_s=10.0, seed=0, sample_rate=rate)
    assert mix.sample_rate == rate
    audio = render_array(mix)
    assert audio.shape == (2, 10 * rate)
    assert np.all(np.isfinite(audio))
    assert lufs(audio, rate) == pytest.approx(-23.0, abs=1.0)
    assert true_peak_dbtp(audio) <= -1.0


# -- bad input at the API level ----------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field", "hint"),
    [
        ({"duration_s": 0.0}, "duration", "43200"),
        ({"duration_s": -5.0}, "duration", "43200"),
        ({"duration_s": 12 * 3600 + 1.0}, "duration", "43200"),
        ({"duration_s": float("nan")}, "duration", "finite"),
        ({"duration_s": float("inf")}, "duration", "finite"),
        ({"seed": -1}, "seed", "2^63"),
        ({"seed": 1.5}, "seed", "whole"),
        ({"seed": True}, "seed", "whole"),
        ({"sample_rate": 8000}, "sample_rate", "22050"),
        ({"sample_rate": 200_000}, "sample_rate", "96000"),
        ({"sample_rate": 44_100.5}, "sample_rate", "whole"),
        ({"target_lufs": -40.0}, "loudness", "-30"),
        ({"target_lufs": -10.0}, "loudness", "-14"),
        ({"target_lufs": float("nan")}, "loudness", "finite"),
    ],
)
def test_build_mix_rejects_bad_input(
    kwargs: dict[str, object], field: str, hint: str, tmp_path: Path
) -> None:
    args: dict[str, object] = {"duration_s": 5.0, "seed": 0, "sample_rate": SR}
    args.update(kwargs)
    out = tmp_path / "never.flac"
    with pytest.raises(ParameterError) as exc:
        mix = build_mix(load_scene("rain"), **args)  # type: ignore[arg-type]
        render_to_file(mix, out)
    assert exc.value.field.startswith(field)
    assert hint in str(exc.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "300", None])
def test_source_params_must_be_finite_numbers(value: object) -> None:
    with pytest.raises(ParameterError) as exc:
        PinkNoise(sample_rate=SR, seed=0, cutoff_hz=value)  # type: ignore[arg-type]
    assert exc.value.field == "PinkNoise.cutoff_hz"
    assert "40" in exc.value.message and "48000" in exc.value.message


def test_source_rejects_unknown_params_and_bad_seed() -> None:
    with pytest.raises(ParameterError) as exc:
        SingingBowl(sample_rate=SR, seed=0, pitch=200.0)
    assert exc.value.field == "SingingBowl.pitch"
    assert "pitch_hz" in exc.value.message
    with pytest.raises(ParameterError) as exc:
        Gong(sample_rate=SR, seed=2.5)  # type: ignore[arg-type]
    assert exc.value.field == "seed"


@pytest.mark.parametrize("rate", [8000, 200_000, 44_100.5, float("nan"), "48000"])
def test_check_sample_rate(rate: object) -> None:
    with pytest.raises(ParameterError) as exc:
        check_sample_rate(rate)
    assert exc.value.field == "sample_rate"
    with pytest.raises(ParameterError):
        PinkNoise(sample_rate=rate)  # type: ignore[arg-type]


def test_mix_rejects_bad_layers_and_gains() -> None:
    with pytest.raises(ParameterError) as exc:
        Mix([], duration_s=1.0)
    assert exc.value.field == "layers"
    with pytest.raises(ParameterError) as exc:
        Mix(
            [Layer(PinkNoise(sample_rate=SR)), Layer(PinkNoise(sample_rate=22_050))],
            duration_s=1.0,
        )
    assert exc.value.field == "layers"
    with pytest.raises(ParameterError) as exc:
        Layer(PinkNoise(sample_rate=SR), gain_db=30.0, name="hiss")
    assert exc.value.field == "hiss.gain_db"
    with pytest.raises(ParameterError) as exc:
        Layer(PinkNoise(sample_rate=SR), pan=float("nan"), name="hiss")
    assert exc.value.field == "hiss.pan"


def test_make_rng_streams_are_reproducible_and_independent() -> None:
    a = make_rng(7, "noise", 1).standard_normal(1000)
    np.testing.assert_array_equal(a, make_rng(7, "noise", 1).standard_normal(1000))
    b = make_rng(7, "noise", 2).standard_normal(1000)
    c = make_rng(8, "noise", 1).standard_normal(1000)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.15
    assert abs(np.corrcoef(a, c)[0, 1]) < 0.15


def test_sos_filter_without_scipys_kernel_filters_in_place_and_carries_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the fallback (scipy's kernel not found) filters the caller's array in place, as
    # process_inplace promises, with the same samples and state as the kernel, chunked
    from scipy import signal

    import sonora.engine.dsp as dsp

    sos = signal.butter(4, 1000, fs=48_000, output="sos")
    x = np.random.default_rng(5).standard_normal((2, 5000))
    ref = dsp.SosFilter(sos, channels=2).process(x)
    monkeypatch.setattr(dsp, "_kernel", [None])
    f = dsp.SosFilter(sos, channels=2)
    parts = []
    for i in range(0, x.shape[1], 1234):
        y = np.ascontiguousarray(x[:, i : i + 1234])
        out = f.process_inplace(y)
        assert out is y
        parts.append(y)
    np.testing.assert_allclose(np.concatenate(parts, axis=1), ref, atol=1e-12)
