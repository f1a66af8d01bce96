"""What is stored for a built arc, and what Sonora learns from playlist check-outs
(the target moves toward where helpful arcs ended; the insights name the shape, tempo
range and final energy), as pure functions of stored dictionaries."""

from __future__ import annotations

import random
from itertools import pairwise
from typing import Any

import pytest

from sonora.library.playlist import GOAL_TARGETS, StepLimits, build_arc
from sonora.library.repo import Track
from sonora.library.sessions import (
    MIN_SESSIONS,
    arc_shape,
    learned_target,
    music_insights,
    stored_plan,
)


def _track(i: int, bpm: float, energy: float, lufs: float, **kw: Any) -> Track:
    base = dict(
        id=f"{i:032x}", folder_id="f", rel_path=f"A/{i:02d}.flac", size_bytes=1, mtime_ns=1,
        title=f"Song {i}", artist="Band", album="A", genre="ambient", codec="flac",
        duration_s=200.0, tempo_bpm=bpm, energy=energy, loudness_lufs=lufs, voice=0.1,
        key="C major", analysis={}, error=None,
    )  # fmt: skip
    base.update(kw)
    return Track(**base)


@pytest.fixture
def library() -> list[Track]:
    rng = random.Random(7)
    out = []
    for i in range(120):
        bpm = rng.uniform(50, 150)
        e = min(1.0, max(0.0, (bpm - 50) / 120 + rng.uniform(-0.1, 0.1)))
        out.append(_track(i, bpm, e, -30 + 14 * e + rng.uniform(-1, 1)))
    return out


def test_stored_plan_keeps_figures_steps_and_shape(library) -> None:
    arc = build_arc(library, goal="sleep", tension=8, energy=8, minutes=60)
    plan = stored_plan(arc, plan_id="p1", minutes=60, sound_layer=True, learned=False)
    assert [t["id"] for t in plan["tracks"]] == [t.id for t in arc.tracks]
    worst = max(abs(a.tempo_bpm - b.tempo_bpm) for a, b in pairwise(arc.tracks))
    assert plan["largest_step"]["tempo_bpm"] == pytest.approx(worst, abs=1e-3)
    assert plan["largest_step"]["tempo_bpm"] <= plan["limits"]["tempo_bpm"]
    assert plan["shape"] == "slowing" and plan["sound_layer"] is True
    assert plan["outcome"] is None and "estimates" in plan["explanation"]
    assert "earlier playlists" not in plan["explanation"]


def test_arc_shape() -> None:
    assert arc_shape([100, 90, 70]) == "slowing"
    assert arc_shape([70, 72, 73]) == "steady"
    assert arc_shape([60, 80]) == "quickening"
    assert arc_shape([80]) == "steady"


def _session(goal: str, end: tuple[float, float, float], reward: float | None, shape: str) -> dict:
    tracks = [
        {"id": "a", "tempo_bpm": 100.0, "energy": 0.6, "loudness_lufs": -16.0},
        {"id": "b", "tempo_bpm": end[0], "energy": end[1], "loudness_lufs": end[2]},
    ]
    outcome = None if reward is None else {"tension": 3, "reward": reward}
    return {"goal": goal, "tracks": tracks, "shape": shape, "outcome": outcome}


def test_learned_target_needs_enough_helpful_sessions_and_moves_half_way() -> None:
    one = [_session("sleep", (52.0, 0.05, -30.0), 2.0, "slowing")]
    assert MIN_SESSIONS == 2 and learned_target(one, "sleep") is None
    unhelpful = [*one, _session("sleep", (90.0, 0.5, -18.0), -1.0, "steady")]
    assert learned_target(unhelpful, "sleep") is None  # only one helped
    no_checkout = [*one, _session("sleep", (54.0, 0.07, -28.0), None, "slowing")]
    assert learned_target(no_checkout, "sleep") is None
    two = [*one, _session("sleep", (56.0, 0.09, -28.0), 1.0, "slowing")]
    t, e, loud = learned_target(two, "sleep")  # type: ignore[misc]
    base = GOAL_TARGETS["sleep"]
    assert t == pytest.approx((54.0 + base[0]) / 2)
    assert e == pytest.approx((0.07 + base[1]) / 2)
    assert loud == pytest.approx((-29.0 + base[2]) / 2)
    assert learned_target(two, "focus") is None  # per goal


def test_a_learned_target_changes_where_the_arc_leads(library) -> None:
    default = build_arc(library, goal="sleep", tension=8, energy=8, minutes=720)
    led = build_arc(
        library, goal="sleep", tension=8, energy=8, minutes=720, target=(80.0, 0.3, -25.0)
    )
    assert abs(led.tracks[-1].tempo_bpm - 80.0) < abs(default.tracks[-1].tempo_bpm - 80.0)
    lim = StepLimits()
    for a, b in pairwise(led.tracks):
        assert abs(a.tempo_bpm - b.tempo_bpm) <= lim.tempo_bpm


def test_voices_stay_for_sleep_when_the_listener_says_so(library) -> None:
    voiced = [_track(500 + i, 60 + i, 0.15, -26, voice=0.9) for i in range(3)]
    out = build_arc(library + voiced, goal="sleep", tension=1, energy=1, minutes=720)
    kept = build_arc(
        library + voiced, goal="sleep", tension=1, energy=1, minutes=720, voice_ok_for_sleep=True
    )
    assert not {t.id for t in out.tracks} & {t.id for t in voiced}
    assert {t.id for t in kept.tracks} & {t.id for t in voiced}


def test_insights_name_the_best_shape_tempo_range_and_end_energy() -> None:
    sessions = [
        _session("sleep", (56.0, 0.08, -28.0), 3.0, "slowing"),
        _session("sleep", (60.0, 0.12, -27.0), 2.0, "slowing"),
        _session("sleep", (95.0, 0.55, -18.0), -2.0, "steady"),
        _session("focus", (90.0, 0.4, -18.0), 1.0, "steady"),  # one session: left out
    ]
    out = music_insights(sessions)
    assert set(out) == {"sleep"}
    s = out["sleep"]
    assert s["sessions"] == 3 and s["best_shape"] == "slowing"
    assert s["mean_score"] == pytest.approx(1.0)
    assert (s["tempo_low_bpm"], s["tempo_high_bpm"]) == (56.0, 100.0)
    assert s["end_energy"] == pytest.approx(0.1)
    assert "slowing playlists" in s["text"] and "estimates" in s["text"]
    none_helped = music_insights([_session("unwind", (70, 0.3, -22), -1.0, "steady")] * 2)
    assert "none has scored above zero" in none_helped["unwind"]["text"]
