"""Tests for the matcher: hard rules, learning, personal evidence (the command:
tests/match/test_match_cli.py).

Everything random is seeded; nothing is timed.  Learning tests use small simulated
listeners whose true preferences are known.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sonora.errors import ParameterError, SonoraError
from sonora.match import (
    InMemoryStore,
    Matcher,
    PersonalEvidence,
    PopulationModel,
    Profile,
    Store,
    acoustics,
    difference_interval,
)
from sonora.match import features as F
from sonora.match.evidence import assignment, make_report
from sonora.plan import FAMILIES, GOALS, CheckIn, CheckOut, Outcome, Plan
from sonora.plan.recipes import ARMS, TONAL_FAMILIES

SENS = ("high_pitch", "water", "tonal")


def _checkin(draw_goal, tension, minutes, place, output, hour):
    return CheckIn(
        tension=tension,
        goal=draw_goal,
        minutes=minutes,
        place=place,
        output=output,
        local_time=f"{hour:02d}:15",
    )


checkin_st = st.builds(
    _checkin,
    st.sampled_from(GOALS),
    st.integers(0, 10),
    st.sampled_from([5, 20, 45, 480]),
    st.sampled_from(["in_bed", "sitting", "on_the_move"]),
    st.sampled_from(["headphones", "speaker"]),
    st.integers(0, 23),
)


# -- hard rules --------------------------------------------------------------------------
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    disliked=st.sets(st.sampled_from(FAMILIES), max_size=6),
    sens=st.sets(st.sampled_from(SENS)),
    checkin=checkin_st,
    seed=st.integers(0, 1000),
)
def test_disliked_families_and_sensitivities_are_never_played(disliked, sens, checkin, seed):
    m = Matcher(seed=seed)
    m.onboard("a", {"disliked": sorted(disliked), "sensitivities": sorted(sens)})
    plan = m.recommend("a", checkin)
    fams = set(plan.families)
    assert not fams & disliked
    assert plan.duration_s == checkin.minutes * 60.0
    if "water" in sens:
        assert not fams & {"rain", "water"}
    if "tonal" in sens:
        assert not fams & TONAL_FAMILIES
        if plan.pacer is not None:
            assert plan.pacer["tone_mix"] == 0.0
    if "high_pitch" in sens:
        assert "chimes" not in fams and plan.brightness < 0.7
    if "binaural" in fams:
        assert checkin.output == "headphones" and plan.headphones
    if checkin.is_bedtime:
        assert not fams & {"gong", "chimes"} and plan.brightness <= 0.45
    assert Plan.from_json(plan.to_json()) == plan


def test_dislikes_hold_while_learning_from_many_sessions():
    rng = np.random.default_rng(3)
    m = Matcher(seed=3, refit_every=20)
    for i in range(12):
        m.onboard(f"l{i}", {"disliked": ["rain", "bowls"] if i % 2 else ["noise"]})
    for _ in range(8):
        for i in range(12):
            c = CheckIn(
                tension=int(rng.integers(0, 11)),
                goal=str(rng.choice(GOALS)),
                minutes=20,
                output="headphones",
            )
            plan = m.recommend(f"l{i}", c)
            banned = {"rain", "bowls"} if i % 2 else {"noise"}
            assert not set(plan.families) & banned
            m.record(f"l{i}", plan, {"tension": float(rng.integers(0, 11)), "rating": 9.0})


def test_everything_ruled_out_gives_quiet_rest():
    m = Matcher()
    m.onboard("x", {"disliked": [f for f in FAMILIES if f not in ("wind",)], "sensitivities": []})
    wind = m.recommend("x", CheckIn(tension=5, goal="unwind"))
    assert wind.families == ("wind",)
    m.onboard("y", {"disliked": list(FAMILIES)})
    plan = m.recommend("y", {"tension": 5, "goal": "sleep", "minutes": 30})
    assert plan.quiet_rest and plan.layers == []
    assert "rule out every sound" in plan.reason


def test_profile_errors_name_the_field():
    with pytest.raises(ParameterError) as info:
        Profile.from_onboarding("a", {"loved": ["rain", "jazz"]})
    assert info.value.field == "loved[1]"
    with pytest.raises(ParameterError) as info:
        Profile.from_onboarding("a", {"loved": ["rain"], "disliked": ["rain"]})
    assert info.value.field == "loved"
    with pytest.raises(ParameterError) as info:
        Profile.from_onboarding("a", {"sensitivities": ["loud"]})
    assert info.value.field == "sensitivities[0]"
    with pytest.raises(ParameterError) as info:
        Profile.from_onboarding("a", {"favourite": "rain"})
    assert info.value.field == "favourite"
    p = Profile.from_onboarding("a", {"loved": ["bowls"], "default_goal": "sleep"})
    assert Profile.from_dict(p.to_dict()) == p


def test_bad_checkins_reach_the_caller_as_parameter_errors():
    m = Matcher()
    for bad, field in [
        ({"tension": 11}, "tension"),
        ({"tension": 3, "goal": "party"}, "goal"),
        ({"tension": 3, "minutes": -10}, "minutes"),
        ({"tension": 3, "mood_after": 2}, "mood_after"),
    ]:
        with pytest.raises(ParameterError) as info:
            m.recommend("a", bad)
        assert info.value.field == field


def test_default_goal_fills_an_open_checkin():
    m = Matcher()
    m.onboard("a", {"default_goal": "sleep"})
    plan = m.recommend("a", {"tension": 6, "minutes": 30})
    assert plan.goal == "sleep" and plan.trajectory.kind == "sleep"


# -- learning ----------------------------------------------------------------------------
class PrefersBowls:
    """A listener who clearly gets more from singing bowls than from anything else."""

    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)

    def respond(self, plan: Plan, checkin: CheckIn) -> dict:
        share = dict(F.shares(plan.layers)).get("bowls", 0.0)
        effect = 1.0 + 2.5 * share - 0.5 * (1 - share)
        z = self.rng.normal(0, 1.0, 2)
        return {
            "tension": float(np.clip(round(checkin.tension - effect + z[0]), 0, 10)),
            "rating": float(np.clip(round(5 + 1.5 * (effect - 1) + z[1]), 0, 10)),
            "completed": True,
        }


def test_learner_converges_on_a_clear_preference():
    """A fresh matcher (no population yet) must find the one family that helps.

    With twelve sources to try and tempered exploration, discovery takes a handful to
    a couple of dozen sessions; once found, it is kept.
    """
    picked = []
    for seed in range(8):
        m = Matcher(seed=seed)
        lis = PrefersBowls(seed)
        got = []
        for s in range(30):
            c = CheckIn(
                tension=7,
                goal=("unwind", "ease_anxiety", "focus")[s % 3],
                minutes=20,
                local_time="15:00",
            )
            plan = m.recommend("me", c)
            m.record("me", plan, lis.respond(plan, c))
            got.append("bowls" in plan.families)
        picked.append(np.mean(got[20:]))
    assert np.mean(picked) >= 0.8, picked
    assert sum(p >= 0.7 for p in picked) >= 6, picked
    reasons = m.recommend("me", CheckIn(tension=7, goal="unwind", minutes=20)).reason
    # what was learnt, said in plain words for this goal
    assert "Singing bowls helped you" in reasons and "when unwinding" in reasons
    assert "(a pattern, not proof)" in reasons


def test_population_prior_pools_across_listeners():
    """Declared loves that truly help raise the shared 'loved' coefficient."""
    rng = np.random.default_rng(0)
    m = Matcher(seed=1, refit_every=25)
    favourites = ["rain", "bowls", "noise", "water"]
    for i in range(40):
        m.onboard(f"l{i}", {"loved": [favourites[i % 4]]})
    for _ in range(5):
        for i in range(40):
            c = CheckIn(tension=6, goal="unwind", minutes=20)
            plan = m.recommend(f"l{i}", c)
            fam = dict(F.shares(plan.layers)).get(favourites[i % 4], 0.0)
            effect = 0.5 + 2.0 * fam
            m.record(
                f"l{i}", plan, {"tension": float(np.clip(round(6 - effect + rng.normal()), 0, 10))}
            )
    m.refit()
    # moved from the starting 0.8 toward the truth (2.0; personal coefficients share it)
    assert m.population.coefficient("loved") > 1.0
    m.onboard("new", {"loved": ["noise"]})
    top = m.arm_scores("new", CheckIn(tension=6, goal="unwind", minutes=20))[0]["arm"]
    assert top.startswith("noise")
    again = PopulationModel.from_dict(json.loads(json.dumps(m.population.to_dict())))
    assert np.allclose(again.mu, m.population.mu) and np.allclose(again.cov, m.population.cov)
    fresh = Matcher(m.store)  # a new process reads the prior saved in the store
    assert np.allclose(fresh.population.mu, m.population.mu)


def test_record_accepts_outcomes_checkouts_and_mappings():
    m = Matcher()
    c = CheckIn(tension=8, mood=4, goal="unwind", minutes=20)
    plan = m.recommend("a", c)
    r1 = m.record("a", plan, {"tension": 5, "mood": 5, "rating": 7})
    r2 = m.record("a", plan, CheckOut(tension=5, mood=5, rating=7))
    r3 = m.record("a", plan, Outcome(c, CheckOut(tension=5, mood=5, rating=7)))
    assert r1 == r2 == r3 == pytest.approx(0.6 * 3 + 0.4 * 1 + 0.15 * 2)
    assert len(m.store.sessions("a")) == 3
    rec = m.store.sessions("a")[0]
    assert rec.families == plan.families and len(rec.features) == F.DIM
    json.dumps(rec.to_dict())
    no_checkin = Plan.from_dict({**plan.to_dict(), "checkin": None})
    with pytest.raises(ParameterError) as info:
        m.record("a", no_checkin, {"tension": 3})
    assert info.value.field == "outcome"
    assert isinstance(m.store, Store) and isinstance(InMemoryStore(), Store)


def test_arm_scores_explain_the_ranking():
    m = Matcher()
    m.onboard("a", {"loved": ["rain"]})
    scores = m.arm_scores("a", CheckIn(tension=5, goal="unwind", minutes=20))
    assert scores[0]["mean"] >= scores[-1]["mean"]
    assert scores[0]["arm"].startswith("rain")


def _world(bo_effect: float) -> Matcher:
    """Three listeners learn; "bo" (who opted in to personal evidence) learns last,
    with an effect of ``bo_effect`` points per unit share of singing bowls."""
    rng = np.random.default_rng(1)
    m = Matcher(seed=5, refit_every=10)
    m.onboard("ana", {"loved": ["rain"]})
    m.onboard("cy", {"loved": ["noise"]})
    m.onboard("bo", {"loved": ["bowls"], "personal_evidence": True})

    def session(lid: str, effect: float, family: str) -> None:
        plan = m.recommend(lid, CheckIn(tension=7, goal="unwind", minutes=20, local_time="15:00"))
        gain = effect * dict(F.shares(plan.layers)).get(family, 0.0)
        after = float(np.clip(round(6 - gain + rng.normal()), 0, 10))
        m.record(lid, plan, {"tension": after, "rating": float(np.clip(5 + 2 * gain, 0, 10))})

    for _ in range(6):
        session("ana", 2.0, "rain")
        session("cy", 2.0, "noise")
    for _ in range(10):
        session("bo", bo_effect, "bowls")
    m.set_personal_evidence("bo")  # so the matcher keeps which arm a plan was
    m.recommend("bo", CheckIn(tension=5, goal="sleep", minutes=30))  # a plan not yet played
    m.refit()
    return m


def test_forget_removes_everything_learnt_about_a_listener():
    a, b = _world(0.0), _world(5.0)
    # what bo did shaped the shared prior everyone starts from ...
    assert not np.allclose(a.population.mu, b.population.mu)
    assert b.store.sessions("bo") and b.store.get_state("match.pending.bo") is not None
    for m in (a, b):
        m.forget("bo")
        assert "bo" not in m.store.listener_ids()
        assert m.store.sessions("bo") == [] and m.store.get_profile("bo") is None
        assert m.store.get_state("match.pending.bo") is None
        assert all(r.listener_id != "bo" for r in m.store.sessions())
        report = m.evidence_report("bo")
        assert report.n_sound == report.n_rest == 0 and not report.enough
        assert len(m.store.sessions("ana")) == 6  # others keep theirs
    # ... and after forgetting, nothing of it is left: both worlds agree exactly
    assert np.allclose(a.population.mu, b.population.mu)
    assert np.allclose(a.population.cov, b.population.cov)
    assert a.population.sigma2 == pytest.approx(b.population.sigma2)
    assert a.population.n_sessions == 12
    c = CheckIn(tension=6, goal="unwind", minutes=20, local_time="15:00")
    assert a.arm_scores("ana", c) == b.arm_scores("ana", c)
    assert a.recommend("ana", c) == b.recommend("ana", c)
    fresh = Matcher(b.store)  # the prior saved in the store is the cleaned one
    assert np.allclose(fresh.population.mu, b.population.mu)
    a.forget("nobody")  # unknown listeners: nothing to remove, no error


def test_forget_refuses_when_the_store_still_holds_the_listener():
    class NoDelete:
        """A store that cannot delete (as the app's database store: it deletes the
        account itself, then asks the matcher to forget)."""

        def __init__(self) -> None:
            self.inner = InMemoryStore()

        def __getattr__(self, name: str):
            if name == "delete_listener":
                raise AttributeError(name)
            return getattr(self.inner, name)

    store = NoDelete()
    m = Matcher(store)
    m.onboard("dee", {"loved": ["wind"]})
    plan = m.recommend("dee", {"tension": 6, "goal": "unwind"})
    m.record("dee", plan, {"tension": 3})
    with pytest.raises(SonoraError) as info:
        m.forget("dee")
    assert "'dee'" in str(info.value) and "still holds" in str(info.value)
    store.inner.delete_listener("dee")
    m.forget("dee")
    assert m.store.listener_ids() == [] and m.population.n_sessions == 0


def test_reload_rereads_what_another_process_learnt():
    store = InMemoryStore()
    here, there = Matcher(store, seed=1), Matcher(store, seed=2)
    c = CheckIn(tension=7, goal="unwind", minutes=20, local_time="15:00")
    plan = here.recommend("eve", c)
    before = here.arm_scores("eve", c)
    for _ in range(5):
        there.record("eve", plan, {"tension": 0.0, "rating": 10.0})
    assert here.arm_scores("eve", c) == before  # cached statistics
    here.reload("eve")
    after = {s["arm"]: s["mean"] for s in here.arm_scores("eve", c)}
    assert after[plan.recipe] > {s["arm"]: s["mean"] for s in before}[plan.recipe] + 1.0


def test_acoustics_table_matches_the_engine():
    """The shipped centroid table is current (re-measure a few entries)."""
    assert {a.id for a in ARMS} <= set(acoustics._table())
    for arm_id in ("rain/mid", "noise/dark", "bowls/mid"):
        assert acoustics.measure(arm_id) == pytest.approx(acoustics._table()[arm_id], rel=0.02)
    assert acoustics.log_centroid("rain/bright", 0.5) > acoustics.log_centroid("noise/dark", 0.5)


def test_bright_bowls_opening_tells_its_intensity():
    """Bowls alone open with rubs; a brighter session's rubs are brighter, so the
    matcher can still tell a bright bowls plan's intensity from its opening (the
    three intensities read 233/233/233 Hz with one rub for all)."""
    low, mid, high = acoustics.measure("bowls/bright")
    assert low < mid < high
    assert high > 1.2 * low
    assert acoustics._table()["bowls/bright"] == pytest.approx([low, mid, high], rel=0.02)


# -- personal evidence -------------------------------------------------------------------
def test_assignment_alternates_in_shuffled_pairs():
    arms = [assignment(7, "ana", i) for i in range(40)]
    for k in range(0, 40, 2):
        assert {arms[k], arms[k + 1]} == {"sound", "rest"}
    assert arms != [assignment(8, "ana", i) for i in range(40)]
    firsts = [assignment(s, "ana", 0) for s in range(200)]
    assert 0.4 < firsts.count("sound") / 200 < 0.6


def test_personal_evidence_mode_gives_quiet_rest_sessions_and_reports():
    m = Matcher(seed=2)
    m.onboard("ana", {"personal_evidence": True})
    rng = np.random.default_rng(5)
    kinds = []
    for _ in range(30):
        c = CheckIn(tension=7, mood=4, goal="unwind", minutes=20)
        plan = m.recommend("ana", c)
        kinds.append(plan.quiet_rest)
        effect = 1.0 + (0.0 if plan.quiet_rest else 1.5)
        m.record(
            "ana",
            plan,
            {"tension": float(np.clip(round(7 - effect + rng.normal()), 0, 10)), "mood": 4.0},
        )
        if len(kinds) == 4:
            early = m.evidence_report("ana")
            assert not early.enough and early.message.startswith("Not enough data yet")
    assert sum(kinds) == 15
    report = m.evidence_report("ana")
    assert report.n_sound == report.n_rest == 15
    assert report.enough, report.message
    assert report.low > 0 and "sound has helped you more than quiet rest" in report.message
    assert "interval" in report.message
    learned = [r for r in m.store.sessions("ana") if r.features is not None]
    assert len(learned) == 15  # quiet rest never teaches the sound model
    m.set_personal_evidence("ana", False)
    assert not any(m.recommend("ana", {"tension": 5}).quiet_rest for _ in range(6))


def test_not_enough_data_until_it_can_say_more():
    assert not make_report([1.0] * 3, [0.0] * 3).enough
    noisy = make_report([3, -2, 4, -1, 2, 5, -3], [1, 0, -2, 4, -1, 2, 0])
    assert not noisy.enough and "more of each" in noisy.message
    steady = make_report([2.0, 2.2, 1.9, 2.1, 2.0, 2.1], [0.1, 0.0, 0.2, -0.1, 0.1, 0.0])
    assert steady.enough and steady.low > 1.5
    same = make_report([1.0, 1.2, 0.9, 1.1, 1.0, 1.05], [1.0, 1.1, 0.95, 1.05, 1.0, 1.1])
    assert same.enough and "about equally" in same.message
    d, lo, hi = difference_interval([3.0, 2.5, 3.5, 2.0], [1.0, 1.5, 0.5, 1.0])
    assert d == pytest.approx(1.75) and lo < 1.75 < hi


@pytest.mark.parametrize("noise", ["gaussian", "rounded_clipped"])
def test_personal_evidence_interval_is_calibrated(noise):
    """Over many simulated listeners with a known effect, the 90 % interval covers
    the truth about 90 % of the time — at fixed sizes and when stopping at 'enough'."""
    rng = np.random.default_rng(11)
    covered, stopped, n_lis = 0, [], 1000
    for _ in range(n_lis):
        effect = rng.normal(0.8, 0.8)
        sd_s, sd_r = rng.uniform(0.6, 1.6, 2)

        def draw(sound: bool, k: int, effect=effect, sd_s=sd_s, sd_r=sd_r) -> np.ndarray:
            mu = 2.0 + (effect if sound else 0.0)
            x = rng.normal(mu, sd_s if sound else sd_r, k)
            if noise == "rounded_clipped":  # scores are built from whole-number answers
                x = np.clip(np.round(x * 2) / 2, -3.0, 6.0)
            return x

        if noise == "rounded_clipped":
            # truth of a clipped, rounded score: a large simulation of this listener
            truth = draw(True, 8000).mean() - draw(False, 8000).mean()
        else:
            truth = effect
        s, r = draw(True, 8), draw(False, 8)
        _, lo, hi = difference_interval(s, r, level=0.9)
        covered += lo <= truth <= hi
        # sequential use: add a pair at a time until the report says 'enough'
        s, r = list(draw(True, 6)), list(draw(False, 6))
        rep = make_report(s, r)
        while not rep.enough and len(s) < 40:
            s.append(float(draw(True, 1)[0]))
            r.append(float(draw(False, 1)[0]))
            rep = make_report(s, r)
        if rep.enough:
            stopped.append(rep.low <= truth <= rep.high)
    assert 0.86 <= covered / n_lis <= 0.94
    assert len(stopped) > 0.5 * n_lis
    assert 0.84 <= np.mean(stopped) <= 0.95


def test_personal_evidence_validates_settings():
    with pytest.raises(ParameterError) as info:
        PersonalEvidence(InMemoryStore(), level=1.5)
    assert info.value.field == "level"


def test_store_package_does_not_import_match():
    """The matcher's database repository lives in ``sonora.match``; storage stays below it."""
    import ast
    from pathlib import Path

    import sonora.store

    root = Path(sonora.store.__file__).parent
    offenders = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            offenders += [f"{path.name}: {n}" for n in names if n.startswith("sonora.match")]
    assert offenders == []
    from sonora.match.repository import MatcherStore

    assert MatcherStore.__module__ == "sonora.match.repository"


