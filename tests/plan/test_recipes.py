"""Tests for layered recipes: the catalogue as data, the roles over the trajectory (in
the rendered audio), the plain-words account of the layers, and the calibration of the
mix as a whole.

Audio is rendered at 22.05 kHz and measured with the independent instruments in
``testkit`` (pyloudnorm, a 4x-oversampled true peak) and the engine's no-startle check.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from testkit import lufs, true_peak_dbtp, window_lufs

from sonora.engine.loudness import STARTLE_LIMIT_LU, startle_check
from sonora.engine.render import render_array
from sonora.errors import ParameterError
from sonora.match import acoustics
from sonora.plan import CheckIn, allowed_arms, analysis_mix, compose, get_arm, plan_mix
from sonora.plan.recipes import (
    ARMS,
    MAX_LAYERS,
    RECIPES,
    STRIKE_FAMILIES,
    TONAL_FAMILIES,
    Recipe,
    RecipeLayer,
    get_recipe,
)

SR = 22_050


def test_catalogue_layers_two_to_four_families_each_with_a_part():
    layered = [r for r in RECIPES if len(r.families) >= 3]
    assert len(layered) >= 4 and any(len(r.families) == 4 for r in layered)
    for r in RECIPES:
        assert 1 <= len(r.layers) <= MAX_LAYERS
        assert max(layer.gain_db for layer in r.layers) == 0.0
        roles = [layer.role for layer in r.layers]
        if len(r.layers) >= 3:
            # a bed underneath and something in front of it; events are tonal and sparse
            assert "bed" in roles and ("texture" in roles or "event" in roles), r.name
        for layer in r.layers:
            if layer.role == "event":
                assert layer.family in TONAL_FAMILIES, (r.name, layer.family)
                assert layer.knobs["event_rate_per_min"] <= 10.0, r.name
                assert layer.gain_db <= 0.0
    # single-family recipes stay: a listener with one favourite can still have it alone
    singles = {r.families[0] for r in RECIPES if len(r.families) == 1}
    assert {"rain", "wind", "noise", "bowls", "drone"} <= singles
    assert len({a.id for a in ARMS}) == len(ARMS) == 3 * len(RECIPES)


@pytest.mark.parametrize(
    ("layers", "field"),
    [
        (tuple(RecipeLayer(f, f, 0.0) for f in ("rain", "wind")) * 3, "recipe.layers"),
        ((RecipeLayer("rain", "rain", 0.0), RecipeLayer("rain", "rain", -6.0)), "recipe.layers"),
        (
            (RecipeLayer("rain", "rain", -3.0), RecipeLayer("wind", "wind", -6.0)),
            "recipe.layers.gain_db",
        ),
        (
            (RecipeLayer("rain", "rain", 0.0), RecipeLayer("wind", "wind", -30.0)),
            "recipe.layers.gain_db",
        ),
        ((), "recipe.layers"),
    ],
)
def test_a_bad_recipe_names_the_field(layers, field):
    with pytest.raises(ParameterError) as info:
        Recipe("bad", "a bad recipe", layers)
    assert info.value.field == field
    with pytest.raises(ParameterError) as info:
        get_recipe("no-such-recipe")
    assert info.value.field == "recipe"


def test_every_layered_arm_is_in_the_acoustics_tables():
    table = acoustics._table()
    assert {a.id for a in ARMS} <= set(table)
    # the supplement is current for a layered recipe (re-measured here)
    assert acoustics.measure("shore/mid") == pytest.approx(table["shore/mid"], rel=0.02)


def test_the_reason_names_each_layer_by_its_part():
    c = CheckIn(tension=8, goal="unwind", minutes=20, local_time="20:30")
    reason = compose(c, get_arm("shore/mid")).reason
    assert (
        "The waves and a low drone hold steady underneath; a breeze in front follows the "
        "session down; a singing bowl sounds now and then, less often and further back as "
        "you settle." in reason
    )
    bright = compose(c, get_arm("focus-rain/bright")).reason
    assert "Pink noise holds steady underneath; rain in front follows the session down." in bright
    steady = compose(c.with_goal("focus"), get_arm("evening-rain/mid")).reason
    assert "Brown noise underneath; rain in front; a singing bowl now and then." in steady
    assert "follows" not in steady
    single = compose(c, get_arm("rain/mid")).reason
    assert "underneath" not in single and "in front" not in single


def test_layered_plans_keep_the_hard_rules():
    bedtime = CheckIn(tension=6, goal="sleep", minutes=30, place="in_bed", local_time="23:30")
    allowed = {a.recipe.name for a in allowed_arms(bedtime)}
    assert "evening-rain" in allowed and "night-rain" in allowed
    for arm in allowed_arms(bedtime):
        assert not set(arm.families) & STRIKE_FAMILIES
    assert "temple" not in allowed and "forest-chimes" not in allowed


@pytest.fixture(scope="module")
def evening_rain_sleep():
    c = CheckIn(tension=8, energy=6, goal="sleep", minutes=5, place="in_bed", local_time="23:30")
    return compose(c, get_arm("evening-rain/mid"), seed=7)


def test_each_layer_follows_its_role_over_the_trajectory(evening_rain_sleep):
    """Each layer of a sleep plan rendered alone (balanced, uncalibrated), from the hold
    to the end of the descent: the bed drops less than the session's own gain offset
    (it holds), the events more (they recede), the texture clearly more than the bed
    (it follows the trajectory, darkening and thinning)."""
    plan = evening_rain_sleep
    early, late = (0.0, 45.0), (150.0, 60.0)  # the hold ends at 30 s, the descent at 165 s
    offset = [np.mean(plan.trajectory.gain_at(np.arange(t, t + n, 0.5))) for t, n in (early, late)]
    session_drop = offset[0] - offset[1]
    assert session_drop > 6.0
    drop = {}
    for layer in plan.plan_layers:
        alone = replace(plan, plan_layers=(layer,))
        audio = render_array(analysis_mix(alone, duration_s=210.0, sample_rate=SR))
        drop[layer.role] = window_lufs(audio, SR, *early) - window_lufs(audio, SR, *late)
    assert drop["bed"] < session_drop - 0.5, (session_drop, drop)
    assert drop["event"] > session_drop + 2.0, (session_drop, drop)
    assert drop["texture"] > drop["bed"] + 4.0, (session_drop, drop)


def test_a_layered_mix_is_calibrated_as_a_whole(evening_rain_sleep):
    audio = render_array(plan_mix(evening_rain_sleep, sample_rate=SR))
    assert lufs(audio, SR) == pytest.approx(-23.0, abs=0.5)
    assert true_peak_dbtp(audio) <= -1.0
    assert startle_check(audio, SR).worst_rise_lu <= STARTLE_LIMIT_LU
    assert np.all(np.isfinite(audio))
