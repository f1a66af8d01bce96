"""Trajectories: how a session's intensity and level move over time.

A :class:`Trajectory` is two piecewise-linear curves over the session:

* ``intensity`` — 0 (deeply calm) to 1 (activated).  It shapes each layer's
  brightness, density and event rate (see :mod:`sonora.plan.sound`);
* ``gain_db`` — an offset in dB added to every layer's gain.

The kinds:

``iso``
    Start near the listener's current arousal, hold briefly, then lead toward the
    goal's intensity over ``lead_s`` (iso principle: meet the listener, then lead).
``u_shape``
    Descend, rest, then rise gently to finish alert (daytime breaks).
``steady``
    Constant (focus).
``sleep``
    Descend from the current arousal to near stillness while getting quieter; then
    either fade to silence (``variant="fade"``) or hold very low (``"hold"``, for
    all-night sessions).
``silence``
    No sound at all (a quiet-rest session).

Examples
--------
>>> t = iso(0.8, 0.2, 1200.0)
>>> t.kind, round(t.intensity_at(0.0), 2), round(t.intensity_at(1200.0), 2)
('iso', 0.8, 0.2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sonora.errors import ParameterError, check_choice, check_number

#: Trajectory kinds.
KINDS = ("iso", "u_shape", "steady", "sleep", "silence")
#: Sleep variants.
SLEEP_VARIANTS = ("fade", "hold")
#: Resting intensity each goal leads toward.
GOAL_INTENSITY = {"sleep": 0.05, "unwind": 0.25, "ease_anxiety": 0.2, "focus": 0.4}
#: Lowest gain offset, dB (a scene layer's gain may not go below -60 dB).
SILENT_DB = -60.0
#: Where a sleep fade ends, dB.  The engine's own fade-out then takes it to digital
#: silence; ending at -36 dB rather than lower keeps the end of the session above the
#: BS.1770 absolute gate, so the loudness calibration can still measure it.
FADE_FLOOR_DB = -36.0


def _points(field: str, raw: Any, *, low: float, high: float) -> tuple[tuple[float, float], ...]:
    if not isinstance(raw, Sequence) or isinstance(raw, str) or not raw:
        raise ParameterError(field, "expected a non-empty list of [time_s, value] points")
    out: list[tuple[float, float]] = []
    for i, p in enumerate(raw):
        if not isinstance(p, Sequence) or isinstance(p, str) or len(p) != 2:
            raise ParameterError(f"{field}[{i}]", "expected [time_s, value]")
        t = check_number(f"{field}[{i}].time_s", p[0], low=0.0, unit=" s")
        v = check_number(f"{field}[{i}].value", p[1], low=low, high=high)
        if out and t <= out[-1][0]:
            raise ParameterError(f"{field}[{i}].time_s", "times must increase")
        out.append((t, v))
    return tuple(out)


@dataclass(frozen=True)
class Trajectory:
    """Intensity and gain over a session.

    Parameters
    ----------
    kind : str
        One of :data:`KINDS`.
    intensity : sequence of (time_s, value)
        Piecewise-linear intensity, 0–1; holds its end values outside the points.
    gain_db : sequence of (time_s, dB)
        Piecewise-linear gain offset, -60 to +12 dB.
    variant : str
        ``"fade"`` or ``"hold"`` for sleep; ``""`` otherwise.
    lead_s : float
        Length of the main movement (the lead toward the goal, the descent), seconds;
        used in the plain-words reason.
    """

    kind: str
    intensity: tuple[tuple[float, float], ...]
    gain_db: tuple[tuple[float, float], ...]
    variant: str = ""
    lead_s: float = 0.0

    def __post_init__(self) -> None:
        check_choice("trajectory.kind", self.kind, KINDS)
        object.__setattr__(
            self, "intensity", _points("trajectory.intensity", self.intensity, low=0.0, high=1.0)
        )
        object.__setattr__(
            self, "gain_db", _points("trajectory.gain_db", self.gain_db, low=SILENT_DB, high=12.0)
        )
        if self.kind == "sleep":
            check_choice("trajectory.variant", self.variant, SLEEP_VARIANTS)
        elif self.variant:
            raise ParameterError("trajectory.variant", "only sleep trajectories have a variant")
        object.__setattr__(
            self, "lead_s", check_number("trajectory.lead_s", self.lead_s, low=0.0, unit=" s")
        )

    def intensity_at(self, t_s: float | np.ndarray) -> float | np.ndarray:
        """Intensity (0–1) at time(s) ``t_s`` in seconds."""
        ts, vs = zip(*self.intensity, strict=True)
        out = np.interp(t_s, ts, vs)
        return float(out) if np.ndim(out) == 0 else out

    def gain_at(self, t_s: float | np.ndarray) -> float | np.ndarray:
        """Gain offset (dB) at time(s) ``t_s`` in seconds."""
        ts, vs = zip(*self.gain_db, strict=True)
        out = np.interp(t_s, ts, vs)
        return float(out) if np.ndim(out) == 0 else out

    @property
    def start_intensity(self) -> float:
        """Intensity at the start of the session."""
        return self.intensity[0][1]

    def breakpoints(self) -> list[float]:
        """Sorted times (s) where either curve changes slope."""
        return sorted({t for t, _ in self.intensity} | {t for t, _ in self.gain_db})

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form."""
        return {
            "kind": self.kind,
            "variant": self.variant,
            "lead_s": self.lead_s,
            "intensity": [[t, v] for t, v in self.intensity],
            "gain_db": [[t, v] for t, v in self.gain_db],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trajectory:
        """Inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise ParameterError("trajectory", "expected a mapping")
        unknown = set(data) - {"kind", "variant", "lead_s", "intensity", "gain_db"}
        if unknown:
            raise ParameterError(f"trajectory.{sorted(unknown)[0]}", "unknown key")
        return cls(
            kind=data.get("kind"),  # type: ignore[arg-type]
            intensity=data.get("intensity"),  # type: ignore[arg-type]
            gain_db=data.get("gain_db"),  # type: ignore[arg-type]
            variant=data.get("variant", ""),
            lead_s=data.get("lead_s", 0.0),
        )


def _r(x: float) -> float:
    return round(float(x), 3)


def _clamp(x: float, lo: float, hi: float) -> float:
    return float(min(max(x, lo), hi))


def iso(arousal: float, goal_intensity: float, duration_s: float) -> Trajectory:
    """Meet the listener at ``arousal`` (0–1), then lead to ``goal_intensity``.

    Holds the starting intensity for 10 % of the session (30 s to 2 min), then moves
    linearly to the goal over 40 % of it (2 to 20 min, ending by 85 % of the session)
    while the level eases down 3 dB; then holds.
    """
    d = float(duration_s)
    hold = _clamp(0.1 * d, 30.0, 120.0)
    lead = min(_clamp(0.4 * d, 120.0, 1200.0), 0.85 * d - hold)
    a, g = _clamp(arousal, 0.0, 1.0), _clamp(goal_intensity, 0.0, 1.0)
    return Trajectory(
        "iso",
        ((0.0, _r(a)), (_r(hold), _r(a)), (_r(hold + lead), _r(g))),
        ((0.0, 0.0), (_r(hold), 0.0), (_r(hold + lead), -3.0)),
        lead_s=_r(lead),
    )


def u_shape(arousal: float, duration_s: float, *, low: float = 0.1, finish: float = 0.5):
    """Descend to ``low`` over the first 35 %, rest until 70 %, rise to ``finish`` by 95 %.

    The level dips 4 dB during the rest and comes back to -1 dB at the end.
    """
    d = float(duration_s)
    a = _clamp(arousal, 0.0, 1.0)
    return Trajectory(
        "u_shape",
        ((0.0, _r(a)), (_r(0.35 * d), _r(low)), (_r(0.7 * d), _r(low)), (_r(0.95 * d), _r(finish))),
        ((0.0, 0.0), (_r(0.35 * d), -4.0), (_r(0.7 * d), -4.0), (_r(0.95 * d), -1.0)),
        lead_s=_r(0.35 * d),
    )


def steady(level: float, duration_s: float) -> Trajectory:
    """Constant intensity ``level`` and level (focus)."""
    return Trajectory("steady", ((0.0, _r(level)),), ((0.0, 0.0),), lead_s=0.0)


def sleep(arousal: float, duration_s: float, *, variant: str = "fade") -> Trajectory:
    """Descend from ``arousal`` to near stillness, getting quieter; then fade or hold.

    Holds the start for 8 % (30 s to 2 min), descends over 45 % of the session (2 to
    30 min, ending by 60 %) to intensity 0.02 while the level falls 8 dB.  ``"fade"``
    then ramps down to -36 dB over the last quarter (1 to 15 min) of the session, and
    the engine's fade-out takes it to silence;
    ``"hold"`` eases a further 8 dB down over ten minutes and holds there.
    """
    check_choice("variant", variant, SLEEP_VARIANTS)
    d = float(duration_s)
    a = _clamp(arousal, 0.0, 1.0)
    hold = _clamp(0.08 * d, 30.0, 120.0)
    lead = min(_clamp(0.45 * d, 120.0, 1800.0), 0.6 * d - hold)
    end = hold + lead
    intensity = ((0.0, _r(a)), (_r(hold), _r(a)), (_r(end), 0.02))
    if variant == "fade":
        fade = _clamp(0.25 * d, 60.0, 900.0)
        fade_start = max(end, d - fade)
        gain: tuple[tuple[float, float], ...] = (
            (0.0, 0.0),
            (_r(hold), 0.0),
            (_r(end), -8.0),
        )
        if fade_start > end:
            gain += ((_r(fade_start), -8.0),)
        gain += ((_r(d), FADE_FLOOR_DB),)
    else:
        low_at = min(end + 600.0, d)
        gain = ((0.0, 0.0), (_r(hold), 0.0), (_r(end), -8.0))
        if low_at > end:
            gain += ((_r(low_at), -16.0),)
    return Trajectory("sleep", intensity, gain, variant=variant, lead_s=_r(lead))


def silence(duration_s: float) -> Trajectory:
    """The trajectory of a quiet-rest session (no sound)."""
    return Trajectory("silence", ((0.0, 0.0),), ((0.0, SILENT_DB),))
