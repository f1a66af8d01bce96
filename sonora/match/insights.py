"""What seems to help this listener, in plain words, split by goal.

From a listener's own finished sessions, for each goal: the sound (its families, as
heard) with the best average outcome over at least :data:`MIN_SESSIONS` sessions, and
a sentence saying so with the numbers behind it and what they are::

    Rain with singing bowls helped you most on evenings before sleep: tension down 3.1
    on average over 5 sessions (a pattern, not proof).

The ranking uses the outcome score Sonora learns from (:attr:`sonora.plan.Outcome.reward`);
the sentence reports the tension drop when tension was answered before and after,
else the mood rise, else the helpfulness rating.  A sound is only said to have helped
when tension fell (or mood rose, or it was rated 6 or more) on average, and to have
helped "most" only when at least two sounds had enough sessions for that goal.  The time of day is named when at least three quarters of the
sessions behind the sentence were at that time.

Inputs are :class:`Observation` s, so the matcher (from its session records) and the
web history (from stored check-ins and outcomes) say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sonora.plan.recipes import RECIPE_FAMILIES

#: Fewest sessions of one sound for one goal before anything is said about it.
MIN_SESSIONS = 3
#: Share of a group's sessions at one time of day needed to name that time.
TIME_SHARE = 0.75
#: Families in plain words, as they start a sentence and inside it.
FAMILY_PHRASES = {
    "rain": "rain",
    "water": "water sounds",
    "wind": "wind",
    "noise": "soft noise",
    "bowls": "singing bowls",
    "gong": "a gong",
    "chimes": "chimes",
    "drone": "a warm drone",
    "melody": "a soft melody",
    "binaural": "binaural beats",
}
GOAL_PHRASES = {
    "sleep": "before sleep",
    "unwind": "when unwinding",
    "ease_anxiety": "when you felt anxious",
    "focus": "when focusing",
}
PART_PHRASES = {
    "morning": "on mornings",
    "afternoon": "on afternoons",
    "evening": "on evenings",
    "night": "at night",
}


def part_of_day(local_time: str | None) -> str:
    """``"morning"`` (05–12), ``"afternoon"`` (12–18), ``"evening"`` (18–22),
    ``"night"`` (22–05) from ``"HH:MM"``; ``""`` when unknown."""
    if not local_time:
        return ""
    try:
        h = int(str(local_time).split(":")[0])
    except ValueError:
        return ""
    if 5 <= h < 12:
        return "morning"
    if 12 <= h < 18:
        return "afternoon"
    if 18 <= h < 22:
        return "evening"
    return "night"


@dataclass(frozen=True)
class Observation:
    """One finished sound session, as the explanations need it.

    Parameters
    ----------
    goal : str
    families : tuple of str
        Families heard, main one first (the breath pacer is ignored).
    reward : float
        Outcome score (points).
    tension_drop, mood_rise : float or None
        Scale changes, points (positive = better).
    rating : float or None
        Helpfulness, 0–10.
    part_of_day : str
        :func:`part_of_day` of the check-in ("" when unknown).
    """

    goal: str
    families: tuple[str, ...]
    reward: float
    tension_drop: float | None = None
    mood_rise: float | None = None
    rating: float | None = None
    part_of_day: str = ""


@dataclass(frozen=True)
class Insight:
    """What seems to help for one goal.

    Attributes
    ----------
    goal : str
    sound : str
        The sound in words ("Rain with singing bowls").
    families : tuple of str
    sessions : int
    measure : str
        ``"tension"``, ``"mood"`` or ``"rating"``: what ``value`` is.
    value : float
        Mean tension drop, mood rise (points) or rating (0–10).
    part_of_day : str
        Named when most of the sessions were then ("" otherwise).
    compared : int
        How many sounds had enough sessions for this goal.
    text : str
        The sentence.
    """

    goal: str
    sound: str
    families: tuple[str, ...]
    sessions: int
    measure: str
    value: float
    part_of_day: str
    compared: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "goal": self.goal,
            "sound": self.sound,
            "families": list(self.families),
            "sessions": self.sessions,
            "measure": self.measure,
            "value": round(self.value, 2),
            "part_of_day": self.part_of_day,
            "compared": self.compared,
            "text": self.text,
        }


def sound_words(families: Sequence[str]) -> str:
    """``("rain", "bowls")`` -> ``"Rain with singing bowls"``."""
    fams = [f for f in families if f in FAMILY_PHRASES]
    if not fams:
        return ""
    words = [FAMILY_PHRASES[f] for f in fams]
    text = words[0] if len(words) == 1 else f"{words[0]} with {' and '.join(words[1:])}"
    return text[0].upper() + text[1:]


def _key(families: Iterable[str]) -> tuple[str, ...]:
    # the same sound whatever order its layers were in: main family first as played,
    # the rest in library order
    fams = [f for f in families if f in RECIPE_FAMILIES]
    if not fams:
        return ()
    rest = sorted(set(fams[1:]) - {fams[0]}, key=RECIPE_FAMILIES.index)
    return (fams[0], *rest)


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def insight_for_goal(
    observations: Iterable[Observation], goal: str, *, min_sessions: int = MIN_SESSIONS
) -> Insight | None:
    """What seems to help most for ``goal``, or ``None`` when nothing can be said yet."""
    groups: dict[tuple[str, ...], list[Observation]] = {}
    for o in observations:
        k = _key(o.families)
        if o.goal == goal and k:
            groups.setdefault(k, []).append(o)
    ready = {k: v for k, v in groups.items() if len(v) >= min_sessions}
    if not ready:
        return None
    best = max(ready, key=lambda k: (_mean([o.reward for o in ready[k]]), len(ready[k])))
    obs = ready[best]
    tension = [o.tension_drop for o in obs if o.tension_drop is not None]
    mood = [o.mood_rise for o in obs if o.mood_rise is not None]
    ratings = [o.rating for o in obs if o.rating is not None]
    if len(tension) >= min_sessions:
        measure, value, n = "tension", _mean(tension), len(tension)
        helped = value > 0
        detail = f"tension {'down' if value >= 0 else 'up'} {abs(value):.1f}"
    elif len(mood) >= min_sessions:
        measure, value, n = "mood", _mean(mood), len(mood)
        helped = value > 0
        detail = f"mood {'up' if value >= 0 else 'down'} {abs(value):.1f}"
    elif len(ratings) >= min_sessions:
        measure, value, n = "rating", _mean(ratings), len(ratings)
        helped = value >= 6.0
        detail = f"rated {value:.1f} out of 10"
    else:
        return None
    if not helped:
        return None
    parts = [o.part_of_day for o in obs if o.part_of_day]
    part = ""
    if parts:
        top = max(set(parts), key=parts.count)
        if parts.count(top) >= TIME_SHARE * len(obs):
            part = top
    sound = sound_words(best)
    most = " most" if len(ready) >= 2 else ""
    when = " ".join(w for w in (PART_PHRASES.get(part, ""), GOAL_PHRASES.get(goal, "")) if w)
    text = (
        f"{sound} helped you{most} {when}: {detail} on average over {n} "
        f"session{'s' if n != 1 else ''} (a pattern, not proof)."
    )
    return Insight(
        goal=goal,
        sound=sound,
        families=best,
        sessions=n,
        measure=measure,
        value=value,
        part_of_day=part,
        compared=len(ready),
        text=text,
    )


def what_helps(
    observations: Iterable[Observation], *, min_sessions: int = MIN_SESSIONS
) -> dict[str, Insight]:
    """:func:`insight_for_goal` for every goal that has one, in goal order."""
    obs = list(observations)
    out: dict[str, Insight] = {}
    for goal in GOAL_PHRASES:
        ins = insight_for_goal(obs, goal, min_sessions=min_sessions)
        if ins is not None:
            out[goal] = ins
    return out


def observations_from_records(records: Iterable[Any]) -> list[Observation]:
    """Observations from the matcher's :class:`~sonora.match.SessionRecord` s."""
    return [
        Observation(
            goal=r.goal,
            families=tuple(r.families),
            reward=float(r.reward),
            tension_drop=r.tension_drop,
            mood_rise=r.mood_rise,
            rating=r.rating,
            part_of_day=getattr(r, "part_of_day", ""),
        )
        for r in records
        if not r.quiet_rest and r.goal
    ]
