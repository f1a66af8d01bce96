"""A programme's progress as a report to bring to the next session: CSV and PDF.

Both hold exactly what the viewer's :class:`~sonora.programmes.progress.Progress` holds
(the scope the listener shares, for a therapist).  The PDF is drawn with ReportLab
(BSD): a title, the programme in the therapist's words, adherence with a bar chart per
week, before/after change per goal and per sound, the answers, and the sessions.

ReportLab (with Pillow, which it requires: ~28 MB together) is the optional ``pdf``
extra, not part of the default install: without it :func:`pdf_available` is false,
the pages offer the CSV only and say how to add the PDF, and :func:`report_pdf` raises
:class:`PdfUnavailable` with the same words.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any
from zoneinfo import ZoneInfo

from sonora.errors import SonoraError
from sonora.programmes.progress import Progress
from sonora.programmes.spec import DOMAINS, LISTEN_KINDS

__all__ = [
    "NOT_MONITORED",
    "PDF_HOW_TO",
    "PdfUnavailable",
    "pdf_available",
    "report_csv",
    "report_pdf",
]

#: How to add PDF reports to an install without them.
PDF_HOW_TO = (
    "PDF reports need the optional 'pdf' extra (ReportLab): in Sonora's folder run "
    ".venv/bin/pip install -e '.[pdf]' and restart. The CSV report holds the same data."
)


class PdfUnavailable(SonoraError):
    """ReportLab is not installed (the ``pdf`` extra)."""


def pdf_available() -> bool:
    """Whether ReportLab is installed (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("reportlab") is not None


#: Said on every page and report a therapist or listener reads.
NOT_MONITORED = (
    "Sonora is not monitored in real time: nobody reads check-ins as they arrive. "
    "In an emergency, call your local emergency number or a crisis line."
)


def _n(v: Any) -> str:
    return "" if v is None else (f"{v:+.2f}" if isinstance(v, float) else str(v))


def _local(when: dt.datetime | str, zone: str) -> str:
    """``07 Dec 2026, 14:30 GMT``: a stored (UTC) instant in ``zone``."""
    t = dt.datetime.fromisoformat(when) if isinstance(when, str) else when
    t = (t if t.tzinfo is not None else t.replace(tzinfo=dt.UTC)).astimezone(ZoneInfo(zone))
    return f"{t:%d %b %Y, %H:%M} {t.tzname()}"


def report_csv(pr: Progress) -> str:
    """The report as CSV text: one table, the first column naming the section."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    p = pr.programme
    w.writerow(["section", "item", "value", "detail", "extra"])
    w.writerow(["programme", "title", p.title, p.therapist_name, ""])
    w.writerow(["programme", "dates", p.start_date.isoformat(), p.end_date.isoformat(), ""])
    w.writerow(["programme", "scope", " ".join(pr.scope), "", ""])
    for g in p.goals:
        w.writerow(["goal", DOMAINS.get(g["domain"], g["domain"]), g["text"], "", ""])
    w.writerow(["adherence", "done", pr.done, "", ""])
    w.writerow(["adherence", "planned", pr.planned_total, "", ""])
    w.writerow(["adherence", "planned_to_date", pr.planned_to_date, "", ""])
    for wk in pr.weeks:
        w.writerow(["week", wk["week"], wk["done"], wk["planned"], wk["start"]])
    for g in pr.per_goal:
        for q in g["questions"]:
            w.writerow(["goal_change", g["text"], _n(q["change"]), q["first"], q["latest"]])
    for section, key, rows in (
        ("sound_change", "family", pr.per_sound),
        ("session_goal_change", "goal", pr.per_session_goal),
    ):
        for r in rows:
            changes = [_n(r["tension_change"]), _n(r["mood_change"])]
            w.writerow([section, r[key], *changes, r["sessions"]])
    for q in pr.questions:
        for a in q["answers"]:
            w.writerow(["answer", q["text"], a["value"], a["when"], q["id"]])
    for s in pr.sessions:
        w.writerow(
            [
                "session",
                s.when.isoformat(),
                s.title,
                " ".join(s.families),
                "done" if s.done else "not finished",
            ]
        )
        if s.before is not None:
            for k, v in s.before.items():
                after = (s.after or {}).get(k)
                w.writerow(["session_numbers", s.when.isoformat(), k, _n(v), _n(after)])
        if s.note:
            w.writerow(["session_note", s.when.isoformat(), s.note, s.care_level or "", ""])
    return buf.getvalue()


def report_pdf(pr: Progress, *, viewer: str, zone: str = "UTC") -> bytes:
    """The report as a PDF (A4), ``viewer`` being ``"listener"`` or ``"therapist"``.

    Times are shown in ``zone`` (an IANA name: the reader's own), which the table says.

    Raises
    ------
    PdfUnavailable
        Without ReportLab (the ``pdf`` extra), saying how to add it.
    """
    from xml.sax.saxutils import escape

    if not pdf_available():
        raise PdfUnavailable(PDF_HOW_TO)

    from reportlab.graphics.charts.barcharts import VerticalBarChart
    from reportlab.graphics.shapes import Drawing
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    p = pr.programme
    styles = getSampleStyleSheet()
    body, h1, h2 = styles["BodyText"], styles["Title"], styles["Heading2"]

    def para(text: str, style: Any = body) -> Paragraph:
        return Paragraph(escape(text), style)

    def table(rows: list[list[Any]]) -> Table:
        # a Paragraph (wrapping) only where text is long: plain cells draw ~10x faster
        t = Table(
            [[para(str(c)) if len(str(c)) > 24 else str(c) for c in r] for r in rows],
            hAlign="LEFT",
            repeatRows=1,
        )
        t.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef5")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        return t

    story: list[Any] = [
        para(p.title, h1),
        para(
            f"A programme from {p.therapist_name}, music therapist, "
            f"{p.start_date:%d %b %Y} to {p.end_date:%d %b %Y}. "
            f"Report for the {'listener' if viewer == 'listener' else 'therapist'}; "
            f"shared: {', '.join(pr.scope) or 'nothing'}."
        ),
        para(NOT_MONITORED),
        Spacer(1, 4 * mm),
        para("Goals (in the therapist's words)", h2),
        table(
            [["Domain", "Goal"]]
            + [[DOMAINS.get(g["domain"], g["domain"]), g["text"]] for g in p.goals]
        ),
        para(
            f"Rhythm: {p.sessions_per_week} sessions a week, {p.minutes_min}-{p.minutes_max} min. "
            f"{p.rhythm_note.rstrip('.')}. "
            f"Listening: {LISTEN_KINDS.get(p.listen.get('kind', ''), '')}"
            f"{': ' + ', '.join(p.listen.get('families') or p.listen.get('scenes') or []) if (p.listen.get('families') or p.listen.get('scenes')) else ''}."
        ),
        para("Adherence", h2),
    ]
    if "history" in pr.scope:
        story.append(
            para(
                f"{pr.done} of {pr.planned_total} planned sessions done "
                f"({pr.planned_to_date} planned by {pr.today:%d %b %Y})."
            )
        )
        if pr.weeks:
            d = Drawing(160 * mm, 55 * mm)
            bc = VerticalBarChart()
            bc.x, bc.y, bc.width, bc.height = 12 * mm, 8 * mm, 140 * mm, 42 * mm
            bc.data = [[w["planned"] for w in pr.weeks], [w["done"] for w in pr.weeks]]
            bc.categoryAxis.categoryNames = [f"Week {w['week']}" for w in pr.weeks]
            bc.valueAxis.valueMin = 0
            bc.bars[0].fillColor = colors.HexColor("#c9d6e3")
            bc.bars[1].fillColor = colors.HexColor("#2f6f8f")
            d.add(bc)
            story += [d, para("Light bars: planned; dark bars: done.")]
    else:
        story.append(para("Session history is not shared, so adherence is not shown."))
    if pr.per_goal and any(g["questions"] for g in pr.per_goal):
        story += [para("Change per goal (first answer to latest)", h2)]
        rows = [["Goal", "Question", "First", "Latest", "Change"]]
        for g in pr.per_goal:
            for q in g["questions"]:
                rows.append([g["text"], q["text"], q["first"], q["latest"], _n(q["change"])])
        story.append(table(rows))
    if pr.per_sound:
        story += [para("Before/after change per sound (positive = calmer / better mood)", h2)]
        story.append(
            table(
                [["Sound", "Sessions", "Tension change", "Mood change"]]
                + [
                    [s["family"], s["sessions"], _n(s["tension_change"]), _n(s["mood_change"])]
                    for s in pr.per_sound
                ]
            )
        )
    if pr.questions:
        story += [para("Answers to the programme's questions (0-10)", h2)]
        rows = [["Question", "When", "Answer"]]
        for q in pr.questions:
            for a in q["answers"]:
                rows.append([q["text"], _local(a["when"], zone), f"{a['value']:g}"])
        story.append(table(rows) if len(rows) > 1 else para("No answers yet."))
    if pr.sessions:
        story += [para("Sessions", h2)]
        rows = [[f"When ({zone})", "Session", "Sounds", "Done"]]
        for s in pr.sessions:
            rows.append(
                [_local(s.when, zone), s.title, ", ".join(s.families), "yes" if s.done else "no"]
            )
        story.append(table(rows))
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        title=f"{p.title} - progress",
        author="Sonora",
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
    )
    doc.build(story)
    return buf.getvalue()
