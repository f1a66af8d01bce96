"""Shared helpers of the tonal sources: pan, glides, K-weighting, smooth random modulation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sonora.engine.base import make_rng
from sonora.engine.design import sos_response

_TWO_PI = 2.0 * math.pi

#: Lowest internal synthesis rate in Hz; the internal rate is ``sample_rate / D``.
_MIN_INTERNAL_RATE_HZ = 11_025
#: Partials at or above this fraction of the internal rate are never synthesised.
_MAX_PARTIAL_FRAC = 0.33
#: Sub-block length in internal-rate samples (10.7 ms at 48 kHz; note-onset grid).
_SUB = 128


def _internal_factor(sample_rate: int) -> int:
    """Return the interpolation factor ``D`` (2, 4 or 8) for ``sample_rate`` in Hz."""
    d = 2
    while d < 8 and sample_rate / (2 * d) >= _MIN_INTERNAL_RATE_HZ:
        d *= 2
    return d


def _pan_gains(position: np.ndarray | float) -> np.ndarray:
    """Constant-power pan gains.

    Parameters
    ----------
    position : float or numpy.ndarray
        -1 (left) … +1 (right).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(..., 2)``: left and right gains, ``L² + R² = 1``.
    """
    angle = (np.clip(np.asarray(position, dtype=np.float64), -1.0, 1.0) + 1.0) * (math.pi / 4)
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1)


def _weighted_choice(rng: np.random.Generator, items: Any, weights: Any) -> int:
    """Pick one of ``items`` (ints) with probability proportional to ``weights``."""
    u = rng.random() * sum(weights)
    for item, w in zip(items, weights, strict=True):
        u -= w
        if u < 0:
            return int(item)
    return int(items[-1])


def _glide(current: float, target: float, dt: float, tau_s: float, max_oct_per_s: float) -> float:
    """Move a frequency toward ``target`` in the log domain, slew-limited.

    Returns ``target`` exactly once within 1e-9 octave, so a glide terminates.
    """
    d = math.log2(target / current)
    if abs(d) < 1e-9:
        return target
    step = d * (1.0 - math.exp(-dt / tau_s))
    limit = max_oct_per_s * dt
    step = max(-limit, min(limit, step))
    if abs(d - step) < 1e-9:
        return target
    return current * 2.0**step


def _approach(current: float, target: float, dt: float, tau_s: float) -> float:
    """One-pole smoothing of a plain (linear) parameter; snaps when within 1e-9."""
    if abs(target - current) < 1e-9:
        return target
    return target + (current - target) * math.exp(-dt / tau_s)


# -- ITU-R BS.1770 K-weighting (power gain), used to predict loudness of new notes --
_K_SOS_48K = np.array(
    [
        [
            1.53512485958697,
            -2.69169618940638,
            1.19839281085285,
            1.0,
            -1.69065929318241,
            0.73248077421585,
        ],
        [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621],
    ]
)
_K_LOGF = np.log(np.geomspace(10.0, 20_000.0, 200))
_K_POW = np.abs(sos_response(_K_SOS_48K, np.exp(_K_LOGF), 48_000)) ** 2


def _k_power(freq_hz: np.ndarray) -> np.ndarray:
    """BS.1770 K-weighting power gain at ``freq_hz`` (float64, same shape)."""
    return np.interp(np.log(np.maximum(freq_hz, 10.0)), _K_LOGF, _K_POW)


class _ValueNoise:
    """Smooth random modulation, stateless in time: no LFO a listener could count.

    ``n`` independent signals, each a smoothstep interpolation between random knots
    ``period_s`` apart; knot ``k`` comes from ``make_rng(seed, *key, k)``, so the value at
    any time depends only on the seed, the key and the time (seek anywhere).  Values are
    roughly in [-1, 1] (mean 0, RMS about 0.5).
    """

    def __init__(self, seed: int, key: tuple[str, ...], n: int, period_s: float) -> None:
        self.seed, self.key, self.n, self.period_s = seed, key, n, period_s
        self._knots: dict[int, np.ndarray] = {}

    def _knot(self, k: int) -> np.ndarray:
        v = self._knots.get(k)
        if v is None:
            if len(self._knots) > 8:
                self._knots.clear()
            v = make_rng(self.seed, *self.key, k).uniform(-1.0, 1.0, self.n)
            self._knots[k] = v
        return v

    def at(self, t_s: float) -> np.ndarray:
        """Values at time ``t_s`` (seconds), float64 ``(n,)``."""
        x = t_s / self.period_s
        k = math.floor(x)
        w = x - k
        w = w * w * (3.0 - 2.0 * w)
        a, b = self._knot(k), self._knot(k + 1)
        return a + (b - a) * w
