"""What a programme is made of, and the checks on a therapist's input.

Every check raises :class:`~sonora.errors.ParameterError` naming the field and what is
allowed, before anything is stored.  Goals are kept in the therapist's own words; Sonora
only files each under one of the five domains music therapists commonly assess.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sonora.errors import ParameterError
from sonora.plan.recipes import FAMILIES
from sonora.scenes import builtin_names

__all__ = [
    "DOMAINS",
    "LISTEN_KINDS",
    "MAX_GOALS",
    "MAX_QUESTIONS",
    "Goal",
    "Listen",
    "ProgrammeSpec",
    "Question",
    "clean_programme",
]

#: Domains a goal is filed under (the therapist's words stay as written).
DOMAINS = {
    "emotional": "Emotional",
    "cognitive": "Cognitive",
    "physical": "Physical",
    "social": "Social",
    "communication": "Communication",
}

#: What to listen to: chosen scenes, one sound family, a rule for the listener's own
#: music library (stored now, applied by the library feature when it lands), or
#: "let Sonora choose within these" (the families listed).
LISTEN_KINDS = {
    "scenes": "These scenes",
    "family": "One sound family",
    "library_rule": "A playlist rule from your music library",
    "sonora_chooses": "Let Sonora choose within these sounds",
}

MAX_GOALS = 6
MAX_QUESTIONS = 5
#: Longest programme, days (a programme is reviewed at the next session).
MAX_DAYS = 366
#: Library rule fields the library feature is expected to apply.
LIBRARY_RULE_FIELDS = ("tempo_max_bpm", "energy_max", "instrumental_only", "tags")


@dataclass(frozen=True)
class Goal:
    """One goal: its domain and the therapist's words."""

    domain: str
    text: str


@dataclass(frozen=True)
class Question:
    """An extra 0-10 check-in question (``low`` / ``high`` label the ends)."""

    id: str
    text: str
    low: str
    high: str
    goal: int | None = None  # index of the goal it tracks, if any


@dataclass(frozen=True)
class Listen:
    """What to listen to (see :data:`LISTEN_KINDS`)."""

    kind: str
    scenes: tuple[str, ...] = ()
    families: tuple[str, ...] = ()
    library_rule: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "scenes": list(self.scenes),
            "families": list(self.families),
            "library_rule": self.library_rule,
        }


@dataclass(frozen=True)
class ProgrammeSpec:
    """A checked programme, ready to store."""

    title: str
    goals: tuple[Goal, ...]
    sessions_per_week: int
    minutes_min: int
    minutes_max: int
    rhythm_note: str
    listen: Listen
    questions: tuple[Question, ...]
    start_date: dt.date
    end_date: dt.date
    note: str

    def goals_json(self) -> list[dict[str, Any]]:
        return [asdict(g) for g in self.goals]

    def questions_json(self) -> list[dict[str, Any]]:
        return [asdict(q) for q in self.questions]


def _text(data: Mapping[str, Any], name: str, *, max_len: int, required: bool = False) -> str:
    v = data.get(name)
    v = "" if v is None else str(v).strip()
    if required and not v:
        raise ParameterError(name, "required")
    if len(v) > max_len:
        raise ParameterError(name, f"at most {max_len} characters, got {len(v)}")
    return v


def _int(data: Mapping[str, Any], name: str, lo: int, hi: int) -> int:
    v = data.get(name)
    try:
        n = int(str(v).strip())
    except (TypeError, ValueError):
        raise ParameterError(
            name, f"expected a whole number from {lo} to {hi}, got {v!r}"
        ) from None
    if not lo <= n <= hi:
        raise ParameterError(name, f"expected a whole number from {lo} to {hi}, got {n}")
    return n


def _date(data: Mapping[str, Any], name: str) -> dt.date:
    v = data.get(name)
    if isinstance(v, dt.date):
        return v
    try:
        return dt.date.fromisoformat(str(v or "").strip())
    except ValueError:
        raise ParameterError(name, f"expected a date such as 2026-12-31, got {v!r}") from None


def _list(v: Any) -> list[Any]:
    if v is None or v == "":
        return []
    if isinstance(v, str):
        return [v]
    return list(v)


