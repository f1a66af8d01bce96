"""Rain: a dark hiss, a far wash of countless small drops, and near drops on surfaces.

Every drop is synthesised when it falls, from continuous random parameters (size,
surface, pitch, decay, position), so no two are alike; there is no table of grains.
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
    _Bank,
    _Glide,
    _highpass_pow,
    _interp_weights,
    _Layer,
    _lowpass_pow,
    _modal_events,
    _noise_bank,
    _pan_arrays,
    _QuantumRng,
    _stream_key,
    _table_frames,
    _Tails,
    _ValueNoise,
)

__all__ = ["Rain"]

#: Longest near drop and far drop, seconds (their events are cut to this).
_NEAR_MAX_S = 0.09
_FAR_MAX_S = 0.03
#: Quanta planned at once while the parameters hold still (their drops synthesised in
#: one batch: the same samples, far fewer numpy calls).
_AHEAD = 8
#: Per surface (leaves: short papery ticks; roof: dull low thuds; puddles: a bubble
#: plink, partial 0 rising, and a splash, partials 1 and 2): lowest pitch (Hz), pitch
#: span (octaves), ranges of partials 2 and 3 (ratios to the first), decay range (s),
#: partials 2 and 3's energy weights, attack (s).
_SURFACES = np.array(
    [
        [600.0, 2.3, 1.7, 2.4, 2.9, 4.1, 0.0018, 0.006, 0.55, 0.3, 0.00025],
        [150.0, 2.2, 1.45, 1.9, 2.3, 3.2, 0.006, 0.02, 0.45, 0.2, 0.0006],
        [500.0, 2.0, 2.6, 4.4, 4.0, 6.5, 0.004, 0.012, 0.18, 0.1, 0.0002],
    ]
)


@lru_cache(maxsize=2)
def _rain_bed(sample_rate: int) -> _Bank:
    """Dark, medium and bright rain hiss (with a little low body), unit RMS.

    Returns
    -------
    _Bank
        ``(3, 2, n + _SPAN)``: hiss rolled off at 1.8, 3.8 and 9 kHz.
    """
    sr = sample_rate
    n = _table_frames(sr)
    f = np.fft.rfftfreq(n, 1.0 / sr)
    nyq_guard = _lowpass_pow(f, 0.42 * sr, 6)
    body = _highpass_pow(f, 55.0, 2) * _lowpass_pow(f, 420.0, 2)
    classes = []
    for cutoff, tilt in ((1800.0, -1.0), (3800.0, -0.75), (9000.0, -0.45)):
        hiss = (
            _highpass_pow(f, 350.0, 2)
            * _lowpass_pow(f, min(cutoff, 0.4 * sr), 2)
            * (np.maximum(f, 20.0) / 1000.0) ** tilt
        )
        hiss /= hiss.mean()
        classes.append((hiss + body / body.mean() * 0.3) * nyq_guard)
    return _noise_bank(make_rng(_BANK_SEED, "rain", "bed"), n, sr, np.array(classes))


class Rain(Source):
    """Rain: a soft hiss, a far wash of small drops, and distinct near drops.

    Three layers, all moving with the same slowly waxing and waning shower:

    * **the hiss**: filtered noise (see the module docstring) from a dull patter
      (``brightness`` 0, rolled off above ~1.8 kHz) to a crisp shower (1, ~9 kHz);
    * **far drops**: hundreds per second of small, soft, dark drops (one or two damped
      partials at 0.25–1.2 kHz with a softened attack, spread wide), which give the
      hiss its grain;
    * **near drops**: 3 drops/s (``density`` 0) to 60 drops/s (``density`` 1), each
      synthesised from its own size, surface, pitch, decay and position.  The
      surface of each drop is drawn with the weights ``leaves`` (a short, papery
      tick of three partials at 0.6–3 kHz), ``roof`` (a dull, low thud at
      150–700 Hz) and ``puddles`` (a bubble "plink" whose pitch rises, 0.5–2 kHz,
      with a faint splash).

    ``near`` moves the balance from a distant wash (0) to drops right by the window
    (1).  ``brightness`` scales every drop's pitch (×0.66 to ×1.5) and opens the hiss;
    the default (0.35) is dark enough to sleep to.  ``drop_level_db`` is the near
    drops' share of the power at the default density and nearness; it grows with the
    square root of the rate, so a downpour still crackles.  A drop-energy governor
    caps the near drops' energy within ~0.4 s at 2.5× its long-term mean, so an
    unlucky cluster cannot startle, and a peak guard keeps coinciding drops from
    piling up into a spike.  The shower waxes and wanes (drop rate ±30 %, level
    ±1 dB) over tens of seconds, with no period.

    (Output: RMS 0.06, peaks < 0.8; shared parameters: _common.finish_doc)
    density : float
        0 (drizzle) – 1 (downpour).
    brightness : float
        0 (dull) – 1 (crisp).
    drop_level_db : float
        Mean power of the near drops relative to the hiss, in dB (-30 – 0).
    near : float
        0 (distant wash) – 1 (drops close by).
    leaves, roof, puddles : float
        Relative weight (0 – 1) of drops falling on leaves, on a roof and into
        puddles.  All zero: equal weights.
    """

    channels = 2
    FAMILY = "rain"
    CALIBRATION_S = 20.0
    warmup_s: ClassVar[float] = 2.0
    PARAMS: ClassVar[dict[str, Param]] = {
        "density": Param(0.5, 0.0, 1.0, "", "drizzle (0) to downpour (1); near drops 3–60 /s"),
        "brightness": Param(0.35, 0.0, 1.0, "", "dull patter (0) to crisp shower (1)"),
        "drop_level_db": Param(
            -8.0, -30.0, 0.0, "dB", "power of the near drops relative to the hiss"
        ),
        "near": Param(0.5, 0.0, 1.0, "", "distant wash (0) to drops close by (1)"),
        "leaves": Param(0.6, 0.0, 1.0, "", "weight of drops on leaves (short papery ticks)"),
        "roof": Param(0.3, 0.0, 1.0, "", "weight of drops on a roof (dull low thuds)"),
        "puddles": Param(0.3, 0.0, 1.0, "", "weight of drops into puddles (rising plinks)"),
    }

    #: Near-drop rates at density 0 and 1, per second.
    _RATE_MIN = 3.0
    _RATE_MAX = 60.0
    _RATE_MID = math.sqrt(_RATE_MIN * _RATE_MAX)
    #: Far-drop rate at density 0 and 1, per second.
    _FAR_MIN = 25.0
    _FAR_MAX = 160.0
    #: Nominal RMS (all layers) at density 0 and 1.
    _RMS_MIN = 0.045
    _RMS_MAX = 0.1
    #: Drop-governor time constant (s) and cap (multiple of the mean window energy).
    _GOV_TAU_S = 0.4
    _GOV_CAP = 2.5
    #: No near drop's peak (before panning) exceeds this at density 0 and 1.
    _DROP_PEAK_MIN = 0.22
    _DROP_PEAK_MAX = 0.3
    #: Bound on the decaying sum of recent drop peaks per channel, and its decay (s).
    _DROP_SUM_PEAK = 0.5
    _ENV_TAU_S = 0.01
    #: E[a^2] for a drop amplitude a = 10^(-0.6 u), u ~ U(0, 1).
    _MEAN_A2 = 0.3393

    def _setup(self) -> None:
        sr = self.sample_rate
        self._glide = _Glide(self.params, QUANTUM / sr)
        self._bed = _Layer(_rain_bed(sr))
        self._rngs = _QuantumRng(_stream_key(self.seed, "rain", "quanta"))
        self._slow = _ValueNoise(_stream_key(self.seed, "rain", "slow"), (9.0, 14.0))
        self._near_len = int(_NEAR_MAX_S * sr)
        self._far_len = int(_FAR_MAX_S * sr)
        self._tails = _Tails(self._near_len)
        # Energy of one drop at amplitude 1: that of 4 ms of unit power.
        self._e0 = 0.004 * sr
        self._gov = 0.0  # near-drop energy within the governor window (sum of squares)
        self._env_l = 0.0  # decaying sum of recent drop peaks, left and right
        self._env_r = 0.0
        self._last_drop = 0  # frame at which those were last updated
        # Quanta planned ahead (_plan): from quantum _plan_k0, for parameters _plan_p.
        self._planned: list[dict[str, object]] = []
        self._plan_k0 = 0
        self._plan_p: dict[str, float] = {}
        self._plan_fixed: tuple[list[tuple[int, float]], float, float] = ([], 0.0, 0.0)

    # -- planning ------------------------------------------------------------------
    def _plan(self, k0: int, count: int, p: dict[str, float]) -> None:
        """Draw and synthesise everything of quanta ``k0 .. k0 + count - 1`` that does
        not depend on what came before (all but the bed's crossfade, the governor, the
        peak guard and the tails), for parameter values ``p``.

        Each quantum draws from its own generator in the order the sources have
        always used (bed; far count, far drops, their levels and pans, their starts;
        near count, near drops, their starts, sizes and pans), so the samples are
        those of planning one quantum at a time; the drops of all ``count`` quanta are
        synthesised in one batch (``_modal_events`` groups), which saves most of the
        numpy calls.
        """
        sr = self.sample_rate
        density, brightness, near = p["density"], p["brightness"], p["near"]
        # Total (hiss + drops) RMS follows density; drop_level_db sets the balance at
        # the default density.  The near drops' share grows as sqrt(rate), so each
        # drop fades into the roar more slowly than the rate rises.
        rate = self._RATE_MIN * (self._RATE_MAX / self._RATE_MIN) ** density
        near_w = 0.15 + 1.7 * near
        rel_near = 10.0 ** (p["drop_level_db"] / 10.0) * math.sqrt(rate / self._RATE_MID) * near_w
        rel_far = 0.45 * (1.5 - near)
        total_rms = self._RMS_MIN * (self._RMS_MAX / self._RMS_MIN) ** density
        bed_rms = total_rms / math.sqrt(1.0 + rel_near + rel_far)
        bed_weights = _interp_weights(2.0 * brightness, 3)
        bright = 2.0 ** ((brightness - 0.5) * 1.2)
        e0 = self._e0
        weights = np.array([p["leaves"], p["roof"], p["puddles"]])
        if weights.sum() <= 0.0:
            weights = np.ones(3)
        peak_cap = self._DROP_PEAK_MIN + (self._DROP_PEAK_MAX - self._DROP_PEAK_MIN) * density
        quanta: list[dict[str, object]] = []
        far_u, far_v, near_u, near_ev = [], [], [], []
        for k in range(k0, k0 + count):
            rng = self._rngs.at(k)
            t_mid = (k * QUANTUM + 0.5 * QUANTUM) / sr
            swell, drift = self._slow.at(t_mid).tolist()
            swell = math.tanh(0.7 * swell)  # the shower waxes and wanes, -1..1
            rate_now = rate * (1.0 + 0.3 * swell)
            level = 10.0 ** ((1.0 * math.tanh(drift) + 0.6 * swell) / 20.0)
            g = bed_rms * level
            q: dict[str, object] = {"bed": rng.random(2), "g": g, "n_far": 0, "count": 0}
            # Far drops: a dense Poisson rain of small soft drops, spread wide.
            far_rate = (self._FAR_MIN + (self._FAR_MAX - self._FAR_MIN) * density) * (
                1.0 + 0.3 * swell
            )
            n_far = int(rng.poisson(far_rate * QUANTUM / sr))
            if n_far:
                far_u.append(rng.random((n_far, 5)))
                far_v.append(rng.random((2, n_far)))
                q["far_starts"] = np.sort(rng.integers(0, QUANTUM, n_far))
                q["n_far"] = n_far
                q["a_far"] = (
                    bed_rms * level * math.sqrt(rel_far * sr / (far_rate * self._MEAN_A2 * e0))
                )
            # Near drops: drawn here, levelled drop by drop in time order (_quantum).
            n_near = int(rng.poisson(rate_now * QUANTUM / sr))
            if n_near:
                near_u.append(rng.random((n_near, 9)))
                ev = rng.random((n_near, 3))
                near_ev.append(ev)
                q["count"] = n_near
                q["starts"] = np.sort((ev[:, 0] * QUANTUM).astype(np.int64))
                scale = bed_rms * level * math.sqrt(rel_near * sr / (rate * self._MEAN_A2 * e0))
                q["scale"] = scale
                q["cap"] = (
                    self._GOV_CAP * max(rate * self._GOV_TAU_S, 1.0) * self._MEAN_A2 * scale**2 * e0
                )
            quanta.append(q)
        if far_u:
            self._plan_far(quanta, np.concatenate(far_u), np.concatenate(far_v, axis=1), bright)
        if near_u:
            self._plan_near(
                quanta, np.concatenate(near_u), np.concatenate(near_ev), bright, weights
            )
        self._planned = quanta
        self._plan_k0 = k0
        self._plan_p = dict(p)
        self._plan_fixed = (bed_weights, rate, peak_cap)

    def _plan_far(
        self, quanta: list[dict[str, object]], u: np.ndarray, v: np.ndarray, bright: float
    ) -> None:
        """Far drops of the planned quanta (soft, dark, two partials, unit energy
        ``e0``), with their gains: ``u`` ``(N, 5)`` and ``v`` ``(2, N)`` uniforms."""
        sr = self.sample_rate
        # (columns filled in place: the same values as np.stack, for fewer copies)
        f1 = 250.0 * 2.0 ** (2.2 * u[:, 0]) * bright
        freqs = np.empty((len(u), 2))
        freqs[:, 0] = f1
        freqs[:, 1] = f1 * (1.6 + 1.2 * u[:, 1])
        np.minimum(freqs, 0.42 * sr, out=freqs)
        t1 = 0.0015 + 0.003 * u[:, 2]
        taus = np.empty((len(u), 2))
        taus[:, 0] = t1
        taus[:, 1] = 0.5 * t1
        w = np.empty((len(u), 2))
        w[:, 0] = 1.0
        w[:, 1] = 0.1 + 0.2 * u[:, 3]
        w /= w.sum(axis=1, keepdims=True)
        amps = np.sqrt(w * 4.0 * self._e0 / (taus * sr))
        groups, amp, r0 = [], [], 0
        for q in quanta:
            n = int(q["n_far"])  # type: ignore[call-overload]
            if n:
                frames = min(self._far_len, int(5.0 * float(t1[r0 : r0 + n].max()) * sr) + 16)
                groups.append((r0, r0 + n, frames))
                amp.append(np.full(n, q["a_far"]))
                r0 += n
        grains = _modal_events(
            sr,
            max(g[2] for g in groups),
            freqs,
            taus,
            amps,
            attack_s=0.0012,
            phases=u[:, 3:5] * (2.0 * math.pi),
            groups=groups,
        )
        # levels and pans as _scatter_events draws them (level first, pan 0, spread 1)
        level, side = v[0], v[1]
        gains = _pan_arrays(0.0 + 1.0 * (2.0 * side - 1.0)) * (
            np.concatenate(amp) * 10.0 ** (-0.6 * level)
        )
        for (r0, r1, frames), q in zip(groups, (q for q in quanta if q["n_far"]), strict=True):
            q["far"] = (grains[r0:r1, :frames], gains[:, r0:r1])

    def _plan_near(
        self,
        quanta: list[dict[str, object]],
        u: np.ndarray,
        ev: np.ndarray,
        bright: float,
        weights: np.ndarray,
    ) -> None:
        """Near drops of the planned quanta at unit energy ``e0``, each one's peak and
        pan gains: ``u`` ``(N, 9)`` and ``ev`` ``(N, 3)`` uniforms."""
        sr = self.sample_rate
        count = len(u)
        surface = np.searchsorted(np.cumsum(weights), u[:, 0] * weights.sum(), side="right")
        surface = np.minimum(surface, 2)
        size = u[:, 1]
        # One row of _SURFACES per drop: every surface's formula in one pass.
        (f_lo, oct_span, r2_lo, r2_hi, r3_lo, r3_hi, tau_lo, tau_hi, w2, w3, att) = _SURFACES[
            surface
        ].T
        f1 = f_lo * 2.0 ** (oct_span * (1.0 - size) + 0.3 * (u[:, 2] - 0.5)) * bright
        freqs = np.empty((count, 3))
        freqs[:, 0] = f1
        freqs[:, 1] = f1 * (r2_lo + (r2_hi - r2_lo) * u[:, 3])
        freqs[:, 2] = f1 * (r3_lo + (r3_hi - r3_lo) * u[:, 4])
        t1 = tau_lo + (tau_hi - tau_lo) * (0.3 * u[:, 5] + 0.7 * size)
        taus = np.empty((count, 3))
        taus[:, 0] = t1
        taus[:, 1] = t1 * (0.35 + 0.25 * u[:, 6])
        taus[:, 2] = t1 * (0.15 + 0.2 * u[:, 7])
        w = np.empty((count, 3))
        w[:, 0] = 1.0
        w[:, 1] = w2 * (0.5 + u[:, 8])
        w[:, 2] = w3 * (0.5 + u[:, 2])
        glide = np.zeros((count, 3))
        plink = surface == 2
        if plink.any():  # puddles: the bubble's pitch rises, the splash is short
            glide[plink, 0] = 0.1 + 0.4 * u[plink, 6]
            taus[plink, 1:] = np.minimum(taus[plink, 1:], 0.0012)
        freqs = np.minimum(freqs, 0.42 * sr)
        # Weights are energy shares; a damped sine of amplitude A and time constant
        # tau carries A^2 tau sr / 4.
        w /= w.sum(axis=1, keepdims=True)
        amps = np.sqrt(w * 4.0 * self._e0 / (taus * sr))
        groups, r0 = [], 0
        for q in quanta:
            n = int(q["count"])  # type: ignore[call-overload]
            if n:
                longest = float(np.max(taus[r0 : r0 + n, 0])) * 5.0 + 0.002
                groups.append((r0, r0 + n, min(self._near_len, max(int(longest * sr), 32))))
                r0 += n
        grains = _modal_events(
            sr,
            max(g[2] for g in groups),
            freqs,
            taus,
            amps,
            # no puddle drop, no glide: the same samples without the glide's work (a
            # glide of 0 adds exactly nothing)
            glide=glide if plink.any() else None,
            glide_tau_s=1.5 * taus,
            attack_s=att,
            phases=u[:, 3:6] * (2.0 * math.pi),
            groups=groups,
        )
        pans = _pan_arrays(0.85 * (2.0 * ev[:, 2] - 1.0))
        for (r0, r1, frames), q in zip(groups, (q for q in quanta if q["count"]), strict=True):
            g = grains[r0:r1, :frames]
            # max |grain| as two reductions, without an |grains| copy (exact, as abs is)
            q["near"] = (g, np.maximum(g.max(axis=1), -g.min(axis=1)), pans[:, r0:r1])
            q["u_size"] = ev[r0:r1, 1]

    # -- one quantum ----------------------------------------------------------------
    def _quantum(self) -> np.ndarray:
        p = self._glide.update(self.params)
        i = self.frame // QUANTUM - self._plan_k0
        if not 0 <= i < len(self._planned) or p != self._plan_p:
            # parameters holding still (the glide has arrived): plan several quanta
            self._plan(self.frame // QUANTUM, _AHEAD if p == self.params else 1, p)
            i = 0
        q = self._planned[i]
        bed_weights, rate, peak_cap = self._plan_fixed
        g = q["g"]
        u = q["bed"]
        out = self._bed.render(bed_weights, (g, g), u[0], u[1])  # type: ignore[index]
        if out is None:  # pragma: no cover - the bed's gain is never zero
            out = np.zeros((2, QUANTUM), dtype=np.float32)
        if q["n_far"]:
            grains, gains = q["far"]  # type: ignore[misc]
            self._tails.add(q["far_starts"], grains, gains)  # type: ignore[arg-type]
        if q["count"]:
            self._near(q, rate, peak_cap)
        self._tails.take(out)
        return out

    def _near(self, q: dict[str, object], rate: float, peak_cap: float) -> None:
        """Level quantum ``q``'s near drops in time order (governor and peak guard)."""
        grains, peaks, pans = q["near"]  # type: ignore[misc]
        starts = q["starts"]
        count = int(q["count"])  # type: ignore[call-overload]
        e0 = self._e0
        scale, cap = q["scale"], q["cap"]
        tau_frames = self._GOV_TAU_S * self.sample_rate
        gov, last = self._gov, self._last_drop
        env_l, env_r = self._env_l, self._env_r
        env_tau = self._ENV_TAU_S * self.sample_rate
        limit = self._DROP_SUM_PEAK
        amps = np.zeros(count)
        for i, (s, u_size, pk, gl, gr) in enumerate(
            zip(
                starts.tolist(),  # type: ignore[attr-defined]
                q["u_size"].tolist(),  # type: ignore[attr-defined]
                peaks.tolist(),
                pans[0].tolist(),
                pans[1].tolist(),
                strict=True,
            )
        ):
            frame = self.frame + s
            gov *= math.exp((last - frame) / tau_frames)
            decay = math.exp((last - frame) / env_tau)
            env_l *= decay
            env_r *= decay
            last = frame
            pk = max(pk, 1e-9)
            a = min(scale * 10.0 ** (-0.6 * u_size), peak_cap / pk)
            e = a * a * e0
            if gov + e > cap:  # the governor: cap the drop energy of the last ~0.4 s
                a = math.sqrt(max(cap - gov, 0.0) / e0)
            # Peak guard: the decaying sum of recent drop peaks stays under `limit`.
            a = min(a, (limit - env_l) / (gl * pk), (limit - env_r) / (gr * pk))
            if a <= 0.0:
                continue
            gov += a * a * e0
            env_l += a * gl * pk
            env_r += a * gr * pk
            amps[i] = a
        self._gov, self._last_drop = gov, last
        self._env_l, self._env_r = env_l, env_r
        self._tails.add(starts, grains, pans * amps)  # type: ignore[arg-type]
