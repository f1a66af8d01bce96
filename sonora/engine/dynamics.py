"""Dynamics: the true-peak-aware limiter and the startle guard of every mix.

Both keep their state between calls so audio can be processed in chunks, and every
output sample is computed by the same operations whatever the chunk size.  (Moved out
of :mod:`sonora.engine.effects`, which still exports both names.)
"""

from __future__ import annotations

import math

import numpy as np

from sonora.engine.base import DEFAULT_SAMPLE_RATE_HZ, Effect, as_block
from sonora.engine.design import k_weighting_sos, sos_step_zi, window_min
from sonora.engine.dsp import SosFilter
from sonora.engine.loudness import (
    OVERSAMPLING,
    KWeightingTap,
    oversampling_fir,
    oversampling_phases,
)
from sonora.errors import check_number

__all__ = ["Limiter", "StartleGuard"]


class Limiter(Effect):
    """A look-ahead, true-peak-aware brick-wall limiter.

    Gain is computed from the larger of the sample peak and a 4× oversampled
    (inter-sample) peak estimate, held through a sliding minimum over the look-ahead
    window and smoothed with a two-pole low-pass, then clamped so that no sample exceeds
    the ceiling.  Output is delayed by ``lookahead_ms``.

    pedalboard's ``Limiter`` only sees sample peaks and would let inter-sample peaks
    through a -1 dBTP ceiling, and it spends ~100 ms of CPU per minute of stereo audio
    even when nothing needs limiting; this one checks a block's peak first and passes
    quiet blocks straight through, which is the common case for calm sound.

    Parameters
    ----------
    ceiling_dbtp : float
        Ceiling in dB true peak, -20 to 0.
    lookahead_ms : float
        Look-ahead (and latency) in ms, 1–20.
    release_ms : float
        Hold time before the gain recovers, in ms, 10–2000.
    channels : int
        Number of channels (linked).
    sample_rate : int
        Sample rate in Hz.
    """

    def __init__(
        self,
        *,
        ceiling_dbtp: float = -1.0,
        lookahead_ms: float = 5.0,
        release_ms: float = 120.0,
        channels: int = 2,
        sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    ) -> None:
        super().__init__(sample_rate=sample_rate)
        self.ceiling_dbtp = check_number(
            "ceiling_dbtp", ceiling_dbtp, low=-20.0, high=0.0, unit=" dBTP"
        )
        lookahead_ms = check_number("lookahead_ms", lookahead_ms, low=1.0, high=20.0, unit=" ms")
        release_ms = check_number("release_ms", release_ms, low=10.0, high=2000.0, unit=" ms")
        self.channels = channels
        self.ceiling = 10 ** (self.ceiling_dbtp / 20)
        self.lookahead = max(24, round(lookahead_ms * 1e-3 * self.sample_rate))
        self.hold = max(1, round(release_ms * 1e-3 * self.sample_rate))

        # Two one-pole sections, each reaching ~99% within the look-ahead window.
        pole = float(np.exp(-5.0 / self.lookahead))
        self._smooth_sos = np.array([[1 - pole, 0, 0, 1, -pole, 0]] * 2, dtype=np.float64)
        # 4x oversampling interpolator for the true-peak estimate, shared with the
        # meters (sonora.engine.loudness): 145 taps (flat to within 0.1 dB up to
        # 0.9 x Nyquist), so its delay is exactly 72 oversampled = 18 input frames.
        self._os = OVERSAMPLING
        self._fir_delay = 18
        # Polyphase form: column p holds the taps of output phase p, newest input last,
        # so one matrix product of the sliding input windows gives every phase.
        self._fir = oversampling_fir()
        self._phases = oversampling_phases()
        self._hist_len = self._phases.shape[0]  # input frames of history it needs
        # Below this sample level nothing (not even an inter-sample peak) can reach the
        # ceiling: the interpolator's gain is at most its largest phase's L1 norm.
        l1_max = float(np.abs(self._phases).sum(axis=0).max())
        self._safe = self.ceiling / max(l1_max, 1.0)
        self.reset()

    @property
    def latency_frames(self) -> int:
        """Delay the limiter adds, in frames."""
        return self.lookahead

    def reset(self) -> None:
        self._x_hist = np.zeros((self.channels, self.lookahead), dtype=np.float32)
        self._raw_hist = np.zeros((self.channels, self._hist_len), dtype=np.float32)
        w = self.lookahead + self.hold
        self._req_hist = np.ones(w, dtype=np.float64)  # required gain, most recent last
        self._smoother = SosFilter(self._smooth_sos, channels=1, zi=self._settled_zi())
        self._settled = True  # gain is exactly 1 and nothing pending: quiet blocks pass

    def _settled_zi(self) -> np.ndarray:
        return sos_step_zi(self._smooth_sos)[None, :, :]

    def _peak_envelope(self, buf: np.ndarray, n: int, mag: np.ndarray | None = None) -> np.ndarray:
        """Per-frame peak: |sample| and the oversampled peaks, attributed 19 frames late.

        The interpolated values between input frames ``k-19`` and ``k-18`` are assigned
        to frame ``k``: they depend only on frames up to ``k``, so the estimate never
        depends on where a block ends (the look-ahead is far longer than that), and the
        final clamp looks 19 frames ahead to catch them.  ``mag`` is ``abs(buf)`` when
        the caller has it already.
        """
        f = self._hist_len
        if mag is None:
            mag = np.abs(buf)
        peak = mag[0].copy()  # (f + n,) sample peak over channels
        for row in mag[1:]:
            np.maximum(peak, row, out=peak)
        env = peak[f:].astype(np.float64)
        # Frame k's oversampled values come from buf[k : k + f + 1]; where all of those
        # samples are below ceiling / (largest polyphase L1 norm), none can reach the
        # ceiling, so only the other ("hot") frames are interpolated.  The limiter's
        # gain is the same either way: it only acts on values above the ceiling.
        # frame k is hot when any of peak[k : k + f + 1] reaches the safe level
        loud = np.zeros(f + n + 1, dtype=np.int32)
        np.cumsum(peak >= self._safe, dtype=np.int32, out=loud[1:])
        hot = np.flatnonzero(loud[f + 1 : f + 1 + n] > loud[:n])
        if hot.size == 0:
            return env
        # windows[c, j] = buf[c, j : j + f]: the history ending at input frame f-1+j
        # (a strided view built directly: sliding_window_view costs ~20 us of Python).
        b64 = buf.astype(np.float64)
        rows = b64.shape[1]
        windows = np.ndarray((b64.shape[0], rows - f + 1, f), np.float64, b64, 0, (8 * rows, 8, 8))
        if hot.size > n // 4:  # mostly loud: one dense product is cheaper than gathers
            up = np.abs(windows @ self._phases)  # (channels, n + 1, os)
            # frame k: values 1..3 after window k, and value 0 of window k + 1
            vals = np.maximum(
                np.maximum(up[:, :n, 1], up[:, :n, 2]), np.maximum(up[:, :n, 3], up[:, 1:, 0])
            )
            return np.maximum(env, vals.max(axis=0))
        up = np.abs(windows[:, hot] @ self._phases[:, 1:])  # (channels, hot, os - 1)
        nxt = np.abs(windows[:, hot + 1] @ self._phases[:, 0])  # (channels, hot)
        vals = np.maximum(np.maximum(up[..., 0], up[..., 1]), np.maximum(up[..., 2], nxt))
        env[hot] = np.maximum(env[hot], vals.max(axis=0))
        return env

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, self.channels)
        n = x.shape[1]
        if n == 0:
            return x
        buf = np.concatenate([self._raw_hist, x], axis=1)
        self._raw_hist = buf[:, -self._hist_len :]
        # max |buf| without an |buf| copy: two reductions (exact, as abs is)
        quiet = max(float(buf.max()), -float(buf.min())) < self._safe
        env = None
        if not quiet:
            env = self._peak_envelope(buf, n)
            # Loud enough to check, but no (inter-sample) peak reaches the ceiling.
            quiet = float(np.max(env)) <= self.ceiling
        la = self.lookahead
        if n >= la:  # the delayed output, copied once into a new contiguous array
            out_x = np.empty((x.shape[0], n), dtype=np.float32)
            out_x[:, :la] = self._x_hist
            out_x[:, la:] = x[:, : n - la]
            self._x_hist = np.array(x[:, n - la :], dtype=np.float32)
        else:
            delayed = np.concatenate([self._x_hist, x], axis=1)
            self._x_hist = delayed[:, -la:]
            out_x = np.ascontiguousarray(delayed[:, :n])
        if quiet and self._settled:
            # Nothing to limit now or within the hold window: a pure delay.
            return out_x
        if quiet or env is None:
            req = np.ones(n, dtype=np.float64)
        else:
            req = np.minimum(1.0, self.ceiling / np.maximum(env, 1e-12))
        req_all = np.concatenate([self._req_hist, req])
        self._req_hist = req_all[-(self.lookahead + self.hold) :]
        # Output frame i plays input frame i - lookahead.  Its gain target is the least
        # required gain over input frames [i - lookahead - hold, i]: it falls before a
        # peak arrives and holds for `hold` frames after it.
        size = self.lookahead + self.hold + 1
        target = window_min(req_all, size)[-n:]
        smoothed = self._smoother.process(target[None, :])[0]
        smoothed[smoothed > 1.0 - 1e-9] = 1.0
        if bool(np.all(self._req_hist == 1.0)) and smoothed[-1] == 1.0:
            self._smoother.zi = self._settled_zi()
            self._settled = True
        else:
            self._settled = False
        # Clamp: the played frame m must also satisfy the inter-sample peaks between
        # m and m+1, which were credited to frame m + fir_delay + 1.
        fwd = self._fir_delay + 2
        clamp = window_min(req_all, fwd)  # clamp[i] = min(req_all[i : i + fwd])
        req_delayed = clamp[len(req_all) - n - self.lookahead : len(req_all) - self.lookahead]
        gain = np.minimum(smoothed, req_delayed)
        if bool(np.all(gain == 1.0)):
            return out_x
        return (out_x * gain.astype(np.float32)).astype(np.float32, copy=False)


