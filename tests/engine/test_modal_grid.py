"""The modal sources' event grid under rate automation (docs/sound.md, round 11).

Bowls and gongs place one event per slot of a jittered grid whose slot length ``L``
is the mean interval rounded to a 1/12-octave step.  When automation steps ``L``, the
grid's phase must stay continuous (no gap opens, no two strikes crowd together), a
stream resumed deep into a session must land on the same onsets without rendering
what came before, and a constant rate keeps the plain grid ``j·L``.

The schedule is queried quantum by quantum as :meth:`Source._quantum` queries it
(parameters set first, as :meth:`sonora.engine.graph.Layer.render_quantum` sets
them), without rendering audio: it is the schedule that is under test.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sonora.engine.base import QUANTUM
from sonora.engine.tonal import Gong, SingingBowl
from sonora.engine.tonal.modal import _Modal

SR = 24_000
FAST_S, SLOW_S = 5.66, 5.99  # the sleep bowls plan's slots, one 1/12-octave step apart


def schedule(
    src: _Modal, interval: Callable[[float], float], first_s: float, last_s: float
) -> list[tuple[int, float]]:
    """Onsets (frame, slot length s) in ``[first_s, last_s)``, quantum by quantum.

    The source is sought to ``first_s`` (rounded down to a quantum) unless that is 0.
    """
    start = int(first_s * SR) // QUANTUM * QUANTUM
    if start:
        src.seek(start)
    out = []
    for frame in range(start, int(last_s * SR), QUANTUM):
        src.set_param("interval_s", interval(frame / SR))
        slot_s = src._slot_s()
        out += [(onset, slot_s) for onset, _ in src._onsets(frame, frame + QUANTUM)]
    return out


def step_at(t_step_s: float, before_s: float = FAST_S, after_s: float = SLOW_S):
    return lambda t: before_s if t < t_step_s else after_s


@pytest.mark.parametrize(
    ("cls", "fast_s", "slow_s"), [(SingingBowl, FAST_S, SLOW_S), (Gong, 12.0, 12.72)]
)
def test_a_rate_step_opens_no_gap_and_crowds_no_strikes(
    cls: type[_Modal], fast_s: float, slow_s: float
) -> None:
    """Across a step of the slot (bowls 5.66 -> 5.99 s, gong 12 -> 12.7 s, and back;
    20 step times, 2 seeds) no
    gap between strikes is longer than the jittered grid's own widest, ``(1 + JITTER)``
    slots, stretched by at most ``LEAN_LONG`` while the slots lean onto the new grid
    (the grid anchored at 0 jumped by ``j·ΔL``: gaps up to 2.8 slots), and none
    shorter than its narrowest (``1 - JITTER`` slots, less ``LEAN_SHORT``)."""
    widest, narrowest = 0.0, np.inf
    for seed in (2, 4):
        for t_step in np.linspace(100.0, 1900.0, 20):
            for a, b in ((fast_s, slow_s), (slow_s, fast_s)):
                src = cls(sample_rate=SR, seed=seed, interval_s=a)
                ons = schedule(src, step_at(t_step, a, b), t_step - 60.0, t_step + 60.0)
                frames = np.array([o for o, _ in ons if o > (t_step - 20.0) * SR])
                gaps_s = np.diff(frames) / SR
                slow = 2.0 ** (round(12 * np.log2(slow_s)) / 12)  # the slower slot, s
                widest = max(widest, float(gaps_s.max()) / slow)
                narrowest = min(narrowest, float(gaps_s.min()) / slow)
    jitter = _Modal.JITTER
    assert widest <= (1.0 + jitter) * (1.0 + _Modal.LEAN_LONG), widest
    assert widest < 2.0  # the old grid's jump reached 2.3 slots
    fast = 2.0 ** (round(12 * np.log2(fast_s)) / 12) / slow
    assert narrowest >= (1.0 - jitter) * (1.0 - _Modal.LEAN_SHORT) * fast - 1e-3, narrowest


def test_a_step_changes_only_future_spacing() -> None:
    """Onsets before a step are those of a render that never stepped; after it the
    slots lean onto the new grid and, ``lean_slots()`` slots on at most, are exactly the
    grid a source started at the new rate plays (same frames, same event keys)."""
    t_step = 1234.0
    stepped = schedule(SingingBowl(sample_rate=SR, seed=4), step_at(t_step), 0.0, 1600.0)
    steady_fast = schedule(SingingBowl(sample_rate=SR, seed=4), lambda t: FAST_S, 0.0, 1600.0)
    steady_slow = schedule(SingingBowl(sample_rate=SR, seed=4), lambda t: SLOW_S, 0.0, 1600.0)
    cut = int(t_step * SR)
    assert [o for o, _ in stepped if o < cut] == [o for o, _ in steady_fast if o < cut]
    locked = cut + int((_Modal.lean_slots() + 2) * SLOW_S * SR)
    after = [o for o, _ in stepped if o >= locked]
    assert len(after) > 40
    assert after == [o for o, _ in steady_slow if o >= locked]


@pytest.mark.parametrize("cls", [SingingBowl, Gong])
def test_resume_an_hour_in_lands_on_the_continuous_onsets(cls: type[_Modal]) -> None:
    """A plan's slowing rate (exp, 10 -> 4.6 events/min over 90 min, stepping the
    slot many times): a source sought to any point (no render of what came before)
    plays the continuous schedule's onsets from there on, except within ``lean_slots()``
    slots after a step (where the continuous one still leans onto the new grid)."""

    def interval(t: float) -> float:
        return 6.0 * (13.0 / 6.0) ** (min(t, 5400.0) / 5400.0)

    whole = schedule(cls(sample_rate=SR, seed=3), interval, 0.0, 5400.0)
    onsets = [o for o, _ in whole]
    slots = [s for _, s in whole]
    steps = [o for o, a, b in zip(onsets[1:], slots, slots[1:], strict=False) if a != b]
    assert len(steps) >= 12  # the rate stepped the slot again and again
    agree = 0
    for target_s in (3600.0, 1000.0, 2222.2, 4000.0, 5000.0):
        resumed = [o for o, _ in schedule(cls(sample_rate=SR, seed=3), interval, target_s, 5400.0)]
        start = int(target_s * SR) // QUANTUM * QUANTUM
        # the continuous render's last step before the target, and how long it leaned
        last_step = max([s for s in steps if s <= start], default=0)
        lean = (_Modal.lean_slots() + 2) * max(slots) * SR
        cont = [o for o in onsets if o >= start]
        if start - last_step > lean:
            assert resumed == cont, target_s
            agree += 1
        else:  # within the lean: the same onsets once the continuous one is back on grid
            back = last_step + lean
            assert [o for o in resumed if o >= back] == [o for o in cont if o >= back]
    assert agree >= 3


def test_constant_rate_keeps_the_plain_grid() -> None:
    """At a constant rate the onsets are the grid ``(j + 1/2 + JITTER (u_j - 1/2))·L``
    of slot ``j``'s uniform, as before the grid carried its phase (built-in scenes
    keep their bytes), and a seek lands on the same onsets."""
    src = SingingBowl(sample_rate=SR, seed=1, interval_s=3.5)
    got = [o for o, _ in schedule(src, lambda t: 3.5, 0.0, 600.0)]
    slot = src._slot_s() * SR
    expect = []
    for j in range(int(600.0 * SR / slot) + 1):
        u = src._uniforms("slot", j, 1)[0]
        onset = int((j + 0.5 + src.JITTER * (u - 0.5)) * slot)
        if int(0.3 * SR) + (1.0 - 0.5 * src.JITTER) * slot <= onset < 600.0 * SR:
            expect.append(onset)
    assert got == [int(0.3 * SR), *expect]
    sought = [
        o for o, _ in schedule(SingingBowl(sample_rate=SR, seed=1), lambda t: 3.5, 300.0, 600.0)
    ]
    assert sought == [o for o in got if o >= int(300.0 * SR) // QUANTUM * QUANTUM]
