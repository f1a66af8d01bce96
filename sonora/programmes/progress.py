"""Progress through a programme: adherence, before/after change, answers.

Pure functions over a listener's history (:class:`~sonora.listening.repo.HistoryEntry`)
and their answers; :func:`progress` builds the whole view, leaving out what the viewer
may not see (``scope``).  Numbers are on Sonora's 0-10 scales; a *change* is after
minus before, with tension's sign turned so that a positive change is always the
direction the listener wanted (calmer, better mood).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sonora.listening.repo import HistoryEntry
from sonora.programmes.repo import AnswerRecord, ProgrammeRecord

__all__ = ["Progress", "SessionRow", "planned_sessions", "progress"]

#: The scales compared before and after each session.
SCALES = ("tension", "mood", "energy")


@dataclass(frozen=True)
class SessionRow:
    """One session within the programme, as shared."""

    when: dt.datetime
    title: str
    goal: str
    families: tuple[str, ...]
    minutes: float
    done: bool
    before: dict[str, float | None] | None = None
    after: dict[str, float | None] | None = None
    note: str | None = None
    care_level: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["when"] = self.when.isoformat()
        out["families"] = list(self.families)
        return {k: v for k, v in out.items() if v is not None}


@dataclass
class Progress:
    """A programme's progress as one viewer may see it."""

    programme: ProgrammeRecord
    scope: tuple[str, ...]
    today: dt.date
    planned_total: int
    planned_to_date: int
    done: int
    weeks: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    per_goal: list[dict[str, Any]] = field(default_factory=list)
    per_sound: list[dict[str, Any]] = field(default_factory=list)
    per_session_goal: list[dict[str, Any]] = field(default_factory=list)
    questions: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the programme included)."""
        return {
            "programme": self.programme.to_dict(),
            "scope": list(self.scope),
            "today": self.today.isoformat(),
            "adherence": {
                "done": self.done,
                "planned": self.planned_total,
                "planned_to_date": self.planned_to_date,
            },
            "weeks": self.weeks,
            "sessions": [s.to_dict() for s in self.sessions],
            "per_goal": self.per_goal,
            "per_sound": self.per_sound,
            "per_session_goal": self.per_session_goal,
            "questions": self.questions,
        }


def planned_sessions(p: ProgrammeRecord, until: dt.date | None = None) -> int:
    """Sessions planned from the start to ``until`` (inclusive; default: the end).

    ``sessions_per_week`` for each whole week, and a pro-rata share (rounded up) of a
    part week: a 2-week programme of 5 a week plans 10.
    """
    end = p.end_date if until is None else min(until, p.end_date)
    if end < p.start_date:
        return 0
    days = (end - p.start_date).days + 1
    return math.ceil(p.sessions_per_week * days / 7 - 1e-9)


def _mean(xs: Sequence[float]) -> float | None:
    return round(sum(xs) / len(xs), 2) if xs else None


def _change(before: dict[str, Any], after: dict[str, Any] | None, key: str) -> float | None:
    if after is None:
        return None
    b, a = before.get(key), after.get(key)
    if b is None or a is None:
        return None
    return float(b) - float(a) if key == "tension" else float(a) - float(b)


def _in_programme(e: HistoryEntry, p: ProgrammeRecord) -> bool:
    return p.runs_on(e.checkin.created_at.date())


def _done(e: HistoryEntry) -> bool:
    return e.outcome is not None or e.plan.started_at is not None


def progress(
    p: ProgrammeRecord,
    history: Sequence[HistoryEntry],
    answers: Sequence[AnswerRecord],
    *,
    scope: Sequence[str],
    today: dt.date,
) -> Progress:
    """The programme's progress, showing only ``scope``.

    Parameters
    ----------
    p : ProgrammeRecord
        The programme.
    history : sequence of HistoryEntry
        The listener's sessions (any order; those outside the programme's dates are
        ignored).
    answers : sequence of AnswerRecord
        Answers to the programme's questions (always shown to both sides: the check-in
        form says they go to the therapist).
    scope : sequence of str
        ``"history"`` (sessions, adherence, sounds), ``"numbers"`` (before/after
        values), ``"notes"`` (check-in notes); the listener sees all three.
    today : datetime.date
        For "planned so far".

    Returns
    -------
    Progress
    """
    scope = tuple(scope)
    entries = sorted(
        (e for e in history if _in_programme(e, p)), key=lambda e: e.checkin.created_at
    )
    done = [e for e in entries if _done(e)]
    out = Progress(
        programme=p,
        scope=scope,
        today=today,
        planned_total=planned_sessions(p),
        planned_to_date=planned_sessions(p, today),
        done=len(done) if "history" in scope else 0,
    )
    if "history" in scope:
        n_weeks = max(1, math.ceil(((p.end_date - p.start_date).days + 1) / 7))
        for w in range(n_weeks):
            w_start = p.start_date + dt.timedelta(days=7 * w)
            w_end = min(p.end_date, w_start + dt.timedelta(days=6))
            planned = planned_sessions(p, w_end) - planned_sessions(
                p, w_start - dt.timedelta(days=1)
            )
            out.weeks.append(
                {
                    "week": w + 1,
                    "start": w_start.isoformat(),
                    "planned": planned,
                    "done": sum(1 for e in done if w_start <= e.checkin.created_at.date() <= w_end),
                }
            )
        for e in entries:
            plan = e.plan.plan
            before = {k: e.checkin.data.get(k) for k in SCALES}
            after = None if e.outcome is None else {k: e.outcome.data.get(k) for k in SCALES}
            out.sessions.append(
                SessionRow(
                    when=e.checkin.created_at,
                    title=str(plan.get("title") or ""),
                    goal=str(plan.get("goal") or e.checkin.goal or ""),
                    families=tuple(
                        dict.fromkeys(x.get("family", "") for x in plan.get("layers", []))
                    ),
                    minutes=round(float(plan.get("duration_s") or 0) / 60, 1),
                    done=_done(e),
                    before=before if "numbers" in scope else None,
                    after=after if "numbers" in scope else None,
                    note=(str(e.checkin.data.get("note") or "") or None)
                    if "notes" in scope
                    else None,
                    care_level=((e.checkin.care or {}).get("level") if "notes" in scope else None),
                )
            )
    if "numbers" in scope:
        sounds: dict[str, dict[str, list[float]]] = {}
        goals: dict[str, dict[str, list[float]]] = {}
        for e in done:
            if e.outcome is None:
                continue
            plan = e.plan.plan
            fams = dict.fromkeys(x.get("family", "") for x in plan.get("layers", []))
            goal = str(plan.get("goal") or e.checkin.goal or "")
            for key in ("tension", "mood"):
                c = _change(e.checkin.data, e.outcome.data, key)
                if c is None:
                    continue
                for f in fams:
                    sounds.setdefault(f, {}).setdefault(key, []).append(c)
                goals.setdefault(goal, {}).setdefault(key, []).append(c)
        out.per_sound = [
            {
                "family": f,
                "sessions": max(len(v) for v in d.values()),
                "tension_change": _mean(d.get("tension", [])),
                "mood_change": _mean(d.get("mood", [])),
            }
            for f, d in sorted(sounds.items())
        ]
        out.per_session_goal = [
            {
                "goal": g,
                "sessions": max(len(v) for v in d.values()),
                "tension_change": _mean(d.get("tension", [])),
                "mood_change": _mean(d.get("mood", [])),
            }
            for g, d in sorted(goals.items())
        ]
    by_q: dict[str, list[AnswerRecord]] = {}
    for a in answers:
        by_q.setdefault(a.question_id, []).append(a)
    for q in p.questions:
        series = by_q.get(q["id"], [])
        out.questions.append(
            {
                **q,
                "answers": [{"when": a.created_at.isoformat(), "value": a.value} for a in series],
                "first": series[0].value if series else None,
                "latest": series[-1].value if series else None,
            }
        )
    for i, g in enumerate(p.goals):
        tracked = [q for q in out.questions if q.get("goal") == i and q["first"] is not None]
        out.per_goal.append(
            {
                "goal": i,
                "domain": g["domain"],
                "text": g["text"],
                "questions": [
                    {
                        "id": q["id"],
                        "text": q["text"],
                        "first": q["first"],
                        "latest": q["latest"],
                        "change": round(q["latest"] - q["first"], 2),
                    }
                    for q in tracked
                ],
            }
        )
    return out
