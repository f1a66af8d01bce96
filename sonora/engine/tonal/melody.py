"""A soft generative melody (see :class:`Melody`)."""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar, NamedTuple

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
    _weighted_choice,
)
from sonora.errors import ParameterError

# ---------------------------------------------------------------------------------
# Melody
# ---------------------------------------------------------------------------------
#: Scales for :class:`Melody` ``mode``: index -> (name, semitones above the tonic).
MODES: tuple[tuple[str, tuple[int, ...]], ...] = (
    ("major pentatonic", (0, 2, 4, 7, 9)),
    ("minor pentatonic", (0, 3, 5, 7, 10)),
    ("dorian", (0, 2, 3, 5, 7, 9, 10)),
    ("lydian", (0, 2, 4, 6, 7, 9, 11)),
    ("mixolydian", (0, 2, 4, 5, 7, 9, 10)),
    ("aeolian", (0, 2, 3, 5, 7, 8, 10)),
    ("ionian", (0, 2, 4, 5, 7, 9, 11)),
    ("suspended pentatonic", (0, 2, 5, 7, 10)),
)


class NoteEvent(NamedTuple):
    """One note played by :class:`Melody` (kept in ``Melody.note_log``).

    Attributes
    ----------
    frame : int
        Absolute output frame of the onset (the attack then takes ~0.1-0.25 s to peak).
    freq_hz : float
        Fundamental frequency in Hz.
    semitone : int
        Semitones above (negative: below) the tonal centre at the time of the note.
    velocity : float
        0–1 after the no-startle cap (0 means the note was silent).
    """

    frame: int
    freq_hz: float
    semitone: int
    velocity: float