def test_what_helps_says_what_helped_most_per_goal_with_its_numbers():
    from sonora.match.insights import Observation, what_helps

    rng = np.random.default_rng(3)
    obs = []
    for _ in range(5):  # rain with bowls on sleepy evenings: tension falls ~3
        d = float(rng.normal(3.0, 0.5))
        obs.append(Observation("sleep", ("rain", "bowls"), 2.0 + d / 3, d, None, 7, "evening"))
    for _ in range(4):  # noise before sleep: less
        d = float(rng.normal(1.0, 0.5))
        obs.append(Observation("sleep", ("noise",), 0.5 + d / 3, d, None, 5, "night"))
    for _ in range(2):  # too few to say anything about focus
        obs.append(Observation("focus", ("noise",), 3.0, 4.0, None, 9, "morning"))
    out = what_helps(obs)
    assert set(out) == {"sleep"}
    ins = out["sleep"]
    drop = np.mean([o.tension_drop for o in obs[:5]])
    assert ins.families == ("rain", "bowls") and ins.sessions == 5 and ins.compared == 2
    assert ins.part_of_day == "evening"
    assert ins.text == (
        f"Rain with singing bowls helped you most on evenings before sleep: tension down "
        f"{drop:.1f} on average over 5 sessions (a pattern, not proof)."
    )
    # a sound that did not help is never said to have helped
    worse = [Observation("unwind", ("wind",), -1.0, -1.0, None, 3, "") for _ in range(4)]
    assert what_helps(worse) == {}