def _goals(data: Mapping[str, Any]) -> tuple[Goal, ...]:
    raw = data.get("goals")
    rows: list[int] | None = None  # the form's row of each goal (its error names it)
    if raw is None:  # a form: goal_domain_0, goal_text_0, ...
        raw = [
            {"domain": data.get(f"goal_domain_{i}"), "text": data.get(f"goal_text_{i}")}
            for i in range(MAX_GOALS)
        ]
        rows = [i for i, g in enumerate(raw) if (g["text"] or "").strip()]
        raw = [raw[i] for i in rows]
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ParameterError("goals", "expected a list of {domain, text}")
    if not 1 <= len(raw) <= MAX_GOALS:
        raise ParameterError("goals", f"write from 1 to {MAX_GOALS} goals, got {len(raw)}")
    out = []
    for i, g in enumerate(raw):
        if not isinstance(g, Mapping):
            raise ParameterError(f"goals[{i}]", "expected {domain, text}")
        domain = str(g.get("domain") or "")
        if domain not in DOMAINS:
            # no domain is chosen for the therapist: a goal is filed where they file it
            field = f"goals[{i}].domain" if rows is None else f"domain of goal {rows[i] + 1}"
            labels = ", ".join(DOMAINS.values())
            raise ParameterError(
                field,
                f"choose one of {labels} (none was chosen)"
                if not domain
                else f"expected one of {', '.join(DOMAINS)}, got {domain!r}",
            )
        out.append(Goal(domain, _text(g, "text", max_len=300, required=True)))
    return tuple(out)


def _questions(data: Mapping[str, Any], n_goals: int) -> tuple[Question, ...]:
    raw = data.get("questions")
    if raw is None:  # a form: question_text_0, question_low_0, question_high_0, question_goal_0
        raw = [
            {
                "text": data.get(f"question_text_{i}"),
                "low": data.get(f"question_low_{i}"),
                "high": data.get(f"question_high_{i}"),
                "goal": data.get(f"question_goal_{i}"),
            }
            for i in range(MAX_QUESTIONS)
        ]
        raw = [q for q in raw if (q["text"] or "").strip()]
    if not isinstance(raw, Sequence) or isinstance(raw, str):
        raise ParameterError("questions", "expected a list of {text, low, high}")
    if len(raw) > MAX_QUESTIONS:
        raise ParameterError("questions", f"at most {MAX_QUESTIONS} questions, got {len(raw)}")
    out = []
    for i, q in enumerate(raw):
        if not isinstance(q, Mapping):
            raise ParameterError(f"questions[{i}]", "expected {text, low, high}")
        goal = q.get("goal")
        if goal in (None, ""):
            goal_i = None
        else:
            try:
                goal_i = int(goal)
            except (TypeError, ValueError):
                goal_i = -1
            if not 0 <= goal_i < n_goals:
                raise ParameterError(
                    f"questions[{i}].goal", f"expected a goal number from 0 to {n_goals - 1}"
                )
        out.append(
            Question(
                id=f"q{i}",
                text=_text(q, "text", max_len=200, required=True),
                low=_text(q, "low", max_len=40) or "not at all",
                high=_text(q, "high", max_len=40) or "very much",
                goal=goal_i,
            )
        )
    return tuple(out)


