"""The drone: a slowly breathing pad (see :class:`Drone`)."""

from __future__ import annotations

import math
from typing import ClassVar

import numpy as np

from sonora.engine.base import Param, make_rng
from sonora.engine.tonal.bank import _Bank, _TonalSource
from sonora.engine.tonal.common import (
    _SUB,
    _TWO_PI,
    _approach,
    _glide,
    _k_power,
    _pan_gains,
    _ValueNoise,
)


# ---------------------------------------------------------------------------------
# Drone
# ---------------------------------------------------------------------------------
class Drone(_TonalSource):
    """A slowly breathing pad: root, fifth and octave, each as two detuned voices.

    Each voice has a rich harmonic series (harmonic ``h`` at ``h**-0.9``, up to 12 for
    the root) with a fixed formant around 650 Hz (:data:`FORMANT_DB`), so that the chord
    carries on small speakers, where nothing below ~300 Hz is heard; the whole pad goes
    through a 12 dB/octave low-pass that levels off into a shelf at -10.5 dB
    (:data:`SHELF`) and whose cutoff drifts over tens of seconds, the level breathes gently and each voice drifts a little in
    pitch on its own (the twins of a chord tone drift in level together).  All of this movement is smooth *random* modulation
    (:class:`_ValueNoise`, knots 5–25 s apart, faster with ``movement``), not sine LFOs,
    so it never settles into a period a listener could count.  The two voices of a chord
    tone are detuned by ``±detune_cents`` (each scaled by a seeded 0.75–1) and placed
    left and right: over speakers they beat gently, on headphones they turn slowly in
    space.  The twins share their starting phases, so both channels carry the same
    power (within ~0.2 dB).  Loudness changes caused by the filter are mostly
    compensated (60 % in dB, K-weighted) so brightness moves the timbre more than the
    level, and the cutoff never sinks below the root.

    Parameters (``PARAMS``)
    -----------------------
    pitch_hz : float
        Root in Hz, 40–400 (glides, at most 1 octave per 4 s, when automated).
    brightness : float
        0–1: low-pass cutoff from ~2.5× to ~16× the root.
    detune_cents : float
        0–30: detune of each voice from its chord tone (the twins are twice that apart).
    movement : float
        0–1: speed and depth of the slow filter drift, breathing and voice drift.

    Notes
    -----
    Output is float32 ``(2, frames)``, RMS about 0.15 per channel at the defaults.
    ``warmup_s`` = 0: the modulation is a function of time; only the partials' phases
    carry history, and they are inaudible after a seek.
    """

    FAMILY = "drone"
    CALIBRATION_S = 30.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(
            110.0, 40.0, 400.0, "Hz", "root pitch of the chord (root, fifth, octave)"
        ),
        "brightness": Param(0.4, 0.0, 1.0, "", "low-pass cutoff range: 0 dark … 1 open"),
        "detune_cents": Param(8.0, 0.0, 30.0, "cents", "detune of the voices of each chord tone"),
        "movement": Param(
            0.4, 0.0, 1.0, "", "speed and depth of the slow filter, level and voice drift"
        ),
    }

    #: (frequency ratio to the root, number of harmonics, level) of each chord tone.
    TONES: ClassVar[tuple[tuple[float, int, float], ...]] = (
        (1.0, 12, 1.0),
        (1.5, 8, 0.6),
        (2.0, 6, 0.45),
    )
    _RMS = 0.15  # target RMS per channel at the reference power
    #: Level of the low-pass's upper shelf (amplitude): harmonics above the cutoff keep
    #: this share (-10.5 dB) instead of falling 12 dB/octave for ever.
    SHELF: ClassVar[float] = 0.3
    #: A fixed formant, as a pipe's or a voice's body has: harmonics near
    #: ``FORMANT_HZ`` are raised by up to ``FORMANT_DB`` (a Gaussian in octaves,
    #: standard deviation ``FORMANT_OCT``), whatever the root.  A phone speaker plays
    #: nothing below ~300 Hz; these harmonics are what it plays, and the ear hears
    #: the root from them.  Drone alone through the phone model of
    #: ``benchmarks/sound.py`` (K-weighted, re full band): 73 Hz -9.9 → -5.0 dB,
    #: 65 Hz -13.6 → -7.3 dB; still nothing above 2 kHz.
    FORMANT_HZ: ClassVar[float] = 650.0
    FORMANT_OCT: ClassVar[float] = 0.6
    FORMANT_DB: ClassVar[float] = 10.0
    #: The voices follow their pitch drift in steps of at least this (cents).
    DRIFT_STEP_CENTS: ClassVar[float] = 1.0
    warmup_s = 0.0

    def _setup(self) -> None:
        self._init_internal()
        rng = make_rng(self.seed, "drone", "voices")
        ratio, level, voice, cents_unit, pan_pos, phase = [], [], [], [], [], []
        # One detune per ear, shared by all chord tones: harmonics that coincide in a
        # channel (root h2 = octave h1, root h3 = fifth h2) then never beat.
        flat_side = 1.0 if rng.random() < 0.5 else -1.0  # which ear gets the flat twins
        ear_detune = {flat_side: -rng.uniform(0.75, 1.0), -flat_side: rng.uniform(0.75, 1.0)}
        v = 0
        for tone_ratio, n_harm, tone_level in self.TONES:
            # The twins start in the same phase, so partials that coincide within one
            # ear (root h2 and octave h1, ...) add up alike in both: L/R balanced.
            tone_phase = rng.uniform(0, _TWO_PI, n_harm)
            for side in (-1.0, 1.0):
                detune = ear_detune[side]
                for h in range(1, n_harm + 1):
                    ratio.append(tone_ratio * h)
                    level.append(tone_level * h**-0.9)
                    voice.append(v)
                    cents_unit.append(detune)
                    pan_pos.append(side)
                    phase.append(tone_phase[h - 1])
                v += 1
        self._ratio = np.array(ratio)
        self._cents_unit = np.array(cents_unit)
        self._level = np.array(level)
        self._voice = np.array(voice)
        n = len(ratio)
        self._n = n
        self._pitch = self.params["pitch_hz"]
        self._detune = self.params["detune_cents"]
        self._bright = self.params["brightness"]
        self._move = self.params["movement"]
        self._cents_drift = np.zeros(n)
        self._bank = _Bank(self._rate, self._q, _SUB, capacity=n)
        self._bank.add(self._freqs(), np.ones(n), np.array(phase), _pan_gains(np.array(pan_pos)))
        self._bank.gain[:n] = 0.0  # fade in over the first quantum (de-click)
        self._retune(glide=False)
        # Smooth random modulation: [0] filter drift, [1] breathing, then one level
        # drift and one pitch drift per voice; a slow and a fast layer of each.
        self._voice_of = self._voice
        self._slow = _ValueNoise(self.seed, ("drone", "slow"), 2 + 2 * v, 23.0)
        self._fast = _ValueNoise(self.seed, ("drone", "fast"), 2 + 2 * v, 6.5)
        self._n_voices = v
        # Reference: brightness 0.4 at 110 Hz, no modulation.
        ref_freqs = self._ratio * 110.0
        ref_amp = self._level * self._formant(ref_freqs)
        ref_amp *= self._filter(ref_freqs, 110.0 * 2**2.33)
        self._p_ref = float((ref_amp**2) @ _k_power(ref_freqs)) / 2  # K-weighted
        # Each partial sits in one channel: per-channel power = sum(amp²)/4.
        self._scale = self._RMS * math.sqrt(4.0 / float(ref_amp @ ref_amp))

    def _freqs(self) -> np.ndarray:
        cents = self._cents_unit * self._detune + self._cents_drift
        return self._pitch * self._ratio * 2.0 ** (cents / 1200.0)

    def _retune(self, *, glide: bool = True) -> None:
        freqs = self._freqs()
        self._bank.set_freq(0, freqs, glide=glide)
        self._f4 = freqs**4
        self._lvl = self._level * (freqs < self._fmax) * self._formant(freqs)
        self._kpow = _k_power(freqs)

    @classmethod
    def _formant(cls, freqs: np.ndarray) -> np.ndarray:
        """Amplitude gain of the fixed formant (see :data:`FORMANT_DB`) at ``freqs`` (Hz)."""
        octaves = np.log2(np.maximum(freqs, 1.0) / cls.FORMANT_HZ) / cls.FORMANT_OCT
        return 10.0 ** (cls.FORMANT_DB / 20.0 * np.exp(-0.5 * octaves * octaves))

    @classmethod
    def _filter(cls, freqs: np.ndarray, cutoff_hz: float) -> np.ndarray:
        """Magnitude at ``freqs`` (Hz) of the 2nd-order low-pass that levels off into a
        shelf at :data:`SHELF` far above ``cutoff_hz``: ``√((1 + S² x) / (1 + x))``
        with ``x = (f / cutoff)⁴`` (a Butterworth low-pass when ``S = 0``)."""
        x = (freqs * (1.0 / cutoff_hz)) ** 4
        return np.sqrt((1.0 + cls.SHELF**2 * x) / (1.0 + x))

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        pitch = _glide(self._pitch, p["pitch_hz"], dt, 0.5, 0.25)
        detune = _approach(self._detune, p["detune_cents"], dt, 0.5)
        if pitch != self._pitch or detune != self._detune:
            self._pitch, self._detune = pitch, detune
            self._retune()
        self._bright = b = _approach(self._bright, p["brightness"], dt, 1.0)
        self._move = m = _approach(self._move, p["movement"], dt, 1.0)

        # Smooth random modulation, a function of time (see _ValueNoise): a slow layer
        # always, a faster one mixed in with `movement`.
        t = self.frame / self.sample_rate
        mod = self._slow.at(t) + (0.3 + 0.9 * m) * self._fast.at(t)
        sweep = mod[0]
        octaves = 1.3 + 2.7 * b + (0.25 + 0.8 * m) * sweep
        octaves = 0.5 * (octaves + math.sqrt(octaves * octaves + 0.09))  # soft floor at the root
        cutoff = pitch * 2.0**octaves
        breath = 1.0 + (0.05 + 0.08 * m) * mod[1]
        nv = self._n_voices
        drift = mod[2 : 2 + nv][self._voice_of // 2]  # level: shared by the twins (L = R)
        drift *= 0.05 + 0.12 * m
        drift += 1.0
        # Each voice wanders in pitch by a few cents (more with movement): the chord
        # never locks into a repeating waveform.  Retuned, gliding across a quantum,
        # once a voice has moved DRIFT_STEP_CENTS: a gliding quantum costs ~10x one
        # rendered from the tables, and 1-cent steps (far below the ~5 cents an ear
        # tells apart) retune about half as often as the 0.6-cent steps of round 7.
        cents = (2.0 + 4.0 * m) * mod[2 + nv :][self._voice_of]
        if np.max(np.abs(cents - self._cents_drift)) > self.DRIFT_STEP_CENTS:
            self._cents_drift = cents
            self._retune()
        x = self._f4 * cutoff**-4
        amp = x * self.SHELF**2
        amp += 1.0
        x += 1.0
        amp /= x
        amp **= 0.5
        amp *= self._lvl
        amp *= drift
        power = float((amp * amp) @ self._kpow) / 2
        # Compensate 60 % (in dB) of the loudness changes caused by the filter.
        amp *= breath * (self._p_ref / max(power, 1e-12)) ** 0.3 * self._scale
        return self._ups.process(self._bank.render(amp))
