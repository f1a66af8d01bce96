"""Tests for session plans: check-ins, composition, JSON, trajectories and rendering.

Audio tests render short plans (5 minutes at 22.05 kHz, the shortest a check-in allows)
and measure them with instruments written independently of the engine (pyloudnorm's
K-weighting and a Welch spectral centroid from ``conftest``).
"""

from __future__ import annotations

import json
from itertools import product

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import signal
from testkit import centroid_hz, lufs, window_lufs

from sonora.engine.render import render_array
from sonora.errors import ParameterError
from sonora.plan import (
    ARMS,
    GOALS,
    CheckIn,
    CheckOut,
    Constraints,
    Outcome,
    Plan,
    allowed_arms,
    analysis_mix,
    arm_rejection,
    compose,
    get_arm,
    load_plan_or_scene,
    plan_excerpt,
    plan_from_scene,
    plan_mix,
    quiet_rest_plan,
    spectral_centroid_hz,
)
from sonora.plan.trajectory import GOAL_INTENSITY
from sonora.scenes import builtin_names, list_scenes, load_scene, read_scene_file

SR = 22_050
FORBIDDEN = ("therap", "treat", "cure", "heal")


def checkins() -> list[CheckIn]:
    """A spread of realistic check-ins (every goal, place, output, time)."""
    out = []
    for goal, place, output, (t, e), time, minutes in product(
        GOALS,
        ("in_bed", "sitting", "on_the_move"),
        ("headphones", "speaker"),
        ((9, 7), (2, 3)),
        ("23:40", "14:00"),
        (5, 30, 480),
    ):
        out.append(
            CheckIn(
                tension=t,
                energy=e,
                mood=5,
                goal=goal,
                minutes=minutes,
                place=place,
                output=output,
                local_time=time,
            )
        )
    return out


CHECKINS = checkins()


# -- check-in validation ---------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field", "text"),
    [
        ({"tension": 11}, "tension", "11 is out of range: allowed in [0, 10]"),
        ({"tension": -1}, "tension", "allowed in [0, 10]"),
        ({"energy": 10.5}, "energy", "allowed in [0, 10]"),
        ({"mood": "high"}, "mood", "expected a number"),
        ({"tension": 5, "goal": "nap"}, "goal", "choose one of ease_anxiety, focus, sleep, unwind"),
        ({"tension": 5, "minutes": -3}, "minutes", "-3 is out of range: allowed in [5, 720] min"),
        ({"tension": 5, "minutes": 4}, "minutes", "allowed in [5, 720] min"),
        ({"tension": 5, "minutes": 721}, "minutes", "allowed in [5, 720] min"),
        ({"tension": 5, "minutes": "soon"}, "minutes", "or 'all night'"),
        ({"tension": 5, "place": "bath"}, "place", "in_bed, on_the_move, sitting"),
        ({"tension": 5, "output": "radio"}, "output", "headphones, speaker"),
        ({"tension": 5, "local_time": "25:00"}, "local_time", "'HH:MM'"),
        ({"tension": 5, "note": "x" * 2001}, "note", "allowed up to 2000"),
        ({}, "tension", "at least one of tension, energy or mood"),
    ],
)
def test_bad_checkins_name_the_field_and_range(kwargs, field, text):
    with pytest.raises(ParameterError) as info:
        CheckIn(**kwargs)
    assert info.value.field == field
    assert text in str(info.value)
    assert str(info.value).startswith(f"{field}: ")


def test_checkin_from_dict_rejects_unknown_keys_and_normalises():
    with pytest.raises(ParameterError) as info:
        CheckIn.from_dict({"tension": 3, "stress": 4})
    assert info.value.field == "stress"
    c = CheckIn.from_dict({"energy": 4, "minutes": "all night", "local_time": "7:05"})
    assert c.minutes == 720.0 and c.local_time == "07:05"
    assert CheckIn(mood=3).arousal == 0.5
    assert CheckIn(tension=10, energy=0).arousal == pytest.approx(0.6)
    assert CheckIn(tension=4, goal="unwind", place="in_bed", local_time="23:30").is_bedtime
    assert not CheckIn(tension=4, goal="unwind", place="sitting", local_time="23:30").is_bedtime


