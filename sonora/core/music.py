"""Playlist sessions from the listener's own music, as the application runs them.

A music session is the ordinary check-in (the same answers, note screening and mood
pattern, and the same plan, whose Sonora sound is the optional layer under the
tracks), plus an arc of the listener's tracks built for it
(:meth:`sonora.library.service.Library.build_playlist`).  Its check-out is the plan's
check-out: the history shows it, and the playlist keeps it so later arcs and the
"what seems to help you" view learn from it.  The matcher learns from the session only
when its sound layer played (otherwise nothing of the sound was heard).

Functions of a :class:`~sonora.core.app.Core` (kept out of ``app.py`` for its size).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sonora.errors import ParameterError
from sonora.library.service import OFF_MESSAGE
from sonora.plan import CheckIn, Plan
from sonora.plan.checkin import CheckOut, Outcome

if TYPE_CHECKING:
    from sonora.accounts.repo import UserRecord
    from sonora.core.app import Core
    from sonora.listening.repo import CheckInRecord, PlanRecord

__all__ = ["check_in_music", "music_by_plan", "outcome_score", "sound_heard"]


def check_in_music(
    core: Core, user: UserRecord, answers: Mapping[str, Any], *, sound_layer: bool
) -> tuple[CheckInRecord, PlanRecord, dict[str, Any]]:
    """Check in and build a playlist of the listener's music for it.

    Parameters
    ----------
    core : Core
    user : UserRecord
    answers : mapping
        The check-in answers (as :meth:`Core.check_in` takes them).
    sound_layer : bool
        Play the plan's Sonora sound under and between the tracks.

    Returns
    -------
    tuple
        ``(check-in, plan, playlist)``; the playlist as
        :meth:`~sonora.library.service.Library.playlist` returns it.

    Raises
    ------
    ParameterError
        ``source`` when the library is off or no analysed track fits (checked before
        anything is stored); any check-in field as :meth:`Core.check_in` raises.
    """
    lib = core.library
    if not lib.enabled:
        raise ParameterError("source", OFF_MESSAGE)
    goal = answers.get("goal") or core.profile(user)["default_goal"]
    checkin = core.parse_checkin({**answers, "goal": goal})  # validated before the dry run
    # a dry run first, so a check-in is never stored without its playlist
    lib.build_playlist(
        user.id,
        goal=str(goal),
        tension=checkin.tension,
        energy=checkin.energy,
        minutes=5.0,  # the shortest: only whether a first track fits matters here
        checkin_id=None,
        plan_id="",
        sound_layer=sound_layer,
        dry_run=True,
    )
    c, p, plan = core.check_in(user, answers)
    playlist = lib.build_playlist(
        user.id,
        goal=str(plan.goal),
        tension=checkin.tension,
        energy=checkin.energy,
        minutes=float(plan.duration_s) / 60.0,
        checkin_id=c.id,
        plan_id=p.id,
        sound_layer=sound_layer,
    )
    return c, p, playlist


def sound_heard(playlist: Mapping[str, Any] | None) -> bool:
    """Whether a session's Sonora sound played (always, unless a playlist without it)."""
    return playlist is None or bool(playlist.get("sound_layer"))


def outcome_score(plan: Plan, checkout: CheckOut) -> float:
    """The session score without teaching the matcher (a playlist without sound)."""
    before = CheckIn.from_dict(plan.checkin or {"mood": 5.0})  # as Planner.record does
    return float(Outcome(before, checkout).reward)


def music_by_plan(playlists: Sequence[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Playlists by the plan of their check-in (for the history)."""
    return {str(p["plan_id"]): p for p in playlists if p.get("plan_id")}
