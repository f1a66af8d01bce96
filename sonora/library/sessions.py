"""Playlist sessions: what is stored for a built arc, and what Sonora learns from them.

A playlist session is a check-in (the same as for sounds), the arc built for it and,
later, the check-out.  :func:`stored_plan` is the JSON kept in ``library_playlists.plan``
(the tracks with their figures at build time, the explanation, the limits and the
largest step actually taken, the shape of the arc).  :func:`learned_target` and
:func:`music_insights` read the stored sessions that have a check-out:

* the *target* a goal leads to moves to the mean end point (tempo, energy, loudness)
  of the arcs that helped this listener (score above zero), once there are
  :data:`MIN_SESSIONS` of them;
* the insights say, per goal, which arc shape scored best, the tempo range and the
  final energy of the arcs that helped, in words (a pattern, not proof).

Pure functions of stored dictionaries: no database here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from sonora.library.playlist import GOAL_TARGETS, Arc

__all__ = [
    "MIN_SESSIONS",
    "arc_shape",
    "learned_target",
    "music_insights",
    "stored_plan",
]

#: Sessions with a check-out a goal needs before what helped changes anything.
MIN_SESSIONS = 2

_GOAL_WORDS = {"sleep": "sleep", "unwind": "unwinding", "ease_anxiety": "easing anxiety"}


def arc_shape(tempos_bpm: Sequence[float]) -> str:
    """``"slowing"``, ``"steady"`` or ``"quickening"``: first to last tempo, ±5 BPM."""
    if len(tempos_bpm) < 2:
        return "steady"
    change = tempos_bpm[-1] - tempos_bpm[0]
    return "slowing" if change < -5 else "quickening" if change > 5 else "steady"


def stored_plan(
    arc: Arc, *, plan_id: str, minutes: float, sound_layer: bool, learned: bool
) -> dict[str, Any]:
    """The JSON stored for one built arc.

    Parameters
    ----------
    arc : Arc
        The arc as built.
    plan_id : str
        The check-in's plan (its sound is the optional layer; its check-out is this
        session's check-out).
    minutes : float
        Length asked for, minutes.
    sound_layer : bool
        Play the plan's Sonora sound under and between the tracks.
    learned : bool
        The target came from what helped this listener before.
    """
    tracks = [
        {
            "id": t.id,
            "name": t.name,
            "artist": t.artist,
            "genre": t.genre,
            "duration_s": t.duration_s,
            "tempo_bpm": t.tempo_bpm,
            "energy": t.energy,
            "loudness_lufs": t.loudness_lufs,
        }
        for t in arc.tracks
    ]
    steps = {"tempo_bpm": 0.0, "energy": 0.0, "loudness_lu": 0.0}
    for a, b in pairwise(arc.tracks):
        steps["tempo_bpm"] = max(steps["tempo_bpm"], abs(a.tempo_bpm - b.tempo_bpm))  # type: ignore[operator]
        steps["energy"] = max(steps["energy"], abs(a.energy - b.energy))  # type: ignore[operator]
        steps["loudness_lu"] = max(
            steps["loudness_lu"],
            abs(a.loudness_lufs - b.loudness_lufs),  # type: ignore[operator]
        )
    explanation = arc.explanation()
    if learned and arc.tracks:
        explanation += (
            f" It leads toward about {arc.target[0]:.0f} BPM and energy {arc.target[1]:.2f}, "
            "where your earlier playlists that helped ended."
        )
    return {
        "plan_id": plan_id,
        "minutes": minutes,
        "sound_layer": sound_layer,
        "explanation": explanation,
        "limits": {
            "tempo_bpm": arc.limits.tempo_bpm,
            "energy": arc.limits.energy,
            "loudness_lu": arc.limits.loudness_lu,
        },
        "largest_step": {k: round(v, 3) for k, v in steps.items()},
        "start": list(arc.start),
        "target": list(arc.target),
        "learned_target": learned,
        "shape": arc_shape([t["tempo_bpm"] for t in tracks]),
        "tracks": tracks,
        "outcome": None,
    }


def _done(playlists: Sequence[Mapping[str, Any]], goal: str) -> list[Mapping[str, Any]]:
    return [
        p
        for p in playlists
        if p.get("goal") == goal
        and p.get("tracks")
        and isinstance(p.get("outcome"), Mapping)
        and p["outcome"].get("reward") is not None
    ]


def learned_target(
    playlists: Sequence[Mapping[str, Any]], goal: str
) -> tuple[float, float, float] | None:
    """Where this listener's arcs for ``goal`` that helped ended, or ``None``.

    Parameters
    ----------
    playlists : sequence of mapping
        Stored playlists (:func:`stored_plan` plus ``goal``), any order.
    goal : str

    Returns
    -------
    tuple of (float, float, float) or None
        Mean (tempo BPM, energy, loudness LUFS) of the last track of the arcs with a
        score above zero, half-way toward :data:`GOAL_TARGETS` (so one good night
        does not pull the goal far); ``None`` below :data:`MIN_SESSIONS` of them.
    """
    good = [p for p in _done(playlists, goal) if float(p["outcome"]["reward"]) > 0]
    if len(good) < MIN_SESSIONS or goal not in GOAL_TARGETS:
        return None
    ends = [p["tracks"][-1] for p in good]
    base = GOAL_TARGETS[goal]
    keys = ("tempo_bpm", "energy", "loudness_lufs")
    means = [sum(float(e[k]) for e in ends) / len(ends) for k in keys]
    t, e, loud = ((m + b) / 2.0 for m, b in zip(means, base, strict=True))
    return (t, e, loud)


def music_insights(playlists: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """What seems to help, per goal, from playlist sessions with a check-out.

    Returns
    -------
    dict
        Goal -> ``{"sessions", "mean_score", "best_shape", "tempo_low_bpm",
        "tempo_high_bpm", "end_energy", "text"}``; goals with fewer than
        :data:`MIN_SESSIONS` sessions are left out.  Tempo and energy are estimates.
    """
    out: dict[str, dict[str, Any]] = {}
    for goal in sorted({str(p.get("goal")) for p in playlists}):
        done = _done(playlists, goal)
        if len(done) < MIN_SESSIONS:
            continue
        by_shape: dict[str, list[float]] = {}
        for p in done:
            by_shape.setdefault(str(p.get("shape", "steady")), []).append(
                float(p["outcome"]["reward"])
            )
        best_shape, scores = max(by_shape.items(), key=lambda kv: sum(kv[1]) / len(kv[1]))
        good = [p for p in done if float(p["outcome"]["reward"]) > 0] or done
        tempos = [float(t["tempo_bpm"]) for p in good for t in p["tracks"]]
        end_energy = sum(float(p["tracks"][-1]["energy"]) for p in good) / len(good)
        mean = sum(float(p["outcome"]["reward"]) for p in done) / len(done)
        words = _GOAL_WORDS.get(goal, goal.replace("_", " "))
        any_good = any(float(p["outcome"]["reward"]) > 0 for p in done)
        where = (
            f"the ones that helped moved between about {min(tempos):.0f} and "
            f"{max(tempos):.0f} BPM and ended near energy {end_energy:.2f}"
            if any_good
            else "none has scored above zero yet"
        )
        text = (
            f"For {words}, {best_shape} playlists of your music scored best "
            f"({len(scores)} of {len(done)} sessions); {where} (tempo and energy are "
            "estimates)."
        )
        out[goal] = {
            "sessions": len(done),
            "mean_score": round(mean, 2),
            "best_shape": best_shape,
            "tempo_low_bpm": round(min(tempos), 1),
            "tempo_high_bpm": round(max(tempos), 1),
            "end_energy": round(end_energy, 3),
            "text": text,
        }
    return out