def test_checkout_and_outcome_score():
    with pytest.raises(ParameterError) as info:
        CheckOut(rating=12)
    assert info.value.field == "rating"
    with pytest.raises(ParameterError) as info:
        CheckOut(completed="yes")
    assert info.value.field == "completed"
    before = CheckIn(tension=8, mood=3, goal="unwind")
    o = Outcome(before, CheckOut(tension=4, mood=5, rating=9))
    assert o.tension_drop == 4 and o.mood_rise == 2
    assert o.reward == pytest.approx(0.6 * 4 + 0.4 * 2 + 0.15 * 4)
    stopped = Outcome(before, {"tension": 8, "mood": 3, "completed": False})
    assert stopped.reward == pytest.approx(-1.0)
    asleep = Outcome(before, {"tension": 8, "completed": False, "fell_asleep": True})
    assert asleep.completed and asleep.reward == pytest.approx(0.0)


# -- composition rules -------------------------------------------------------------------
def test_every_allowed_plan_respects_rules_and_duration():
    n = 0
    for c in CHECKINS:
        for arm in allowed_arms(c):
            plan = compose(c, arm, seed=1)
            n += 1
            assert plan.duration_s == c.minutes * 60.0
            fams = set(plan.families)
            if not c.headphones:
                assert "binaural" not in fams and not plan.headphones
            if "binaural" in fams:
                assert plan.headphones
            if c.is_bedtime:
                assert not fams & {"gong", "chimes"}
                assert plan.brightness <= 0.45
            kind = plan.trajectory.kind
            if c.goal == "focus":
                assert kind == "steady"
            elif c.goal == "sleep" and c.place != "on_the_move":
                assert kind == "sleep"
                assert plan.trajectory.variant == ("hold" if c.minutes >= 90 else "fade")
            assert ("breath" in fams) == (c.goal == "ease_anxiety" and c.place != "on_the_move")
    assert n > 3000


def test_binaural_needs_headphones_everywhere():
    speaker = CheckIn(tension=5, goal="unwind", output="speaker")
    with pytest.raises(ParameterError) as info:
        compose(speaker, get_arm("rain-binaural/mid"))
    assert info.value.field == "arm" and "headphones" in str(info.value)
    plan = compose(speaker.with_goal("unwind"), get_arm("rain/mid"))
    data = plan.to_dict()
    data["layers"].append(
        {"family": "binaural", "source": "binaural", "gain_db": -8.0, "params": {}}
    )
    with pytest.raises(ParameterError) as info:
        Plan.from_dict(data)
    assert info.value.field == "headphones"


def test_constraints_remove_families_and_levels():
    c = CheckIn(tension=5, goal="unwind", output="headphones", local_time="15:00")
    cases = {
        Constraints(disliked=frozenset({"rain", "noise"})): {"rain", "noise"},
        Constraints(sensitivities=frozenset({"water"})): {"rain", "water"},
        Constraints(sensitivities=frozenset({"tonal"})): {
            "bowls",
            "gong",
            "chimes",
            "drone",
            "melody",
            "binaural",
        },
        Constraints(sensitivities=frozenset({"high_pitch"})): {"chimes"},
    }
    for cons, banned in cases.items():
        arms = allowed_arms(c, cons)
        assert arms
        for arm in arms:
            assert not set(arm.families) & banned
        if "high_pitch" in cons.sensitivities:
            assert all(a.level != "bright" for a in arms)
    tonal = compose(
        c.with_goal("ease_anxiety"), get_arm("rain/mid"), Constraints(sensitivities={"tonal"})
    )
    assert tonal.pacer is not None and tonal.pacer["tone_mix"] == 0.0
    no_pacer = compose(
        c.with_goal("ease_anxiety"), get_arm("rain/mid"), Constraints(disliked={"breath"})
    )
    assert no_pacer.pacer is None and "breath" not in no_pacer.families
    assert "leave out" in arm_rejection(get_arm("rain/mid"), c, Constraints(disliked={"rain"}))
    with pytest.raises(ParameterError) as info:
        Constraints(disliked={"jazz"})
    assert info.value.field == "disliked[0]"


def test_reasons_are_plain_and_never_claim_to_treat():
    for c in CHECKINS[::7]:
        for arm in allowed_arms(c)[::5]:
            reason = compose(c, arm, notes=["you have rated rain highly"]).reason.lower()
            assert not any(w in reason for w in FORBIDDEN), reason
            assert reason.endswith(".")
    c = CheckIn(tension=8, goal="sleep", minutes=20, local_time="23:30")
    reason = compose(c, get_arm("rain/dark"), notes=["you have rated rain highly"]).reason
    assert reason.startswith("It's late and you're wound up, so we start with lively rain")
    assert "slow it over nine minutes" in reason and "fade to silence" in reason
    assert reason.endswith("You have rated rain highly.")