def _rows(x: np.ndarray, first: int, width: int, count: int) -> np.ndarray:
    """``count`` overlapping rows ``x[first + i : first + i + width]`` of contiguous 1-D
    float64 ``x``, as a strided view (``np.ndarray`` on its buffer: ``as_strided`` costs
    ten times more in Python)."""
    assert x.flags.c_contiguous and first + width + count - 1 <= len(x)
    return np.ndarray((count, width), np.float64, x, first * 8, (8, 8))


class StartleGuard(Effect):
    """Keeps loudness rises gentle: the no-startle rule, enforced on the mix.

    Momentary loudness (≈400 ms) may rise at most ``max_rise_lu`` above the power mean
    of the previous 10 s.  The guard measures K-weighted power in blocks of
    :data:`~sonora.engine.base.QUANTUM` frames, looks ``lookahead`` blocks ahead, and
    lowers the gain smoothly *before* a rise that would break the rule, then recovers at
    ``release_db_per_s``.  Its decisions use the power already *played* (after its own
    gain) so a run of softened events cannot ratchet the reference down unnoticed.

    The audio is delayed by ``latency_frames`` (about 0.5 s at 48 kHz); because it works
    on whole blocks internally, the output never depends on how input is chunked.

    Parameters
    ----------
    max_rise_lu : float
        Allowed rise, LU (the rule is 6; the default keeps a margin).
    release_db_per_s : float
        Recovery speed of the gain, dB per second.
    sample_rate : int
        Sample rate in Hz.
    """

    channels = 2
    WINDOW_BLOCKS = 5  # ~427 ms at 48 kHz: a momentary-loudness window
    LOOKAHEAD_BLOCKS = 6

    def __init__(
        self,
        *,
        max_rise_lu: float = 4.5,
        release_db_per_s: float = 3.0,
        sample_rate: int = DEFAULT_SAMPLE_RATE_HZ,
    ) -> None:
        super().__init__(sample_rate=sample_rate)
        from sonora.engine.base import QUANTUM

        self.block = QUANTUM
        self.max_rise_lu = check_number("max_rise_lu", max_rise_lu, low=1.0, high=20.0, unit=" LU")
        self.release_db_per_s = check_number(
            "release_db_per_s", release_db_per_s, low=0.1, high=60.0
        )
        self._release_db = self.release_db_per_s * self.block / self.sample_rate
        self._hist_blocks = round(10.0 * self.sample_rate / self.block)
        self._kw = k_weighting_sos(self.sample_rate)
        self.reset()

    @property
    def latency_frames(self) -> int:
        """Delay the guard adds, in frames."""
        return (self.LOOKAHEAD_BLOCKS + 1) * self.block

    def k_weighting_tap(self) -> KWeightingTap:
        """Offer this guard's K-weighting to a meter of its output (a new tap).

        Only before the first block (after :meth:`reset`): every quantum the guard
        weighs from then on is recorded with its power, for
        :meth:`~sonora.engine.loudness.LoudnessMeter.share_k_weighting`, which uses it
        while the output is the guard's input unchanged (gain 0 dB, limiter idle) and
        its own K-filter state is the guard's.  :meth:`reset` drops the tap.
        """
        if self._p_in or self._out_frames != self.latency_frames or self._in.shape[1]:
            raise RuntimeError("a K-weighting tap starts at the guard's first block")
        self._tap = KWeightingTap()
        return self._tap

    def reset(self) -> None:
        self._tap: KWeightingTap | None = None
        self._k = SosFilter(self._kw, channels=2)
        self._in = np.zeros((2, 0), dtype=np.float32)
        # Output waiting to be handed out: whole blocks (no growing copy per block).
        self._out: list[np.ndarray] = [np.zeros((2, self.latency_frames), dtype=np.float32)]
        self._out_frames = self.latency_frames
        self._pending: list[np.ndarray] = []  # blocks waiting for their gain
        self._p_in: list[float] = []  # K-weighted power of pending blocks
        self._p_played = np.zeros(0)  # power of the last 10 s of played blocks, after gain
        self._gain_db = 0.0

    def _block(self, x: np.ndarray) -> None:
        # This runs on every quantum of every render (and of its calibration pass), so
        # its cost matters: every sum below is numpy's own (pairwise) sum of the same
        # values in the same order as before, so the output is bit-for-bit the same,
        # but the windows of one decision are summed in one call each (rows of a
        # strided view: numpy sums each row as it sums a 1-D array), in ~15 numpy
        # calls instead of ~35 (tests/engine/test_guard_reference.py checks the samples
        # against a plain loop).
        tap = self._tap
        if tap is not None and not tap.closed:
            zi = self._k.zi.copy()
            kw = self._k.process(x)
            np.square(kw, out=kw)
            tap.put(x, zi, kw[0] + kw[1])  # what a meter's np.sum(axis=0) gives
        else:
            kw = self._k.process(x)
            np.square(kw, out=kw)
        pw = np.add.reduce(kw, axis=1) / kw.shape[1]
        self._pending.append(x)
        self._p_in.append(float(pw[0] + pw[1]))
        if len(self._pending) <= self.LOOKAHEAD_BLOCKS:
            return
        # Decide the gain of the oldest pending block, seeing LOOKAHEAD_BLOCKS ahead.
        played = self._p_played
        lp, h = len(played), self._hist_blocks
        if lp >= h and (
            (self._gain_db == 0.0 and self._no_rise_possible(played)) or self._no_excess(played)
        ):
            worst_db = 0.0  # what _worst_excess_db gives here, without its ~12 numpy calls
        else:
            worst_db = self._worst_excess_db()
        target_db = -worst_db
        prev_db = self._gain_db
        new_db = min(target_db, prev_db + self._release_db)
        self._gain_db = new_db
        x0 = self._pending.pop(0)
        p0 = self._p_in.pop(0)
        if prev_db == 0.0 and new_db == 0.0:
            y = x0
        else:
            ramp = np.linspace(
                10 ** (prev_db / 20), 10 ** (new_db / 20), self.block, endpoint=False
            )
            y = (x0 * ramp.astype(np.float32)).astype(np.float32)
        self._p_played = np.concatenate([played[max(0, lp - h + 1) :], [p0 * 10 ** (new_db / 10)]])
        self._out.append(y)
        self._out_frames += y.shape[1]

    def _no_rise_possible(self, played: np.ndarray) -> bool:
        """Whether no window ahead can rise past ``max_rise_lu`` over its reference.

        A window's mean power is at most the largest pending power, and a full 10 s
        reference's mean at least the smallest power it averages (played blocks and
        the pending ones before the window, at gain 0 dB); when even those two are
        within the allowed rise (with a margin far above the rounding of the means),
        :meth:`_worst_excess_db` is 0.  The steady case, checked in a few
        microseconds instead of a dozen numpy calls per quantum.
        """
        starts = len(self._p_in) - self.WINDOW_BLOCKS + 1
        low = min(float(played.min()), *self._p_in[: starts - 1])
        allowed = 10 ** (self.max_rise_lu / 10) * (1.0 - 1e-9)
        return max(self._p_in) <= low * allowed

    def _no_excess(self, played: np.ndarray) -> bool:
        """Whether no window ahead rises past ``max_rise_lu`` over its full 10 s reference.

        The same windows and references as :meth:`_worst_excess_db` (``played`` holds
        the full 10 s), summed in Python floats instead of numpy's pairwise order: sums
        of positive powers, within ~1e-13 of each other, so with a margin of 1e-9 on
        the allowed ratio, "no excess" here means :meth:`_worst_excess_db` gives
        exactly 0.  A few numpy calls instead of a dozen: the steady case of struck
        sounds, where the quietest block of the last 10 s is too quiet for
        :meth:`_no_rise_possible`.
        """
        w, h = self.WINDOW_BLOCKS, self._hist_blocks
        future = self._p_in
        starts = len(future) - w + 1
        lp = len(played)
        scale = 10 ** (self._gain_db / 10)
        allowed = 10 ** (self.max_rise_lu / 10) * (1.0 - 1e-9)
        for i in range(starts):
            ref_sum = float(np.add.reduce(played[lp - h + i :])) + sum(future[:i]) * scale
            if ref_sum <= 1e-12 * h:
                return False  # the exact path skips such windows; let it decide
            if sum(future[i : i + w]) / w > ref_sum / h * allowed:
                return False
        return True

    def _worst_excess_db(self) -> float:
        """Largest rise (dB) of a window ahead over its 10 s reference past
        ``max_rise_lu``; 0 when none rises that much."""
        # For the window of WINDOW_BLOCKS pending blocks starting `start` blocks
        # ahead, the 10 s reference is the played power plus the pending blocks before
        # it (at the current gain).
        w, h = self.WINDOW_BLOCKS, self._hist_blocks
        future = np.array(self._p_in)
        starts = len(future) - w + 1
        played = self._p_played
        lp = len(played)
        before = np.concatenate([played, future[: starts - 1] * 10 ** (self._gain_db / 10)])
        wins = np.add.reduce(_rows(future, 0, w, starts), axis=1) / w
        if lp >= h:  # the usual case: every reference is h blocks long
            refs = (np.add.reduce(_rows(before, lp - h, h, starts), axis=1) / h).tolist()
        else:  # the first 10 s: the references are shorter, and grow
            refs = [
                float(np.add.reduce(before[max(0, lp + i - h) : lp + i]))
                / (lp + i - max(0, lp + i - h))
                if lp + i - max(0, lp + i - h) >= h // 2
                else 0.0
                for i in range(starts)
            ]
        worst_db = 0.0
        for ref_p, win_p in zip(refs, wins.tolist(), strict=True):
            if ref_p <= 1e-12 or win_p <= 0:
                continue
            excess_db = 10 * math.log10(win_p / ref_p) - self.max_rise_lu
            worst_db = max(worst_db, excess_db)
        return worst_db

    def process(self, block: np.ndarray) -> np.ndarray:
        x = as_block(block, 2)
        n = x.shape[1]
        buf = np.concatenate([self._in, x], axis=1) if self._in.shape[1] else x
        i = 0
        while buf.shape[1] - i >= self.block:
            self._block(buf[:, i : i + self.block])
            i += self.block
        self._in = buf[:, i:]
        # guaranteed by the latency of LOOKAHEAD_BLOCKS + 1 blocks
        assert self._out_frames >= n
        parts, have = [], 0
        while have < n:
            head = self._out[0]
            take = min(n - have, head.shape[1])
            parts.append(head[:, :take])
            if take == head.shape[1]:
                self._out.pop(0)
            else:
                self._out[0] = head[:, take:]
            have += take
        self._out_frames -= n
        if len(parts) == 1:
            return np.ascontiguousarray(parts[0])
        return np.concatenate(parts, axis=1) if parts else np.zeros((2, 0), dtype=np.float32)
