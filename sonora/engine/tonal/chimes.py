"""Wind chimes (see :class:`Chimes`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sonora.engine.base import Param, make_rng
from sonora.engine.tonal.modal import (
    _contact,
    _Modal,
    _modes,
    _ticks,
)


class Chimes(_Modal):
    """Wind chimes: tuned metal tubes struck by a clapper in gusts.

    Tubes ring at the free-free bar modes (1, 2.757, 5.404, 8.933, 13.34 ×
    fundamental, up to 14 kHz) tuned to a pentatonic set; the T60 of mode ``k`` is
    ``decay_s · ratio^-1.2`` (the second mode dies 3.4× faster than the first).  A hard
    clapper (0.3–0.5 ms contact) strikes with a force that follows the wind: strikes
    cluster in gusts (a smooth random rate, stateless in time) and are firmer and
    brighter at a gust's peak, glancing and soft in a lull.  Its contact is heard as a
    short "tink": :attr:`TICKS` damped resonances between 3 and 12 kHz dying within
    tens of milliseconds, which carries a strike above 4 kHz over a breeze.
    """

    FAMILY = "chimes"
    #: The listening player (:class:`_Modal`): a gust's strikes build from what has
    #: rung in the last seconds instead of landing at full force out of a lull.
    LISTEN_RISE_DB = 3.5
    #: In a lull the clapper only brushes the tubes: the room level sits lower than a
    #: bowl's, so a gust's strikes build up from soft.
    ROOM_DB = -16.0
    RATIOS: ClassVar[tuple[float, ...]] = (1.0, 2.757, 5.404, 8.933, 13.344)
    SEGMENT_S = 0.1
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(880.0, 300.0, 2500.0, "Hz", "lowest tube"),
        "rate_per_min": Param(12.0, 1.0, 60.0, "1/min", "mean strikes per minute"),
        "brightness": Param(0.5, 0.0, 1.0, "", "strength of the upper modes"),
        "decay_s": Param(6.0, 1.0, 15.0, "s", "T60 of the fundamental"),
    }
    _STEPS = (0, 2, 4, 7, 9, 12, 14)
    _GUST_S = 4.0
    DECAY_EXP = 1.2
    #: Upper modes lose this many dB per mode index at brightness 0 (none at 1).
    TILT_DB = 4.0
    #: The clapper's tick: how many damped resonances (3–12 kHz), their T60 range (s)
    #: and their amplitude relative to the fundamental's (× velocity × (½ + brightness)).
    TICKS = 8
    TICK_T60_S = (0.02, 0.08)
    TICK_LEVEL = 3.0
    warmup_s = 20.0

    def calibration_seconds(self) -> float:
        return float(min(240.0, max(40.0, 600.0 / self.params["rate_per_min"])))

    def _mean_interval_s(self) -> float:
        return 60.0 / self.params["rate_per_min"]

    def _gust(self, t_s: float) -> float:
        """Wind strength 0–1 at ``t_s``: smooth interpolation of per-knot random values."""
        k = int(t_s // self._GUST_S)
        w = t_s / self._GUST_S - k
        w = w * w * (3 - 2 * w)
        a = float(self._uniforms("gust", k, 1)[0])
        b = float(self._uniforms("gust", k + 1, 1)[0])
        return float(a + (b - a) * w)

    def _onsets(self, start: int, end: int) -> list[tuple[int, np.random.Generator]]:
        """Strikes: each 0.1 s segment may hold one, more likely in a gust.

        Segment ``j`` strikes with probability ``rate · SEGMENT_S · (1/4 + 3 g³)`` (``g``
        the gust strength, uniform 0–1, so the mean rate is ``rate_per_min``), drawn
        from ``make_rng(seed, "Chimes", "segs", j // 64)``: stateless in time.  A first
        strike comes at 0.3 s, as the breeze is first heard.
        """
        sr = self.sample_rate
        seg = self.SEGMENT_S * sr
        p_mean = self.params["rate_per_min"] / 60.0 * self.SEGMENT_S
        out = []
        first = self._first_onset()
        if first is not None and start <= first < end:
            out.append((first, make_rng(self.seed, "Chimes", "event", -1)))
        for j in range(int(start // seg), int(end // seg) + 1):
            # 64 segments share one generator (block-keyed: still stateless in time).
            u, pos = self._uniforms("segs", j // 64, 128)[2 * (j % 64) : 2 * (j % 64) + 2]
            t = j * self.SEGMENT_S
            p = min(0.9, p_mean * (0.25 + 3.0 * self._gust(t) ** 3))
            onset = int((j + pos) * seg)
            if u < p and start <= onset < end:
                out.append((onset, make_rng(self.seed, "Chimes", "event", j)))
        return out

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        tube = int(rng.integers(0, len(self._STEPS)))
        f0 = p["pitch_hz"] * 2 ** (self._STEPS[tube] / 12)
        ratios = np.asarray(self.RATIOS)
        freqs = f0 * ratios
        ok = freqs < min(14_000.0, 0.45 * self.sample_rate)
        freqs, ratios = freqs[ok], ratios[ok]
        n = len(freqs)
        gust = self._gust(self.frame / self.sample_rate)  # the wind at this quantum
        velocity = float(np.clip(0.25 + 0.6 * gust + rng.normal(0, 0.12), 0.15, 1.0))
        self._velocity = velocity
        contact = (0.5 - 0.2 * p["brightness"]) * 1e-3 * (1.3 - 0.4 * velocity)
        amps = velocity * ratios**-0.4 * _contact(freqs, contact)
        tilt_db = -(1.0 - p["brightness"]) * self.TILT_DB * np.arange(n)
        amps *= 10 ** ((tilt_db + rng.normal(0, 2, n)) / 20)
        t60 = p["decay_s"] * ratios**-self.DECAY_EXP * rng.uniform(0.9, 1.1, n)
        attack = np.full(n, contact)
        # The clapper's contact: a splash of quickly damped high resonances (the "tink"
        # that carries a chime's strike above 4 kHz), firmer and brighter in a gust.
        hi = min(12_000.0, 0.42 * self.sample_rate)
        tf, tt = _ticks(rng, self.TICKS, 3000.0, hi, self.TICK_T60_S)
        ta = (
            self.TICK_LEVEL
            * velocity
            * (0.5 + p["brightness"])
            * _contact(tf, contact)
            * rng.uniform(0.5, 1.0, self.TICKS)
            * amps[0]
        )
        freqs = np.concatenate([freqs, tf])
        amps = np.concatenate([amps, ta])
        t60 = np.concatenate([t60, tt])
        attack = np.concatenate([attack, np.full(self.TICKS, contact)])
        s, a = _modes(freqs, t60, amps, attack, rng.uniform(0, 2 * np.pi, len(freqs)))
        return s, a * 0.2, self._pan_for(tube, rng)

    def _pan_for(self, tube: int, rng: np.random.Generator) -> float:
        """Where the struck tube sits: answered on the side that rings less.

        The tubes hang in a ring around the clapper, so a strike on one side is soon
        answered on the other.  The struck tube is placed on the side whose ringing is
        quieter (equal power: the side is chosen from what still rings, which a seek
        reproduces after ``warmup_s``), at a depth that varies with the tube.  Placing
        tubes by pitch instead (low left, high right) let a few firm strikes of one side
        outweigh the other over minutes (+0.9 dB right in chimes-garden).
        """
        side_power = self._side_power()
        if abs(side_power[0] - side_power[1]) <= 1e-3 * (side_power[0] + side_power[1]):
            side = 1.0 if rng.random() < 0.5 else -1.0
        else:
            side = 1.0 if side_power[0] > side_power[1] else -1.0
        depth = 0.25 + 0.45 * ((tube * 3) % len(self._STEPS)) / (len(self._STEPS) - 1)
        return float(side * depth)