# -- JSON -------------------------------------------------------------------------------
def test_plan_layers_are_family_gain_pairs():
    c = CheckIn(tension=6, goal="ease_anxiety", minutes=15, local_time="10:00")
    plan = compose(c, get_arm("rain-bowls/mid"))
    assert plan.layers == [("rain", 0.0), ("bowls", -3.0), ("breath", -4.0)]
    assert [layer.role for layer in plan.plan_layers] == ["texture", "event", "pacer"]
    for family, gain in plan.layers:
        assert isinstance(family, str) and isinstance(gain, float)
    assert plan.plan_layers[1].source == "singing_bowl"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    arm=st.sampled_from(ARMS),
    goal=st.sampled_from(GOALS),
    tension=st.integers(0, 10),
    minutes=st.sampled_from([5, 12.5, 20, 90, 720]),
    seed=st.integers(0, 2**62),
)
def test_json_round_trip_is_exact(arm, goal, tension, minutes, seed):
    c = CheckIn(
        tension=tension, goal=goal, minutes=minutes, output="headphones", local_time="12:00"
    )
    if arm_rejection(arm, c, Constraints()) is not None:
        return
    plan = compose(c, arm, seed=seed)
    text = plan.to_json()
    back = Plan.from_json(text)
    assert back == plan
    assert back.to_json() == text
    assert json.loads(text)["kind"] == "sonora-plan"


def test_plans_from_every_builtin_scene_round_trip_and_validate():
    for scene in list_scenes():
        plan = plan_from_scene(scene, duration_s=600.0, seed=2)
        assert Plan.from_json(plan.to_json()) == plan
        again = plan.to_scene()
        assert [sp.source for sp in again.layers] == [sp.source for sp in scene.layers]
        for a, b in zip(again.layers, scene.layers, strict=True):
            assert dict(a.params) == dict(b.params)
            assert a.gain_db == b.gain_db


def test_bad_plan_json_names_the_field():
    plan = compose(CheckIn(tension=4, goal="unwind"), get_arm("wind/mid"))
    data = plan.to_dict()
    for key, value, field in [
        ("duration_s", -5, "duration_s"),
        ("seed", -1, "seed"),
        ("goal", "nap", "goal"),
        ("kind", "scene", "kind"),
    ]:
        bad = {**data, key: value}
        with pytest.raises(ParameterError) as info:
            Plan.from_dict(bad)
        assert info.value.field == field
    bad = json.loads(plan.to_json())
    bad["layers"][0]["params"]["brightness"] = 3
    with pytest.raises(ParameterError) as info:
        Plan.from_dict(bad)
    assert info.value.field == "layer.params.brightness"


# -- trajectories (curves) -----------------------------------------------------------------
def _param_at(plan: Plan, layer: int, name: str, t: float) -> float:
    spec = plan.to_scene().layers[layer]
    if name == "gain_db":
        return float(spec.gain_db.at(t))
    if name in spec.automation:
        return float(spec.automation[name].at(t))
    return float(spec.params[name])


def test_every_plan_builds_a_valid_scene_whose_curves_follow_the_trajectory():
    for c in CHECKINS[::5]:
        for arm in allowed_arms(c)[::3]:
            plan = compose(c, arm)
            scene = plan.to_scene()
            assert scene.headphones == plan.headphones
            assert len(scene.layers) == len(plan.plan_layers)
            d = plan.duration_s
            if plan.trajectory.kind == "sleep":
                g0, g1 = _param_at(plan, 0, "gain_db", 0), _param_at(plan, 0, "gain_db", d)
                assert g1 <= g0 - 8
            if plan.trajectory.kind == "steady":
                assert all(
                    not sp.automation or "breaths_per_min" in sp.automation for sp in scene.layers
                )


def test_iso_starts_at_the_listener_and_leads_to_the_goal():
    for t, e in ((9, 8), (1, 1)):
        c = CheckIn(tension=t, energy=e, goal="unwind", minutes=30, local_time="21:30")
        plan = compose(c, get_arm("rain/mid"))
        traj = plan.trajectory
        assert traj.kind == "iso"
        assert traj.start_intensity == pytest.approx(c.arousal, abs=1e-3)
        assert traj.intensity_at(plan.duration_s) == pytest.approx(GOAL_INTENSITY["unwind"])
    tense = compose(CheckIn(tension=9, energy=8, goal="unwind", minutes=30), get_arm("rain/mid"))
    calm = compose(CheckIn(tension=1, energy=1, goal="unwind", minutes=30), get_arm("rain/mid"))
    for name in ("density", "brightness"):
        assert _param_at(tense, 0, name, 0) > _param_at(calm, 0, name, 0)


