"""Tests for the listener simulator and the personalisation benchmark's plumbing."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from sonora.match import Matcher
from sonora.match.evidence import difference_interval
from sonora.match.profile import Profile
from sonora.match.simulator import KINDS, SimListener, make_hard_population, make_population
from sonora.plan import (
    CheckIn,
    CheckOut,
    Outcome,
    allowed_arms,
    compose,
    get_arm,
    plan_excerpt,
    quiet_rest_plan,
)

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location(
        "personalisation_bench", ROOT / "benchmarks" / "personalisation.py"
    )
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def no_excerpt():
    raise AssertionError("this listener should not need the audio")


def of_kind(kind: str, n: int = 200) -> list[SimListener]:
    return [lis for lis in make_population(n, 0) if lis.kind == kind]


def test_population_is_reproducible_and_mixed():
    a, b = make_population(120, 3), make_population(120, 3)
    assert [x.onboarding() for x in a] == [x.onboarding() for x in b]
    counts = Counter(x.kind for x in a)
    assert set(counts) == set(KINDS) and min(counts.values()) >= 6
    assert [x.onboarding() for x in make_population(120, 4)] != [x.onboarding() for x in a]
    assert len({x.listener_id for x in a}) == 120


def test_protocol_dicts_are_what_sonora_reads():
    rng = np.random.default_rng(0)
    for lis in make_population(40, 1):
        Profile.from_onboarding(lis.listener_id, lis.onboarding())
        raw = lis.checkin(rng)
        c = CheckIn.from_dict(raw)
        plan = compose(c.with_goal(c.goal), get_arm("noise/dark"))
        out = lis.respond(plan, lambda p=plan: plan_excerpt(p), raw, rng)
        assert set(out) == {"tension", "energy", "mood", "rating", "completed", "fell_asleep"}
        Outcome(c, CheckOut.from_dict(out))


def test_respond_depends_only_on_its_arguments():
    lis = make_population(5, 2)[0]
    raw = lis.checkin(np.random.default_rng(1))
    plan = compose(CheckIn.from_dict(raw), get_arm("wind/mid"))
    ex = lambda: plan_excerpt(plan)  # noqa: E731
    a = lis.respond(plan, ex, raw, np.random.default_rng(9))
    lis.respond(quiet_rest_plan(CheckIn.from_dict(raw)), ex, raw, np.random.default_rng(3))
    assert lis.respond(plan, ex, raw, np.random.default_rng(9)) == a


def _score(lis, arm: str, goal: str = "unwind") -> float:
    c = CheckIn(tension=6, goal=goal, minutes=20, local_time="20:00", output="headphones")
    plan = compose(c, get_arm(arm))
    return lis.oracle_score(plan, lambda: plan_excerpt(plan), c.to_dict())


def test_listener_kinds_differ_the_way_they_say():
    rain = of_kind("rain_lover")
    bowls = of_kind("bowl_lover")
    noise = of_kind("steady_noise")
    for lis in rain:
        assert _score(lis, "rain/mid") > _score(lis, "bowls/mid") + 1.5
        assert _score(lis, "rain/mid") > _score(lis, "melody/mid") + 1.5
    for lis in bowls:
        assert _score(lis, "bowls/mid") > _score(lis, "noise/mid") + 1.5
    for lis in noise:
        assert _score(lis, "noise/dark") > _score(lis, "bowls/dark") + 1.5
        assert _score(lis, "noise/dark") > _score(lis, "melody/dark") + 1.5
    # what they say at onboarding is informative but noisy
    said_rain = np.mean(["rain" in lis.onboarding()["loved"] for lis in rain])
    assert 0.4 < said_rain < 0.95


def test_brightness_sensitive_listeners_measure_the_actual_audio():
    calls = []

    def counted(plan):
        def ex():
            calls.append(plan.recipe)
            return plan_excerpt(plan)

        return ex

    lis = of_kind("bright_sensitive")[0]
    c = CheckIn(tension=6, goal="unwind", minutes=20, local_time="20:00")
    bright, dark = compose(c, get_arm("rain/bright")), compose(c, get_arm("ocean/dark"))
    s_bright = lis.oracle_score(bright, counted(bright), c.to_dict())
    s_dark = lis.oracle_score(dark, counted(dark), c.to_dict())
    assert calls == ["rain/bright", "ocean/dark"]
    assert s_dark > s_bright + 1.0
    for other in of_kind("rain_lover")[:3]:  # metadata listeners never render
        other.oracle_score(bright, no_excerpt, c.to_dict())


def test_quiet_rest_has_a_baseline_effect():
    rng = np.random.default_rng(4)
    drops = []
    for lis in make_population(60, 5):
        raw = lis.checkin(rng)
        out = lis.respond(quiet_rest_plan(CheckIn.from_dict(raw)), no_excerpt, raw, rng)
        if raw["tension"] is not None and raw["tension"] >= 3:
            drops.append(raw["tension"] - out["tension"])
    assert 0.4 < np.mean(drops) < 1.6


def test_personal_evidence_is_calibrated_on_simulated_listeners():
    """The n-of-1 interval covers each simulated listener's true sound-vs-rest effect."""
    covered = 0
    pop = [lis for lis in make_population(200, 8) if not lis.uses_excerpt][:120]
    for k, lis in enumerate(pop):
        rng = np.random.default_rng([8, k])
        raw = lis.checkin(rng)  # the same check-in for both arms ("same check-ins")
        c = CheckIn.from_dict(raw)
        sound, rest = compose(c, get_arm("wind/dark")), quiet_rest_plan(c)

        def score(plan, rng=rng, raw=raw, c=c, lis=lis) -> float:
            return Outcome(c, CheckOut.from_dict(lis.respond(plan, no_excerpt, raw, rng))).reward

        truth = np.mean([score(sound) - score(rest) for _ in range(400)])
        s = [score(sound) for _ in range(10)]
        r = [score(rest) for _ in range(10)]
        _, lo, hi = difference_interval(s, r, level=0.9)
        covered += lo <= truth <= hi
    assert 0.8 <= covered / len(pop) <= 0.97


