"""Tests for sonora.scenes.calibration: one loudness predictor for scenes and plans."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sonora.engine.graph import Layer, Mix
from sonora.engine.loudness import gated_integrated_from_blocks, integrated_lufs
from sonora.engine.noise import PinkNoise
from sonora.engine.render import render_array
from sonora.plan import CheckIn, compose, get_arm
from sonora.plan import render as plan_render
from sonora.plan.render import plan_mix
from sonora.scenes import build, load_scene
from sonora.scenes import calibration as cal
from sonora.scenes.build import build_mix

SR = 22_050  # calibration behaves the same at any rate; the lowest keeps the tests quick


def _spy(monkeypatch: pytest.MonkeyPatch, name: str) -> list[Any]:
    """Record calls of ``sonora.scenes.calibration.<name>`` (still running it)."""
    calls: list[Any] = []
    real: Callable[..., Any] = getattr(cal, name)

    def spy(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(cal, name, spy)
    return calls


def test_there_is_one_predictor_and_both_paths_use_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # no private copies left in the scene builder or the plan renderer
    for module in (build, plan_render):
        for old in (
            "_layer_loudness",
            "_measure_lufs",
            "fade_gain",
            "gated_integrated_from_blocks",
        ):
            assert not hasattr(module, old), (module.__name__, old)
    measured = _spy(monkeypatch, "measure_mix_lufs")
    predicted = _spy(monkeypatch, "predict_session_lufs")
    trimmed = _spy(monkeypatch, "source_trim_db")
    gains = _spy(monkeypatch, "master_gain_db")

    # a steady scene longer than the mix window: measured, then predicted
    build_mix(load_scene("rain"), duration_s=cal.MIX_CALIBRATION_S + 60, seed=1, sample_rate=SR)
    assert len(measured) == 1 and len(predicted) == 1 and len(trimmed) == 1 and len(gains) == 1

    # a sleep plan over five minutes: the trajectory-aware prediction, same functions
    c = CheckIn(tension=8, energy=7, goal="sleep", minutes=5.5, place="in_bed", local_time="23:30")
    plan = compose(c, get_arm("rain-drone/dark"), seed=1)
    for calls in (measured, predicted, trimmed, gains):
        calls.clear()
    plan_mix(plan, sample_rate=SR)
    assert len(measured) >= 2  # one window per distinct intensity
    assert len(predicted) == 1 and len(gains) == 1
    assert len(trimmed) == len(plan.plan_layers)


def test_measure_mix_lufs_is_the_meter_on_the_mix_without_its_limiter() -> None:
    mix = Mix(
        [Layer(PinkNoise(seed=3, sample_rate=SR), gain_db=-6.0)], duration_s=6.0, ceiling_dbtp=-20.0
    )
    limiter = mix.limiter
    got = cal.measure_mix_lufs(mix, skip_frames=SR // 2)
    assert mix.limiter is limiter and mix.position_frames == 0  # restored and reset
    mix.limiter = None
    mix.reset()
    audio = render_array(mix)
    assert got == pytest.approx(integrated_lufs(audio[:, SR // 2 :], mix.sample_rate), abs=1e-9)


def test_prediction_applies_fades_and_gating_to_the_curve() -> None:
    flat = cal.predict_session_lufs(
        lambda t: np.full(t.shape, -20.0),
        duration_s=600.0,
        sample_rate=SR,
        fade_in_s=0.0,
        fade_out_s=0.0,
    )
    assert flat == pytest.approx(-20.0, abs=1e-9)
    faded = cal.predict_session_lufs(
        lambda t: np.full(t.shape, -20.0),
        duration_s=600.0,
        sample_rate=SR,
        fade_in_s=60.0,
        fade_out_s=60.0,
    )
    assert faded < flat  # fades lower it, and gating keeps the silent ends out
    ramp = cal.predict_session_lufs(
        lambda t: -30.0 + t / 60.0, duration_s=600.0, sample_rate=SR, fade_in_s=0, fade_out_s=0
    )
    t = cal.session_seconds(600.0)
    assert ramp == pytest.approx(gated_integrated_from_blocks(-30.0 + t / 60.0), abs=1e-12)


def test_master_gain_moves_the_prediction_to_the_target() -> None:
    assert cal.master_gain_db(-23.0, -30.0) == pytest.approx(7.0)
    assert cal.master_gain_db(-23.0, -math.inf) == 0.0  # silence: leave the gain alone
    assert cal.master_gain_db(-23.0, -500.0) == 60.0  # within what a Mix accepts


def test_source_trim_brings_a_source_to_the_reference() -> None:
    trim = cal.source_trim_db("pink_noise", {}, seed=5, sample_rate=SR)
    src = PinkNoise(seed=5, sample_rate=SR)
    audio = src.process(round(min(cal.MAX_CALIBRATION_S, src.calibration_seconds()) * SR))
    scaled = audio * np.float32(10 ** (trim / 20))
    assert integrated_lufs(scaled, SR) == pytest.approx(cal.LAYER_REFERENCE_LUFS, abs=0.01)


@pytest.mark.parametrize(
    ("source", "params"), [("pink_noise", {}), ("singing_bowl", {"interval_s": 7.0})]
)
def test_a_replayed_trim_is_the_trim_and_the_source_plays_on_unchanged(
    source: str, params: dict[str, float], tmp_path: Any
) -> None:
    """Measured on the session's own source, then replayed: the same trim (dB, to the
    bit) and the same samples, whatever the block sizes asked across the window's end."""
    from sonora.engine.registry import source_class

    rate = 24_000
    cls = source_class(source)
    src = cls(sample_rate=rate, seed=5, **params)
    trim_db = cal.replayed_trim_db(src, sample_rate=rate, spool_dir=tmp_path)
    assert trim_db == cal.source_trim_db(source, params, seed=5, sample_rate=rate) != 0.0
    assert list(tmp_path.iterdir()) == []  # the spool is an unlinked file
    window = round(min(cal.MAX_CALIBRATION_S, src.calibration_seconds()) * rate)
    fresh = cls(sample_rate=rate, seed=5, **params)
    sizes = [128, 1_000, window - 1_500, 700, 128, 5_000]  # one block straddles the end
    got = np.concatenate([src.process(n) for n in sizes], axis=1)
    want = np.concatenate([fresh.process(n) for n in sizes], axis=1)
    assert got.dtype == np.float32 and got.shape == (src.channels, sum(sizes))
    assert np.array_equal(got, want)
    assert "process" not in vars(src)  # the source's own process is back


def test_a_replayed_trim_without_room_for_its_window_starts_the_source_over(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No file for the window (a full disk): the same trim, and the source, reset,
    renders the same samples from its start."""
    import tempfile

    from sonora.engine.registry import source_class

    def no_room(*args: Any, **kwargs: Any) -> Any:
        raise OSError(28, "No space left on device")

    rate = 24_000
    cls = source_class("pink_noise")
    want = cls(sample_rate=rate, seed=3).process(50_000)
    src = cls(sample_rate=rate, seed=3)
    monkeypatch.setattr(tempfile, "TemporaryFile", no_room)
    trim_db = cal.replayed_trim_db(src, sample_rate=rate, spool_dir=tmp_path)
    monkeypatch.undo()
    assert trim_db == cal.source_trim_db("pink_noise", {}, seed=3, sample_rate=rate)
    assert "process" not in vars(src)
    assert np.array_equal(src.process(50_000), want)
