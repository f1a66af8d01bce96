"""The history page's charts name things as the rest of the page does."""

from __future__ import annotations

import re

from sonora.web.charts import goal_chart
from sonora.web.pages import GOAL_LABELS


def test_the_goal_chart_names_goals_as_the_check_in_and_legend_do() -> None:
    rows = [
        {"goal": g, "tension_change": 1.5, "sessions": 2}
        for g in ("sleep", "unwind", "ease_anxiety", "focus")
    ]
    svg = str(goal_chart(rows))
    labels = re.findall(r'<text class="axis" x="0" y="[\d.]+">([^<]+)</text>', svg)
    assert labels == [GOAL_LABELS[g] for g in ("sleep", "unwind", "ease_anxiety", "focus")]
    assert "Fall asleep: tension down 1.5" in svg  # the description read by screen readers
