"""Personalisation benchmark: does Sonora's matcher beat one fixed soundtrack?

For sessions 1 to N it reports the mean *benefit over quiet rest* of four policies on
a population of listeners:

``matcher``
    Sonora's :class:`sonora.match.Matcher` (learning from every outcome, one shared
    matcher for the whole population, so the population prior pools across them).
``fixed``
    The single best built-in scene for everyone, played unchanged (chosen in
    hindsight: the scene with the highest mean benefit over sessions 6–15).
``random``
    A random plan among those Sonora's hard rules allow for the listener.
``oracle``
    The plan a listener's true preferences would pick among those the hard rules
    allow (``oracle_score`` when the listener has one; otherwise the best of
    ``--oracle-draws`` averaged responses per plan).

Benefit of a plan = outcome score of the listener's response to it minus the score
of their response to a quiet-rest session of the same length, both under the same
check-in and the same random draws (common random numbers, so the difference is the
plan's effect, not luck).  The outcome score is :attr:`sonora.plan.Outcome.reward`.

Targets over sessions 6–15: matcher >= 85 % of the oracle's benefit and >= 1.25x the
best fixed scene's.  The script prints the per-session curves, the window's means and
ratios (each reference measured in the same run), the window's benefit per kind of
listener when listeners have a ``kind`` attribute, saves the curves as a PNG, and exits
with status 1 if a target is missed.

Population protocol (``--population module:callable``; ``callable(n_listeners,
seed)`` returns listener objects)::

    onboarding() -> dict    keys: loved, disliked (family lists), sensitivities
                            (high_pitch / water / tonal), default_goal, breath_pacer,
                            personal_evidence — all optional
    checkin(rng) -> dict    keys: tension, energy, mood (0–10 or None; >= 1 given),
                            goal, minutes (5–720), place, output, local_time
                            ("HH:MM"), note
    respond(plan, excerpt, checkin, rng) -> dict
                            keys: tension, energy, mood, rating (0–10 or None),
                            completed, fell_asleep (bool).  excerpt() renders the
                            plan's first seconds: float32 (2, frames) at 48 kHz.
    oracle_score(plan, excerpt, checkin) -> float   (optional)

See ``docs/matching.md`` and :mod:`sonora.match.simulator` for the details.  Excerpts
are rendered on demand and cached by the plan's recipe, layers' knobs and starting
intensity (rounded to 0.25): a cached excerpt may come from another plan with the same
recipe and a similar start.

Usage::

    python benchmarks/personalisation.py [--listeners 200] [--sessions 20] [--seed 0]
        [--population module:callable] [--png personalisation.png]
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from sonora.match import Matcher
from sonora.plan import CheckIn, CheckOut, Outcome, Plan, allowed_arms, compose, quiet_rest_plan
from sonora.plan.compose import plan_from_scene
from sonora.plan.render import plan_excerpt
from sonora.scenes import list_scenes

EXCERPT_SECONDS = 3.0
WINDOW = (6, 15)  # sessions, inclusive, 1-based
EARLY = (1, 5)  # sessions, inclusive: before much has been learnt
TARGET_ORACLE = 0.90  # of oracle_goal
TARGET_FIXED = 1.5
POLICIES = ("matcher", "fixed", "random", "oracle_goal", "oracle")
#: Populations by name (``--population NAME``), or ``module:callable`` for any other.
NAMED_POPULATIONS = {
    "context": "sonora.match.simulator:make_context_population",
    "builtin": "sonora.match.simulator:make_population",
    "hard": "sonora.match.simulator:make_hard_population",
}


def load_population(spec: str) -> Callable[[int, int], list[Any]]:
    """Import ``module:callable`` (or one of :data:`NAMED_POPULATIONS`)."""
    spec = NAMED_POPULATIONS.get(spec, spec)
    if ":" not in spec:
        raise SystemExit(f"--population: expected module:callable, got {spec!r}")
    mod, name = spec.split(":", 1)
    sys.path.insert(0, str(Path.cwd()))
    return getattr(importlib.import_module(mod), name)


class Excerpts:
    """Renders plan excerpts on demand, cached by recipe, knobs and start intensity."""

    def __init__(self, seconds: float = EXCERPT_SECONDS) -> None:
        self.seconds = seconds
        self.cache: dict[str, np.ndarray] = {}
        self.rendered = 0

    @staticmethod
    def key(plan: Plan) -> str:
        layers = [
            (pl.source, pl.gain_db, sorted(pl.params.items()), sorted(pl.fixed.items()))
            for pl in plan.plan_layers
        ]
        start = round(plan.trajectory.start_intensity * 4) / 4
        return json.dumps([plan.recipe, layers, start])

    def __call__(self, plan: Plan) -> Callable[[], np.ndarray]:
        def excerpt() -> np.ndarray:
            if plan.quiet_rest:
                return np.zeros((2, round(self.seconds * 48_000)), dtype=np.float32)
            k = self.key(plan)
            audio = self.cache.get(k)
            if audio is None:
                audio = plan_excerpt(plan, seconds=self.seconds)
                audio.setflags(write=False)
                self.cache[k] = audio
                self.rendered += 1
            return audio

        return excerpt


def score(checkin: CheckIn, response: dict[str, Any]) -> float:
    """Outcome score of a response (see :attr:`sonora.plan.Outcome.reward`)."""
    return Outcome(checkin, CheckOut.from_dict(response)).reward


def run(
    *,
    listeners: int = 200,
    sessions: int = 20,
    seed: int = 0,
    population: Callable[[int, int], list[Any]] | None = None,
    oracle_draws: int = 8,
    progress: bool = True,
    excerpts: Excerpts | None = None,
    checkin_oracle: bool = True,
) -> dict[str, Any]:
    """Run the benchmark; returns the per-session curves and the window ratios.

    ``excerpts`` may be shared between runs (seeds): rendering them is most of the
    time a run takes, and they do not depend on the seed.  ``checkin_oracle=False``
    skips the per-check-in oracle (it composes every allowed plan at every check-in:
    most of the time once excerpts are cached); its curve is then NaN.
    """
    from threadpoolctl import threadpool_limits

    # the matcher's algebra is small matrices: BLAS threads would only contend
    threadpool_limits(limits=1)
    if population is None:
        population = load_population("context")
    pop = list(population(listeners, seed))
    ids = [str(getattr(lis, "listener_id", f"listener-{i}")) for i, lis in enumerate(pop)]
    matcher = Matcher(seed=seed)
    for lid, lis in zip(ids, pop, strict=True):
        matcher.onboard(lid, lis.onboarding())
    scenes = list_scenes()
    excerpts = Excerpts() if excerpts is None else excerpts
    rendered0 = excerpts.rendered
    scene_plans: dict[tuple[str, float, str | None], Plan] = {}
    n = len(pop)
    benefit = {p: np.zeros((sessions, n)) for p in ("matcher", "random", "oracle")}
    fixed = np.zeros((len(scenes), sessions, n))
    # each scene's true expected benefit (oracle_score) where the listener has one,
    # for choosing each listener's best scene for each goal in advance
    fixed_true = np.zeros((len(scenes), sessions, n))
    goals = np.empty((sessions, n), dtype=object)
    pick_rng = np.random.default_rng([seed, 11])
    t0 = time.perf_counter()
    for s in range(sessions):
        for i, (lid, lis) in enumerate(zip(ids, pop, strict=True)):
            raw = lis.checkin(np.random.default_rng([seed, 1, i, s]))
            checkin = CheckIn.from_dict(raw)
            profile = matcher.profile(lid)
            c = checkin if checkin.goal else checkin.with_goal(profile.default_goal or "unwind")

            def respond(plan: Plan, *, _lis=lis, _raw=raw, _c=c, _s=s, _i=i) -> float:
                rng = np.random.default_rng([seed, 2, _i, _s])  # common random numbers
                return score(_c, _lis.respond(plan, excerpts(plan), _raw, rng))

            rest = respond(quiet_rest_plan(c, seed=0))
            goals[s, i] = c.goal
            # Sonora's matcher
            plan = matcher.recommend(lid, checkin)
            rng = np.random.default_rng([seed, 2, i, s])
            resp = lis.respond(plan, excerpts(plan), raw, rng)
            matcher.record(lid, plan, resp)
            benefit["matcher"][s, i] = score(c, resp) - rest
            # random and oracle among the arms the hard rules allow
            arms = allowed_arms(c, profile.constraints())
            if arms:
                pick = arms[int(pick_rng.integers(len(arms)))]
                benefit["random"][s, i] = (
                    respond(compose(c, pick, profile.constraints(), seed=0)) - rest
                )
            if arms and checkin_oracle:
                plans = [compose(c, a, profile.constraints(), seed=0) for a in arms]
                if hasattr(lis, "oracle_score"):
                    est = [lis.oracle_score(p, excerpts(p), raw) for p in plans]
                else:
                    est = [
                        np.mean(
                            [
                                score(
                                    c,
                                    lis.respond(
                                        p,
                                        excerpts(p),
                                        raw,
                                        np.random.default_rng([seed, 3, i, s, k]),
                                    ),
                                )
                                for k in range(oracle_draws)
                            ]
                        )
                        for p in plans
                    ]
                benefit["oracle"][s, i] = respond(plans[int(np.argmax(est))]) - rest
            # every built-in scene, played unchanged
            for k, scene in enumerate(scenes):
                key = (scene.name, c.minutes, c.goal)
                p = scene_plans.get(key)
                if p is None:
                    p = plan_from_scene(scene, duration_s=c.minutes * 60.0, seed=0, goal=c.goal)
                    scene_plans[key] = p
                fixed[k, s, i] = respond(p) - rest
                fixed_true[k, s, i] = (
                    lis.oracle_score(p, excerpts(p), raw)
                    if hasattr(lis, "oracle_score")
                    else fixed[k, s, i]
                )
        if progress:
            m = {p: benefit[p][s].mean() for p in benefit}
            print(
                f"  session {s + 1:2d}: matcher {m['matcher']:+.2f}  random {m['random']:+.2f}  "
                f"oracle {m['oracle']:+.2f}   ({time.perf_counter() - t0:.0f} s)",
                file=sys.stderr,
                flush=True,
            )
    a, b = WINDOW[0] - 1, min(WINDOW[1], sessions)
    if a >= b:  # fewer sessions than the window starts at: use them all
        a, b = 0, sessions
    fixed_window = fixed[:, a:b, :].mean(axis=(1, 2))
    best = int(np.argmax(fixed_window))
    # oracle_goal: each listener's best built-in scene for each goal, known in advance
    benefit["oracle_goal"] = np.zeros((sessions, n))
    for i in range(n):
        for g in set(goals[:, i]):
            sel = goals[:, i] == g
            k_best = int(np.argmax(fixed_true[:, sel, i].mean(axis=1)))
            benefit["oracle_goal"][sel, i] = fixed[k_best, sel, i]
    if not checkin_oracle:
        benefit["oracle"][:] = np.nan
    benefit["fixed"] = fixed[best]
    curves = {p: benefit[p].mean(axis=1) for p in POLICIES}
    sem = {p: benefit[p].std(axis=1, ddof=1) / np.sqrt(n) for p in POLICIES}
    window = {p: float(curves[p][a:b].mean()) for p in POLICIES}
    # learning: sessions 6–15 against 1–5, per listener (paired), with a 90 % interval
    e0, e1 = EARLY[0] - 1, min(EARLY[1], sessions)
    gain = benefit["matcher"][a:b].mean(axis=0) - benefit["matcher"][e0:e1].mean(axis=0)
    gain_se = float(gain.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    # where the remaining gap is: the window's benefit per kind of listener (when the
    # population's listeners say what kind they are)
    kinds = [str(getattr(lis, "kind", "")) for lis in pop]
    by_kind = {}
    for kind in sorted(set(kinds) - {""}):
        sel = np.array([k == kind for k in kinds])
        by_kind[kind] = {
            "listeners": int(sel.sum()),
            "matcher": float(benefit["matcher"][a:b, sel].mean()),
            "oracle": float(benefit["oracle"][a:b, sel].mean()),
            "oracle_goal": float(benefit["oracle_goal"][a:b, sel].mean()),
            "fixed": float(fixed[best][a:b, sel].mean()),
        }
    return {
        "listeners": n,
        "sessions": sessions,
        "seed": seed,
        "curves": {p: curves[p].tolist() for p in POLICIES},
        "sem": {p: sem[p].tolist() for p in POLICIES},
        "window": window,
        "fixed_scene": scenes[best].name,
        "fixed_scenes": {sc.name: float(v) for sc, v in zip(scenes, fixed_window, strict=True)},
        "early": float(curves["matcher"][e0:e1].mean()),
        "learning_gain": float(gain.mean()),
        "learning_gain_ci90": [
            float(gain.mean() - 1.645 * gain_se),
            float(gain.mean() + 1.645 * gain_se),
        ],
        "ratio_oracle": (
            window["matcher"] / window["oracle_goal"] if window["oracle_goal"] else float("nan")
        ),
        "ratio_checkin_oracle": (
            window["matcher"] / window["oracle"] if window["oracle"] else float("nan")
        ),
        "ratio_fixed": window["matcher"] / window["fixed"] if window["fixed"] > 0 else float("inf"),
        "excerpts_rendered": excerpts.rendered - rendered0,
        "seconds": time.perf_counter() - t0,
        "population_sigma": float(np.sqrt(matcher.population.sigma2)),
        "by_kind": by_kind,
    }


def save_png(result: dict[str, Any], path: Path) -> None:
    """Plot the four curves (mean benefit per session, ±1 standard error)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x = np.arange(1, result["sessions"] + 1)
    fig, ax = plt.subplots(figsize=(8, 4.5), dpi=120)
    styles = {
        "oracle": ("black", "--", "oracle per check-in (true preferences)"),
        "oracle_goal": ("black", ":", "oracle: best built-in scene per goal"),
        "matcher": ("tab:blue", "-", "Sonora matcher"),
        "fixed": ("tab:orange", "-", f"best fixed scene ({result['fixed_scene']})"),
        "random": ("tab:gray", ":", "random allowed plan"),
    }
    for p, (color, ls, label) in styles.items():
        y = np.asarray(result["curves"][p], dtype=float)
        if np.all(np.isnan(y)):  # not measured (--no-checkin-oracle)
            continue
        e = np.asarray(result["sem"][p])
        ax.plot(x, y, ls, color=color, label=label, lw=2)
        ax.fill_between(x, y - e, y + e, color=color, alpha=0.15, lw=0)
    ax.axvspan(WINDOW[0] - 0.5, WINDOW[1] + 0.5, color="tab:green", alpha=0.07, lw=0)
    ax.axhline(0.0, color="0.6", lw=0.8)
    ax.set_xlabel("session")
    ax.set_ylabel("mean benefit over quiet rest (score points)")
    ax.set_title(
        f"Personalisation: {result['listeners']} simulated listeners "
        f"(sessions 6–15: {result['ratio_oracle']:.0%} of the goal oracle, "
        f"{result['ratio_fixed']:.2f}x best fixed)",
        fontsize=10,
    )
    ax.set_xticks(x)
    ax.legend(fontsize=8, loc="center right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,2"`` -> [0, 2]."""
    out: list[int] = []
    for part in text.split(","):
        if "-" in part.strip()[1:]:
            lo, hi = part.split("-", 1)
            out += list(range(int(lo), int(hi) + 1))
        else:
            out.append(int(part))
    return out


def report(res: dict[str, Any]) -> None:
    """Print one run's curves, window means, per-kind breakdown and ratios."""
    print(
        f"Personalisation benchmark: {res['listeners']} listeners, seed {res['seed']}, "
        f"{res['seconds']:.0f} s, {res['excerpts_rendered']} excerpts rendered"
    )
    print("Mean benefit over quiet rest (outcome-score points), per session:")
    print(f"{'session':>8} " + " ".join(f"{p:>11}" for p in POLICIES))
    for s in range(res["sessions"]):
        print(f"{s + 1:>8} " + " ".join(f"{res['curves'][p][s]:>+11.3f}" for p in POLICIES))
    w = res["window"]
    print(f"Sessions {WINDOW[0]}–{WINDOW[1]}: " + ", ".join(f"{p} {w[p]:+.3f}" for p in POLICIES))
    print(
        f"Best fixed scene: {res['fixed_scene']}  (all: "
        + ", ".join(
            f"{k} {v:+.2f}" for k, v in sorted(res["fixed_scenes"].items(), key=lambda kv: -kv[1])
        )
        + ")"
    )
    for kind, k in res["by_kind"].items():
        print(
            f"  {kind:>16} ({k['listeners']:3d}): matcher {k['matcher']:+.2f}  "
            f"goal oracle {k['oracle_goal']:+.2f}  check-in oracle {k['oracle']:+.2f}  "
            f"fixed {k['fixed']:+.2f}"
        )
    lo, hi = res["learning_gain_ci90"]
    print(
        f"matcher sessions {EARLY[0]}–{EARLY[1]} {res['early']:+.3f} -> {WINDOW[0]}–{WINDOW[1]} "
        f"{w['matcher']:+.3f}: gain {res['learning_gain']:+.3f} (90 % interval {lo:+.3f} to "
        f"{hi:+.3f}); matcher / check-in oracle = {res['ratio_checkin_oracle']:.3f}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listeners", type=int, default=200)
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--seed", type=int, default=None, help="one seed (default 0)")
    ap.add_argument("--seeds", default=None, help='several seeds, e.g. "0-4" or "0,3"')
    ap.add_argument(
        "--population",
        default="context",
        help=f"{', '.join(NAMED_POPULATIONS)} or module:callable(n_listeners, seed)",
    )
    ap.add_argument("--oracle-draws", type=int, default=8)
    ap.add_argument("--png", type=Path, default=Path("out/personalisation.png"))
    ap.add_argument("--json", type=Path, default=None, help="Also write the results as JSON.")
    ap.add_argument("--quiet", action="store_true", help="No per-session progress.")
    ap.add_argument(
        "--no-checkin-oracle",
        action="store_true",
        help="Skip the per-check-in oracle (faster; the targets use the goal oracle).",
    )
    args = ap.parse_args(argv)
    if args.sessions < WINDOW[1]:
        ap.error(f"--sessions must be at least {WINDOW[1]} to cover sessions 6–15")
    if args.seed is not None and args.seeds is not None:
        ap.error("give --seed or --seeds, not both")
    seeds = parse_seeds(args.seeds) if args.seeds else [0 if args.seed is None else args.seed]
    pop = load_population(args.population)
    results = []
    shared = Excerpts()
    for seed in seeds:
        res = run(
            listeners=args.listeners,
            sessions=args.sessions,
            seed=seed,
            population=pop,
            oracle_draws=args.oracle_draws,
            progress=not args.quiet,
            excerpts=shared,
            checkin_oracle=not args.no_checkin_oracle,
        )
        report(res)
        results.append(res)
    mean = {p: float(np.mean([r["window"][p] for r in results])) for p in POLICIES}
    ratio_o = mean["matcher"] / mean["oracle_goal"] if mean["oracle_goal"] else float("nan")
    ratio_f = mean["matcher"] / mean["fixed"] if mean["fixed"] > 0 else float("inf")
    gains = [r["learning_gain_ci90"][0] for r in results]
    print(f"\nPopulation {args.population}, seeds {', '.join(map(str, seeds))}:")
    for r in results:
        print(
            f"  seed {r['seed']}: matcher {r['window']['matcher']:+.3f}  goal oracle "
            f"{r['window']['oracle_goal']:+.3f}  check-in oracle {r['window']['oracle']:+.3f}  "
            f"fixed {r['window']['fixed']:+.3f} ({r['fixed_scene']})  -> "
            f"{r['ratio_oracle']:.3f} of goal oracle, {r['ratio_fixed']:.2f}x fixed, "
            f"{r['ratio_checkin_oracle']:.3f} of check-in oracle; sessions 1–5 "
            f"{r['early']:+.3f}"
        )
    ok_o = ratio_o >= TARGET_ORACLE
    ok_f = ratio_f >= TARGET_FIXED
    ok_l = all(g > 0 for g in gains)
    print(
        f"matcher / goal oracle = {ratio_o:.3f}  (target >= {TARGET_ORACLE})  "
        f"{'PASS' if ok_o else 'FAIL'}"
    )
    print(
        f"matcher / best fixed = {ratio_f:.3f}  (target >= {TARGET_FIXED})  "
        f"{'PASS' if ok_f else 'FAIL'}"
    )
    print(
        f"sessions {WINDOW[0]}–{WINDOW[1]} better than {EARLY[0]}–{EARLY[1]} (90 % interval of "
        f"the gain above 0 for every seed)  {'PASS' if ok_l else 'FAIL'}"
    )
    if args.png and str(args.png) not in ("", "."):
        save_png(results[0], args.png)
        print(f"Curves (seed {results[0]['seed']}) saved to {args.png}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results if len(results) > 1 else results[0], indent=2))
    return 0 if (ok_o and ok_f and ok_l) else 1


if __name__ == "__main__":
    sys.exit(main())