def test_matcher_converges_on_simulated_listeners_who_say_nothing():
    """A fresh matcher (no population, no onboarding answers) learns each simulated
    listener's favourite family from their noisy check-outs alone: by sessions 21-30
    most listeners get it nearly every time and lose little against the oracle."""
    favourite = {"rain_lover": "rain", "bowl_lover": "bowls", "steady_noise": "noise"}
    pop = make_population(60, 5)
    late_share, late_regret, early_share = [], [], []
    for kind, fav in favourite.items():
        for j, lis in enumerate([x for x in pop if x.kind == kind][:4]):
            m = Matcher(seed=j)
            got, regret = [], []
            for s in range(30):
                raw = lis.checkin(np.random.default_rng([5, j, s]))
                if raw["goal"] == "sleep":  # keep the whole catalogue in play
                    raw["goal"] = "unwind"
                plan = m.recommend("me", raw)
                out = lis.respond(plan, no_excerpt, raw, np.random.default_rng([6, j, s]))
                m.record("me", plan, out)
                got.append(fav in plan.families)
                if s >= 20:
                    c = CheckIn.from_dict(raw)
                    best = max(
                        lis.oracle_score(compose(c, a), no_excerpt, raw) for a in allowed_arms(c)
                    )
                    regret.append(best - lis.oracle_score(plan, no_excerpt, raw))
            early_share.append(np.mean(got[:10]))
            late_share.append(np.mean(got[20:]))
            late_regret.append(np.mean(regret))
    assert sum(x >= 0.9 for x in late_share) >= 8, late_share
    assert np.mean(late_share) > np.mean(early_share) + 0.3
    assert np.median(late_regret) < 0.25, late_regret


def test_hard_population_has_more_individual_variation():
    soft = make_population(150, 0)
    hard = make_hard_population(150, 0)
    spread = lambda pop: np.std([lis.prefs["wind"] for lis in pop if lis.kind == "rain_lover"])  # noqa: E731
    assert spread(hard) > 1.5 * spread(soft)


