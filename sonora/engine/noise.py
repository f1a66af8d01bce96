"""Noise sources: white, pink (-3 dB/octave) and brown (-6 dB/octave).

Each produces independent noise per channel with an RMS of 1.0 (0 dBFS RMS) before
its optional low-pass, so a layer gain of ``-20 dB`` means ``-20 dBFS`` RMS.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Param, Source, make_rng
from sonora.engine.design import biquad
from sonora.engine.dsp import SosFilter

# Paul Kellet / Julius O. Smith's 3-pole, 3-zero pink-noise filter.  Within ±0.5 dB of
# -3 dB/octave from 10 Hz to 20 kHz at 44.1-48 kHz; adequate up to 96 kHz for noise
# meant to be heard, not measured.
_PINK_B = np.array([0.049922035, -0.095993537, 0.050612699, -0.004408786])
_PINK_A = np.array([1.0, -2.494956002, 2.017265875, -0.522189400])


def _real_roots_sos(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Second-order sections of ``b/a`` when every pole and zero is real.

    (What ``scipy.signal.tf2sos`` gives for such filters, up to pairing, without
    importing scipy.signal.)  Roots are paired largest with largest, so each section
    holds a pole and a zero that nearly cancel.
    """
    zeros = np.sort(np.real(np.roots(b)))[::-1]
    poles = np.sort(np.real(np.roots(a)))[::-1]
    n = max(len(zeros), len(poles))
    n += n % 2
    zeros = np.concatenate([zeros, np.zeros(n - len(zeros))])
    poles = np.concatenate([poles, np.zeros(n - len(poles))])
    rows = [
        np.concatenate([np.poly(zeros[i : i + 2]), np.poly(poles[i : i + 2])])
        for i in range(0, n, 2)
    ]
    sos = np.array(rows)
    sos[0, :3] *= b[0] / a[0]
    return sos


@lru_cache(maxsize=64)
def _shaping_sos(colour: str, sample_rate: int) -> np.ndarray:
    """Second-order sections that shape unit white noise to unit-RMS coloured noise."""
    if colour == "white":
        sos = np.array([[1.0, 0.0, 0.0, 1.0, 0.0, 0.0]])
    elif colour == "pink":
        # The pink filter's gain keeps rising towards DC: a first-order DC blocker
        # (~10 Hz) folded into the same 4th-order filter keeps the mean at zero for the
        # price of no extra section.
        r = np.exp(-2 * np.pi * 10.0 / sample_rate)
        b = np.convolve(_PINK_B, [1.0, -1.0])
        a = np.convolve(_PINK_A, [1.0, -r])
        sos = _real_roots_sos(b, a)
    elif colour == "brown":
        # Leaky integrator (pole ~6 Hz) and a first-order 20 Hz high-pass, as one
        # biquad: keeps the rumble in what speakers can play and the mean at zero.
        pole = np.exp(-2 * np.pi * 6.0 / sample_rate)
        hp = np.exp(-2 * np.pi * 20.0 / sample_rate)
        b = np.array([1.0, -1.0, 0.0])
        a = np.convolve([1.0, -pole], [1.0, -hp])
        sos = np.array([np.concatenate([b, a])])
    else:  # pragma: no cover - guarded by the classes below
        raise ValueError(colour)
    impulse = np.zeros(sample_rate * 4)
    impulse[0] = 1.0
    rms = float(np.sqrt(np.sum(SosFilter(sos, channels=1).process(impulse[None, :]) ** 2)))
    sos = sos.copy()
    sos[0, :3] *= np.sqrt(12.0) / rms  # input is uniform in [-0.5, 0.5): variance 1/12
    return sos


class _Noise(Source):
    """Coloured noise with an optional, automatable 2nd-order low-pass."""

    COLOUR: ClassVar[str] = "white"
    FAMILY = "noise"
    CALIBRATION_S = 10.0
    channels = 2
    PARAMS: ClassVar[dict[str, Param]] = {
        "cutoff_hz": Param(
            20_000.0, 40.0, 48_000.0, "Hz", "low-pass cutoff; above Nyquist/2 = open"
        ),
    }

    def _setup(self) -> None:
        # SFC64 uniform draws cost ~1/6 of PCG64 normal draws; shaped noise becomes
        # Gaussian through the filter anyway (and white noise sounds no different).
        seq = make_rng(self.seed, "noise", self.COLOUR).bit_generator.seed_seq
        self._rng = np.random.Generator(np.random.SFC64(seq))
        self._shape = _shaping_sos(self.COLOUR, self.sample_rate)
        self._cutoff: float | None = None
        self._filter = SosFilter(self._shape, channels=self.channels)

    def _update_filter(self) -> None:
        cutoff = self.params["cutoff_hz"]
        if cutoff == self._cutoff:
            return
        self._cutoff = cutoff
        if cutoff >= 0.45 * self.sample_rate:
            sos = self._shape
        else:
            lp = biquad("lowpass", cutoff, self.sample_rate)  # = 2nd-order Butterworth
            sos = np.vstack([self._shape, lp])
        self._filter.set_sos(sos)

    def _quantum(self) -> np.ndarray:
        self._update_filter()
        # float64 draws cost the same as float32 ones and are filtered in place.
        white = self._rng.random((self.channels, QUANTUM))
        white -= 0.5
        return self._filter.process_inplace(white).astype(np.float32)


class WhiteNoise(_Noise):
    """White noise: equal energy per hertz.  Bright and hissy."""

    COLOUR = "white"


class PinkNoise(_Noise):
    """Pink noise: equal energy per octave (-3 dB/octave).  Soft, like steady rain."""

    COLOUR = "pink"


class BrownNoise(_Noise):
    """Brown (red) noise: -6 dB/octave.  A deep, muffled rumble, like distant surf."""

    COLOUR = "brown"
