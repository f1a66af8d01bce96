"""Wind: a wandering band of air with gusts, a whistle that rises with them, and leaves.

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
    _FADE_IN,
    _FADE_OUT,
    _SPAN,
    _XFADE,
    _Bank,
    _Glide,
    _highpass_pow,
    _interp_weights,
    _Layer,
    _lowpass_pow,
    _noise_bank,
    _pan_gains,
    _QuantumRng,
    _scatter_events,
    _stream_key,
    _table_frames,
    _Tails,
    _ticks,
    _ValueNoise,
)

__all__ = ["Wind"]

_WIND_LOW_HZ = 60.0
_WIND_STEP_OCT = 2.0 / 3.0
_WIND_CLASSES = 11  # 60 Hz ... 6.1 kHz
#: Bandwidth of the whistle's slowly varying complex envelope, Hz.
_WHISTLE_BW_HZ = 14.0


@lru_cache(maxsize=2)
def _wind_tables(sample_rate: int) -> tuple[_Bank, np.ndarray]:
    """Band-pass bank and the whistle's complex envelope table.

    Returns
    -------
    bank : _Bank
        ``(11, 2, n + _SPAN)``: class ``k`` centred at 60 Hz × 2^(2k/3), σ = 0.33
        octave, unit RMS, all from the same noise.
    whistle : numpy.ndarray
        complex64 ``(n + _SPAN,)``: Gaussian low-pass noise (bandwidth
        ``_WHISTLE_BW_HZ``), unit mean power, periodic.
    """
    sr = sample_rate
    n = _table_frames(sr)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    lf = np.log2(np.maximum(f, 1.0))
    guard = _lowpass_pow(f, 0.42 * sr, 6) * _highpass_pow(f, 30.0, 2)
    air = _highpass_pow(f, 200.0, 1) * (np.maximum(f, 20.0) / 1000.0) ** -1.0
    air /= air.mean()
    classes = []
    for k in range(_WIND_CLASSES):
        c = _WIND_LOW_HZ * 2.0 ** (k * _WIND_STEP_OCT)
        band = np.exp(-((lf - math.log2(c)) ** 2) / (2.0 * 0.33**2))
        band /= band.mean()
        classes.append((band + 0.015 * air) * guard)
    bank = _noise_bank(
        make_rng(_BANK_SEED, "wind", "bank"), n, sr, np.array(classes), exact_power=True
    )
    rng = make_rng(_BANK_SEED, "wind", "whistle")
    ff = np.fft.fftfreq(n, 1.0 / sr)
    spec = (rng.standard_normal(n) + 1j * rng.standard_normal(n)) * np.exp(
        -0.5 * (ff / _WHISTLE_BW_HZ) ** 2
    )
    z = np.fft.ifft(spec)
    z /= np.sqrt(np.mean(np.abs(z) ** 2))
    table = np.empty(n + _SPAN, dtype=np.complex64)
    table[:n] = z
    table[n:] = z[:_SPAN]
    table.setflags(write=False)
    return bank, table


@lru_cache(maxsize=2)
def _whistle_parts(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The whistle table's real and imaginary parts as contiguous float32 arrays."""
    table = _wind_tables(sample_rate)[1]
    re, im = np.ascontiguousarray(table.real), np.ascontiguousarray(table.imag)
    re.setflags(write=False)
    im.setflags(write=False)
    return re, im