# -- the benchmark harness -------------------------------------------------------------------
TOY = '''
import numpy as np

class Toy:
    """Likes wind; renders the excerpt of every rain plan to check the protocol."""

    def __init__(self, i):
        self.listener_id = f"toy-{i}"

    def onboarding(self):
        return {"disliked": ["chimes"]}

    def checkin(self, rng):
        return {"tension": float(rng.integers(4, 9)), "goal": "unwind", "minutes": 15,
                "place": "sitting", "output": "speaker", "local_time": "18:00"}

    def respond(self, plan, excerpt, checkin, rng):
        assert "chimes" not in plan.families or plan.recipe.startswith("scene:")
        fams = dict(plan.layers)
        if "rain" in fams and not plan.recipe.startswith("scene:"):
            audio = excerpt()
            assert audio.shape == (2, 144000) and audio.dtype == np.float32
        effect = 0.0 if plan.quiet_rest else (2.0 if "wind" in fams else 0.2)
        t = checkin["tension"]
        return {"tension": float(max(0, round(t - 1 - effect + rng.normal(0, 0.5)))),
                "rating": 5.0 + effect, "completed": True}


def make(n_listeners, seed):
    return [Toy(i) for i in range(n_listeners)]
'''


def test_benchmark_accepts_an_outside_population(tmp_path, monkeypatch):
    (tmp_path / "toy_population.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    bench = load_benchmark()
    pop = bench.load_population("toy_population:make")
    res = bench.run(listeners=3, sessions=4, seed=1, population=pop, oracle_draws=2, progress=False)
    assert set(res["curves"]) == {"matcher", "fixed", "random", "oracle", "oracle_goal"}
    # the best scene per goal, chosen in advance, cannot beat the best plan per check-in
    # by more than the noise of one response (both are played with the same draws)
    assert np.mean(res["curves"]["oracle_goal"]) <= np.mean(res["curves"]["oracle"]) + 1.0
    assert all(len(v) == 4 for v in res["curves"].values())
    # the oracle (estimated from repeated responses) finds wind
    assert np.mean(res["curves"]["oracle"]) > 1.5
    assert res["excerpts_rendered"] >= 1


def test_benchmark_main_writes_the_png_and_reports(tmp_path, monkeypatch, capsys):
    (tmp_path / "toy_population.py").write_text(textwrap.dedent(TOY))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    bench = load_benchmark()
    png = tmp_path / "curves.png"
    status = bench.main(
        [
            "--listeners",
            "2",
            "--sessions",
            "15",
            "--population",
            "toy_population:make",
            "--png",
            str(png),
            "--quiet",
            "--oracle-draws",
            "1",
        ]
    )
    out = capsys.readouterr().out
    assert status in (0, 1)
    assert png.exists() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "matcher / goal oracle" in out and "matcher / best fixed" in out
    assert "sessions 6–15 better than 1–5" in out
    with pytest.raises(SystemExit):
        bench.main(["--sessions", "5", "--quiet"])


def test_context_population_taste_shifts_with_goal_and_time_of_day():
    from sonora.match.simulator import make_context_population
    from sonora.plan import CheckIn, Constraints, allowed_arms, compose

    pop = make_context_population(40, 3)
    again = make_context_population(40, 3)
    assert [p.goal_prefs for p in pop] == [p.goal_prefs for p in again]
    moved = 0
    for lis in pop:
        best = {}
        for goal, t in (("sleep", "23:00"), ("unwind", "14:00"), ("unwind", "21:00")):
            c = CheckIn(tension=6, goal=goal, minutes=20, local_time=t, output="headphones")
            raw = c.to_dict()
            plans = [compose(c, a, Constraints(), seed=0) for a in allowed_arms(c, Constraints())]
            scores = [
                lis.oracle_score(p, lambda: np.zeros((2, 4800), np.float32), raw) for p in plans
            ]
            best[(goal, t)] = plans[int(np.argmax(scores))].recipe
        moved += len(set(best.values())) > 1
    # for most listeners the best sound differs between the moments
    assert moved >= 0.6 * len(pop)
