"""A binaural beat (see :class:`Binaural`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Param, make_rng
from sonora.engine.tonal.bank import _Bank, _TonalSource
from sonora.engine.tonal.common import (
    _TWO_PI,
    _approach,
    _glide,
)


# ---------------------------------------------------------------------------------
# Binaural beat
# ---------------------------------------------------------------------------------
class Binaural(_TonalSource):
    """A binaural-beat layer: soft sines at ``carrier_hz ∓ beat_hz/2`` left and right.

    **Headphones only.**  The "beat" exists only when each ear hears its own tone;
    over speakers the two tones mix in the air into an ordinary acoustic beat.
    ``HEADPHONES_ONLY`` is ``True`` so scenes and players can say so.

    Sonora makes no claim that this layer changes brain activity, targets a state or
    does anything else: the evidence on binaural beats is limited and mixed, and the
    evidence for EEG "entrainment" is conflicting (REFERENCES.md, "binaural beats":
    graded *limited*).  It is offered only as a gentle texture some listeners like.

    Parameters (``PARAMS``)
    -----------------------
    carrier_hz : float
        Mean of the two tones in Hz, 100–500.
    beat_hz : float
        Right tone minus left tone in Hz, 1–30.

    Notes
    -----
    Each channel is one sine of amplitude 0.2 (RMS 0.14), rendered at the output rate.
    Frequency changes glide (0.3 s smoothing, linear inside each quantum) with a
    continuous phase.
    """

    HEADPHONES_ONLY = True
    FAMILY = "binaural"
    CALIBRATION_S = 5.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "carrier_hz": Param(200.0, 100.0, 500.0, "Hz", "mean frequency of the two tones"),
        "beat_hz": Param(6.0, 1.0, 30.0, "Hz", "right minus left frequency"),
    }

    _AMP = 0.2

    def _setup(self) -> None:
        rng = make_rng(self.seed, "binaural", "phase")
        self._dt = QUANTUM / self.sample_rate
        self._carrier = self.params["carrier_hz"]
        self._beat = self.params["beat_hz"]
        sub = 512 if self.sample_rate >= 44_100 else 256
        self._bank = _Bank(self.sample_rate, QUANTUM, sub, capacity=2)
        self._bank.add(
            self._freqs(), np.full(2, self._AMP), rng.uniform(0, _TWO_PI, size=2), np.eye(2)
        )
        self._bank.gain[:] = 0.0

    def _freqs(self) -> np.ndarray:
        return np.array([self._carrier - self._beat / 2, self._carrier + self._beat / 2])

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        carrier = _glide(self._carrier, p["carrier_hz"], dt, 0.3, 1.0)
        beat = _approach(self._beat, p["beat_hz"], dt, 0.3)
        if carrier != self._carrier or beat != self._beat:
            self._carrier, self._beat = carrier, beat
            self._bank.set_freq(0, self._freqs())
        gain = np.ones(2) if self.frame == 0 else None  # fade in over the first quantum
        out = self._bank.render(gain)
        return out.transpose(1, 0, 2).reshape(2, QUANTUM)
