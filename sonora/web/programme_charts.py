"""Programme progress charts as inline SVG, drawn on the server (no script, no CDN).

Like :mod:`sonora.web.charts`: each chart is an ``<svg role="img">`` with a title and a
description saying in words what it shows, and the page has the same numbers in a
table.  Colours come from CSS classes (``.chart .bar``, ``.chart .planned``).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from markupsafe import Markup

from sonora.web.charts import Frame, svg_open

__all__ = ["adherence_chart", "answers_chart", "sound_chart"]


def adherence_chart(weeks: Sequence[dict[str, Any]], done: int, planned: int) -> Markup:
    """Sessions planned (light) and done (dark) per week of the programme.

    Parameters
    ----------
    weeks : sequence of dict
        ``{"week", "planned", "done"}`` per week (:class:`~sonora.programmes.progress.Progress`).
    done, planned : int
        Totals, said in the description.
    """
    if not weeks:
        return Markup("")
    top_v = max(1, max(max(x["planned"], x["done"]) for x in weeks))
    box = Frame(420, 200, left=30, right=10, top=12, bottom=34, top_value=top_v)
    y = box.y
    step = box.iw / len(weeks)
    bw = min(34.0, step / 2.6)
    parts = svg_open(
        "adherence",
        box.w,
        box.h,
        "Sessions planned and done each week",
        f"{done} of {planned} planned sessions done. "
        + " ".join(f"Week {x['week']}: {x['done']} of {x['planned']}." for x in weeks),
    )
    parts += box.grid(sorted({0, top_v // 2, top_v}))
    for i, x in enumerate(weeks):
        cx = box.left + step * (i + 0.5)
        for j, (key, cls) in enumerate((("planned", "planned"), ("done", "bar"))):
            v = x[key]
            bx = cx - bw + j * bw
            parts.append(
                f'<rect class="{cls}" x="{bx:.1f}" y="{y(v):.1f}" width="{bw - 2:.1f}" '
                f'height="{max(0.0, y(0) - y(v)):.1f}"><title>Week {x["week"]}: {key} {v}'
                "</title></rect>"
            )
        parts.append(
            f'<text class="axis" x="{cx:.1f}" y="{box.h - box.bottom + 20}" '
            f'text-anchor="middle">week {x["week"]}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def answers_chart(question: dict[str, Any], index: int) -> Markup:
    """One extra question's answers (0-10) over the programme, oldest first."""
    pts = question.get("answers") or []
    if not pts:
        return Markup("")
    box = Frame(420, 180, left=30, right=12, top=12, bottom=26)
    y = box.y
    n = len(pts)

    def x(i: int) -> float:
        return box.left + (box.iw * (i + 0.5) / n)

    vals = [float(p["value"]) for p in pts]
    parts = svg_open(
        f"q{index}",
        box.w,
        box.h,
        f"Answers: {question['text']}",
        f"{n} answers from 0 ({question.get('low', '')}) to 10 ({question.get('high', '')}): "
        + ", ".join(f"{v:g}" for v in vals)
        + ".",
    )
    parts += box.grid((0, 5, 10))
    path = " ".join(f"{'M' if i == 0 else 'L'}{x(i):.1f},{y(v):.1f}" for i, v in enumerate(vals))
    parts.append(f'<path class="line" d="{path}" fill="none"/>')
    for i, v in enumerate(vals):
        parts.append(
            f'<circle class="after" cx="{x(i):.1f}" cy="{y(v):.1f}" r="5">'
            f"<title>Answer {i + 1}: {v:g}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def sound_chart(per_sound: Sequence[dict[str, Any]]) -> Markup:
    """Mean change in tension per sound family (positive = calmer), horizontal bars."""
    rows = [r for r in per_sound if r.get("tension_change") is not None]
    if not rows:
        return Markup("")
    w, row_h = 360, 44
    h = len(rows) * row_h + 10
    span = max(3.0, max(abs(r["tension_change"]) for r in rows))
    zero, half = w / 2, w / 2 - 8
    parts = svg_open(
        "sound",
        w,
        h,
        "Change in tension per sound (positive = calmer)",
        " ".join(
            f"{r['family']}: {r['tension_change']:+.1f} over {r['sessions']} sessions."
            for r in rows
        ),
    )
    parts.append(f'<line class="grid" x1="{zero}" x2="{zero}" y1="0" y2="{h}"/>')
    for i, r in enumerate(rows):
        v = float(r["tension_change"])
        y0 = 8 + i * row_h
        bw = half * abs(v) / span
        bx = zero if v >= 0 else zero - bw
        parts.append(
            f'<text class="axis" x="4" y="{y0 + 12}">{escape(r["family"])}</text>'
            f'<rect class="bar" x="{bx:.1f}" y="{y0 + 18}" width="{bw:.1f}" height="16"/>'
            f'<text class="axis" x="{zero + (-6 if v >= 0 else 6):.1f}" y="{y0 + 31}" '
            f'text-anchor="{"end" if v >= 0 else "start"}">{v:+.1f}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
