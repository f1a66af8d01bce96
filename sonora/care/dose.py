"""Weekly listening dose, following the WHO-ITU safe-listening standard.

The standard is WHO-ITU "Safe listening devices and systems" (2019); its current ITU
edition is Recommendation ITU-T H.870 (03/2022). Sources and the date they were
checked: docs/references.md.

The standard gives each listener a weekly *sound allowance* by the equal-energy
rule: for adults, the reference is 80 dBA for 40 hours a week. Equal energy means
the allowance is a fixed amount of sound energy, so every 10 dB louder divides
the time by ten, and every 3 dB louder very nearly halves it (10^0.3 = 1.995).
In sound-exposure units the adult allowance is 40 h x (0.2 Pa)^2 = 1.6 Pa^2 h.

Sonora does not know how loud your device really plays. It asks once: it plays
a reference sound at the same measured loudness as its sessions and you pick how
loud it sounds (a soft voice across a quiet room is about 60 dBA; sound you must
shout over is about 85 dBA). That level, adjusted by the session's mixer, times
the hours streamed in the last seven days, gives the estimate.

Examples
--------
Worked examples of the equal-energy rule (each is exactly one week's allowance):

>>> from sonora.care.dose import allowance_hours, dose_percent
>>> round(allowance_hours(80.0), 1)
40.0
>>> round(allowance_hours(83.0), 1)
20.0
>>> round(allowance_hours(86.0), 1)
10.0
>>> round(allowance_hours(90.0), 1)
4.0
>>> round(dose_percent([(90.0, 4 * 3600.0)]))
100
>>> round(dose_percent([(80.0, 20 * 3600.0), (83.0, 10 * 3600.0)]))
100
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sonora.care.errors import CareError

__all__ = [
    "LEVEL_CHOICES",
    "MAX_LEVEL_DBA",
    "MIN_LEVEL_DBA",
    "NEAR_PERCENT",
    "REFERENCE_HOURS",
    "REFERENCE_LEVEL_DBA",
    "DoseEstimate",
    "LevelChoice",
    "allowance_hours",
    "check_level_dba",
    "dose_percent",
    "exposure_pa2h",
    "mixer_offset_db",
    "weekly_dose",
]

#: Adult reference level of the WHO-ITU allowance, dBA.
REFERENCE_LEVEL_DBA = 80.0
#: Hours a week at :data:`REFERENCE_LEVEL_DBA` that make 100% of the allowance.
REFERENCE_HOURS = 40.0
#: Reference sound pressure for dB SPL, pascals.
_P0_PA = 20e-6
#: A week's dose at or above this percentage is "near" the allowance.
NEAR_PERCENT = 80.0
#: Accepted range of a listening level, dBA.
MIN_LEVEL_DBA = 40.0
MAX_LEVEL_DBA = 110.0
#: Days in the rolling week.
WEEK_DAYS = 7


@dataclass(frozen=True)
class LevelChoice:
    """One answer of the calibration step: how loud the reference sound seemed.

    Attributes
    ----------
    level_dba : float
        The A-weighted level this answer stands for, dBA (rough).
    label : str
        Short answer.
    hint : str
        An everyday comparison.
    """

    level_dba: float
    label: str
    hint: str


#: The calibration answers, quietest first (rough everyday comparisons).
LEVEL_CHOICES: tuple[LevelChoice, ...] = (
    LevelChoice(60.0, "Soft", "like someone speaking softly across a quiet room"),
    LevelChoice(65.0, "Comfortable", "like normal conversation at arm's length"),
    LevelChoice(70.0, "Clear and present", "like a lively conversation or a busy office"),
    LevelChoice(75.0, "Loud", "like a vacuum cleaner nearby: you would raise your voice"),
    LevelChoice(80.0, "Very loud", "like a busy street: hard to talk over"),
    LevelChoice(85.0, "Too loud to talk over", "you would have to shout to be heard"),
)


def check_level_dba(level_dba: object, *, field: str = "level_dba") -> float:
    """Validate a listening level.

    Parameters
    ----------
    level_dba : float
        A-weighted sound level, dBA.
    field : str, default "level_dba"
        Name used in the error message.

    Returns
    -------
    float

    Raises
    ------
    CareError
        Naming ``field`` unless ``level_dba`` is a finite number from 40 to 110 dBA.
    """
    if isinstance(level_dba, bool) or not isinstance(level_dba, int | float):
        raise CareError(
            field,
            f"expected a number of dBA from {MIN_LEVEL_DBA:g} to {MAX_LEVEL_DBA:g}, "
            f"got {level_dba!r}",
        )
    value = float(level_dba)
    if not math.isfinite(value) or not MIN_LEVEL_DBA <= value <= MAX_LEVEL_DBA:
        raise CareError(
            field,
            f"expected a number of dBA from {MIN_LEVEL_DBA:g} to {MAX_LEVEL_DBA:g}, got {value:g}",
        )
    return value


def _check_duration_s(duration_s: object, field: str) -> float:
    if isinstance(duration_s, bool) or not isinstance(duration_s, int | float):
        raise CareError(field, f"expected a number of seconds >= 0, got {duration_s!r}")
    value = float(duration_s)
    if not math.isfinite(value) or value < 0:
        raise CareError(field, f"expected a number of seconds >= 0, got {value:g}")
    return value


def allowance_hours(level_dba: float) -> float:
    """Hours a week at ``level_dba`` that use exactly the adult allowance.

    ``40 h x 10^((80 - L) / 10)``: the equal-energy rule.

    Parameters
    ----------
    level_dba : float
        A-weighted level, dBA (40 to 110).

    Returns
    -------
    float
        Hours per week (e.g. 40.0 at 80 dBA, 4.0 at 90 dBA).
    """
    level = check_level_dba(level_dba)
    return REFERENCE_HOURS * 10.0 ** ((REFERENCE_LEVEL_DBA - level) / 10.0)


def exposure_pa2h(level_dba: float, duration_s: float) -> float:
    """Sound exposure of listening at ``level_dba`` for ``duration_s``, Pa^2 h.

    Parameters
    ----------
    level_dba : float
        A-weighted level, dBA.
    duration_s : float
        Listening time, seconds (>= 0).

    Returns
    -------
    float
        ``p^2 x t`` with ``p = 20 uPa x 10^(L/20)`` and ``t`` in hours; the adult
        weekly allowance is 1.6 Pa^2 h.
    """
    level = check_level_dba(level_dba)
    seconds = _check_duration_s(duration_s, "duration_s")
    pressure_pa = _P0_PA * 10.0 ** (level / 20.0)
    return pressure_pa**2 * seconds / 3600.0


#: The adult weekly allowance in sound exposure, Pa^2 h (1.6).
ALLOWANCE_PA2H = exposure_pa2h(REFERENCE_LEVEL_DBA, REFERENCE_HOURS * 3600.0)


def dose_percent(exposures: Iterable[tuple[float, float]]) -> float:
    """Percentage of the adult weekly allowance used by some listening.

    Parameters
    ----------
    exposures : iterable of (level_dba, duration_s)
        Each stretch of listening: its level in dBA and its length in seconds.

    Returns
    -------
    float
        Percent of the allowance (100 = exactly one week's allowance).

    Raises
    ------
    CareError
        Naming ``exposures[i].level_dba`` or ``exposures[i].duration_s``.
    """
    total = 0.0
    for i, item in enumerate(exposures):
        try:
            level, seconds = item
        except (TypeError, ValueError):
            raise CareError(f"exposures[{i}]", "expected a pair (level_dba, duration_s)") from None
        level = check_level_dba(level, field=f"exposures[{i}].level_dba")
        seconds = _check_duration_s(seconds, f"exposures[{i}].duration_s")
        total += exposure_pa2h(level, seconds)
    return 100.0 * total / ALLOWANCE_PA2H


def mixer_offset_db(gains: Sequence[float] | None) -> float:
    """How much the live mixer raised or lowered a session, dB.

    Assumes the layers carry equal power, so the change is the power average of
    the linear layer gains: ``10 log10(mean(g^2))``. All-zero gains count as
    silence (``-inf``).

    Parameters
    ----------
    gains : sequence of float or None
        Linear gain per layer (1.0 = as composed); ``None`` or empty means 0 dB.

    Returns
    -------
    float
        Offset in dB (0.0 when the mixer was not touched, +6.02 when every layer is at 2).
    """
    if not gains:
        return 0.0
    for i, g in enumerate(gains):
        if isinstance(g, bool) or not isinstance(g, int | float) or not 0 <= g <= 4:
            raise CareError(f"gains[{i}]", f"expected a linear gain from 0 to 4, got {g!r}")
    mean_square = sum(float(g) ** 2 for g in gains) / len(gains)
    return -math.inf if mean_square == 0 else 10.0 * math.log10(mean_square)


@dataclass(frozen=True)
class DoseEstimate:
    """A week's listening against the allowance.

    Attributes
    ----------
    level_dba : float or None
        The listener's calibrated level, dBA (``None`` before calibration).
    listened_s : float
        Seconds of Sonora streamed in the last seven days.
    dose_percent : float or None
        Percent of the adult weekly allowance (``None`` before calibration).
    allowance_h : float or None
        Weekly hours at ``level_dba`` that make 100%.
    remaining_h : float or None
        Hours left this week at ``level_dba`` before 100% (0 when over).
    status : str
        ``"uncalibrated"``, ``"ok"``, ``"near"`` (>= 80%) or ``"over"`` (the
        allowance used up: 100% or more, rounded to a whole percent).
    """

    level_dba: float | None
    listened_s: float
    dose_percent: float | None
    allowance_h: float | None
    remaining_h: float | None
    status: str

    @property
    def listened_h(self) -> float:
        """Hours streamed in the last seven days."""
        return self.listened_s / 3600.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (with ``listened_h``)."""
        return {**asdict(self), "listened_h": self.listened_h}


def weekly_dose(
    sessions: Iterable[tuple[float, float]],
    *,
    level_dba: float | None,
    near_percent: float = NEAR_PERCENT,
) -> DoseEstimate:
    """Estimate this week's dose from session times and the calibrated level.

    Parameters
    ----------
    sessions : iterable of (duration_s, offset_db)
        Each stream in the last seven days: seconds listened and the mixer's
        offset in dB (see :func:`mixer_offset_db`; ``-inf`` for silence).
    level_dba : float or None
        The level the listener chose in the calibration step, dBA; ``None``
        gives an ``"uncalibrated"`` estimate with only the time.
    near_percent : float, default 80
        Percent at which the week counts as near the allowance (0 < p <= 100).

    Returns
    -------
    DoseEstimate

    Raises
    ------
    CareError
        Naming ``level_dba``, ``near_percent`` or ``sessions[i]``.

    Examples
    --------
    >>> est = weekly_dose([(10 * 3600.0, 0.0)], level_dba=86.0)
    >>> est.status, round(est.dose_percent)
    ('over', 100)
    >>> weekly_dose([(3600.0, 0.0)], level_dba=65.0).status
    'ok'
    """
    if isinstance(near_percent, bool) or not isinstance(near_percent, int | float):
        raise CareError("near_percent", f"expected a number in (0, 100], got {near_percent!r}")
    if not 0 < near_percent <= 100:
        raise CareError("near_percent", f"expected a number in (0, 100], got {near_percent:g}")
    pairs: list[tuple[float, float]] = []
    for i, item in enumerate(sessions):
        try:
            seconds, offset = item
        except (TypeError, ValueError):
            raise CareError(f"sessions[{i}]", "expected a pair (duration_s, offset_db)") from None
        seconds = _check_duration_s(seconds, f"sessions[{i}].duration_s")
        if isinstance(offset, bool) or not isinstance(offset, int | float) or math.isnan(offset):
            raise CareError(f"sessions[{i}].offset_db", f"expected a number of dB, got {offset!r}")
        pairs.append((seconds, float(offset)))
    listened = sum(s for s, _ in pairs)
    if level_dba is None:
        return DoseEstimate(None, listened, None, None, None, "uncalibrated")
    level = check_level_dba(level_dba)
    exposures = [
        (min(max(level + off, MIN_LEVEL_DBA), MAX_LEVEL_DBA), s)
        for s, off in pairs
        if off != -math.inf and s > 0
    ]
    percent = dose_percent(exposures)
    allowance = allowance_hours(level)
    # "over" means the allowance is used up: 100% as shown, rounded to a whole percent
    # (so 10 h at 86 dBA, 99.5% by exact equal energy, and 20 h at 83 dBA, 99.8%, both
    # read as a full allowance, as the "+3 dB halves the time" rule says they are)
    if percent >= 99.5:
        status = "over"
    elif percent >= near_percent:
        status = "near"
    else:
        status = "ok"
    remaining = 0.0 if status == "over" else allowance * (1.0 - percent / 100.0)
    return DoseEstimate(level, listened, percent, allowance, remaining, status)
