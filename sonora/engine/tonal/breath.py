"""The breath pacer (see :class:`BreathPacer`)."""

from __future__ import annotations

import math
from collections import deque
from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Param, make_rng
from sonora.engine.dsp import SosFilter
from sonora.engine.tonal.bank import _Bank, _TonalSource, _Upsampler
from sonora.engine.tonal.common import (
    _SUB,
    _TWO_PI,
    _approach,
    _glide,
    _pan_gains,
)
from sonora.errors import ParameterError


# ---------------------------------------------------------------------------------
# Breath pacer
# ---------------------------------------------------------------------------------
class BreathPacer(_TonalSource):
    """A soft swell to breathe along with: rises over the inhale, falls over the exhale.

    The sound is a warm band of noise (about 150 Hz to 1.2 kHz, like distant surf)
    plus a gentle tone (``pitch_hz`` with a soft octave and twelfth), both following
    one envelope: a raised-cosine rise over the inhale and a raised-cosine fall over
    the exhale, on top of a floor (about -9 dB) so the sound never vanishes.

    The timing is the guide's and stays exact: the tone peaks where :meth:`phase_at`
    says the exhale begins, every breath.  How each breath *sounds* varies, as a
    person's guided breathing does: its depth (55–100 % of the swell), the noise's
    colour and how it brightens or darkens as the breath swells, a "vowel" resonance
    of the noise that sits and moves somewhere else each time (300 Hz–1.5 kHz), the
    tone's octave and twelfth and a few cents of pitch.  So the swell never repeats exactly: the
    envelope-change repetition of the breath-pacer scene (``benchmarks/sound.py``,
    ``repC``) fell from 0.56–0.65 to 0.41–0.46 (seeds 1–3).

    The breath phase is integrated from ``breaths_per_min`` (never recomputed from
    time), so automating the rate, e.g. 10 → 6 breaths/min, keeps the phase and the
    envelope continuous.

    Observing the phase (for visuals)
    ---------------------------------
    :meth:`phase_at` returns the breath phase at an output frame: 0 is the start of
    an inhale, ``inhale_ratio`` the start of the exhale, 1 the next inhale.
    :meth:`envelope_at` returns the swell (0 = bottom, 1 = top of the breath).  Both
    answer for frames already rendered (the last ~2 minutes) and extrapolate at the
    current rate for frames not yet rendered.  The audio lags them by under 3 ms.

    Parameters (``PARAMS``)
    -----------------------
    breaths_per_min : float
        Breathing rate, 3–20 breaths per minute (6 is a common default; the
        resonant rate is individual).
    inhale_ratio : float
        Fraction of each breath spent inhaling, 0.3–0.6.
    pitch_hz : float
        Pitch of the tone in Hz, 80–500.
    tone_mix : float
        0 = only the noise swell, 1 = only the tone.
    """

    FAMILY = "breath"
    CALIBRATION_S = 40.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "breaths_per_min": Param(6.0, 3.0, 20.0, "1/min", "breathing rate to pace"),
        "inhale_ratio": Param(0.4, 0.3, 0.6, "", "fraction of each breath spent inhaling"),
        "pitch_hz": Param(196.0, 80.0, 500.0, "Hz", "pitch of the soft tone"),
        "tone_mix": Param(0.4, 0.0, 1.0, "", "balance: 0 noise swell only … 1 tone only"),
    }

    _FLOOR = 0.12  # power floor of the swell (-9 dB)
    # Each breath's voicing (drawn when it starts, glided into over ~1 s):
    #: the swell's depth (share of the full swell), ...
    DEPTH: ClassVar[tuple[float, float]] = (0.55, 1.0)
    #: ... the noise's colour at the bottom of the breath (tap ``a`` of the 2-tap filter
    #: ``y = w[n] + a w[n-1]``: +0.8 dark, -0.8 bright) and how far it moves at the top,
    COLOUR_FLOOR: ClassVar[float] = 0.4
    COLOUR_SWING: ClassVar[float] = 1.2
    #: ... the tone's pitch drift (standard deviation, cents),
    DRIFT_CENTS: ClassVar[float] = 6.0
    #: ... and a "vowel": a resonance of the noise (+``VOWEL_DB`` dB, Q ``VOWEL_Q``) at a
    #: centre drawn log-uniformly in ``VOWEL_HZ``, moving up to ``VOWEL_GLIDE`` octaves
    #: either way as the breath swells, as a mouth's shape does.
    VOWEL_HZ: ClassVar[tuple[float, float]] = (300.0, 1500.0)
    VOWEL_GLIDE: ClassVar[float] = 1.0
    VOWEL_DB: ClassVar[float] = 10.0
    VOWEL_Q: ClassVar[float] = 1.2
    _VOICING_TAU_S = 0.8
    #: The tone's pitch follows the drift in steps of at least this (cents), each glided
    #: across a quantum: far below what an ear tells apart (~5 cents), and the tone
    #: renders from its tables between steps instead of gliding every quantum.
    _BEND_STEP_CENTS = 1.0
    _HISTORY_S = 120.0

    def _setup(self) -> None:
        self._init_internal()
        rng = make_rng(self.seed, "breath", "tone")
        self._noise_rng = make_rng(self.seed, "breath", "noise")
        self._qn = self._q // 4  # noise-rate samples per quantum
        self._noise_ups = _Upsampler(4, 16, self._qn, design="breath", rate_hz=self._rate)
        self._ramp_n = (np.arange(self._qn) / self._qn).astype(np.float32)
        # Tone: fundamental (centre), octave and twelfth (a little left and right; their
        # levels are drawn per breath, about 0.22 and 0.07 of the fundamental).
        self._tone_ratio = np.array([1.0, 2.0, 3.0])
        self._pitch = self.params["pitch_hz"]
        self._bend = 1.0  # the breath's pitch drift, as a frequency ratio
        self._bank = _Bank(self._rate, self._q, _SUB, capacity=3)
        self._bank.add(
            self._pitch * self._tone_ratio,
            np.ones(3),
            rng.uniform(0, _TWO_PI, size=3),
            _pan_gains(np.array([0.0, -0.4, 0.4])),
        )
        self._bank.gain[:] = 0.0
        self._noise_amp = 0.0  # start from silence (de-click)
        self._phase = 0.0  # breath phase (cycles, wrapped to [0, 1))
        self._bps = self.params["breaths_per_min"] / 60.0
        self._ratio = self.params["inhale_ratio"]
        self._mix = self.params["tone_mix"]
        self._history: deque[tuple[int, float, float, float, float, float]] = deque(
            maxlen=math.ceil(self._HISTORY_S / self._dt)
        )
        # Each breath's own voicing (see _new_breath); it glides in from the last one.
        self._voicing_rng = make_rng(self.seed, "breath", "voicing")
        self._target = self._draw_voicing()
        self._voicing = dict(self._target)
        self._w_prev = np.zeros((2, 1), dtype=np.float32)
        self._a = self._voicing["colour"]
        self._noise_rate = self._rate / 4
        # The band over which the vowel's power gain is averaged (48 log-spaced points),
        # as cos(w) and cos(2w) for the closed form of a biquad's |H|^2.
        w_band = _TWO_PI * np.geomspace(150.0, 0.42 * self._noise_rate, 48) / self._noise_rate
        self._cos1, self._cos2 = np.cos(w_band), np.cos(2.0 * w_band)
        self._mean_w = np.full(48, 1.0 / 48)
        self._cents = 0.0  # the drift the tone plays (moves in _BEND_STEP_CENTS steps)
        self._vowel = SosFilter(self._peak(2.0 ** self._voicing["vowel"]), channels=2)

    def _peak(self, freq_hz: float) -> np.ndarray:
        """RBJ peaking biquad (``VOWEL_DB`` at ``freq_hz``, ``VOWEL_Q``) at the noise rate."""
        w = 2 * math.pi * min(freq_hz, 0.4 * self._noise_rate) / self._noise_rate
        amp = 10 ** (self.VOWEL_DB / 40)
        alpha = math.sin(w) / (2 * self.VOWEL_Q)
        cw = -2 * math.cos(w)
        a0 = 1 + alpha / amp
        return np.array(
            [
                [
                    (1 + alpha * amp) / a0,
                    cw / a0,
                    (1 - alpha * amp) / a0,
                    1.0,
                    cw / a0,
                    (1 - alpha / amp) / a0,
                ]
            ]
        )

    def _band_power_gain(self, section: np.ndarray) -> float:
        """Mean of a biquad's power gain |H|^2 over the noise band (48 log-spaced points).

        ``section`` is ``(b0, b1, b2, 1, a1, a2)``; |b0 + b1 z + b2 z^2|^2 with
        ``z = exp(-jw)`` is ``b0^2 + b1^2 + b2^2 + 2 (b0 b1 + b1 b2) cos w + 2 b0 b2 cos 2w``,
        and the same for the denominator: a few operations on 48 numbers.
        """
        b0, b1, b2, _, a1, a2 = section.tolist()
        c1, c2 = self._cos1, self._cos2
        num = (
            (b0 * b0 + b1 * b1 + b2 * b2) + (2.0 * (b0 * b1 + b1 * b2)) * c1 + (2.0 * b0 * b2) * c2
        )
        den = (1.0 + a1 * a1 + a2 * a2) + (2.0 * (a1 + a1 * a2)) * c1 + (2.0 * a2) * c2
        return float(np.dot(num / den, self._mean_w))

    def _draw_voicing(self) -> dict[str, float]:
        """One breath's voicing: how deep, how bright and with what tone it sounds."""
        r = self._voicing_rng
        return {
            "depth": r.uniform(*self.DEPTH),
            "colour": r.uniform(-self.COLOUR_FLOOR, self.COLOUR_FLOOR),
            "swing": r.uniform(-self.COLOUR_SWING, self.COLOUR_SWING),
            "octave": r.uniform(0.1, 0.35),
            "twelfth": r.uniform(0.02, 0.12),
            "cents": r.normal(0.0, self.DRIFT_CENTS),
            "vowel": math.log2(r.uniform(*self.VOWEL_HZ)),
            "glide": r.uniform(-self.VOWEL_GLIDE, self.VOWEL_GLIDE),
        }

    # -- breath phase ---------------------------------------------------------------
    @staticmethod
    def _shape(phase: float, ratio: float) -> float:
        """Swell 0..1: raised-cosine rise over [0, ratio), fall over [ratio, 1)."""
        if phase < ratio:
            return 0.5 - 0.5 * math.cos(math.pi * phase / ratio)
        return 0.5 + 0.5 * math.cos(math.pi * (phase - ratio) / (1.0 - ratio))

    def _locate(self, frame: int) -> tuple[float, float]:
        """Breath phase and inhale ratio at an output frame."""
        if isinstance(frame, bool) or not isinstance(frame, int | np.integer):
            raise ParameterError("frame", f"expected a whole number of frames, got {frame!r}")
        frame = int(frame)
        if self._history and frame >= self._history[0][0]:
            idx = min((frame - self._history[0][0]) // QUANTUM, len(self._history) - 1)
            f0, ph0, r0, r1, q0, q1 = self._history[idx]
        elif not self._history and frame >= 0:
            f0, ph0, r0, r1, q0, q1 = 0, 0.0, self._bps, self._bps, self._ratio, self._ratio
        else:
            oldest = self._history[0][0] if self._history else 0
            raise ParameterError(
                "frame", f"{frame} is before the kept history (from frame {oldest})"
            )
        t = (frame - f0) / self.sample_rate
        span = self._dt
        if t <= span:
            phase = ph0 + r0 * t + (r1 - r0) * t * t / (2 * span)
            ratio = q0 + (q1 - q0) * t / span
        else:  # beyond what has been rendered: continue at the latest rate
            phase = ph0 + (r0 + r1) / 2 * span + r1 * (t - span)
            ratio = q1
        return phase % 1.0, ratio

    def phase_at(self, frame: int) -> float:
        """Breath phase at an output frame.

        Parameters
        ----------
        frame : int
            Absolute output frame (0 = start of the session).

        Returns
        -------
        float
            Phase in ``[0, 1)``: 0 = start of an inhale, ``inhale_ratio`` = start of
            the exhale.

        Raises
        ------
        ParameterError
            If ``frame`` is older than the kept history (~2 minutes) or not a whole number.
        """
        return self._locate(frame)[0]

    def envelope_at(self, frame: int) -> float:
        """Swell at an output frame, 0 (bottom of the breath) to 1 (top); see :meth:`phase_at`."""
        phase, ratio = self._locate(frame)
        return self._shape(phase, ratio)

    @property
    def breath_phase(self) -> float:
        """Breath phase at the next frame to be computed (see :meth:`phase_at`)."""
        return self._phase

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        pitch = _glide(self._pitch, p["pitch_hz"], dt, 0.5, 0.25)
        if pitch != self._pitch:
            self._pitch = pitch
            self._bank.set_freq(0, pitch * self._bend * self._tone_ratio)
        r0, r1 = self._bps, p["breaths_per_min"] / 60.0
        q0 = self._ratio
        q1 = self._ratio = _approach(self._ratio, p["inhale_ratio"], dt, 1.5)
        m1 = self._mix = _approach(self._mix, p["tone_mix"], dt, 1.0)
        self._history.append((self.frame, self._phase, r0, r1, q0, q1))
        # The rate moves linearly across the quantum: integrate it (never recompute
        # the phase from time), then gains move linearly to the end-of-quantum swell.
        old = self._phase
        self._phase = (self._phase + (r0 + r1) / 2 * dt) % 1.0
        self._bps = r1
        if self._phase < old:  # a new breath: its own voicing, glided into
            self._target = self._draw_voicing()
        v = self._voicing
        for key, target in self._target.items():
            v[key] = _approach(v[key], target, dt, self._VOICING_TAU_S)
        shape = self._shape(self._phase, q1)
        env = math.sqrt(self._FLOOR + (1.0 - self._FLOOR) * v["depth"] * shape)
        if abs(v["cents"] - self._cents) >= self._BEND_STEP_CENTS:
            self._cents = v["cents"]
            self._bend = 2.0 ** (self._cents / 1200.0)
            self._bank.set_freq(0, self._pitch * self._bend * self._tone_ratio)
        level = np.array([1.0, v["octave"], v["twelfth"]])
        # constant-power balance between tone and noise
        tone = self._bank.render(level * (0.22 * math.sqrt(m1) * env))
        a0 = self._a
        a1 = self._a = max(-0.85, min(0.85, v["colour"] + v["swing"] * (shape - 0.5)))
        n0 = self._noise_amp
        n1 = env * 0.17 * math.sqrt(1.0 - m1) * math.sqrt(12.0 / (1.0 + a1 * a1))
        self._noise_amp = n1
        white = self._noise_rng.random((2, self._qn), dtype=np.float32)
        white -= 0.5
        # The breath's colour: y = w[n] + a w[n-1], a moving across the quantum.
        shifted = np.concatenate([self._w_prev, white[:, :-1]], axis=1)
        self._w_prev = white[:, -1:].copy()
        shifted *= a0 + (a1 - a0) * self._ramp_n
        white += shifted
        white *= n0 + (n1 - n0) * self._ramp_n
        sos = self._peak(2.0 ** (v["vowel"] + v["glide"] * (shape - 0.5)))
        self._vowel.set_sos(sos)
        # keep the noise's power: divide by the resonance's mean power gain in its band
        white *= self._band_power_gain(sos[0]) ** -0.5
        white = self._vowel.process_inplace(white.astype(np.float64)).astype(np.float32)
        noise = self._noise_ups.process(white)
        tone += noise.reshape(2, self._nsub, _SUB).transpose(1, 0, 2)
        return self._ups.process(tone)
