"""Swap choices are worked out once per plan (issue #15) and stay what they were: the
same families for every layer but a breath pacer, none for a pacer or quiet rest."""

from __future__ import annotations

from pathlib import Path

import pytest

from sonora.core.database import Database
from sonora.core.planner import PROFILE_DEFAULTS, Planner, constraints_of
from sonora.plan import FAMILIES, CheckIn
from sonora.plan.recipes import ARMS, arm_rejection


@pytest.fixture
def planner(tmp_path: Path) -> Planner:
    return Planner(Database.open(f"sqlite:///{tmp_path / 'swap.db'}"), secret="k" * 32)


def _expected(planner: Planner, plan: object, profile: dict[str, object]) -> list[str]:
    """The families a swap may bring in, worked out from the hard rules directly."""
    checkin = planner._checkin(plan)  # type: ignore[arg-type]
    constraints = constraints_of({**PROFILE_DEFAULTS, **profile})
    level = plan.recipe.split("/")[-1] if "/" in plan.recipe else "mid"  # type: ignore[attr-defined]
    present = set(plan.families)  # type: ignore[attr-defined]
    out = []
    for fam in FAMILIES:
        if fam in present or fam == "breath":
            continue
        ranked = sorted(
            (a for a in ARMS if fam in a.families),
            key=lambda a: (a.level != level, len(a.families)),
        )
        if any(arm_rejection(a, checkin, constraints) is None for a in ranked):
            out.append(fam)
    return out


@pytest.mark.parametrize(
    ("answers", "profile"),
    [
        ({"tension": 7, "goal": "sleep", "place": "in_bed", "local_time": "23:10"}, {}),
        ({"tension": 8, "goal": "ease_anxiety", "minutes": 10}, {"breath_pacer": True}),
        ({"energy": 3, "goal": "focus", "output": "headphones"}, {"disliked": ["noise"]}),
        ({"mood": 4, "goal": "unwind"}, {"sensitivities": ["water"], "loved": ["bowls"]}),
    ],
)
def test_every_layer_gets_the_choices_the_rules_allow(
    planner: Planner, answers: dict[str, object], profile: dict[str, object]
) -> None:
    plan = planner.recommend("listener-1", CheckIn.from_dict(answers), profile)
    every = planner.swap_choices_all(plan, profile)
    assert len(every) == len(plan.plan_layers)
    expected = _expected(planner, plan, profile)
    for i, layer in enumerate(plan.plan_layers):
        assert every[i] == planner.swap_choices(plan, i, profile)
        assert every[i] == ([] if layer.family == "breath" else expected)
    # the lists are each layer's own: changing one leaves the others alone
    if len(every) > 1 and every[0]:
        every[0].append("changed")
        assert "changed" not in every[1]
