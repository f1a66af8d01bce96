"""History charts as inline SVG, drawn on the server (no script, no CDN).

Each chart is an ``<svg role="img">`` with a title and a description that says in
words what it shows; the page also has the same numbers in a table.  Colours come
from CSS classes, so the charts follow the day and night themes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from markupsafe import Markup

__all__ = ["Frame", "goal_chart", "session_chart", "svg_open"]

#: The goals as the check-in form and the chart legend name them (not the API's keys).
GOAL_NAMES = {
    "sleep": "Fall asleep",
    "unwind": "Unwind",
    "ease_anxiety": "Ease anxious feelings",
    "focus": "Focus",
}


def svg_open(cid: str, w: float, h: float, title: str, desc: str) -> list[str]:
    """The start of a chart: the ``<svg>`` tag (``w`` by ``h`` px), its title and description.

    ``cid`` makes the ids of the title and description (``t-{cid}``, ``d-{cid}``)
    unique on the page; ``title`` and ``desc`` are escaped here.
    """
    return [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        f'aria-labelledby="t-{cid} d-{cid}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="t-{cid}">{escape(title)}</title>',
        f'<desc id="d-{cid}">{escape(desc)}</desc>',
    ]


@dataclass(frozen=True)
class Frame:
    """A chart's plot area: the SVG's size and margins (px) and its value axis.

    Values from 0 to ``top_value`` map to heights from the bottom margin up to the top
    margin.
    """

    w: int
    h: int
    left: int
    right: int
    top: int
    bottom: int
    top_value: float = 10.0

    @property
    def iw(self) -> int:
        """Width inside the margins (px)."""
        return self.w - self.left - self.right

    @property
    def ih(self) -> int:
        """Height inside the margins (px)."""
        return self.h - self.top - self.bottom

    def y(self, v: float) -> float:
        """The height (px from the top) of value ``v``."""
        return self.top + self.ih * (1 - float(v) / self.top_value)

    def grid(self, values: Iterable[float], *, dx: int = 6, dy: int = 5) -> list[str]:
        """A horizontal line at each value, labelled ``dx`` px left of the plot (``dy`` down)."""
        return [
            f'<line class="grid" x1="{self.left}" x2="{self.w - self.right}" '
            f'y1="{self.y(v):.1f}" y2="{self.y(v):.1f}"/>'
            f'<text class="axis" x="{self.left - dx}" y="{self.y(v) + dy:.1f}" '
            f'text-anchor="end">{v}</text>'
            for v in values
        ]


def session_chart(sessions: Sequence[Any], scale: str, *, max_sessions: int = 30) -> Markup:
    """Before → after per session on one 0–10 scale (``"tension"`` or ``"mood"``).

    Each session is a short vertical line from the before value (hollow circle) to the
    after value (filled circle), coloured by goal; sessions without a check-out show
    the before value only.

    Parameters
    ----------
    sessions : sequence of SessionPoint
        Oldest first.
    scale : str
        ``"tension"`` (lower is calmer) or ``"mood"`` (higher is better).
    max_sessions : int
        Only the newest this many are drawn.
    """
    pts = [s for s in sessions if s.before.get(scale) is not None][-max_sessions:]
    title = f"{scale.capitalize()} before and after each session"
    if not pts:
        return Markup("")
    box = Frame(420, 220, left=34, right=12, top=14, bottom=40)
    y = box.y
    n = len(pts)
    step = box.iw / max(n, 1)
    improved = sum(
        1
        for s in pts
        if s.after
        and s.after.get(scale) is not None
        and (
            s.after[scale] < s.before[scale]
            if scale == "tension"
            else s.after[scale] > s.before[scale]
        )
    )
    checked = sum(1 for s in pts if s.after and s.after.get(scale) is not None)
    better = "lower" if scale == "tension" else "higher"
    desc = (
        f"{n} sessions. {scale.capitalize()} was {better} afterwards in {improved} of the "
        f"{checked} sessions with a check-out."
    )
    parts = [*svg_open(scale, box.w, box.h, title, desc), *box.grid((0, 5, 10), dx=8, dy=4)]
    for i, s in enumerate(pts):
        x = box.left + step * (i + 0.5)
        goal = escape(s.goal or "unwind")
        b = s.before[scale]
        a = None if not s.after else s.after.get(scale)
        cls = f"goal-{goal}" + (" quiet" if s.quiet_rest else "")
        label = f"Session {i + 1} ({GOAL_NAMES.get(s.goal, s.goal)}): before {b:g}"
        if a is not None:
            label += f", after {a:g}"
            parts.append(
                f'<line class="change {cls}" x1="{x:.1f}" x2="{x:.1f}" '
                f'y1="{y(b):.1f}" y2="{y(a):.1f}"/>'
            )
        parts.append(f'<g class="{cls}"><title>{escape(label)}</title>')
        parts.append(f'<circle class="before" cx="{x:.1f}" cy="{y(b):.1f}" r="6"/>')
        if a is not None:
            parts.append(f'<circle class="after" cx="{x:.1f}" cy="{y(a):.1f}" r="6"/>')
        parts.append("</g>")
        if n <= 15 or i % max(1, n // 10) == 0:
            parts.append(
                f'<text class="axis" x="{x:.1f}" y="{box.h - box.bottom + 18}" '
                f'text-anchor="middle">{i + 1}</text>'
            )
    parts.append(
        f'<text class="axis" x="{box.left + box.iw / 2:.0f}" y="{box.h - 4}" '
        'text-anchor="middle">session</text></svg>'
    )
    return Markup("".join(parts))


def goal_chart(per_goal: Sequence[dict[str, Any]]) -> Markup:
    """Average change in tension per goal, as horizontal bars (positive = calmer).

    Each goal's name sits on its own line above its bar, and the value label on the
    other side of the zero line from the bar, so nothing is cut however narrow the
    screen (the SVG scales to its container).
    """
    rows = [r for r in per_goal if r.get("tension_change") is not None]
    if not rows:
        return Markup("")
    w = 360
    label_h, bar_h, gap = 18, 20, 14
    row_h = label_h + bar_h + gap
    h = len(rows) * row_h + 24
    span = max(3.0, max(abs(r["tension_change"]) for r in rows))
    zero = w / 2
    half = w / 2 - 8
    desc = "; ".join(
        f"{GOAL_NAMES.get(r['goal'], r['goal'])}: tension {_signed(r['tension_change'])} "
        f"on average over {r['sessions']} sessions"
        for r in rows
    )
    parts = svg_open("goal", w, h, "Average drop in tension, by goal", desc)
    parts.append(f'<line class="grid" x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{h - 20}"/>')
    for i, r in enumerate(rows):
        yy = i * row_h + 4
        v = float(r["tension_change"])
        length = half * abs(v) / span
        x = zero if v >= 0 else zero - length
        goal = escape(r["goal"])
        by = yy + label_h
        value_x = zero - 6 if v >= 0 else zero + 6
        parts.append(
            f'<text class="axis" x="0" y="{yy + 13}">'
            f"{escape(GOAL_NAMES.get(r['goal'], r['goal']))}</text>"
            f'<rect class="bar goal-{goal}" x="{x:.1f}" y="{by}" width="{max(length, 1.5):.1f}" '
            f'height="{bar_h}" rx="4"/>'
            f'<text class="axis" x="{value_x:.1f}" y="{by + bar_h * 0.72:.1f}" '
            f'text-anchor="{"end" if v >= 0 else "start"}">'
            f"{_signed(v)} (n={r['sessions']})</text>"
        )
    parts.append(
        f'<text class="axis" x="{zero:.0f}" y="{h - 4}" text-anchor="middle">'
        "← tenser after · calmer after →</text></svg>"
    )
    return Markup("".join(parts))


def _signed(v: float) -> str:
    """A drop in tension as words-friendly signed text: ``-1.5`` → ``"down 1.5"``."""
    if v > 0:
        return f"down {v:.1f}"
    if v < 0:
        return f"up {-v:.1f}"
    return "no change"
