"""A listener's history as the pages and the API show it: sessions with their before and
after answers, and the summaries beside the chart (per goal, per sound family, and what
seems to help by goal from :func:`sonora.core.planner.helps_by_goal`).

Pure functions of the stored entries; :meth:`sonora.core.app.Core.history` reads them and
adds the sound-versus-quiet comparison, which needs the planner.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sonora.core.planner import FAMILY_LABELS, helps_by_goal
from sonora.listening.repo import HistoryEntry

__all__ = ["HistoryView", "SessionPoint", "build_history", "session_point"]


@dataclass(frozen=True)
class SessionPoint:
    """One session as the history chart sees it."""

    plan_id: str
    when: str
    goal: str
    title: str
    quiet_rest: bool
    families: tuple[str, ...]
    before: dict[str, float | None]
    after: dict[str, float | None] | None
    rating: float | None
    completed: bool | None
    fell_asleep: bool | None
    reward: float | None
    #: the session's playlist of the listener's music, if it was one
    playlist_id: str | None = None


@dataclass
class HistoryView:
    """A listener's history with the summaries shown beside the chart."""

    sessions: list[SessionPoint]
    per_goal: list[dict[str, Any]] = field(default_factory=list)
    helps: list[dict[str, Any]] = field(default_factory=list)
    #: goal -> what seems to help most for it, in words (sonora.match.insights)
    helps_by_goal: dict[str, dict[str, Any]] = field(default_factory=dict)
    sound_vs_quiet: dict[str, Any] | None = None
    #: goal -> what seems to help in playlists of the listener's music
    #: (:func:`sonora.library.sessions.music_insights`)
    music_helps: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "sessions": [s.__dict__ for s in self.sessions],
            "per_goal": self.per_goal,
            "what_helps": self.helps,
            "what_helps_by_goal": self.helps_by_goal,
            "sound_vs_quiet": self.sound_vs_quiet,
            "what_helps_music": self.music_helps,
        }


def _mean(xs: list[float]) -> float:
    return float(sum(xs) / len(xs))


def _change(before: Mapping[str, Any], after: Mapping[str, Any], key: str) -> float | None:
    b, a = before.get(key), after.get(key)
    if b is None or a is None:
        return None
    return float(b) - float(a) if key == "tension" else float(a) - float(b)


def build_history(
    entries: Sequence[HistoryEntry], music: Mapping[str, Mapping[str, Any]] | None = None
) -> HistoryView:
    """Sessions, before and after, with per-goal and per-family summaries.

    Parameters
    ----------
    entries : sequence of HistoryEntry
        One listener's stored sessions, oldest first.
    music : mapping, optional
        Plan id -> the playlist of the listener's music played for it: such a session
        is titled by its playlist, and its sound families count only when its sound
        layer played.

    Returns
    -------
    HistoryView
        ``sound_vs_quiet`` is left ``None`` (the caller adds it when it applies).
    """
    music = music or {}
    points = [_with_music(session_point(e), music.get(e.plan.id)) for e in entries]
    view = HistoryView(sessions=points)
    done = [p for p in points if p.after is not None]
    goals: dict[str, list[SessionPoint]] = {}
    for p in done:
        goals.setdefault(p.goal, []).append(p)
    for goal, pts in sorted(goals.items()):
        row: dict[str, Any] = {"goal": goal, "sessions": len(pts)}
        for key in ("tension", "mood"):
            ch = [c for p in pts if (c := _change(p.before, p.after or {}, key)) is not None]
            row[f"{key}_change"] = round(_mean(ch), 2) if ch else None
        view.per_goal.append(row)
    fam: dict[str, list[float]] = {}
    for p in done:
        if p.reward is None or p.quiet_rest:
            continue
        for f in p.families:
            fam.setdefault(f, []).append(p.reward)
    helps = [
        {
            "family": f,
            "label": FAMILY_LABELS.get(f, f),
            "sessions": len(v),
            "mean_score": round(_mean(v), 2),
        }
        for f, v in fam.items()
        if len(v) >= 2
    ]
    helps.sort(key=lambda r: -r["mean_score"])
    view.helps = helps
    view.helps_by_goal = helps_by_goal(entries, points)
    return view


def _with_music(p: SessionPoint, playlist: Mapping[str, Any] | None) -> SessionPoint:
    if playlist is None:
        return p
    n = len(playlist.get("tracks") or [])
    layer = bool(playlist.get("sound_layer"))
    title = f"Your music: {n} track{'' if n == 1 else 's'}" + (f" with {p.title}" if layer else "")
    return replace(
        p,
        title=title,
        families=p.families if layer else (),
        playlist_id=str(playlist.get("id")),
    )


def session_point(e: HistoryEntry) -> SessionPoint:
    """One stored session (check-in, plan, outcome) as the history chart sees it."""
    plan = e.plan.plan
    before = {k: e.checkin.data.get(k) for k in ("tension", "energy", "mood")}
    after = None
    rating = completed = asleep = reward = None
    if e.outcome is not None:
        after = {k: e.outcome.data.get(k) for k in ("tension", "energy", "mood")}
        rating = e.outcome.data.get("rating")
        completed = e.outcome.data.get("completed")
        asleep = e.outcome.data.get("fell_asleep")
        reward = e.outcome.reward
    return SessionPoint(
        plan_id=e.plan.id,
        when=e.checkin.created_at.isoformat(),
        goal=str(plan.get("goal") or e.checkin.goal or ""),
        title=str(plan.get("title") or ""),
        quiet_rest=bool(plan.get("quiet_rest")),
        families=tuple(dict.fromkeys(x.get("family", "") for x in plan.get("layers", []))),
        before=before,
        after=after,
        rating=rating,
        completed=completed,
        fell_asleep=asleep,
        reward=reward,
    )