def test_plan_reason_names_what_helped_this_listener_for_this_goal():
    m = Matcher(seed=0)
    m.onboard("ana", {"disliked": [f for f in FAMILIES if f not in ("rain", "breath")]})
    for _ in range(4):
        plan = m.recommend("ana", {"tension": 7, "goal": "sleep", "minutes": 20,
                                   "local_time": "22:40"})  # fmt: skip
        assert plan.families == ("rain",)
        m.record("ana", plan, {"tension": 3, "mood": 6, "rating": 8, "completed": True})
    plan = m.recommend("ana", {"tension": 6, "goal": "sleep", "minutes": 20})
    assert (
        "Rain helped you at night before sleep: tension down 4.0 on average over 4 sessions "
        "(a pattern, not proof)." in plan.reason
    )
    assert m.what_helps("ana")["sleep"].sessions == 4
    assert "focus" not in m.what_helps("ana")


def test_a_low_rated_sound_is_not_offered_again_for_that_goal():
    m = Matcher(seed=1)
    m.onboard("bo", {"loved": ["rain"]})
    c = {"tension": 6, "goal": "unwind", "minutes": 20, "local_time": "15:00"}
    first = m.recommend("bo", c)
    m.record("bo", first, {"tension": 6, "rating": 1, "completed": False})
    for _ in range(15):
        assert m.recommend("bo", c).recipe != first.recipe