class Wind(Source):
    """Wind: noise through a wandering band-pass, with gusts, a whistle and leaves.

    The band's centre wanders ±0.65 octave around ``pitch_hz`` over tens of seconds
    and its width (0.25–1.3 octave) drifts too.  **Gusts** are smooth random motion
    (two octaves of value noise, knots ~7 s and ~2.6 s apart: no period a listener
    could count) that raise the level by up to ±3.5 dB at ``gustiness`` 1, push the
    band up to 0.35 octave higher and widen it; lulls do the opposite.  In a gust the
    wind **whistles**: a narrow band (~15 Hz wide) at 2.2× ``pitch_hz`` that rises in
    pitch with the gust's speed, as an edge's aeolian tone does, and fades out in the
    lulls (``whistle``).  **Leaves rustle**: thousands of tiny ticks (two damped
    partials at 1–4 kHz each) whose rate follows the gust with a lag (``rustle``).
    The band sits in the middle of the image (two decorrelated channels); the whistle
    wanders across it as a mirrored pair (the tone on one side, its quadrature on the
    other, panned opposite ways), so left and right carry the same power at every
    moment: the balance holds by construction, not only on average over a long
    window (a slow random pan drift does not average out over minutes).
    ``strength`` sets the level
    (-9 dB at 0) and nudges the centre up.

    (Output: RMS 0.06, peaks < 0.85; shared parameters: _common.finish_doc)
    strength : float
        0 (light breeze) – 1 (strong wind).
    pitch_hz : float
        Centre of the wandering band in Hz (100–2000).
    gustiness : float
        0 (steady) – 1 (gusty).
    whistle : float
        0 (none) – 1 (a clear whistle in the gusts).
    rustle : float
        0 (open country) – 1 (trees close by).
    """

    channels = 2
    FAMILY = "wind"
    CALIBRATION_S = 60.0
    warmup_s: ClassVar[float] = 2.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "strength": Param(0.5, 0.0, 1.0, "", "light breeze (0) to strong wind (1)"),
        "pitch_hz": Param(400.0, 100.0, 2000.0, "Hz", "centre of the wandering band"),
        "gustiness": Param(0.5, 0.0, 1.0, "", "steady (0) to gusty (1)"),
        "whistle": Param(0.3, 0.0, 1.0, "", "no whistle (0) to a clear whistle in gusts (1)"),
        "rustle": Param(0.3, 0.0, 1.0, "", "open country (0) to leaves close by (1)"),
    }

    _LEVEL = 0.1
    _GUST_DB = 3.5
    _RUSTLE_LEN_S = 0.012

    def _setup(self) -> None:
        sr = self.sample_rate
        self._glide = _Glide(self.params, QUANTUM / sr)
        bank, self._whistle_table = _wind_tables(sr)
        self._layer = _Layer(bank)
        self._period = self._whistle_table.shape[0] - _SPAN
        self._rngs = _QuantumRng(_stream_key(self.seed, "wind", "quanta"))
        # Control signals: centre wander, width, gusts, stereo position, whistle pan.
        self._control = _ValueNoise(
            _stream_key(self.seed, "wind", "control"), (22.0, 30.0, 7.0, 11.0, 9.0)
        )
        self._whistle_tail = np.zeros((2, _XFADE), dtype=np.float32)
        self._tails = _Tails(int(self._RUSTLE_LEN_S * sr))
        self._t_span = (np.arange(_SPAN) / sr).astype(np.float32)
        self._t_span2 = self._t_span * self._t_span
        self._whistle_re, self._whistle_im = _whistle_parts(sr)
        # Scratch of the whistle: phase, cos, sin, the pair, a product, both channels.
        self._scratch = np.empty((6, _SPAN), dtype=np.float32)
        self._ws = np.empty((2, _SPAN), dtype=np.float32)

    def _controls(self, t_s: float) -> tuple[float, ...]:
        """Wander, width, gust, pan, whistle pan at ``t_s``; gust 0.8 s before; next gust."""
        c = self._control.values(t_s, t_s - 0.8, t_s + QUANTUM / self.sample_rate)
        (c_wander, _, _), (c_width, _, _), gusts, (c_pan, _, _), (c_wpan, _, _) = c
        g_now, g_lag, g_next = (math.tanh(0.9 * g) for g in gusts)
        return (
            math.tanh(0.8 * c_wander),
            0.5 + 0.5 * math.tanh(0.8 * c_width),
            g_now,
            0.2 * math.tanh(0.8 * c_pan),
            0.4 * math.tanh(c_wpan),
            g_lag,
            g_next,
        )

    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        sr = self.sample_rate
        strength, gustiness = p["strength"], p["gustiness"]
        t_mid = (self.frame + 0.5 * QUANTUM) / sr
        # The leaves answer the gust ~0.8 s late (``lagged``).
        wander, width_n, gust, pan, wpan, lagged, gust_next = self._controls(t_mid)
        rng = self._rngs.at(self.frame // QUANTUM)

        centre_oct = (
            math.log2(p["pitch_hz"])
            + 0.65 * wander
            + 0.35 * gustiness * gust
            + 0.3 * (strength - 0.5)
        )
        width_oct = 0.25 + 0.75 * width_n + 0.3 * gustiness * max(gust, 0.0)
        pos = (centre_oct - math.log2(_WIND_LOW_HZ)) / _WIND_STEP_OCT
        half = 0.5 * width_oct / _WIND_STEP_OCT
        weights: dict[int, float] = {}
        for q in (pos - half, pos + half):
            for k, w in _interp_weights(q, _WIND_CLASSES):
                weights[k] = weights.get(k, 0.0) + w * 0.7071
        gust_db = self._GUST_DB * gustiness * gust
        level = self._LEVEL * 10.0 ** ((-9.0 * (1.0 - strength) + gust_db) / 20.0)
        # Whistle and rustle take their power from the band, so gusts are not louder
        # for having a whistle, only more alive.
        drive = max(gust, 0.0) * (0.4 + 0.6 * gustiness)
        whistle_share = 0.22 * p["whistle"] * drive**1.5
        lag_drive = 0.35 + 0.65 * max(lagged, 0.0) * (0.4 + 0.6 * gustiness)
        rustle_share = 0.3 * p["rustle"] * lag_drive
        body = level * math.sqrt(max(1.0 - whistle_share - rustle_share, 0.2))
        # The band stays centred: a slow random pan of the loudest part of the wind
        # left the image 0.3-0.9 dB off centre over minutes (benchmarks/sound.py).
        del pan
        u = rng.random(3)
        out = self._layer.render(sorted(weights.items()), (body, body), u[0], u[1])
        if out is None:  # pragma: no cover - the gain is never zero
            out = np.zeros((2, QUANTUM), dtype=np.float32)

        # Whistle: narrow-band noise (a slowly varying complex envelope on a carrier
        # whose pitch follows the gust), a fresh window per quantum crossfaded like
        # the band's, so nothing depends on an accumulated phase.
        start = min(int(u[2] * self._period), self._period)
        f0 = min(2.2 * p["pitch_hz"] * 2.0 ** (0.6 * gust), 0.4 * sr)
        f1 = min(2.2 * p["pitch_hz"] * 2.0 ** (0.6 * gust_next), 0.4 * sr)
        ph0 = rng.random() * 2.0 * math.pi
        w_gain = level * math.sqrt(0.5 * whistle_share)
        if w_gain == 0.0:
            # No whistle (a lull, or ``whistle`` 0): the window would be zeros, so
            # only the last window's fade-out sounds (the same samples, less work).
            out[:, :_XFADE] += self._whistle_tail
            self._whistle_tail = np.zeros((2, _XFADE), dtype=np.float32)
        else:
            self._whistle(out, start, f0, f1, ph0, w_gain, wpan)

        # Rustle: tiny ticks of leaves at a rate that follows the (lagged) gust.
        rate = 25.0 + 260.0 * lag_drive**2
        n = int(rng.poisson(rate * QUANTUM / sr))
        if n and rustle_share > 0.0:
            bright = (p["pitch_hz"] / 400.0) ** 0.35
            length = self._tails.acc.shape[1] - QUANTUM - 1
            grains = _ticks(
                rng, n, sr, length, low_hz=1000.0 * bright, octaves=2.0, tau_s=(0.0006, 0.002)
            )
            a = level * math.sqrt(rustle_share * sr / (rate * 0.3393 * 0.004 * sr))
            _scatter_events(self._tails, rng, grains, amp=a, spread=0.9)
        self._tails.take(out)
        return out

    def _whistle(
        self,
        out: np.ndarray,
        start: int,
        f0: float,
        f1: float,
        ph0: float,
        w_gain: float,
        wpan: float,
    ) -> None:
        """Add this quantum's whistle window to ``out`` (float32 ``(2, QUANTUM)``).

        ``start``: frame of the window in the whistle table; ``f0``, ``f1``: carrier
        frequency (Hz) at the quantum's start and end; ``ph0``: start phase (rad);
        ``w_gain``: linear gain; ``wpan``: mirrored pan position (-1 to 1).
        """
        sr = self.sample_rate
        t = self._t_span
        phase, cos_p, sin_p, w, wq, tmp = self._scratch
        # Frequency glides linearly from f0 to f1 over the quantum: phase in closed form,
        # ph0 + 2 pi (f0 t + slope / 2 t^2) (in place, the same float32 operations).
        slope = (f1 - f0) / (QUANTUM / sr)
        np.multiply(t, np.float32(f0), out=phase)
        np.multiply(np.float32(0.5 * slope), self._t_span2, out=tmp)
        phase += tmp
        phase *= np.float32(2.0 * math.pi)
        phase += np.float32(ph0)
        # The table's real and imaginary parts as contiguous float32 (the same values).
        zr = self._whistle_re[start : start + _SPAN]
        zi = self._whistle_im[start : start + _SPAN]
        np.cos(phase, out=cos_p)
        np.sin(phase, out=sin_p)
        np.multiply(zr, cos_p, out=w)
        w -= np.multiply(zi, sin_p, out=tmp)
        # Its quadrature: the same narrow band a quarter-cycle on, uncorrelated with
        # ``w`` at every instant and with the same envelope.  Panning the pair in
        # mirror (w at +wpan, wq at -wpan) moves the whistle across the image while
        # each side always receives gl^2 + gr^2 = 2 times the whistle's power.
        np.multiply(zr, sin_p, out=wq)
        wq += np.multiply(zi, cos_p, out=tmp)
        wl, wr = _pan_gains(wpan)
        ws = self._ws
        np.multiply(w, w_gain * wl, out=ws[0])
        ws[0] += np.multiply(wq, w_gain * wr, out=tmp)
        np.multiply(w, w_gain * wr, out=ws[1])
        ws[1] += np.multiply(wq, w_gain * wl, out=tmp)
        ws[:, :_XFADE] *= _FADE_IN
        ws[:, :_XFADE] += self._whistle_tail
        self._whistle_tail = ws[:, QUANTUM:] * _FADE_OUT
        out += ws[:, :QUANTUM]