def _listen(data: Mapping[str, Any]) -> Listen:
    raw = data.get("listen")
    if isinstance(raw, Mapping):  # a JSON body
        prefix, kind = "listen.", str(raw.get("kind") or "")
        scenes_raw, families_raw = raw.get("scenes"), raw.get("families")
        rule_src: Any = raw.get("library_rule")
    else:  # a form: listen_kind, listen_scenes, listen_families, rule_*
        prefix, kind = "listen_", str(data.get("listen_kind") or "")
        scenes_raw, families_raw = data.get("listen_scenes"), data.get("listen_families")
        rule_src = None
    if kind not in LISTEN_KINDS:
        raise ParameterError(
            f"{prefix}kind", f"expected one of {', '.join(LISTEN_KINDS)}, got {kind!r}"
        )
    scenes = tuple(str(s) for s in _list(scenes_raw))
    families = tuple(str(f) for f in _list(families_raw))
    known_scenes = set(builtin_names())
    for s in scenes:
        if s not in known_scenes:
            raise ParameterError(f"{prefix}scenes", f"{s!r} is not a built-in scene")
    for f in families:
        if f not in FAMILIES:
            raise ParameterError(
                f"{prefix}families", f"{f!r} is not a sound family; one of {', '.join(FAMILIES)}"
            )
    rule = None
    if kind == "scenes" and not scenes:
        raise ParameterError(f"{prefix}scenes", "choose at least one scene")
    if kind == "family":
        if len(families) != 1:
            raise ParameterError(f"{prefix}families", "choose exactly one sound family")
    if kind == "sonora_chooses" and not families:
        raise ParameterError(f"{prefix}families", "choose the sounds Sonora may choose from")
    if kind == "library_rule":
        if rule_src is None and not isinstance(raw, Mapping):
            rule_src = {
                "tempo_max_bpm": data.get("rule_tempo_max_bpm") or None,
                "instrumental_only": data.get("rule_instrumental_only") == "on",
                "tags": [
                    t.strip() for t in str(data.get("rule_tags") or "").split(",") if t.strip()
                ],
            }
        if not isinstance(rule_src, Mapping):
            raise ParameterError(f"{prefix}library_rule", "expected an object")
        unknown = set(rule_src) - set(LIBRARY_RULE_FIELDS)
        if unknown:
            raise ParameterError(
                f"{prefix}library_rule",
                f"unknown field {sorted(unknown)[0]!r}; allowed: {', '.join(LIBRARY_RULE_FIELDS)}",
            )
        rule = {}
        tempo = rule_src.get("tempo_max_bpm")
        if tempo not in (None, ""):
            rule["tempo_max_bpm"] = _int({"tempo_max_bpm": tempo}, "tempo_max_bpm", 40, 200)
        if rule_src.get("energy_max") not in (None, ""):
            try:
                e = float(rule_src["energy_max"])
            except (TypeError, ValueError):
                e = -1.0
            if not 0 <= e <= 1:
                raise ParameterError(f"{prefix}library_rule.energy_max", "expected 0 to 1")
            rule["energy_max"] = e
        rule["instrumental_only"] = bool(rule_src.get("instrumental_only"))
        tags = [str(t)[:30] for t in _list(rule_src.get("tags"))][:10]
        rule["tags"] = tags
    return Listen(kind, scenes, families, rule)


def clean_programme(data: Mapping[str, Any], *, today: dt.date) -> ProgrammeSpec:
    """Check a therapist's programme (a JSON body or a form) and return it.

    Parameters
    ----------
    data : mapping
        ``title``, ``goals`` (``[{domain, text}]``), ``sessions_per_week`` (1-14),
        ``minutes_min`` / ``minutes_max`` (5-120), ``rhythm_note``, ``listen``
        (``{kind, scenes, families, library_rule}``), ``questions``
        (``[{text, low, high, goal}]``, at most 5), ``start_date``, ``end_date``,
        ``note``.  Forms use flat names (``goal_text_0``, ``listen_kind``...).
    today : datetime.date
        The therapist's today: a programme may not start more than a week before it.

    Raises
    ------
    ParameterError
        Naming the first field that is wrong and what is allowed.
    """
    title = _text(data, "title", max_len=120) or "Listening between sessions"
    goals = _goals(data)
    per_week = _int(data, "sessions_per_week", 1, 14)
    lo = _int(data, "minutes_min", 5, 120)
    hi = _int(data, "minutes_max", 5, 120)
    if hi < lo:
        raise ParameterError("minutes_max", f"must be at least minutes_min ({lo})")
    start = _date(data, "start_date")
    end = _date(data, "end_date")
    if start < today - dt.timedelta(days=7):
        raise ParameterError("start_date", "may be at most a week in the past")
    if end < start:
        raise ParameterError("end_date", "must be on or after start_date")
    if (end - start).days + 1 > MAX_DAYS:
        raise ParameterError("end_date", f"a programme lasts at most {MAX_DAYS} days")
    return ProgrammeSpec(
        title=title,
        goals=goals,
        sessions_per_week=per_week,
        minutes_min=lo,
        minutes_max=hi,
        rhythm_note=_text(data, "rhythm_note", max_len=200),
        listen=_listen(data),
        questions=_questions(data, len(goals)),
        start_date=start,
        end_date=end,
        note=_text(data, "note", max_len=2000),
    )
