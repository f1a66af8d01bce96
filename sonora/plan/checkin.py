"""Check-in before a session, check-out after it, and the outcome they make.

A :class:`CheckIn` is what the listener tells Sonora before a session: how tense,
energetic (alert) and in what mood they are on 0–10 scales (at least one), an optional
note, the goal, the time available, where they are and what they listen on, and the
local time.  A :class:`CheckOut` is the same scales afterwards, a helpfulness rating
and whether they finished (or fell asleep).  An :class:`Outcome` pairs the two and
scores the session with :attr:`Outcome.reward`, the number Sonora learns from.

Every error is a :class:`~sonora.errors.ParameterError` naming the field and the
allowed range, e.g. ``tension: 11 is out of range: allowed in [0, 10]``.

Examples
--------
>>> c = CheckIn(tension=7, goal="sleep", minutes=20, local_time="23:10")
>>> round(c.arousal, 2), c.is_bedtime
(0.7, True)
>>> o = Outcome(c, CheckOut(tension=4, rating=8))
>>> round(o.reward, 2)
3.45
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from sonora.errors import ParameterError, check_choice, check_number

#: What a session is for.
GOALS = ("sleep", "unwind", "ease_anxiety", "focus")
#: Where the listener is.
PLACES = ("in_bed", "sitting", "on_the_move")
#: What they listen on.
OUTPUTS = ("headphones", "speaker")
#: Time available, minutes: five minutes to "all night" (12 hours, the engine's limit).
MIN_MINUTES = 5.0
MAX_MINUTES = 720.0
#: Words accepted for ``minutes`` meaning "all night" (= :data:`MAX_MINUTES`).
ALL_NIGHT = ("all night", "all_night", "all-night", "night")
#: Longest note kept, characters.
MAX_NOTE_CHARS = 2000
#: The 0–10 self-report scales.
SCALES = ("tension", "energy", "mood")

#: Weights of the outcome score (see :attr:`Outcome.reward`).
REWARD_WEIGHTS = {"tension": 0.6, "mood": 0.4, "rating": 0.15, "not_completed": 1.0}

_TIME_RE = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*$")


def _scale(field: str, value: Any) -> float | None:
    if value is None:
        return None
    return check_number(field, value, low=0.0, high=10.0)


def _answers(cls: type, data: Any, field: str, label: str) -> dict[str, Any]:
    """``data`` as a plain dict of ``cls``'s field names, or a :class:`ParameterError`.

    Parameters
    ----------
    cls : type
        The dataclass the answers are for (:class:`CheckIn` or :class:`CheckOut`).
    data : Any
        What the caller gave; must be a mapping whose keys are all field names of ``cls``.
    field : str
        The field named in the error when ``data`` is not a mapping.
    label : str
        The words for one answer in the unknown-key error (``"check-in"``).
    """
    if not isinstance(data, Mapping):
        raise ParameterError(field, f"expected a mapping of {label} answers, got {data!r}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ParameterError(
            unknown[0], f"unknown {label} key; allowed: {', '.join(sorted(known))}"
        )
    return dict(data)


def _local_time(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, dt.time):
        return f"{value.hour:02d}:{value.minute:02d}"
    if isinstance(value, str):
        m = _TIME_RE.match(value)
        if m and int(m.group(1)) < 24 and int(m.group(2)) < 60:
            return f"{int(m.group(1)):02d}:{m.group(2)}"
    raise ParameterError(
        "local_time", f"expected a time of day as 'HH:MM' (00:00 to 23:59), got {value!r}"
    )


def parse_minutes(value: Any) -> float:
    """Validate the time available, in minutes (5 to 720; "all night" means 720).

    Raises
    ------
    ParameterError
        Naming ``minutes`` and the allowed range.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ALL_NIGHT:
            return MAX_MINUTES
        try:
            value = float(text)
        except ValueError:
            raise ParameterError(
                "minutes",
                f"expected a number of minutes in [{MIN_MINUTES:g}, {MAX_MINUTES:g}] "
                f"or 'all night', got {value!r}",
            ) from None
    return check_number("minutes", value, low=MIN_MINUTES, high=MAX_MINUTES, unit=" min")


