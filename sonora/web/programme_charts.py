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

__all__ = ["adherence_chart", "answers_chart", "sound_chart"]


def _open(cid: str, w: int, h: int, title: str, desc: str) -> list[str]:
    return [
        f'<svg class="chart" viewBox="0 0 {w} {h}" role="img" '
        f'aria-labelledby="t-{cid} d-{cid}" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="t-{cid}">{escape(title)}</title>',
        f'<desc id="d-{cid}">{escape(desc)}</desc>',
    ]


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
    w, h = 420, 200
    left, right, top, bottom = 30, 10, 12, 34
    iw, ih = w - left - right, h - top - bottom
    top_v = max(1, max(max(x["planned"], x["done"]) for x in weeks))
    step = iw / len(weeks)
    bw = min(34.0, step / 2.6)

    def y(v: float) -> float:
        return top + ih * (1 - v / top_v)

    parts = _open(
        "adherence",
        w,
        h,
        "Sessions planned and done each week",
        f"{done} of {planned} planned sessions done. "
        + " ".join(f"Week {x['week']}: {x['done']} of {x['planned']}." for x in weeks),
    )
    for v in sorted({0, top_v // 2, top_v}):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y(v) + 5:.1f}" text-anchor="end">{v}</text>'
        )
    for i, x in enumerate(weeks):
        cx = left + step * (i + 0.5)
        for j, (key, cls) in enumerate((("planned", "planned"), ("done", "bar"))):
            v = x[key]
            bx = cx - bw + j * bw
            parts.append(
                f'<rect class="{cls}" x="{bx:.1f}" y="{y(v):.1f}" width="{bw - 2:.1f}" '
                f'height="{max(0.0, y(0) - y(v)):.1f}"><title>Week {x["week"]}: {key} {v}'
                "</title></rect>"
            )
        parts.append(
            f'<text class="axis" x="{cx:.1f}" y="{h - bottom + 20}" text-anchor="middle">'
            f"week {x['week']}</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def answers_chart(question: dict[str, Any], index: int) -> Markup:
    """One extra question's answers (0-10) over the programme, oldest first."""
    pts = question.get("answers") or []
    if not pts:
        return Markup("")
    w, h = 420, 180
    left, right, top, bottom = 30, 12, 12, 26
    iw, ih = w - left - right, h - top - bottom
    n = len(pts)

    def x(i: int) -> float:
        return left + (iw * (i + 0.5) / n)

    def y(v: float) -> float:
        return top + ih * (1 - float(v) / 10.0)

    vals = [float(p["value"]) for p in pts]
    parts = _open(
        f"q{index}",
        w,
        h,
        f"Answers: {question['text']}",
        f"{n} answers from 0 ({question.get('low', '')}) to 10 ({question.get('high', '')}): "
        + ", ".join(f"{v:g}" for v in vals)
        + ".",
    )
    for v in (0, 5, 10):
        parts.append(
            f'<line class="grid" x1="{left}" x2="{w - right}" y1="{y(v):.1f}" y2="{y(v):.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y(v) + 5:.1f}" text-anchor="end">{v}</text>'
        )
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
    parts = _open(
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