def test_u_shape_descends_rests_and_rises():
    c = CheckIn(tension=8, goal="unwind", minutes=30, local_time="13:00")
    plan = compose(c, get_arm("wind/mid"))
    assert plan.trajectory.kind == "u_shape"
    d = plan.duration_s
    b = [_param_at(plan, 0, "strength", t * d) for t in (0.0, 0.5, 0.99)]
    assert b[1] < b[0] and b[2] > b[1]
    assert "finish alert" in plan.reason


# -- rendered audio ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sleep_render() -> tuple[Plan, np.ndarray]:
    c = CheckIn(tension=8, energy=6, goal="sleep", minutes=5, place="in_bed", local_time="23:30")
    plan = compose(c, get_arm("rain-bowls/mid"), seed=11)
    return plan, render_array(plan_mix(plan, sample_rate=SR))


def test_sleep_plan_gets_quieter_and_darker(sleep_render):
    plan, audio = sleep_render
    assert audio.shape == (2, round(plan.duration_s * SR))
    # windows: the start, the end of the descent, the low hold before the fade
    starts = (15, 120, 190)
    loud = [window_lufs(audio, SR, s, 30) for s in starts]
    assert loud[0] > loud[1] + 4 and loud[1] > loud[2]
    cents = [centroid_hz(audio[:, s * SR : (s + 30) * SR], SR) for s in starts]
    assert cents[2] < 0.75 * cents[0] and cents[1] < cents[0]
    assert window_lufs(audio, SR, 290, 9.5) < loud[0] - 25  # faded almost to silence


def test_sleep_plan_loudness_is_calibrated(sleep_render):
    """Five minutes: the whole session is measured before the master gain is set."""
    _, audio = sleep_render
    assert lufs(audio, SR) == pytest.approx(-23.0, abs=0.5)


def test_longer_sleep_plan_loudness_is_predicted():
    """Over five minutes the loudness is predicted from a few frozen windows at the
    trajectory's turning intensities (the scene builder's five evenly spaced moments
    put sleep plans 1-2.5 LU too loud)."""
    c = CheckIn(tension=8, energy=7, goal="sleep", minutes=5.5, place="in_bed", local_time="23:30")
    plan = compose(c, get_arm("rain-drone/dark"), seed=1)
    audio = render_array(plan_mix(plan, sample_rate=SR))
    assert lufs(audio, SR) == pytest.approx(-23.0, abs=1.0)


def test_steady_plan_loudness_is_calibrated():
    c = CheckIn(tension=4, goal="focus", minutes=5, local_time="10:00")
    audio = render_array(plan_mix(compose(c, get_arm("stream/mid"), seed=2), sample_rate=SR))
    assert lufs(audio, SR) == pytest.approx(-23.0, abs=1.0)


def test_sleep_plans_darken_across_recipes():
    """For every recipe allowed at bedtime the end of the descent is darker than the
    opening; clearly so for the typical recipe (pitched sources darken least)."""
    c = CheckIn(tension=8, energy=6, goal="sleep", minutes=5, place="in_bed", local_time="23:30")
    ratios = {}
    for arm in allowed_arms(c)[::5]:
        plan = compose(c, arm, seed=3)
        audio = render_array(analysis_mix(plan, duration_s=210.0, sample_rate=SR))
        early = centroid_hz(audio[:, 10 * SR : 55 * SR], SR)  # the hold ends at 30 s
        late = centroid_hz(audio[:, 165 * SR : 210 * SR], SR)  # the descent ends at 165 s
        ratios[arm.id] = late / early
    assert np.median(list(ratios.values())) < 0.85, ratios
    assert max(ratios.values()) < 1.05, ratios


def test_u_shape_render_dips_and_recovers():
    c = CheckIn(tension=8, goal="unwind", minutes=5, local_time="13:00")
    plan = compose(c, get_arm("noise/mid"), seed=4)
    audio = render_array(analysis_mix(plan, sample_rate=SR))  # balanced, uncalibrated
    start, rest, end = (window_lufs(audio, SR, s, 20) for s in (12, 125, 262))
    assert rest < start - 2 and end > rest + 1.5
    c_start, c_rest, c_end = (
        centroid_hz(audio[:, s * SR : (s + 20) * SR], SR) for s in (12, 125, 262)
    )
    assert c_rest < c_start and c_end > c_rest