@dataclass(frozen=True)
class CheckIn:
    """How the listener is before a session, and what the session is for.

    Parameters
    ----------
    tension, energy, mood : float or None
        Self-reports on 0–10 scales (0 = none / very low, 10 = extreme / very good).
        At least one is required.  ``energy`` is alertness.
    goal : {"sleep", "unwind", "ease_anxiety", "focus"} or None
        ``None`` means "my usual goal" (the profile's default goal).
    minutes : float or str
        Time available, 5 to 720 minutes; ``"all night"`` means 720.
    place : {"in_bed", "sitting", "on_the_move"}
        Where the listener is.
    output : {"headphones", "speaker"}
        What they listen on; binaural layers need headphones.
    local_time : str, datetime.time, datetime.datetime or None
        Local time of day, stored as ``"HH:MM"``; ``None`` if unknown.
    note : str
        Optional free text (at most 2000 characters).  Never copied into a plan.

    Raises
    ------
    ParameterError
        Naming the field and the allowed range or values.
    """

    tension: float | None = None
    energy: float | None = None
    mood: float | None = None
    goal: str | None = None
    minutes: float = 20.0
    place: str = "sitting"
    output: str = "speaker"
    local_time: str | None = None
    note: str = ""

    def __post_init__(self) -> None:
        for name in SCALES:
            object.__setattr__(self, name, _scale(name, getattr(self, name)))
        if self.tension is None and self.energy is None and self.mood is None:
            raise ParameterError(
                "tension", "give at least one of tension, energy or mood (each 0 to 10)"
            )
        if self.goal is not None:
            check_choice("goal", self.goal, GOALS)
        object.__setattr__(self, "minutes", parse_minutes(self.minutes))
        check_choice("place", self.place, PLACES)
        check_choice("output", self.output, OUTPUTS)
        object.__setattr__(self, "local_time", _local_time(self.local_time))
        if not isinstance(self.note, str):
            raise ParameterError("note", f"expected text, got {self.note!r}")
        if len(self.note) > MAX_NOTE_CHARS:
            raise ParameterError(
                "note", f"{len(self.note)} characters is too long: allowed up to {MAX_NOTE_CHARS}"
            )

    # -- conversions ------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckIn:
        """Build from a mapping with the field names as keys (unknown keys are errors)."""
        if isinstance(data, CheckIn):
            return data
        return cls(**_answers(cls, data, "checkin", "check-in"))

    def to_dict(self, *, include_note: bool = True) -> dict[str, Any]:
        """JSON-serialisable form; ``include_note=False`` leaves the free text out."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        if not include_note:
            d.pop("note")
        return d

    def with_goal(self, goal: str) -> CheckIn:
        """A copy with ``goal`` set."""
        return replace(self, goal=goal)

    # -- derived ----------------------------------------------------------------------
    @property
    def headphones(self) -> bool:
        """True when listening on headphones."""
        return self.output == "headphones"

    @property
    def hour(self) -> float | None:
        """Local time as fractional hours (``None`` if unknown)."""
        if self.local_time is None:
            return None
        h, m = self.local_time.split(":")
        return int(h) + int(m) / 60.0

    @property
    def is_late(self) -> bool:
        """Between 21:00 and 05:00 local time."""
        h = self.hour
        return h is not None and (h >= 21.0 or h < 5.0)

    @property
    def is_daytime(self) -> bool:
        """Between 08:00 and 18:00 local time."""
        h = self.hour
        return h is not None and 8.0 <= h < 18.0

    @property
    def is_bedtime(self) -> bool:
        """A sleep session, or in bed late at night: only gentle sound is offered."""
        return self.goal == "sleep" or (self.place == "in_bed" and self.is_late)

    @property
    def arousal(self) -> float:
        """Current arousal estimate, 0 (deeply calm) to 1 (highly activated).

        The weighted mean of tension (weight 0.6) and energy (0.4) over those given,
        divided by 10; 0.5 when only mood was given.
        """
        parts = [(v, w) for v, w in ((self.tension, 0.6), (self.energy, 0.4)) if v is not None]
        if not parts:
            return 0.5
        return sum(v * w for v, w in parts) / (10.0 * sum(w for _, w in parts))


@dataclass(frozen=True)
class CheckOut:
    """How the listener is after a session.

    Parameters
    ----------
    tension, energy, mood : float or None
        The same 0–10 scales as the check-in (any may be skipped).
    rating : float or None
        How helpful the session was, 0 (not at all) to 10 (very).
    completed : bool
        Whether they listened to the end.
    fell_asleep : bool
        Whether they fell asleep (counts as completed).
    """

    tension: float | None = None
    energy: float | None = None
    mood: float | None = None
    rating: float | None = None
    completed: bool = True
    fell_asleep: bool = False

    def __post_init__(self) -> None:
        for name in (*SCALES, "rating"):
            object.__setattr__(self, name, _scale(name, getattr(self, name)))
        for name in ("completed", "fell_asleep"):
            v = getattr(self, name)
            if not isinstance(v, bool):
                raise ParameterError(name, f"expected true or false, got {v!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckOut:
        """Build from a mapping with the field names as keys (unknown keys are errors)."""
        if isinstance(data, CheckOut):
            return data
        return cls(**_answers(cls, data, "checkout", "check-out"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Outcome:
    """A session's before and after, and the score Sonora learns from.

    Parameters
    ----------
    before : CheckIn
        The check-in the plan was made for.
    after : CheckOut
        The check-out.
    """

    before: CheckIn
    after: CheckOut

    def __post_init__(self) -> None:
        object.__setattr__(self, "before", CheckIn.from_dict(self.before))
        object.__setattr__(self, "after", CheckOut.from_dict(self.after))

    @property
    def tension_drop(self) -> float | None:
        """Tension before minus after, scale points (positive is better)."""
        if self.before.tension is None or self.after.tension is None:
            return None
        return self.before.tension - self.after.tension

    @property
    def mood_rise(self) -> float | None:
        """Mood after minus before, scale points (positive is better)."""
        if self.before.mood is None or self.after.mood is None:
            return None
        return self.after.mood - self.before.mood

    @property
    def completed(self) -> bool:
        """Listened to the end or fell asleep."""
        return self.after.completed or self.after.fell_asleep

    @property
    def reward(self) -> float:
        """The outcome score, in 0–10 scale points (higher is better).

        ``0.6 × tension drop + 0.4 × mood rise`` (weights renormalised over the scales
        answered both times; 0 if neither was), plus ``0.15 × (rating − 5)`` when rated
        (so ±0.75 at the ends of the scale), minus 1 if the listener stopped early
        (falling asleep counts as finishing).
        """
        w = REWARD_WEIGHTS
        parts = [
            (v, w[k])
            for v, k in ((self.tension_drop, "tension"), (self.mood_rise, "mood"))
            if v is not None
        ]
        change = sum(v * k for v, k in parts) / sum(k for _, k in parts) if parts else 0.0
        rating = 0.0 if self.after.rating is None else w["rating"] * (self.after.rating - 5.0)
        stop = 0.0 if self.completed else -w["not_completed"]
        r = change + rating + stop
        return float(r) if math.isfinite(r) else 0.0
