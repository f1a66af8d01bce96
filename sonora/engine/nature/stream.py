"""Forest stream: a babble of small bubbles over a soft bed, with gurgles of larger ones.

See :mod:`sonora.engine.nature._common` for the shared machinery.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import ClassVar

import numpy as np

from sonora.engine.base import QUANTUM, Param, Source, make_rng
from sonora.engine.nature._common import (
    _BANK_SEED,
    _SPAN,
    _TWO_PI,
    _Bank,
    _frozen,
    _Glide,
    _highpass_pow,
    _Layer,
    _lowpass_pow,
    _modal_events,
    _noise_bank,
    _pan_arrays,
    _QuantumRng,
    _remove_low,
    _stream_key,
    _Tails,
    _ValueNoise,
)

__all__ = ["Stream"]

#: Longest gurgle, seconds.
_GURGLE_MAX_S = 0.25


def _place_events(
    dst: np.ndarray,
    grains: np.ndarray,
    lens: np.ndarray,
    idx: np.ndarray,
    pos: np.ndarray,
    gains: np.ndarray,
) -> None:
    """Add grains into ``dst`` (overlap-add of many events).

    Parameters
    ----------
    dst : numpy.ndarray
        ``(channels, frames)``, modified in place; long enough for every grain.
    grains : numpy.ndarray
        ``(count, length)`` grain bank; grain ``k`` is used up to ``lens[k]`` frames.
    lens : numpy.ndarray
        int ``(count,)`` used length of each grain.
    idx, pos : numpy.ndarray
        int ``(events,)`` grain index and start frame of each event.
    gains : numpy.ndarray
        ``(channels, events)`` gain of each event in each channel.
    """
    lengths = lens.tolist()
    column = np.empty((dst.shape[0], 1))
    for k, p, g in zip(idx.tolist(), pos.tolist(), gains.T.tolist(), strict=True):
        ln = lengths[k]
        column[:, 0] = g
        dst[:, p : p + ln] += grains[k, :ln] * column


@lru_cache(maxsize=2)
def _stream_tables(sample_rate: int) -> np.ndarray:
    """Pre-rendered babble: (trickle, rush) × stereo, unit RMS.

    Bubble pitch rises along each table (from ~400–1200 Hz at the start to
    ~1000–3000 Hz at the end) so that a reading position selects the brightness.

    Returns
    -------
    numpy.ndarray
        float32 ``(2, 2, n + _SPAN)``, 16 s long: trickle and rush, independent.
    """
    sr = sample_rate
    rng = make_rng(_BANK_SEED, "stream", "babble")
    n = 2 * int(8.0 * sr)
    # Bubble grains: damped sines with a rising chirp (a bubble's pitch rises as it
    # nears the surface), 300 Hz – 3.4 kHz.
    count = 160
    f0s = 300.0 * 2.0 ** (np.arange(count) / (count - 1) * math.log2(3400.0 / 300.0))
    length = int(0.06 * sr)
    t = np.arange(length) / sr
    u = rng.random((count, 2))
    grains = np.zeros((count, length))
    lens = np.zeros(count, dtype=np.int64)
    for i, f0 in enumerate(f0s):
        f0 = min(f0, 0.38 * sr)
        tau = 0.008 * (1000.0 / f0) ** 0.7 * (0.75 + 0.5 * u[i, 0])
        tau = min(tau, 0.012)
        freq = f0 * (1.0 + (0.1 + 0.3 * u[i, 1]) * t / (3.0 * tau))
        phase = _TWO_PI * np.cumsum(freq) / sr
        env = (1.0 - np.exp(-t / 0.0006)) * np.exp(-t / tau)
        useful = min(length, int(6.0 * tau * sr))
        env[useful:] = 0.0
        nf = max(useful // 4, 8)
        env[useful - nf : useful] *= np.cos(np.linspace(0.0, 0.5 * np.pi, nf)) ** 2
        grains[i] = env * np.sin(phase)
        lens[i] = useful
    grains = _remove_low(grains, sr, 150.0)
    grains *= np.arange(length)[None, :] < lens[:, None]
    grains /= np.sqrt(np.sum(grains**2, axis=1, keepdims=True) / (0.004 * sr))

    # One layer at a time, written into the float32 table as soon as it is done, with
    # in-place arithmetic: the build's peak stays ~50 MB above the 12 MB table at
    # 48 kHz (it was ~105 MB with both layers and their temporaries in float64).
    f = np.fft.rfftfreq(n, 1.0 / sr)
    guard = _lowpass_pow(f, 0.42 * sr, 6)
    beds = []
    for lo, hi in ((250.0, 2000.0), (200.0, 6000.0)):
        pw = _highpass_pow(f, lo, 2) * _lowpass_pow(f, min(hi, 0.4 * sr), 2)
        beds.append(pw * (np.maximum(f, 20.0) / 1000.0) ** -0.5 * guard)
    del f, guard
    bed = _noise_bank(make_rng(_BANK_SEED, "stream", "bed"), n, sr, np.array(beds))
    del beds
    table = np.empty((2, 2, n + _SPAN), dtype=np.float32)
    lg0, lg1 = math.log2(400.0), math.log2(1000.0)
    span_oct = math.log2(1200.0 / 400.0)
    knee = 4.0  # round off the rare peaks where several loud bubbles coincide (> 4 x RMS)
    for layer, rate, bed_rel in ((0, 70.0, 0.25), (1, 320.0, 0.5)):
        buf = np.zeros((2, n + length), dtype=np.float64)
        m = rng.poisson(rate * n / sr)
        ev = rng.random((m, 4))
        pos = (ev[:, 0] * n).astype(np.int64)
        x = pos / n
        lo = lg0 + (lg1 - lg0) * x
        f0 = 2.0 ** (lo + span_oct * ev[:, 1])
        idx = np.clip(
            np.round(np.log2(f0 / 300.0) / math.log2(3400.0 / 300.0) * (count - 1)), 0, count - 1
        ).astype(np.int64)
        # Sizes: log-normal-ish amplitudes, smaller bubbles a little quieter.
        amp = 10.0 ** (-0.5 * ev[:, 2]) * (f0 / 1000.0) ** -0.25
        pan = ev[:, 3] * 2.0 - 1.0
        ang = (pan + 1.0) * 0.25 * np.pi
        gl, gr = amp * np.cos(ang), amp * np.sin(ang)
        _place_events(buf, grains, lens, idx, pos, np.stack([gl, gr]))
        # Wrap the overhang so the table is periodic, then add a soft noise bed.
        buf[:, :length] += buf[:, n:]
        out = buf[:, :n]
        out /= np.sqrt(np.mean(out**2))
        out += bed_rel * bed.tables[layer, :, :n]
        out /= np.sqrt(np.mean(out**2))
        out /= knee
        np.tanh(out, out=out)
        out *= knee
        out /= np.sqrt(np.mean(out**2))
        table[layer, :, :n] = out
        table[layer, :, n:] = out[:, :_SPAN]
        del buf, out
    return _frozen(table)


class Stream(Source):
    """A forest stream: a babble of small bubbles, gurgles of larger ones, a soft bed.

    The babble is many short resonant "bloops" (damped sines whose pitch rises, as a
    bubble's does near the surface) at 400–3000 Hz, pre-rendered at two densities —
    a trickle (~70 bubbles/s) and a rush (~320 bubbles/s plus a fuller bed) — and
    read back at random offsets (see :mod:`sonora.engine.nature._common`).  Over it,
    **gurgles**: larger bubbles synthesised one by one (a resonant partial at
    140–600 Hz whose pitch rises 10–60 %, decaying in 15–60 ms, with a weaker
    overtone), arriving in little runs of 1–5 as water tips over a stone, 1.5–6 runs
    a second as ``flow`` rises; their rate wanders with the water, with no period.
    ``flow`` crossfades trickle into rush and raises the level by 6 dB;
    ``brightness`` moves the babble's reading position along tables whose bubble
    pitch rises from ~400–1200 Hz to ~1000–3000 Hz, like smaller bubbles in faster,
    shallower water, and lifts the gurgles a little.  ``gurgle`` sets the gurgles'
    share of the power.

    (Output: RMS 0.09, peaks < 0.8; shared parameters: _common.finish_doc)
    flow : float
        0 (trickle) – 1 (rushing).
    brightness : float
        0 (deep, low bubbles) – 1 (high, bright bubbles).
    gurgle : float
        0 (babble only) – 1 (deep gurgles to the fore).
    """

    channels = 2
    FAMILY = "water"
    CALIBRATION_S = 20.0
    warmup_s: ClassVar[float] = 2.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "flow": Param(0.5, 0.0, 1.0, "", "trickle (0) to rushing (1)"),
        "brightness": Param(0.5, 0.0, 1.0, "", "low bubbles (0) to high bubbles (1)"),
        "gurgle": Param(0.4, 0.0, 1.0, "", "babble only (0) to deep gurgles to the fore (1)"),
    }

    _LEVEL = 0.13
    #: Fraction of the table that one brightness value draws its windows from.
    _WINDOW = 0.45

    def _setup(self) -> None:
        sr = self.sample_rate
        self._glide = _Glide(self.params, QUANTUM / sr)
        table = _stream_tables(sr)
        # Trickle and rush play from independent offsets, so their mixture never
        # repeats even where each alone might.
        self._layers = [_Layer(_Bank(table[k : k + 1], ((1.0,),))) for k in range(2)]
        self._rngs = _QuantumRng(_stream_key(self.seed, "stream", "quanta"))
        self._slow = _ValueNoise(_stream_key(self.seed, "stream", "slow"), (6.0, 11.0))
        self._tails = _Tails(int(_GURGLE_MAX_S * sr))
        self._e0 = 0.004 * sr
        self._env = 0.0  # decaying sum of recent gurgle peaks
        self._last = 0  # frame at which it was last updated

    def _gurgles(self, rng: np.random.Generator, runs: int, bright: float) -> tuple:
        """Start frames, grains (unit energy ``e0``) and stereo gains of some runs."""
        sr = self.sample_rate
        sizes = rng.integers(1, 6, runs)
        n = int(sizes.sum())
        run_start = rng.integers(0, QUANTUM, runs)
        run_pan = rng.random(runs) * 1.4 - 0.7
        # Bubbles in a run follow each other 15-70 ms apart, drifting in pitch.
        v = rng.random((n, 8))
        owner = np.repeat(np.arange(runs), sizes)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        gaps = (0.015 + 0.055 * v[:, 0]) * sr
        gaps[first] = 0.0
        offs = np.cumsum(gaps) - np.repeat(np.cumsum(gaps)[first], sizes)
        starts = np.minimum(run_start[owner] + offs.astype(np.int64), QUANTUM - 1)
        run_f = 140.0 * 2.0 ** (2.0 * rng.random(runs)) * bright
        f1 = run_f[owner] * 2.0 ** (0.5 * (v[:, 1] - 0.5))
        freqs = np.minimum(np.stack([f1, f1 * (2.3 + 0.6 * v[:, 2])], axis=1), 0.42 * sr)
        t1 = 0.015 + 0.045 * v[:, 3] * (300.0 / np.maximum(f1, 100.0)) ** 0.5
        t1 = np.minimum(t1, _GURGLE_MAX_S / 6.0)
        taus = np.stack([t1, 0.35 * t1], axis=1)
        w = np.stack([np.ones(n), 0.1 + 0.15 * v[:, 4]], axis=1)
        w /= w.sum(axis=1, keepdims=True)
        amps = np.sqrt(w * 4.0 * self._e0 / (taus * sr))
        glide = np.stack([0.1 + 0.5 * v[:, 5], 0.1 + 0.5 * v[:, 5]], axis=1)
        length = min(int(float(t1.max()) * 6.0 * sr) + 16, self._tails.acc.shape[1] - QUANTUM - 1)
        grains = _modal_events(
            sr,
            length,
            freqs,
            taus,
            amps,
            glide=glide,
            glide_tau_s=2.0 * taus,
            attack_s=0.0015,
            phases=v[:, 6:8] * _TWO_PI,
        )
        amp = 10.0 ** (-0.5 * v[:, 7])
        gains = _pan_arrays(run_pan[owner] + 0.2 * (v[:, 4] - 0.5)) * amp
        order = np.argsort(starts, kind="stable")
        return starts[order], grains[order], gains[:, order], n

    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        sr = self.sample_rate
        flow, brightness = p["flow"], p["brightness"]
        rng = self._rngs.at(self.frame // QUANTUM)
        u = rng.random(4).tolist()
        lo = brightness * (1.0 - self._WINDOW)
        t_mid = (self.frame + 0.5 * QUANTUM) / sr
        c_level, c_rate = self._slow.at(t_mid).tolist()
        wob = 0.8 * math.tanh(c_level)  # ±0.8 dB of natural unevenness
        g = self._LEVEL * 10.0 ** (((flow - 1.0) * 6.0 + wob) / 20.0)
        share = 0.35 * p["gurgle"]
        g_babble = g * math.sqrt(1.0 - share)
        a = 0.5 * math.pi * flow
        out: np.ndarray | None = None
        for layer, w, u_start, u_sign in (
            (self._layers[0], math.cos(a), u[0], u[1]),
            (self._layers[1], math.sin(a), u[2], u[3]),
        ):
            gain = g_babble * w if w > 1e-3 else 0.0
            y = layer.render([(0, 1.0)], (gain, gain), lo + u_start * self._WINDOW, u_sign)
            if y is not None:
                if out is None:
                    out = y
                else:
                    out += y
        if out is None:  # pragma: no cover - one layer always plays
            out = np.zeros((2, QUANTUM), dtype=np.float32)

        # Gurgles: runs of larger bubbles at a wandering rate.
        run_rate = (1.5 + 4.5 * flow) * (1.0 + 0.5 * math.tanh(c_rate))
        runs = int(rng.poisson(run_rate * QUANTUM / sr))
        if runs and share > 0.0:
            bright = 2.0 ** (0.8 * (brightness - 0.5))
            starts, grains, gains, _n = self._gurgles(rng, runs, bright)
            mean_rate = (1.5 + 4.5 * flow) * 3.0  # bubbles/s on average
            mean_a2 = 0.4  # E[10^(-u)], u ~ U(0, 1)
            scale = g * math.sqrt(share * sr / (mean_rate * mean_a2 * self._e0))
            # Peak guard: no gurgle's peak exceeds 0.3, and the decaying sum of recent
            # gurgle peaks (time constant 40 ms) stays under 0.4, so a run of bubbles
            # that happen to ring together cannot pile up into a spike.
            pk = (np.max(np.abs(grains), axis=1) * np.max(gains, axis=0)).tolist()
            a = np.zeros(len(pk))
            env, last = self._env, self._last
            tau = 0.04 * sr
            for i, (s0, pk_i) in enumerate(zip(starts.tolist(), pk, strict=True)):
                frame = self.frame + s0
                env *= math.exp((last - frame) / tau)
                last = frame
                ai = min(scale, 0.3 / max(pk_i, 1e-9), max(0.4 - env, 0.0) / max(pk_i, 1e-9))
                env += ai * pk_i
                a[i] = ai
            self._env, self._last = env, last
            gains = gains * a
            self._tails.add(starts, grains, gains)
        self._tails.take(out)
        return out
