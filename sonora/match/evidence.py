"""Personal evidence: does sound help *me* more than quiet rest?

An opt-in n-of-1 comparison.  Sessions are randomly assigned, in shuffled pairs (each
block of two sessions has one sound and one quiet-rest session, in a seeded random
order), to sound or to silent rest under the same check-ins.  The report is the
difference in mean outcome score (sound − rest, :attr:`sonora.plan.Outcome.reward`)
with a Welch t interval (90 % by default).

It says "not enough data yet" until there are at least ``min_per_arm`` sessions of
each kind *and* the interval is narrower than ``±max_halfwidth`` points.  The rule
depends on precision only, never on whether the difference looks significant, so
checking the report after every session does not inflate false claims (optional
stopping on significance would).

Examples
--------
>>> d, lo, hi = difference_interval([3.0, 2.5, 3.5, 2.0], [1.0, 1.5, 0.5, 1.0])
>>> round(d, 3), lo < d < hi
(1.75, True)
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from sonora.errors import ParameterError, check_number
from sonora.match.store import Store

ARMS = ("sound", "rest")


def difference_interval(
    sound: Sequence[float], rest: Sequence[float], *, level: float = 0.9
) -> tuple[float, float, float]:
    """Mean difference ``sound − rest`` and its Welch t interval.

    Parameters
    ----------
    sound, rest : sequence of float
        Outcome scores; at least two of each.
    level : float
        Interval coverage, e.g. 0.9.

    Returns
    -------
    (difference, low, high) : tuple of float
    """
    s = np.asarray(sound, dtype=float)
    r = np.asarray(rest, dtype=float)
    if len(s) < 2 or len(r) < 2:
        raise ParameterError("sessions", "need at least two sessions of each kind")
    vs, vr = s.var(ddof=1) / len(s), r.var(ddof=1) / len(r)
    diff = float(s.mean() - r.mean())
    se2 = vs + vr
    if se2 <= 0:
        return diff, diff, diff
    df = se2**2 / ((vs**2 / (len(s) - 1) if vs else 0.0) + (vr**2 / (len(r) - 1) if vr else 0.0))
    t = float(stats.t.ppf(0.5 + level / 2.0, df))
    half = t * math.sqrt(se2)
    return diff, diff - half, diff + half


@dataclass(frozen=True)
class EvidenceReport:
    """What the personal comparison can say so far.

    Attributes
    ----------
    n_sound, n_rest : int
        Sessions of each kind recorded.
    difference : float or None
        Mean score difference, sound − rest (points), once there are two of each.
    low, high : float or None
        The interval around it.
    level : float
        Interval coverage.
    enough : bool
        Whether there is enough data to draw a conclusion.
    message : str
        Plain words for the listener.
    """

    n_sound: int
    n_rest: int
    difference: float | None
    low: float | None
    high: float | None
    level: float
    enough: bool
    message: str

    def to_dict(self) -> dict[str, object]:
        """JSON-serialisable form."""
        return asdict(self)


def _fmt(x: float) -> str:
    return f"{x:+.1f}"


def make_report(
    sound: Sequence[float],
    rest: Sequence[float],
    *,
    level: float = 0.9,
    min_per_arm: int = 6,
    max_halfwidth: float = 1.0,
) -> EvidenceReport:
    """Summarise sound and quiet-rest scores (see the module docstring for the rule)."""
    ns, nr = len(sound), len(rest)
    pct = f"{round(level * 100)}%"
    if ns < 2 or nr < 2:
        return EvidenceReport(
            ns,
            nr,
            None,
            None,
            None,
            level,
            False,
            f"Not enough data yet: {ns} sound and {nr} quiet-rest sessions so far. "
            f"Sonora needs at least {min_per_arm} of each.",
        )
    diff, lo, hi = difference_interval(sound, rest, level=level)
    half = (hi - lo) / 2.0
    if ns < min_per_arm or nr < min_per_arm or half > max_halfwidth:
        more = ""
        if half > max_halfwidth:
            need = math.ceil(max(ns, nr) * (half / max_halfwidth) ** 2)
            more = f" About {max(need - min(ns, nr), 1)} more of each should tell."
        else:
            more = f" Sonora needs at least {min_per_arm} of each."
        return EvidenceReport(
            ns,
            nr,
            diff,
            lo,
            hi,
            level,
            False,
            f"Not enough data yet: {ns} sound and {nr} quiet-rest sessions so far.{more}",
        )
    span = f"{pct} interval {_fmt(lo)} to {_fmt(hi)} points"
    n = ns + nr
    if lo > 0:
        msg = (
            f"Over {n} sessions, sound has helped you more than quiet rest: about "
            f"{_fmt(diff)} points on your check-in score ({span})."
        )
    elif hi < 0:
        msg = (
            f"Over {n} sessions, quiet rest has helped you more than sound: sound sessions "
            f"scored {_fmt(diff)} points on average ({span})."
        )
    else:
        msg = (
            f"Over {n} sessions, sound and quiet rest have helped you about equally: "
            f"{_fmt(diff)} points ({span})."
        )
    return EvidenceReport(ns, nr, diff, lo, hi, level, True, msg)


def assignment(seed: int, listener_id: str, index: int) -> str:
    """The arm (``"sound"`` or ``"rest"``) of the listener's ``index``-th comparison session.

    Shuffled pairs: sessions ``2k`` and ``2k + 1`` get one of each, in an order drawn
    from ``(seed, listener, k)``.
    """
    key = zlib.crc32(listener_id.encode("utf-8"))
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, key, index // 2])
    first = ARMS[int(rng.integers(2))]
    return first if index % 2 == 0 else ARMS[1 - ARMS.index(first)]


class PersonalEvidence:
    """The opt-in sound-versus-quiet-rest comparison for each listener.

    Parameters
    ----------
    store : Store
        Where profiles and sessions live.
    seed : int
        Seed of the random assignment.
    level : float
        Interval coverage (0.5–0.99).
    min_per_arm : int
        Fewest sessions of each kind before any conclusion.
    max_halfwidth : float
        Widest interval half-width (points) that counts as a conclusion.
    """

    def __init__(
        self,
        store: Store,
        *,
        seed: int = 0,
        level: float = 0.9,
        min_per_arm: int = 6,
        max_halfwidth: float = 1.0,
    ) -> None:
        self.store = store
        self.seed = int(seed)
        self.level = check_number("level", level, low=0.5, high=0.99)
        self.min_per_arm = int(check_number("min_per_arm", min_per_arm, low=2, high=1000))
        self.max_halfwidth = check_number(
            "max_halfwidth", max_halfwidth, low=0.0, low_inclusive=False
        )

    def scores(self, listener_id: str) -> tuple[list[float], list[float]]:
        """Outcome scores of the listener's comparison sessions: (sound, rest)."""
        recs = [r for r in self.store.sessions(listener_id) if r.evidence_arm]
        return (
            [r.reward for r in recs if r.evidence_arm == "sound"],
            [r.reward for r in recs if r.evidence_arm == "rest"],
        )

    def next_arm(self, listener_id: str) -> str:
        """Which kind of session comes next for this listener."""
        sound, rest = self.scores(listener_id)
        return assignment(self.seed, listener_id, len(sound) + len(rest))

    def report(self, listener_id: str) -> EvidenceReport:
        """What can be said so far (see :func:`make_report`)."""
        sound, rest = self.scores(listener_id)
        return make_report(
            sound,
            rest,
            level=self.level,
            min_per_arm=self.min_per_arm,
            max_halfwidth=self.max_halfwidth,
        )
