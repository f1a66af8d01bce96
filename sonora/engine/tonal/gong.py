"""The gong (see :class:`Gong`)."""

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


class Gong(_Modal):
    """A gong: dense inharmonic modes, a bloom from low to high, shimmer.

    The gong's own mode ratios (1, 1.52, 2.09, then a dense log-spread set up to
    ~10 kHz) are fixed by the seed.  Every strike lands somewhere different and with its
    own force, so each excites its own subset of modes (a mode's share follows the
    strike point against the mode's shape, ``|sin(π m u + φ)|``).  Modes up to two
    octaves above the hum sound as strong as it (the body, :data:`BODY_OCT`); above,
    they fall with ``brightness``.  The low hum speaks at once; higher modes build up over ``bloom_s`` (the energy cascade of a large
    tam-tam) and shimmer as they decay, each a pair of modes a fraction of a hertz
    apart.  T60 falls with frequency as ``decay_s · ratio^-0.55`` (a mode at 20× the hum dies ~5× faster).  The beater's contact adds a short
    splash of damped resonances above 4 kHz; the player strikes softer when little is
    ringing (``LISTEN_RISE_DB``), so the gong swells rather than bangs.
    """

    FAMILY = "gong"
    LISTEN_RISE_DB = 3.5
    #: Strikes are detuned from each other (``STRIKE_CENTS``): the copies of a mode
    #: beat slowly, so the player counts their powers, not their amplitudes.
    BEAT_HZ = 0.0
    OPENING_S = 60.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(70.0, 30.0, 200.0, "Hz", "lowest mode"),
        "interval_s": Param(22.0, 6.0, 180.0, "s", "mean time between strikes"),
        "brightness": Param(0.5, 0.0, 1.0, "", "strength of the upper modes"),
        "bloom_s": Param(2.5, 0.3, 8.0, "s", "time for the upper modes to build up"),
        "decay_s": Param(25.0, 5.0, 60.0, "s", "T60 of the lowest modes"),
    }
    N_MODES = 44
    #: Spread (standard deviation, cents) of a strike's pitch around the gong's own.
    STRIKE_CENTS = 12.0
    DECAY_EXP = 0.55
    #: The body: modes up to this many octaves above the hum (4× it, 260 Hz for a
    #: 65 Hz gong) sound at the hum's strength, as a large tam-tam's mid range does
    #: once it blooms; the brightness tilt starts above them.  This is what a phone
    #: speaker plays of a gong (nothing below ~300 Hz): gong alone at gong-bath's
    #: settings through ``benchmarks/sound.py``'s phone model, -16.1 → -10.4 dB
    #: (K-weighted, re full band); strike > 4 kHz unchanged (-22.9 dB), upper modes
    #: still decay faster than the lowest (4.6× → 3.9×, ≥ 3×).
    BODY_OCT: ClassVar[float] = 2.0
    warmup_s = 60.0

    def calibration_seconds(self) -> float:
        p = self.params
        return float(min(300.0, max(60.0, 5 * p["interval_s"], 3 * p["decay_s"])))

    def _first_onset(self) -> int | None:
        return int(0.5 * self.sample_rate)

    def _mean_interval_s(self) -> float:
        return self.params["interval_s"]

    def _setup(self) -> None:
        super()._setup()
        shape = make_rng(self.seed, "Gong", "shape")
        top = 150.0
        self._ratios = np.sort(
            np.concatenate(
                [
                    [1.0, 1.52, 2.09],
                    np.exp(shape.uniform(np.log(2.3), np.log(top), self.N_MODES - 3)),
                ]
            )
        )
        # Mode shapes: how a mode responds to where the gong is struck.
        self._shape_m = shape.integers(1, 7, self.N_MODES).astype(np.float64)
        self._shape_phi = shape.uniform(0, np.pi, self.N_MODES)
        self._split = shape.uniform(0.1, 0.9, self.N_MODES)  # shimmer pair spacing, Hz

    def _make_modes(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
        p = self.params
        # A hand-hammered gong is not one pitch: how hard and where it is struck shifts
        # its modes by some cents (the plate stiffens under large motion, and its
        # thickness varies across the face).  Every strike rings a little apart from the
        # ones still sounding, so overlapping strikes beat slowly against each other and
        # the hum never settles into one steady, self-repeating waveform.
        detune = 2.0 ** (rng.normal(0.0, self.STRIKE_CENTS) / 1200)
        freqs = p["pitch_hz"] * detune * self._ratios * (1 + rng.normal(0, 0.0008, self.N_MODES))
        ok = freqs < min(11_000.0, 0.45 * self.sample_rate)
        freqs, ratios = freqs[ok], self._ratios[ok]
        n = len(freqs)
        octave = np.log2(ratios)
        bright = p["brightness"]
        velocity = rng.uniform(0.5, 1.0)
        self._velocity = velocity
        place = rng.uniform(0.05, 0.5)
        excite = 0.12 + np.abs(np.sin(np.pi * self._shape_m[ok] * place + self._shape_phi[ok]))
        excite[:3] = np.maximum(excite[:3], 0.7)  # the hum always speaks
        tilt = (-(1.0 - bright) * 4.0 - 1.5 - 2.0 * (1.0 - velocity)) * np.maximum(
            octave - self.BODY_OCT, 0.0
        )
        amps = 10 ** (tilt / 20) * excite * rng.uniform(0.6, 1.0, n) * velocity
        amps /= np.sqrt(n)
        t60 = p["decay_s"] * ratios**-self.DECAY_EXP * rng.uniform(0.85, 1.15, n)
        bloom = p["bloom_s"] * rng.uniform(0.8, 1.25)
        attack = 0.03 + bloom * np.clip(octave / 4.0, 0.0, 1.0) * rng.uniform(0.6, 1.2, n)
        # Shimmer: every mode above the hum is a pair a fraction of a hertz apart.
        upper = np.arange(n) >= 3
        f_all = np.concatenate([freqs, freqs[upper] + self._split[ok][upper]])
        a_all = np.concatenate([np.where(upper, 0.6, 1.0) * amps, 0.4 * amps[upper]])
        t_all = np.concatenate([t60, t60[upper]])
        at_all = np.concatenate([attack, attack[upper]])
        # The beater's contact: a short splash of damped high resonances.
        tf, tt = _ticks(rng, 10, 4000.0, min(10_000.0, 0.42 * self.sample_rate), (0.02, 0.12))
        ta = 2.5 * velocity * _contact(tf, 0.0003) * rng.uniform(0.5, 1.0, 10) * amps[0]
        f_all = np.concatenate([f_all, tf])
        a_all = np.concatenate([a_all, ta])
        t_all = np.concatenate([t_all, tt])
        at_all = np.concatenate([at_all, np.full(10, 0.004)])
        s, a = _modes(f_all, t_all, a_all, at_all, rng.uniform(0, 2 * np.pi, len(f_all)))
        # A gong hangs in front of the listener: centred (the hall gives it width).  A
        # pan drawn per strike, N(0, 0.1), leaned gong-bath by up to 0.7 dB over minutes
        # (a few large strikes on one side); centred, both channels get the same power.
        return s, a * 0.6, 0.0