class Melody(_TonalSource):
    """A soft, slow generative melody that never loops, over a quiet tonic resonance.

    Timbre: a felt-mallet tone, sine plus up to three soft harmonics, each with a
    smooth attack (time constant 25–60 ms, peak after ~0.1–0.25 s) and a long
    exponential decay (0.7–8 s time constant; higher harmonics fade faster).  Notes
    come from the scale ``MODES[mode]`` around ``pitch_hz``.

    Phrase logic, all from the seed: phrases of 3–7 notes that move mostly by scale
    step and end on the tonic (sometimes the fifth), approached by step; rests between
    phrases.  Nothing lines up into a loop: the rhythm pattern has 11 values, the
    phrase-length pattern 7, the register drifts with a period of 29·√2 beats, and
    each of them is perturbed by seeded randomness (timing jitter, occasional
    lengths ±1, pitch choices).  The mean onset rate is exactly ``note_rate_hz`` over
    each phrase (including its rest); the beat clock integrates the rate, so
    automating it never jumps.

    Softness: under the notes sits a quiet sustained resonance of the tonic and its
    fifth (with the octave below for higher centres).  It keeps the recent loudness
    from collapsing between sparse notes, and every note's velocity is capped so that
    its predicted 400 ms loudness stays within 4.5 LU of the power mean of the previous
    10 s.  This is what makes the source satisfy the no-startle rule on its own at
    any note rate; the resonance is louder, relative to the notes, at slow rates.

    Parameters (``PARAMS``)
    -----------------------
    pitch_hz : float
        Tonal centre (tonic) in Hz, 110–880.
    mode : float
        Whole number, index into :data:`MODES`: 0 major pentatonic, 1 minor
        pentatonic, 2 dorian, 3 lydian, 4 mixolydian, 5 aeolian, 6 ionian,
        7 suspended pentatonic.  (Automation rounds to the nearest index.)
    note_rate_hz : float
        Mean notes per second, 0.05–1.5.
    brightness : float
        0–1: harmonic content and attack softness.
    register_spread : float
        0–1: pitch range from about a seventh (near the centre) to about two octaves.

    Attributes
    ----------
    note_log : collections.deque of NoteEvent
        The most recent 2048 notes, for visuals and tests.
    """

    FAMILY = "melody"
    CALIBRATION_S = 60.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "pitch_hz": Param(261.63, 110.0, 880.0, "Hz", "tonal centre (tonic)"),
        "mode": Param(
            0.0, 0.0, float(len(MODES) - 1), "", "scale index into MODES (0 = major pentatonic)"
        ),
        "note_rate_hz": Param(0.35, 0.05, 1.5, "Hz", "mean notes per second"),
        "brightness": Param(0.3, 0.0, 1.0, "", "harmonic content and attack softness"),
        "register_spread": Param(0.4, 0.0, 1.0, "", "pitch range around the centre"),
    }

    #: Relative inter-onset intervals inside phrases (11 values: prime).
    RHYTHM: ClassVar[tuple[float, ...]] = (
        1.0,
        0.75,
        1.25,
        1.0,
        1.5,
        0.75,
        1.0,
        1.25,
        0.5,
        1.0,
        2.0,
    )
    #: Phrase lengths in notes (7 values: prime, coprime with the rhythm cycle).
    PHRASES: ClassVar[tuple[int, ...]] = (4, 5, 3, 6, 5, 7, 4)
    #: Register drift period in beats (irrational: never aligns with the cycles above).
    REGISTER_PERIOD_BEATS: ClassVar[float] = 29.0 * math.sqrt(2.0)

    _T_GRID = np.arange(0.0, 1.2, 0.02)
    #: Depth of the bed voices' slow pitch wander, cents (RMS about half of it).
    BED_DRIFT_CENTS = 6.0
    _NOTE_LEVEL = 0.3  # fundamental peak amplitude at velocity 1
    _LOUDNESS_HEADROOM_LU = 4.5  # cap: predicted momentary <= mean(10 s) + this
    _KILL = 1e-4  # drop decaying partials below -80 dBFS
    _STEP_WEIGHTS: ClassVar[dict[int, float]] = {
        -3: 0.025, -2: 0.11, -1: 0.34, 0: 0.05, 1: 0.34, 2: 0.11, 3: 0.025,
    }  # fmt: skip

    @classmethod
    def validate_params(cls, params: Any, *, prefix: str = "") -> dict[str, float]:
        """Check parameters; ``mode`` must also be a whole number.

        Raises
        ------
        ParameterError
            Naming the field for an unknown name, a value out of range or a
            fractional ``mode``.
        """
        out = super().validate_params(params, prefix=prefix)
        if out["mode"] != int(out["mode"]):
            names = ", ".join(f"{i} = {name}" for i, (name, _) in enumerate(MODES))
            raise ParameterError(
                f"{prefix}.mode" if prefix else "mode",
                f"must be a whole number ({names}), got {out['mode']:g}",
            )
        return out

    def _setup(self) -> None:
        self._init_internal()
        self._rng_phrase = make_rng(self.seed, "melody", "phrase")
        self._rng_pitch = make_rng(self.seed, "melody", "pitch")
        self._rng_rhythm = make_rng(self.seed, "melody", "rhythm")
        self._rng_voice = make_rng(self.seed, "melody", "voice")
        bed_rng = make_rng(self.seed, "melody", "bed")
        self.note_log: deque[NoteEvent] = deque(maxlen=2048)

        # Bed: (ratio to tonic, relative level, which weight) x 2 detuned voices.
        bed = [(1.0, 1.0, 0), (1.5, 0.55, 0), (2.0, 0.12, 0), (0.5, 0.8, 1), (0.75, 0.4, 1)]
        ratios, levels, kinds, cents, pans = [], [], [], [], []
        for ratio, level, kind in bed:
            for side in (-1.0, 1.0):
                ratios.append(ratio)
                levels.append(level / math.sqrt(2))
                kinds.append(kind)
                cents.append(side * bed_rng.uniform(0.25, 0.6))
                pans.append(side)  # hard left/right: the twins never beat in loudness
        self._bed_ratio = np.array(ratios) * 2.0 ** (np.array(cents) / 1200)
        # Each bed tone wanders in pitch on its own (smooth random modulation, two
        # layers with knots 7.3 s and 19.1 s apart: nothing to count), so the sustained
        # resonance never settles into one self-repeating waveform.  The two twins of
        # a tone wander together: apart, they would beat in mono at up to 2 Hz.
        self._bed_tone = np.repeat(np.arange(len(bed)), 2)
        self._bed_slow = _ValueNoise(self.seed, ("melody", "bed-slow"), len(bed), 19.1)
        self._bed_fast = _ValueNoise(self.seed, ("melody", "bed-fast"), len(bed), 7.3)
        self._bed_cents = np.zeros(len(ratios))
        self._bed_level = np.array(levels)
        self._bed_kind = np.array(kinds)
        self._nb = len(ratios)
        self._pitch = self.params["pitch_hz"]
        self._rate_s = self.params["note_rate_hz"]
        self._bank = _Bank(self._rate, self._q, _SUB, capacity=64)
        self._bank.add(
            self._pitch * self._bed_ratio,
            np.ones(self._nb),
            bed_rng.uniform(0, _TWO_PI, size=self._nb),
            _pan_gains(np.array(pans)),
        )
        self._bank.gain[: self._nb] = 0.0  # fade in over the first quantum (de-click)
        self._bed_key: tuple[float, float] | None = None
        self._p_bed = 0.0

        # Loudness bookkeeping for the no-startle cap.
        n10 = math.ceil(10.0 / self._dt)
        self._pow_ring = np.zeros(n10)
        self._pow_count = 0
        self._recent: deque[tuple[int, float]] = deque()  # (frame, predicted power)
        self._k_ratio = 1.0

        # Phrase state.
        self._semi_mean = 0.0  # slow average of the notes' semitones (placement)
        self._side_energy = np.zeros(2)  # recent note energy left and right (placement)
        self._side_frame = 0
        self._beat = 0.0
        self._next_onset = min(1.0, 2.5 * self.params["note_rate_hz"])
        self._phrase_idx = 0
        self._rhythm_idx = int(self._rng_rhythm.integers(len(self.RHYTHM)))
        self._phrase_left = 0
        self._gaps: list[float] = []
        self._cur: int | None = None  # current scale step
        self._target = 0
        self._mode_now = round(self.params["mode"])
        self._reg_phase = float(self._rng_phrase.uniform(0, _TWO_PI))

    # -- scale helpers ------------------------------------------------------------
    @staticmethod
    def _semi(step: int, scale: tuple[int, ...]) -> int:
        n = len(scale)
        return 12 * (step // n) + scale[step % n]

    @staticmethod
    def _nearest_step(semi: float, scale: tuple[int, ...]) -> int:
        """Scale step nearest to ``semi`` semitones (the lower one on a tie)."""
        n = len(scale)
        octave = math.floor(semi / 12)
        r = semi - 12 * octave
        best = min(range(n + 1), key=lambda i: abs((scale[i] if i < n else 12) - r))
        return octave * n + best

    def _window(self, scale: tuple[int, ...], tonic: float) -> tuple[int, int]:
        spread = self.params["register_spread"]
        centre = 3.0 + 4.0 * spread * math.sin(
            _TWO_PI * self._beat / self.REGISTER_PERIOD_BEATS + self._reg_phase
        )
        half = 5.0 + 8.0 * spread
        lo_semi = max(centre - half, 12 * math.log2(70.0 / tonic))
        hi_semi = min(centre + half, 12 * math.log2(2000.0 / tonic))
        lo = self._nearest_step(lo_semi, scale)
        if self._semi(lo, scale) < lo_semi:
            lo += 1
        hi = self._nearest_step(hi_semi, scale)
        if self._semi(hi, scale) > hi_semi:
            hi -= 1
        return lo, max(hi, lo + 2)

    # -- phrase logic -------------------------------------------------------------
    def _start_phrase(self, scale: tuple[int, ...], lo: int, hi: int) -> None:
        rng = self._rng_phrase
        length = self.PHRASES[self._phrase_idx % len(self.PHRASES)]
        self._phrase_idx += 1
        if rng.random() < 0.35:
            length += 1 if rng.random() < 0.5 else -1
        length = min(7, max(3, length))
        iois = []
        for _ in range(length - 1):
            iois.append(
                self.RHYTHM[self._rhythm_idx % len(self.RHYTHM)]
                * self._rng_rhythm.uniform(0.9, 1.1)
            )
            self._rhythm_idx += 1
        rest = self._rng_rhythm.uniform(1.6, 3.4)
        scale_f = length / (sum(iois) + rest)  # mean exactly one note per beat
        self._gaps = [x * scale_f for x in [*iois, rest]]
        self._phrase_left = length
        n = len(scale)
        # first note: continue near the previous phrase's end, inside the window
        if self._cur is None:
            self._cur = self._nearest_step(0, scale) + int(self._rng_pitch.integers(0, 3))
        else:
            self._cur += _weighted_choice(
                self._rng_pitch, (-2, -1, 0, 1, 2), (0.15, 0.25, 0.2, 0.25, 0.15)
            )
        self._cur = min(hi, max(lo, self._cur))
        # target: the tonic nearest the middle of the phrase's reach (sometimes the fifth)
        fifth = scale.index(7)
        degree = fifth if rng.random() < 0.25 else 0
        cands = [k * n + degree for k in range(lo // n - 1, hi // n + 2)]
        cands = [t for t in cands if lo <= t <= hi] or [min(max(lo, 0), hi)]
        reach = 2 * (length - 1)
        good = [t for t in cands if abs(t - self._cur) <= reach] or cands
        good.sort(key=lambda t: abs(t - self._cur))
        self._target = good[0] if len(good) == 1 or rng.random() < 0.7 else good[1]

    def _next_step(self, lo: int, hi: int) -> int:
        """Choose the next scale step; the first note of a phrase is already set."""
        remaining = self._phrase_left - 1  # notes after this one
        cur = self._cur if self._cur is not None else 0
        if remaining == 0 and abs(self._target - cur) <= 3:
            return self._target
        cands, weights = [], []
        for step, w in self._STEP_WEIGHTS.items():
            new = cur + step
            if not lo <= new <= hi:
                continue
            dist = abs(self._target - new)
            if dist > 2 * remaining:
                continue
            if remaining <= 1 and dist < abs(self._target - cur):
                w *= 3.0
            cands.append(new)
            weights.append(w)
        if not cands:
            toward = int(np.sign(self._target - cur))
            return cur + toward * min(2, abs(self._target - cur))
        return _weighted_choice(self._rng_pitch, cands, weights)

    # -- loudness cap -------------------------------------------------------------
    def _note_power(
        self, amps: np.ndarray, freqs: np.ndarray, tau_d: np.ndarray, tau_a: float
    ) -> tuple[float, float]:
        """Predicted loudest 400 ms of a new note at unit velocity (K-weighted power).

        Returns ``(u, x)``: the note alone adds ``u·v²``; in the worst case it also
        adds ``x·v`` by adding in phase to partials already sounding at (nearly) the
        same frequencies (the resonance, or an earlier note on the same pitch).
        """
        t = self._T_GRID  # 0 .. 1.2 s in 20 ms steps; 400 ms = 20 steps
        env = np.exp(np.multiply.outer(-1.0 / tau_d, t)) * (1.0 - np.exp(t * (-1.0 / tau_a)))
        kp = _k_power(freqs) * 0.5
        c = np.cumsum((amps * amps * kp) @ (env * env))
        start = int(np.argmax(c[20:] - c[:-20]))
        u = float(c[start + 20] - c[start]) / 20
        others = self._bank.amplitude_near(freqs)
        # in-phase worst case, per channel: a·g_ch·b, summed over channels <= √2·a·b
        mean_env = env[:, start + 1 : start + 21].mean(axis=1)
        x = 2 * math.sqrt(2) * float((amps * others * kp) @ mean_env)
        return u, x

    def _context_power(self) -> float:
        if self._pow_count == 0:
            return self._p_bed
        return float(np.mean(self._pow_ring[: min(self._pow_count, self._pow_ring.size)]))

    def _fire(self, sub_idx: int, scale: tuple[int, ...], tonic: float, last_power: float) -> None:
        lo, hi = self._window(scale, tonic)
        if self._phrase_left == 0:
            self._start_phrase(scale, lo, hi)
            step = self._cur
        else:
            step = self._next_step(lo, hi)
        self._cur = step
        gap = self._gaps[len(self._gaps) - self._phrase_left]
        position = len(self._gaps) - self._phrase_left  # 0-based index in phrase
        self._phrase_left -= 1
        self._next_onset += gap

        rng = self._rng_voice
        semi = self._semi(step, scale)
        f0 = tonic * 2.0 ** (semi / 12)
        b = self.params["brightness"]
        rate = self.params["note_rate_hz"]
        h = np.arange(1, 5, dtype=np.float64)
        rel = np.array([1.0, 0.12 + 0.35 * b, 0.04 + 0.2 * b, 0.015 + 0.1 * b])
        freqs = f0 * h
        ok = freqs < self._fmax
        freqs, rel, h = freqs[ok], rel[ok], h[ok]
        tau1 = min(5.0, max(1.0, 2.6 * (262.0 / f0) ** 0.35)) * min(
            1.6, max(0.7, (0.5 / rate) ** 0.3)
        )
        tau_d = tau1 / h**1.3
        tau_a = 0.025 + 0.035 * (1.0 - b)  # attack time constant, s
        tp = tau_a * np.log((tau_a + tau_d) / tau_a)
        peak = np.exp(-tp / tau_d) * tau_d / (tau_a + tau_d)
        rel = rel / peak

        # velocity: gentle phrase contour, then the no-startle cap
        n_notes = len(self._gaps)
        contour = 0.9 if position == 0 else (0.82 if position == n_notes - 1 else 1.0)
        vel = contour * rng.uniform(0.8, 1.0)
        # Dense, long-ringing textures pile up: keep rate x ring time at about 1.2.
        level = self._NOTE_LEVEL * min(1.0, math.sqrt(1.2 / (rate * tau1)))
        u, x = self._note_power(level * rel, freqs, tau_d, tau_a)
        frame = self.frame + sub_idx * _SUB * self._d
        # `last_power` is the previous quantum's measured loudness; notes started in the
        # last 0.25 s may still be rising, so add their predicted peaks.
        while self._recent and self._recent[0][0] < frame - 0.25 * self.sample_rate:
            self._recent.popleft()
        now = last_power + sum(pw for _, pw in self._recent)
        room = max(10 ** (self._LOUDNESS_HEADROOM_LU / 10) * self._context_power() - now, 0.0)
        # largest v with u·v² + x·v <= room
        vel = min(vel, 2 * room / (x + math.sqrt(x * x + 4 * u * room)) if room > 0 else 0.0)
        if vel < 0.02:
            vel = 0.0
        self.note_log.append(NoteEvent(frame, float(f0), int(semi), float(vel)))
        if vel == 0.0:
            return
        self._recent.append((frame, vel * vel * u + vel * x))
        amp = level * vel * rel
        # Higher notes a little to the right of the melody's own register (a slow
        # average of where it has been), not of the tonic: melodies mostly climb above
        # the tonic, and placing by the tonic leaned night-melody +0.9 dB right.
        self._semi_mean += 0.1 * (semi - self._semi_mean)
        # Balanced over time: a note sounds on the side that has had less of the
        # melody's energy lately (a 2 min memory), as far from the centre as it strays
        # from the melody's own register.  Placing by register alone (higher right) plus
        # a free random nudge let a few loud notes lean a scene by 0.2-0.4 dB.
        fade = math.exp(-(frame - self._side_frame) / (120.0 * self.sample_rate))
        self._side_frame = frame
        self._side_energy *= fade
        quieter = 1.0 if self._side_energy[0] > self._side_energy[1] else -1.0
        depth = 0.35 * abs(math.tanh((semi - self._semi_mean) / 12.0)) + rng.uniform(0.05, 0.2)
        pan_pos = quieter * depth
        angle = (min(1.0, max(-1.0, pan_pos)) + 1.0) * (math.pi / 4)
        self._side_energy += float(amp @ (amp * tau_d)) * np.array(
            [math.cos(angle) ** 2, math.sin(angle) ** 2]
        )
        pan = np.empty((2 * len(freqs), 2))
        pan[:, 0] = math.cos(angle)
        pan[:, 1] = math.sin(angle)
        phase = rng.uniform(0, _TWO_PI, size=len(freqs))
        self._bank.add(
            np.concatenate([freqs, freqs]),
            np.concatenate([amp, -amp]),
            np.concatenate([phase, phase]),
            pan,
            decay_per_s=np.concatenate([1.0 / tau_d, 1.0 / tau_d + 1.0 / tau_a]),
            start_sub=sub_idx,
            loudness_weight=np.repeat([1.0, 0.0], len(freqs)),
        )

    def _quantum(self) -> np.ndarray:
        p, dt = self.params, self._dt
        mode = min(len(MODES) - 1, max(0, round(p["mode"])))
        scale = MODES[mode][1]
        if mode != self._mode_now and self._cur is not None:
            # keep the line where it is: re-express position and target in the new scale
            old = MODES[self._mode_now][1]
            self._cur = self._nearest_step(self._semi(self._cur, old), scale)
            self._target = self._nearest_step(self._semi(self._target, old), scale)
        self._mode_now = mode
        pitch = _glide(self._pitch, p["pitch_hz"], dt, 0.5, 0.25)
        t_s = self.frame / self.sample_rate
        wander = self._bed_slow.at(t_s) + 0.6 * self._bed_fast.at(t_s)
        cents = self.BED_DRIFT_CENTS * wander[self._bed_tone]
        if pitch != self._pitch or np.max(np.abs(cents - self._bed_cents)) > 0.3:
            self._pitch = pitch
            self._bed_cents = cents
            self._bank.set_freq(0, pitch * self._bed_ratio * 2.0 ** (cents / 1200))
        self._rate_s = rate_s = _approach(self._rate_s, p["note_rate_hz"], dt, 2.0)

        # Bed level: power = k(rate) x a nominal note's momentary power; the octave
        # below joins only when it is above ~100 Hz.  Recomputed only on change.
        bed_gain = None
        if self._bed_key != (rate_s, pitch):
            self._bed_key = (rate_s, pitch)
            k = 0.08 + 0.45 / (1.0 + (rate_s / 0.3) ** 1.5)
            self._p_bed = k * self._NOTE_LEVEL**2 / 2 * 0.85
            w_sub = min(1.0, max(0.0, (pitch / 2 - 90.0) / 60.0))
            weights = self._bed_level * np.where(self._bed_kind == 1, w_sub, 1.0)
            bed_gain = weights * math.sqrt(2 * self._p_bed / float(weights @ weights))

        if self._pow_count % 4 == 0:
            self._bank.remove_quiet(self._nb, self._KILL)
            self._k_ratio = self._bank.k_ratio()
        power_now = (
            self._pow_ring[(self._pow_count - 1) % self._pow_ring.size] if self._pow_count else 0.0
        )

        # Notes whose onset falls in this quantum start on the sub-block grid.
        rate = p["note_rate_hz"]
        beats_per_sub = rate * _SUB / self._rate
        while True:
            ahead = self._next_onset - self._beat
            j = 0 if ahead <= 0 else math.ceil(ahead / beats_per_sub - 1e-9)
            if j >= self._nsub:
                break
            self._fire(j, scale, pitch, power_now)
        self._beat += rate * self._q / self._rate
        low = self._bank.render(bed_gain)
        # Loudness history for the cap: measured power x K-weighting of the spectrum.
        self._pow_ring[self._pow_count % self._pow_ring.size] = (
            float(np.vdot(low, low)) / self._q * self._k_ratio
        )
        self._pow_count += 1
        return self._ups.process(low)
