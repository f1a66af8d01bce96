"""Session plans: a mix of sound families with a trajectory over time and a reason.

A :class:`Plan` is made for one listener at one moment from a :class:`CheckIn` and a
chosen :class:`~sonora.plan.recipes.Arm` (a recipe of sound families at a brightness
level) by :func:`compose`.  It serialises to JSON (``to_json`` / ``from_json``) and
renders through the engine (:meth:`Plan.to_scene`, :func:`render_plan`).

Trajectories (:mod:`sonora.plan.trajectory`): iso (meet the listener, then lead),
U-shaped (descend, rest, rise to finish alert), steady (focus) and sleep (descend,
then fade to silence or hold very low); an optional breath pacer slows from 10 to 6
breaths a minute; binaural layers only with headphones.

Examples
--------
>>> from sonora.plan import CheckIn, compose, get_arm
>>> c = CheckIn(tension=7, goal="sleep", minutes=20, local_time="23:30")
>>> plan = compose(c, get_arm("rain/dark"), seed=3)
>>> plan.layers, plan.trajectory.kind, plan.duration_s
([('rain', 0.0)], 'sleep', 1200.0)
>>> Plan.from_json(plan.to_json()) == plan
True
"""

from __future__ import annotations

from sonora.plan.checkin import GOALS, OUTPUTS, PLACES, CheckIn, CheckOut, Outcome, parse_minutes
from sonora.plan.compose import (
    choose_trajectory,
    compose,
    plan_from_scene,
    plan_reason,
    quiet_rest_plan,
)
from sonora.plan.model import PLAN_KIND, Plan, PlanLayer
from sonora.plan.recipes import (
    ARMS,
    FAMILIES,
    RECIPES,
    SENSITIVITIES,
    Arm,
    Constraints,
    Recipe,
    allowed_arms,
    arm_rejection,
    get_arm,
    get_recipe,
)
from sonora.plan.render import (
    analysis_mix,
    is_plan_file,
    load_plan,
    load_plan_or_scene,
    plan_excerpt,
    plan_mix,
    render_plan,
    spectral_centroid_hz,
)
from sonora.plan.trajectory import Trajectory

__all__ = [
    "ARMS",
    "FAMILIES",
    "GOALS",
    "OUTPUTS",
    "PLACES",
    "PLAN_KIND",
    "RECIPES",
    "SENSITIVITIES",
    "Arm",
    "CheckIn",
    "CheckOut",
    "Constraints",
    "Outcome",
    "Plan",
    "PlanLayer",
    "Recipe",
    "Trajectory",
    "allowed_arms",
    "analysis_mix",
    "arm_rejection",
    "choose_trajectory",
    "compose",
    "get_arm",
    "get_recipe",
    "is_plan_file",
    "load_plan",
    "load_plan_or_scene",
    "parse_minutes",
    "plan_excerpt",
    "plan_from_scene",
    "plan_mix",
    "plan_reason",
    "quiet_rest_plan",
    "render_plan",
    "spectral_centroid_hz",
]
