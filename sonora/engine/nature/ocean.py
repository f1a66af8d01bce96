"""Ocean waves: each wave its own size and timing, with a crash and a backwash hiss.

See :mod:`sonora.engine.nature._common` for the shared machinery.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import ClassVar, NamedTuple

import numpy as np

from sonora.engine.base import QUANTUM, Param, Source, make_rng
from sonora.engine.nature._common import (
    _BANK_SEED,
    _Bank,
    _Glide,
    _hash_uniform,
    _highpass_pow,
    _interp_weights,
    _Layer,
    _lowpass_pow,
    _noise_bank,
    _pan_gains,
    _QuantumRng,
    _scatter_events,
    _smoothstep,
    _stream_key,
    _table_frames,
    _Tails,
    _ticks,
)

__all__ = ["OceanWaves"]

#: Body classes: low-pass cutoffs 2/3 octave apart from 150 Hz.
_WAVE_CUTOFFS = tuple(150.0 * 2.0 ** (k * 2.0 / 3.0) for k in range(8))
#: Longest spray/fizz tick, seconds.
_TICK_S = 0.012


@lru_cache(maxsize=2)
def _wave_tables(sample_rate: int) -> tuple[_Bank, _Bank]:
    """Body bank (low-passed surf at rising cutoffs) and foam bank (crash and hiss).

    Returns
    -------
    body : _Bank
        ``(8, 2, n + _SPAN)``; class ``k`` is low-passed at ``_WAVE_CUTOFFS[k]``.
    foam : _Bank
        ``(3, 2, n + _SPAN)``: a far roar (300 Hz–2.5 kHz), a near crash
        (500 Hz–7 kHz) and the backwash hiss (1.8–10 kHz).
    """
    sr = sample_rate
    n = _table_frames(sr)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    guard = _lowpass_pow(f, 0.42 * sr, 6)
    base = _highpass_pow(f, 40.0, 2) * (np.maximum(f, 20.0) / 100.0) ** -1.1
    hissfloor = _highpass_pow(f, 800.0, 1) * (np.maximum(f, 20.0) / 1000.0) ** -0.5
    body = []
    for fc in _WAVE_CUTOFFS:
        pw = base * _lowpass_pow(f, min(fc, 0.4 * sr), 2)
        pw = pw / pw.mean() + 0.002 * hissfloor / hissfloor.mean()
        body.append(pw * guard)
    # Exact per-bin power (random phase): the Gaussian table of the same seed was 0.1-0.27
    # dB louder on the right in every class, which leaned ocean-at-night right at every
    # seed (+0.08 to +0.50 dB; wind had the same fault, see docs/sound.md round 3).
    body_bank = _noise_bank(
        make_rng(_BANK_SEED, "waves", "body"), n, sr, np.array(body), exact_power=True
    )
    foam = []
    for lo, hi, tilt in ((300.0, 2500.0, -0.6), (500.0, 7000.0, -0.5), (1800.0, 10000.0, -0.3)):
        pw = _highpass_pow(f, lo, 2) * _lowpass_pow(f, min(hi, 0.38 * sr), 2)
        pw *= (np.maximum(f, 20.0) / 1000.0) ** tilt * guard
        foam.append(pw)
    foam_bank = _noise_bank(
        make_rng(_BANK_SEED, "waves", "foam"), n, sr, np.array(foam), exact_power=True
    )
    return body_bank, foam_bank


class _Wave(NamedTuple):
    """One wave: where it starts and everything that makes it unlike the others."""

    start: float  # frames
    length: float  # frames
    size: float  # 0.35-1
    crest: float  # phase of the crest (0-1)
    shape: float  # exponent of the receding wash
    crash: float  # 0-1: how hard it breaks
    crash_s: float  # decay time constant of the crash, s
    wash_s: float  # decay time constant of the backwash, s
    pan: float
    colour: float  # -1..1: this wave's own tilt, darker or brighter


class OceanWaves(Source):
    """Ocean waves: irregular swells that build, crash and wash back.

    Every wave is drawn on its own: its period is ``swell_s`` × a random factor
    (0.55–1.7, log-normal around 1), its size comes in loose *sets* (a slow random
    swell of the swell, so several larger waves may follow each other) with its own
    scatter, and it has its own crest point, stereo position, crash and backwash.

    * **the surf**: low-passed noise whose level and cutoff rise to the crest and
      fall in the wash (cutoff 150–380 Hz in the trough, set by ``brightness``, up to
      0.5–3 kHz at the crest of a full wave, set by ``intensity``);
    * **the crash**: as the wave breaks, a roar of broadband foam (and a spray of
      thousands of tiny droplet ticks) swells in over ~0.3 s and dies away over
      0.6–1.8 s; bigger waves break harder, small ones barely spill;
    * **the backwash**: a bright, fizzing hiss (noise at 1.8–10 kHz and tiny bubble
      ticks) that follows the crash and recedes over 2–5 s while its image drifts
      back across the stereo field.

    ``distance`` moves the listener from the water's edge (0: a bright crash, a
    loud backwash) up the beach (1: crash and backwash darker and further under the
    surf, swells shallower).  A floor of distant surf keeps the trough from going
    silent: crest-to-trough is 3.5–6.5 dB in power (less for long swells and from
    far away), and the crash and backwash take their share of a wave's power rather
    than adding to it, so no crest can startle.

    (Output: RMS 0.08, peaks < 0.8; shared parameters: _common.finish_doc)
    swell_s : float
        Mean wave period in seconds (4–16).
    intensity : float
        0 (gentle lapping) – 1 (full surf): depth of the swell, crest cutoff, crash.
    brightness : float
        0 (muffled) – 1 (airy): trough cutoff and foam colour.
    distance : float
        0 (at the water's edge) – 1 (up the beach).
    """

    channels = 2
    FAMILY = "water"
    CALIBRATION_S = 60.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "swell_s": Param(9.0, 4.0, 16.0, "s", "mean wave period"),
        "intensity": Param(0.5, 0.0, 1.0, "", "gentle lapping (0) to full surf (1)"),
        "brightness": Param(0.5, 0.0, 1.0, "", "muffled (0) to airy (1)"),
        "distance": Param(0.3, 0.0, 1.0, "", "at the water's edge (0) to up the beach (1)"),
    }
    #: The wave schedule is fast-forwarded in _seek; what remains is the crossfade and
    #: glides, and the wave in progress (drawn from its own index): 2 s suffices.
    warmup_s: ClassVar[float] = 2.0
    #: Share of the side lean (right minus left wave energy) kept from one wave to the next.
    LEAN_MEMORY: ClassVar[float] = 0.8

    _LEVEL = 0.15

    def _setup(self) -> None:
        sr = self.sample_rate
        self._glide = _Glide(self.params, QUANTUM / sr)
        body, foam = _wave_tables(sr)
        self._body = _Layer(body)
        self._foam = _Layer(foam)
        self._wash = _Layer(foam)
        self._n_body = body.tables.shape[0]
        self._rngs = _QuantumRng(_stream_key(self.seed, "waves", "quanta"))
        self._wave_key = _stream_key(self.seed, "waves", "swell")
        self._tails = _Tails(int(_TICK_S * sr))
        # Start part-way through the first wave so the session does not open on a trough.
        u = float(_hash_uniform(self._wave_key, np.array([2**40]))[0])
        self._lean = 0.0  # recent right-minus-left energy of the waves drawn so far
        self._lean_index = -1  # last wave whose energy is in it
        first = self._draw_wave(0, 0.0)
        self._lean, self._lean_index = 0.0, -1  # `first` only gave the length
        self._index = 0
        self._wave = self._draw_wave(0, -u * 0.4 * first.length)

    def _draw_wave(self, index: int, start: float) -> _Wave:
        """Wave ``index`` starting at frame ``start`` (its randomness is its own)."""
        swell = self._glide.values["swell_s"]
        u = _hash_uniform(self._wave_key, np.arange(index * 16, index * 16 + 12)).tolist()
        z = math.sqrt(-2.0 * math.log(max(u[0], 1e-12))) * math.cos(2.0 * math.pi * u[1])
        factor = min(max(math.exp(0.33 * z), 0.55), 1.7)
        length = max(factor * swell, 3.0) * self.sample_rate
        # Sets: a slow random factor over wave indices (knots every 5 waves).
        k, fr = divmod(index / 5.0, 1.0)
        knots = _hash_uniform(self._wave_key ^ 0x5E75, np.array([int(k), int(k) + 1]) + 2**41)
        s = _smoothstep(fr)
        set_level = float(knots[0] * (1.0 - s) + knots[1] * s)
        size = min(max(0.35 + 0.4 * set_level + 0.3 * u[2], 0.35), 1.0)
        crash = min(1.0, size**1.5 * (0.55 + 0.45 * u[3]))
        # Golden-ratio steps give each wave a distance from the centre that looks
        # random and evens out within a few waves; the side is the one the recent waves
        # (weighted by size² × length, fading by LEAN_MEMORY per wave) left quieter,
        # so a run of large waves on one side cannot tilt a session (0.47 dB at seed 1
        # with golden-ratio sides alone).  Waves are always drawn in order (a seek
        # replays the schedule), so the lean is the same whatever was played.
        pan = 0.6 * (2.0 * ((index * 0.6180339887 + u[8] * 0.2) % 1.0) - 1.0)
        if self._lean != 0.0:
            pan = -math.copysign(abs(pan), self._lean)
        if index > self._lean_index and index > 0:  # wave 0 starts part-way, in the fade-in
            gl, gr = _pan_gains(pan)
            self._lean = self.LEAN_MEMORY * self._lean + size**2 * factor * (gr**2 - gl**2)
            self._lean_index = index
        return _Wave(
            start=start,
            length=length,
            size=size,
            crest=0.32 + 0.24 * u[4],
            shape=0.7 + 0.6 * u[5],
            crash=crash,
            crash_s=0.6 + 1.2 * u[6] * size,
            wash_s=2.0 + 3.0 * u[7],
            colour=2.0 * u[9] - 1.0,
            pan=pan,
        )

    def _seek(self, frame: int) -> None:
        # Draw wave lengths (cheap) until the wave that holds `frame`.
        while self._wave.start + self._wave.length <= frame:
            self._index += 1
            self._wave = self._draw_wave(self._index, self._wave.start + self._wave.length)

    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        sr = self.sample_rate
        intensity, brightness, distance = p["intensity"], p["brightness"], p["distance"]
        t = self.frame + 0.5 * QUANTUM
        while t >= self._wave.start + self._wave.length:
            self._index += 1
            self._wave = self._draw_wave(self._index, self._wave.start + self._wave.length)
        w = self._wave
        phase = (t - w.start) / w.length
        if phase < w.crest:
            bump = _smoothstep(phase / w.crest)
        else:
            s = (phase - w.crest) / (1.0 - w.crest)
            bump = (0.5 + 0.5 * math.cos(math.pi * s)) ** w.shape
        since_s = (phase - w.crest) * w.length / sr  # seconds since the crest
        # The crash swells in over ~0.3 s just before the crest and dies away; the
        # backwash follows it and recedes slowly.
        crash_env = _smoothstep((since_s + 0.3) / 0.35) * math.exp(-max(since_s, 0.0) / w.crash_s)
        wash_env = _smoothstep((since_s - 0.2) / 1.2) * math.exp(
            -max(since_s - 1.0, 0.0) / w.wash_s
        )
        # The previous wave's backwash may still be receding at the start of this one.
        near = 1.0 - distance

        # Power of the whole wave relative to a full crest.  Waves longer than ~10 s
        # leave a whole loudness window in the trough: make them shallower so a crest
        # never stands out of the last 10 s by 6 LU; far away, the swell is smoother.
        depth_db = (
            (3.5 + 3.0 * intensity)
            * min(1.0, math.sqrt(10.0 / p["swell_s"]))
            * (1.0 - 0.35 * distance)
        )
        floor_pow = 10.0 ** (-depth_db / 10.0)
        wave_pow = floor_pow + (1.0 - floor_pow) * w.size * bump
        # Crash and backwash take a share of it: a crest is no louder for breaking,
        # only brighter and rougher.
        crash_share = (0.15 + 0.25 * intensity) * (0.45 + 0.55 * near) * w.crash * crash_env
        wash_share = (0.06 + 0.1 * intensity) * (0.35 + 0.65 * near) * w.size * wash_env
        level = self._LEVEL * 10.0 ** ((intensity - 1.0) * 5.0 / 20.0)
        x = (
            2.0 * brightness * (1.0 - 0.3 * distance)
            + (2.5 + 2.0 * intensity) * (w.size * bump**0.8) * (1.0 - 0.4 * distance)
            + 0.8 * w.colour * bump
        )
        body_gain = (
            level * math.sqrt(wave_pow * (1.0 - crash_share - wash_share)) * 10.0 ** (-0.005 * x)
        )
        rng = self._rngs.at(self.frame // QUANTUM)
        u = rng.random(6)
        bl, br = _pan_gains(0.3 * w.pan)
        out = self._body.render(
            _interp_weights(x, self._n_body), (body_gain * bl, body_gain * br), u[0], u[1]
        )
        if out is None:  # pragma: no cover - the body's gain is never zero
            out = np.zeros((2, QUANTUM), dtype=np.float32)
        # Crash colour: far roar (class 0) to near crash (class 1), by distance and
        # brightness.
        crash_gain = level * math.sqrt(wave_pow * crash_share)
        cl, cr = _pan_gains(w.pan)
        y = self._foam.render(
            _interp_weights(
                min(1.0, max(near * (0.5 + 0.7 * brightness) + 0.3 * w.colour, 0.0)), 3
            ),
            (crash_gain * cl, crash_gain * cr),
            u[2],
            u[3],
        )
        if y is not None:
            out += y
        # Backwash: hiss (class 1-2) drifting back from the wave's side to the other.
        wash_gain = level * math.sqrt(wave_pow * wash_share)
        drift = min(max(since_s / (2.0 * w.wash_s), 0.0), 1.0)
        wl, wr = _pan_gains(w.pan * (1.0 - 1.6 * drift))
        y = self._wash.render(
            _interp_weights(1.0 + near * (0.4 + 0.6 * brightness), 3),
            (wash_gain * wl, wash_gain * wr),
            u[4],
            u[5],
        )
        if y is not None:
            out += y
        # Spray in the crash and fizz in the backwash: tiny ticks, as many as the
        # envelopes call for, darker from further away.
        spray = 700.0 * w.crash * crash_env * near
        fizz = 350.0 * w.size * wash_env * near
        n_spray = int(rng.poisson(spray * QUANTUM / sr)) if spray > 1.0 else 0
        n_fizz = int(rng.poisson(fizz * QUANTUM / sr)) if fizz > 1.0 else 0
        length = self._tails.acc.shape[1] - QUANTUM - 1
        tick_level = level * math.sqrt(wave_pow * sr / (0.3393 * 0.004 * sr))
        dark = 2.0 ** (-1.2 * distance + 0.6 * (brightness - 0.5))
        for n, rate, share, low, pan, spread in (
            (n_spray, spray, 0.25 * crash_share, 700.0, w.pan, 0.5),
            (n_fizz, fizz, 0.35 * wash_share, 1800.0, w.pan * (1.0 - 1.6 * drift), 0.4),
        ):
            if n == 0:
                continue
            grains = _ticks(
                rng, n, sr, length, low_hz=low * dark, octaves=2.0, tau_s=(0.0006, 0.0025)
            )
            a = tick_level * math.sqrt(share / rate)
            _scatter_events(self._tails, rng, grains, amp=a, pan=pan, spread=spread)
        self._tails.take(out)
        return out