def test_the_check_ins_small_algebra_is_scipys_bit_for_bit() -> None:
    """chol_lower / chol_solve_lower / tri_solve call LAPACK as scipy.linalg does."""
    from scipy.linalg import cho_factor, cho_solve, solve_triangular

    from sonora.match.model import chol_lower, chol_solve_lower, tri_solve

    rng = np.random.default_rng(7)
    for n in (1, 3, 12, 30):
        a = rng.normal(size=(n + 5, n))
        prec = a.T @ a + 0.1 * np.eye(n)
        rhs = rng.normal(size=n)
        c = chol_lower(prec)
        ref, _ = cho_factor(prec, lower=True)
        assert np.array_equal(np.tril(c), np.tril(ref))
        assert np.array_equal(chol_solve_lower(c, rhs), cho_solve((ref, True), rhs))
        low = np.tril(c)
        x = rng.normal(size=(7, n))
        assert np.array_equal(
            tri_solve(low, x.T, lower=True), solve_triangular(low, x.T, lower=True)
        )
        assert np.array_equal(
            tri_solve(low.T, rhs, lower=False), solve_triangular(low.T, rhs, lower=False)
        )
    with pytest.raises(np.linalg.LinAlgError):
        chol_lower(-np.eye(3))
    with pytest.raises(ValueError, match="infs or NaNs"):
        tri_solve(np.eye(2), np.array([np.nan, 1.0]), lower=True)
