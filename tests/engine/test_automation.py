"""Tests for sonora.engine.automation: curve shapes, validation, and automation heard.

Expected values come from the definitions in the module docstring (a straight line in
value, a straight line in log value, a step), computed here with plain arithmetic.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from testkit import SR, centroid_hz, window_lufs

from sonora.engine.automation import Curve
from sonora.engine.render import render_array
from sonora.errors import ParameterError
from sonora.scenes import parse_scene
from sonora.scenes.build import build_mix


# -- evaluation ---------------------------------------------------------------------
def test_linear_segment_is_a_straight_line() -> None:
    c = Curve.from_spec([[10, 2.0], [20, 6.0]])
    t = np.array([10.0, 12.5, 15.0, 19.0, 20.0])
    np.testing.assert_allclose(c.at(t), 2.0 + (t - 10.0) * 0.4, rtol=1e-12)


def test_default_shape_is_linear() -> None:
    assert Curve.from_spec([[0, 1.0], [4, 3.0]]).shapes[1] == "linear"


def test_exp_segment_is_a_straight_line_in_log_value() -> None:
    c = Curve.from_spec([[0, 10.0], [60, 6.0, "exp"]])
    t = np.array([0.0, 15.0, 30.0, 45.0, 59.0, 60.0])
    expected = 10.0 * (6.0 / 10.0) ** (t / 60.0)
    np.testing.assert_allclose(c.at(t), expected, rtol=1e-12)
    # a constant ratio per second: equal steps in time multiply by the same factor
    v = c.at(np.array([0.0, 20.0, 40.0]))
    assert v[1] / v[0] == pytest.approx(v[2] / v[1], rel=1e-12)


def test_exp_segment_with_negative_values() -> None:
    c = Curve.from_spec([[0, -8.0], [2, -2.0, "exp"]])
    assert float(c.at(np.array([1.0]))[0]) == pytest.approx(-4.0, rel=1e-12)


def test_hold_keeps_previous_value_until_the_point() -> None:
    c = Curve.from_spec([[0, 1.0], [10, 5.0, "hold"], [20, 9.0]])
    t = np.array([0.0, 5.0, 9.999, 10.0, 15.0, 20.0])
    np.testing.assert_allclose(c.at(t), [1.0, 1.0, 1.0, 5.0, 7.0, 9.0], rtol=1e-12)


def test_values_are_clamped_outside_the_points() -> None:
    c = Curve.from_spec([[5, 3.0], [10, 7.0, "exp"]])
    np.testing.assert_allclose(c.at(np.array([0.0, 4.9, 10.0, 1e6])), [3.0, 3.0, 7.0, 7.0])


@pytest.mark.parametrize("shape", ["linear", "exp", "hold"])
def test_scalar_time_gives_the_same_value_as_an_array(shape: str) -> None:
    """``at`` takes a float or an array (docstring); a float inside a segment must work."""
    c = Curve.from_spec([[0, 10.0], [60, 6.0, shape]])
    for t in (0.0, 30.0, 59.5, 60.0, 90.0):
        scalar = float(c.at(t))
        assert scalar == float(c.at(np.array([t]))[0])


def test_evaluation_does_not_depend_on_how_time_is_sliced() -> None:
    c = Curve.from_spec([[0, 100.0], [3, 4000.0, "exp"], [5, 50.0], [8, 300.0, "hold"]])
    t = np.arange(0, 10 * SR) / SR
    whole = c.at(t)
    parts = np.concatenate([c.at(t[i : i + 4097]) for i in range(0, t.size, 4097)])
    np.testing.assert_array_equal(whole, parts)


def test_constant_range_scaled_and_to_spec_round_trip() -> None:
    c = Curve.from_spec(-12)
    assert c.is_constant and float(c.at(np.array([123.0]))[0]) == -12.0
    ramp = Curve.from_spec([[0, -6.0], [30, -18.0], [60, -12.0, "hold"]])
    assert not ramp.is_constant
    assert ramp.range() == (-18.0, -6.0)
    np.testing.assert_allclose(ramp.scaled(6.0).at(np.array([15.0])), [-6.0])
    assert Curve.from_spec(ramp.to_spec()) == ramp
    assert Curve.from_spec({"points": ramp.to_spec()}) == ramp


# -- validation ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ([], "gain"),
        ("loud", "gain"),
        (True, "gain"),
        ([[0, 1.0], 5], "gain[1]"),
        ([[0, 1.0, "linear", "extra"]], "gain[0]"),
        ([[0, 1.0], [5, 2.0, "cubic"]], "gain[1].shape"),
        ([[0, 1.0], [0, 2.0]], "gain[1].time_s"),
        ([[5, 1.0], [3, 2.0]], "gain[1].time_s"),
        ([[-1, 1.0]], "gain[0].time_s"),
        ([[0, float("nan")]], "gain[0].value"),
        ([[0, 1.0], [float("inf"), 2.0]], "gain[1].time_s"),
        ([[0, 1.0], [5, -1.0, "exp"]], "gain[1].shape"),
        ([[0, 0.0], [5, 1.0, "exp"]], "gain[1].shape"),
        ([[0, "a"]], "gain[0].value"),
    ],
)
def test_from_spec_errors_name_the_field(spec: object, field: str) -> None:
    with pytest.raises(ParameterError) as exc:
        Curve.from_spec(spec, field="gain")
    assert exc.value.field == field
    assert field in str(exc.value)


def test_non_increasing_times_message_says_so() -> None:
    with pytest.raises(ParameterError, match="increase"):
        Curve.from_spec([[0, 1.0], [10, 2.0], [10, 3.0]])


# -- automation heard in a render ------------------------------------------------------
def _scene(layer: dict[str, object]) -> dict[str, object]:
    return {
        "name": "automation-test",
        "description": "One automated layer.",
        "fade_in_s": 0,
        "fade_out_s": 0,
        "layers": [layer],
    }


def test_gain_ramp_down_makes_the_render_quieter_over_time() -> None:
    scene = parse_scene(
        _scene({"source": "pink_noise", "gain_db": [[0, 0.0], [10, -18.0]]}),
    )
    audio = render_array(build_mix(scene, duration_s=12.0, seed=4, target_lufs=-23.0))
    start = window_lufs(audio, SR, 0.2, 1.0)
    end = window_lufs(audio, SR, 10.5, 1.0)
    # the ramp is 18 dB: the first second is ~1 dB into it, the last second is past it
    drop = start - end
    assert 15.5 <= drop <= 18.5
    levels = [window_lufs(audio, SR, t, 1.0) for t in range(0, 11)]
    assert all(b < a for a, b in itertools.pairwise(levels))


def test_noise_cutoff_automation_makes_the_render_darker() -> None:
    scene = parse_scene(
        _scene(
            {
                "source": "pink_noise",
                "params": {"cutoff_hz": 8000.0},
                "automation": {"cutoff_hz": [[0, 8000.0], [8, 250.0, "exp"]]},
            }
        )
    )
    audio = render_array(build_mix(scene, duration_s=10.0, seed=2, target_lufs=-23.0))
    cents = [centroid_hz(audio[:, i * SR : (i + 1) * SR], SR) for i in range(10)]
    assert cents[-1] < cents[0] / 4
    # falls every second while the cutoff is moving
    assert all(b < a for a, b in itertools.pairwise(cents[:9]))


def test_exp_automation_in_a_scene_builds_and_renders() -> None:
    """Scenes commonly automate with ``exp`` (e.g. breath-pacer): building must work."""
    scene = parse_scene(
        _scene(
            {
                "source": "brown_noise",
                "automation": {"cutoff_hz": [[0, 2000.0], [4, 200.0, "exp"]]},
            }
        )
    )
    audio = render_array(build_mix(scene, duration_s=5.0, seed=0, target_lufs=None))
    assert audio.shape == (2, 5 * SR)
    assert np.all(np.isfinite(audio))


def test_automation_outside_the_parameter_range_is_refused() -> None:
    with pytest.raises(ParameterError) as exc:
        parse_scene(
            _scene(
                {
                    "source": "pink_noise",
                    "automation": {"cutoff_hz": [[0, 1000.0], [5, 10.0]]},
                }
            )
        )
    assert exc.value.field == "layers[0].automation.cutoff_hz"
    assert "40" in exc.value.message and "48000" in exc.value.message


def test_math_reference_for_exp_midpoint() -> None:
    """The doctest's 7.746 is the geometric mean of the two ends."""
    c = Curve.from_spec([[0, 10.0], [60, 6.0, "exp"]])
    assert float(c.at(np.array([30.0]))[0]) == pytest.approx(math.sqrt(60.0), rel=1e-12)
