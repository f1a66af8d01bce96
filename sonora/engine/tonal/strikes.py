"""Plain modal strikes, the benchmark workload's instrument (see :class:`ModalStrikes`)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from sonora.engine.base import Param, make_rng
from sonora.engine.tonal.modal import (
    _Modal,
    _modes,
)


class ModalStrikes(_Modal):
    """A struck object with explicitly given modes: a strike every ``interval_s``.

    Parameters (besides ``PARAMS``)
    -------------------------------
    ratios : sequence of float
        Mode frequencies as multiples of ``pitch_hz``.
    t60_s : sequence of float
        Decay time (to -60 dB) of each mode, seconds.

    Used by ``benchmarks/render.py`` to build the reference workload exactly as
    specified (six partials, 12 s down to 2 s), and by scene authors who want a bell of
    their own.  Strikes are regular and identical: no beating pairs, no variation.
    """

    warmup_s = 60.0

    FAMILY = "bowls"
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(220.0, 20.0, 4000.0, "Hz", "fundamental"),
        "interval_s": Param(20.0, 0.5, 600.0, "s", "time between strikes"),
        "attack_s": Param(0.005, 0.001, 2.0, "s", "attack time constant"),
    }

    def __init__(
        self,
        *,
        ratios: tuple[float, ...] = (1.0, 2.71, 5.15, 8.43, 12.4, 17.1),
        t60_s: tuple[float, ...] = (12.0, 10.0, 8.0, 6.0, 4.0, 2.0),
        **kwargs: float,
    ) -> None:
        if len(ratios) != len(t60_s) or not ratios:
            raise ValueError("ratios and t60_s must be non-empty and of equal length")
        self._ratios_arr = np.asarray(ratios, dtype=np.float64)
        self._t60_arr = np.asarray(t60_s, dtype=np.float64)
        super().__init__(**kwargs)

    def calibration_seconds(self) -> float:
        return float(min(240.0, max(30.0, 3 * self.params["interval_s"])))

    def _onsets(self, start: int, end: int) -> list[tuple[int, np.random.Generator]]:
        step = max(1, round(self.params["interval_s"] * self.sample_rate))
        first = -(-start // step) * step
        if first >= end:
            return []
        rng = make_rng(self.seed, "ModalStrikes")
        return [(k, rng) for k in range(first, end, step)]

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        freqs = self.params["pitch_hz"] * self._ratios_arr
        ok = freqs < 0.45 * self.sample_rate
        n = int(np.sum(ok))
        amps = 1.0 / (1.0 + np.arange(n))
        amps = amps / np.sum(amps)
        s, a = _modes(
            freqs[ok],
            self._t60_arr[ok],
            amps,
            np.full(n, self.params["attack_s"]),
            np.zeros(n),
        )
        return s, a, 0.0