def _breaths_per_min(audio: np.ndarray, pitch_hz: float) -> float:
    """Breathing rate the pacer's swell paces, from the rendered audio: the period of
    the pacer tone's amplitude (a narrow STFT band around its pitch), by
    autocorrelation over lags of 3 to 15 s."""
    mono = audio.mean(axis=0).astype(np.float64)
    hop = SR // 10
    f, _, z = signal.stft(mono, fs=SR, nperseg=SR // 2, noverlap=SR // 2 - hop)
    k = int(np.argmin(np.abs(f - pitch_hz)))
    env = np.abs(z[k - 1 : k + 2]).sum(axis=0)
    env = env - env.mean()
    ac = np.correlate(env, env, "full")[env.size - 1 :]
    lag = 30 + int(np.argmax(ac[30:150]))  # in hops of 0.1 s
    return 60.0 / (lag / 10.0)


def test_breath_pacer_slows_in_the_rendered_audio():
    c = CheckIn(tension=8, energy=6, goal="ease_anxiety", minutes=5, local_time="11:00")
    plan = compose(c, get_arm("noise/dark"), seed=3)
    pacer = plan.pacer
    assert pacer is not None and (pacer["breaths_start"], pacer["breaths_end"]) == (10.0, 6.0)
    assert "slowing from 10 to 6 breaths a minute" in plan.reason
    audio = render_array(analysis_mix(plan, duration_s=290.0, sample_rate=SR))
    early = _breaths_per_min(audio[:, 5 * SR : 50 * SR], pacer["pitch_hz"])
    late = _breaths_per_min(audio[:, 170 * SR : 290 * SR], pacer["pitch_hz"])
    assert early > 8.3  # 10 falling toward 6 over the first 150 s
    assert late == pytest.approx(6.0, abs=0.4)


def test_iso_excerpt_is_brighter_for_a_tense_listener():
    def excerpt(t: int) -> np.ndarray:
        c = CheckIn(tension=t, energy=t, goal="unwind", minutes=20, local_time="20:00")
        return plan_excerpt(compose(c, get_arm("rain/mid"), seed=3))

    tense, calm = excerpt(9), excerpt(1)
    assert tense.shape == (2, 3 * 48_000) and tense.dtype == np.float32
    assert centroid_hz(tense, 48_000) > 1.2 * centroid_hz(calm, 48_000)
    assert spectral_centroid_hz(tense, 48_000) == pytest.approx(centroid_hz(tense, 48_000), rel=0.1)


def test_same_plan_and_seed_render_the_same_samples():
    c = CheckIn(tension=6, goal="ease_anxiety", minutes=5, local_time="11:00")
    plan = compose(c, get_arm("ocean-bowls/mid"), seed=5)
    a = plan_mix(Plan.from_json(plan.to_json()), sample_rate=SR, target_lufs=None).process(SR * 4)
    b = plan_mix(plan, sample_rate=SR, target_lufs=None).process(SR * 4)
    assert np.array_equal(a, b)
    other = compose(c, get_arm("ocean-bowls/mid"), seed=6)
    assert not np.array_equal(a, plan_mix(other, sample_rate=SR, target_lufs=None).process(SR * 4))


def test_durations_reach_the_engine():
    for minutes in (5, 47, 720):
        c = CheckIn(tension=5, goal="sleep", minutes=minutes)
        mix = plan_mix(compose(c, get_arm("noise/dark")), target_lufs=None)
        assert mix.total_frames == round(minutes * 60 * 48_000)


# -- files ---------------------------------------------------------------------------------
def test_load_plan_or_scene_tells_plans_from_scenes(tmp_path):
    c = CheckIn(tension=7, goal="sleep", minutes=20, local_time="23:00")
    plan = compose(c, get_arm("rain/dark"), seed=9)
    path = tmp_path / "plan.json"
    path.write_text(plan.to_json())
    scene = load_plan_or_scene(path)
    assert scene.layers[0].source == "rain" and scene.name == "plan-rain-dark"
    assert scene.to_dict() == plan.to_scene().to_dict()
    with pytest.raises(ParameterError) as info:  # a plan is not a scene file
        read_scene_file(path)
    assert "unknown key" in str(info.value)
    scene_file = tmp_path / "scene.json"
    scene_file.write_text(json.dumps(load_scene("rain").to_dict()))
    assert load_plan_or_scene(scene_file).layers[0].source == "rain"
    assert load_plan_or_scene("wind").name == "wind"
    assert "wind" in builtin_names()


def test_quiet_rest_plan_has_no_sound():
    c = CheckIn(tension=6, goal="unwind", minutes=15)
    plan = quiet_rest_plan(c, seed=1)
    assert plan.quiet_rest and plan.layers == [] and plan.duration_s == 900.0
    assert Plan.from_json(plan.to_json()) == plan
    with pytest.raises(ParameterError) as info:
        plan.to_scene()
    assert info.value.field == "layers"
    assert np.all(plan_excerpt(plan) == 0)
