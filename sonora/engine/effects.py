"""Effects: filters and a delay; the reverb (:mod:`sonora.engine.reverb`), the limiter and
the startle guard (:mod:`sonora.engine.dynamics`) are re-exported from here.

Every effect keeps its state between calls so audio can be processed in chunks, and
every output sample is computed by the same operations whatever the chunk size.
"""

from __future__ import annotations

import numpy as np

from sonora.engine.base import DEFAULT_SAMPLE_RATE_HZ, Effect, as_block
from sonora.engine.design import (
    biquad,
    k_weighting_sos,
)
from sonora.engine.dsp import SosFilter
from sonora.engine.dynamics import Limiter, StartleGuard
from sonora.engine.reverb import Reverb  # the reverb lives in its own module
from sonora.errors import check_choice, check_number

# Limiter, StartleGuard (and k_weighting_sos) are imported from here by older code.
__all__ = ["Delay", "Filter", "Limiter", "Reverb", "StartleGuard", "k_weighting_sos"]


class Filter(Effect):
    """A Butterworth low-, high- or band-pass filter.

    Parameters
    ----------
    kind : {"lowpass", "highpass", "bandpass"}
        Filter type.
    cutoff_hz : float
        Cutoff (or centre, for band-pass) in Hz, 10 Hz to 0.45 × sample rate.
    order : int
        Butterworth order, 1–8.
    bandwidth_octaves : float
        Band-pass width in octaves (ignored otherwise).
    channels : int
        Number of channels processed.
    sample_rate : int
        Sample rate in Hz.
    """

    def __init__(
        self,
        kind: str = "lowpass",
        *,
        cutoff_hz: float,
        order: int = 2,
        bandwidth_octaves: float = 1.0,
        channels: int = 2,
        sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    ) -> None:
        super().__init__(sample_rate=sample_rate)
        self.kind = check_choice("kind", kind, ("lowpass", "highpass", "bandpass"))
        nyq = 0.45 * self.sample_rate
        self.cutoff_hz = check_number("cutoff_hz", cutoff_hz, low=10.0, high=nyq, unit=" Hz")
        self.order = int(check_number("order", order, low=1, high=8))
        self.channels = channels
        if self.kind != "bandpass" and self.order == 2:
            # The common case, without importing scipy.signal (see design.py).
            self.sos = biquad(self.kind, self.cutoff_hz, self.sample_rate)
        elif self.kind == "bandpass":
            from scipy import signal

            bw = check_number("bandwidth_octaves", bandwidth_octaves, low=0.05, high=6.0)
            lo = self.cutoff_hz / 2 ** (bw / 2)
            hi = min(self.cutoff_hz * 2 ** (bw / 2), nyq)
            self.sos = signal.butter(
                self.order, [lo, hi], "bandpass", fs=self.sample_rate, output="sos"
            )
        else:
            from scipy import signal

            self.sos = signal.butter(
                self.order, self.cutoff_hz, self.kind, fs=self.sample_rate, output="sos"
            )
        self.reset()

    def reset(self) -> None:
        self._filter = SosFilter(self.sos, channels=self.channels)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, self.channels)
        return self._filter.process(x).astype(np.float32)


class Delay(Effect):
    """A fixed delay line of ``delay_frames`` frames (exact in any chunking)."""

    def __init__(
        self, delay_frames: int, *, channels: int = 1, sample_rate: int = DEFAULT_SAMPLE_RATE_HZ
    ):
        super().__init__(sample_rate=sample_rate)
        self.delay_frames = int(delay_frames)
        self.channels = channels
        self.reset()

    def reset(self) -> None:
        self._hist = np.zeros((self.channels, self.delay_frames), dtype=np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, self.channels)
        if self.delay_frames == 0:
            return x
        buf = np.concatenate([self._hist, x], axis=1)
        n = x.shape[1]
        self._hist = buf[:, n:].copy()
        return buf[:, :n]
