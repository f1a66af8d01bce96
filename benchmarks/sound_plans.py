"""Sound benchmark for plans: the mixes the app actually plays (issue #12).

``python benchmarks/sound.py --plans [RECIPE ...]`` lands here.  For every recipe of
:data:`sonora.plan.recipes.RECIPES` (or those named) and every goal it may be played
for, the plan is composed as the app composes it (:func:`sonora.plan.compose.compose`
on a check-in at that goal's usual moment, below) and rendered as the app renders it
(:func:`sonora.plan.render.plan_mix`: calibrated to -23 LUFS, startle guard on); the
same figures as a scene's are printed (:func:`sound.measure_scene`'s, via
:func:`measure_plan`).

Check-ins (tension 6, energy 5): ``sleep`` in bed at 23:30; ``unwind`` sitting at
20:00 (iso); ``ease_anxiety`` sitting at 16:00 (iso, with the breath pacer);
``focus`` sitting at 10:00 (steady).  Headphones on, so the binaural recipes are
heard.  The arm's level is ``mid`` (``dark`` for sleep); a goal the recipe may not be
played for (strikes at bedtime) is left out.

Usage::

    python benchmarks/sound.py --plans [temple gong ...] [--goals focus] [--seed 1 2 3 4]
                               [--minutes 5] [--rate 24000]
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np

from sonora.engine import soundcheck as sc
from sonora.engine.loudness import integrated_lufs, startle_check, true_peak_dbtp
from sonora.plan.checkin import CheckIn
from sonora.plan.compose import compose
from sonora.plan.model import Plan
from sonora.plan.recipes import RECIPES, Constraints, arm_rejection, get_arm
from sonora.plan.render import plan_mix

#: Goal -> (check-in place, local time, arm level).
GOAL_MOMENTS: dict[str, tuple[str, str, str]] = {
    "sleep": ("in_bed", "23:30", "dark"),
    "unwind": ("sitting", "20:00", "mid"),
    "ease_anxiety": ("sitting", "16:00", "mid"),
    "focus": ("sitting", "10:00", "mid"),
}


def plan_for(recipe: str, goal: str, seed: int, minutes: float = 5.0) -> Plan | None:
    """The plan the app composes for ``recipe`` at ``goal`` (``None`` if not allowed)."""
    place, local_time, level = GOAL_MOMENTS[goal]
    checkin = CheckIn(
        tension=6,
        energy=5,
        goal=goal,
        minutes=minutes,
        place=place,
        output="headphones",
        local_time=local_time,
    )
    arm = get_arm(f"{recipe}/{level}")
    if arm_rejection(arm, checkin, Constraints()) is not None:
        return None
    return compose(checkin, arm, seed=seed)


def measure_plan(plan: Plan, sample_rate: int) -> dict[str, Any]:
    """Render ``plan`` as the app does and measure it (the scene figures' keys).

    The repetition, spectral and balance figures leave out the plan's fades; a sleep
    plan's descent is kept (it is what the listener hears).
    """
    from sound import envelope_change_repetition, phone_level_db

    mix = plan_mix(plan, sample_rate=sample_rate)
    blocks: list[np.ndarray] = []
    share, worst, _ = sc.guard_activity(mix, collect=blocks)
    audio = np.concatenate(blocks, axis=1)
    a = int(mix.fade_in_s * sample_rate)
    b = audio.shape[1] - int(mix.fade_out_s * sample_rate)
    body = audio[:, a:b]
    rep_w, rep_e, rep_r = sc.repetition(body, sample_rate)
    row: dict[str, Any] = {
        "lufs": integrated_lufs(audio, sample_rate),
        "true_peak_dbtp": true_peak_dbtp(audio),
        "startle_lu": startle_check(audio, sample_rate).worst_rise_lu,
        "guard_share": share,
        "guard_worst_db": worst,
        "rep_wave": rep_w,
        "rep_env": rep_e,
        "rep_env_return": rep_r,
        "rep_env_change": envelope_change_repetition(body, sample_rate),
        "hf4k": 1 - sc.band_share(body, sample_rate, below_hz=4000.0),
        "lo100": sc.band_share(body, sample_rate, below_hz=100.0),
        "phone_db": phone_level_db(body, sample_rate),
        "lr_db": sc.lr_balance_db(body),
    }
    return row


def run_plans(
    recipes: list[str],
    goals: list[str] | None,
    seeds: list[int],
    minutes: float,
    tag: str,
    sample_rate: int = 24_000,
) -> dict[str, Any]:
    """Measure and print every recipe x goal x seed; with a ``tag``, also write
    ``docs/sound/plans-<tag>.json``."""
    from sound import HEADER, OUT, row_text

    names = recipes or [r.name for r in RECIPES]
    result: dict[str, Any] = {"minutes": minutes, "sample_rate": sample_rate, "plans": {}}
    print(f"plans: {minutes:g} min at {sample_rate} Hz")
    print(HEADER.replace("scene               ", "recipe/goal         "))
    for name in names:
        for goal in goals or list(GOAL_MOMENTS):
            for seed in seeds:
                plan = plan_for(name, goal, seed, minutes)
                if plan is None:
                    continue
                t0 = time.perf_counter()
                row = measure_plan(plan, sample_rate)
                result["plans"][f"{plan.recipe}:{goal}@{seed}"] = row
                label = f"{name}/{goal}"[:20]
                print(
                    f"{row_text(label, seed, row)}   ({time.perf_counter() - t0:.0f} s)", flush=True
                )
    if tag:
        (OUT / f"plans-{tag}.json").write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    return result
