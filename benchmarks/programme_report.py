"""Programme report benchmark: how long one PDF report takes to draw.

A report is drawn per request (``/programmes/{id}/report.pdf``), so it counts against
the ``downloads`` rate limits; this says what one costs.  It builds the progress of a
12-week programme (5 sessions a week, 60 sessions done, two extra questions answered at
each) in memory — no database, no server — and times, over ``--repeat`` runs:

* the CSV report (the reference: a plain text walk over the same data);
* the PDF report (ReportLab: tables and a bar chart per week).

It prints the median milliseconds of each and the PDF/CSV ratio.  The machine this
runs on may be shared with other work: the figures say what this run saw.

Usage::

    python benchmarks/programme_report.py [--repeat 20]
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
from types import SimpleNamespace
from typing import Any

from sonora.programmes.progress import progress
from sonora.programmes.repo import AnswerRecord, ProgrammeRecord
from sonora.programmes.report import report_csv, report_pdf


def _world() -> tuple[ProgrammeRecord, list[Any], list[AnswerRecord]]:
    start = dt.date(2026, 1, 5)
    p = ProgrammeRecord(
        id="p" * 32,
        listener_id="l" * 32,
        therapist_id="t" * 32,
        therapist_name="Ada Lovelace",
        title="Evenings, winding down",
        goals=[
            {"domain": "emotional", "text": "Let the evening worry pass"},
            {"domain": "physical", "text": "Shoulders down before bed"},
        ],
        sessions_per_week=5,
        minutes_min=15,
        minutes_max=20,
        rhythm_note="before bed",
        listen={"kind": "sonora_chooses", "families": ["rain", "bowls"], "scenes": []},
        questions=[
            {"id": "q0", "text": "How settled?", "low": "no", "high": "yes", "goal": 0},
            {"id": "q1", "text": "How loose?", "low": "no", "high": "yes", "goal": 1},
        ],
        start_date=start,
        end_date=start + dt.timedelta(days=83),
        note="",
        remind_email=False,
        remind_weekdays=[],
        reminded_on=None,
        created_at=dt.datetime(2026, 1, 5, tzinfo=dt.UTC),
    )
    history, answers = [], []
    for i in range(60):
        when = dt.datetime.combine(start + dt.timedelta(days=i * 84 // 60), dt.time(21), dt.UTC)
        plan = {
            "title": "Rain",
            "goal": "sleep",
            "duration_s": 1200,
            "layers": [{"family": "rain"}, {"family": "bowls"}],
        }
        history.append(
            SimpleNamespace(
                checkin=SimpleNamespace(
                    created_at=when,
                    goal="sleep",
                    care=None,
                    data={"tension": 7, "mood": 4, "energy": 3, "note": "ok"},
                ),
                plan=SimpleNamespace(plan=plan, started_at=when),
                outcome=SimpleNamespace(data={"tension": 3, "mood": 6, "energy": 3}),
            )
        )
        for q in ("q0", "q1"):
            answers.append(AnswerRecord(p.id, None, q, float(i % 11), when))
    return p, history, answers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    p, history, answers = _world()
    pr = progress(p, history, answers, scope=("numbers", "history", "notes"), today=p.end_date)
    report_pdf(pr, viewer="therapist")  # imports and font set-up outside the timing

    def median_ms(fn: Any) -> float:
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    csv_ms = median_ms(lambda: report_csv(pr))
    pdf_ms = median_ms(lambda: report_pdf(pr, viewer="therapist"))
    size = len(report_pdf(pr, viewer="therapist"))
    print(f"sessions: {len(pr.sessions)}, answers: {len(answers)}, PDF bytes: {size}")
    print(f"CSV report: {csv_ms:.2f} ms (median of {args.repeat})")
    print(f"PDF report: {pdf_ms:.2f} ms (median of {args.repeat})")
    print(f"PDF / CSV: {pdf_ms / csv_ms:.0f}x")


if __name__ == "__main__":
    main()
