"""Sonora's one loudness module: K-weighting, BS.1770 gating and true peak.

Everything that measures or calibrates loudness goes through here: one K-weighting
(:func:`~sonora.engine.design.k_weighting_sos`, the filter pyloudnorm's default meter
uses, run by :class:`~sonora.engine.dsp.SosFilter`), one gating
(:func:`gated_loudness`, ITU-R BS.1770-4: 400 ms blocks every 100 ms, absolute gate
-70 LUFS, relative gate -10 LU) and one true-peak estimator
(:class:`TruePeakMeter`: 4x oversampling through the same 145-tap interpolator the
limiter uses, :func:`oversampling_phases`).  Whole-array functions are the streaming
meters fed once, so "measured while rendering" and "measured afterwards" agree exactly.

Plain numpy (no ``scipy.signal``, no ``pyloudnorm``): importing this module is cheap.
All functions take float audio shaped ``(channels, frames)``.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from sonora.engine.design import firwin_kaiser, k_weighting_sos
from sonora.engine.dsp import SosFilter

__all__ = [
    "DEFAULT_TARGET_LUFS",
    "MAX_TARGET_LUFS",
    "MAX_TRUE_PEAK_DBTP",
    "MIN_TARGET_LUFS",
    "STARTLE_LIMIT_LU",
    "KWeightingTap",
    "LoudnessMeter",
    "StartleReport",
    "TruePeakMeter",
    "gated_integrated_from_blocks",
    "gated_loudness",
    "integrated_lufs",
    "k_weighting_sos",
    "measure_file",
    "momentary_lufs",
    "oversampling_fir",
    "oversampling_phases",
    "startle_check",
    "true_peak_dbtp",
    "ungated_lufs",
]

#: Default programme loudness, LUFS (EBU R128).
DEFAULT_TARGET_LUFS = -23.0
MIN_TARGET_LUFS = -30.0
MAX_TARGET_LUFS = -14.0
#: True-peak ceiling Sonora guarantees, dBTP.
MAX_TRUE_PEAK_DBTP = -1.0
#: Largest rise of 400 ms momentary loudness above the previous 10 s, LU.
STARTLE_LIMIT_LU = 6.0
#: True-peak oversampling factor (BS.1770-4 Annex 2: at least 4x at 48 kHz).
OVERSAMPLING = 4
#: Interpolator half-length in input frames (145 taps at 4x: flat to within 0.1 dB
#: up to 0.9 x Nyquist).
_FIR_HALF_FRAMES = 18


@lru_cache(maxsize=1)
def oversampling_fir() -> np.ndarray:
    """The 4x true-peak interpolation filter: 145 Kaiser-windowed-sinc taps.

    Returns
    -------
    numpy.ndarray
        float64 ``(145,)``, read-only, gain 4 at DC (unit gain after upsampling).
    """
    taps = 2 * OVERSAMPLING * _FIR_HALF_FRAMES + 1
    fir = firwin_kaiser(taps, 1.0 / OVERSAMPLING, 9.0) * OVERSAMPLING
    fir.flags.writeable = False
    return fir


@lru_cache(maxsize=1)
def oversampling_phases() -> np.ndarray:
    """The 4x true-peak interpolator in polyphase form.

    Returns
    -------
    numpy.ndarray
        float64 ``(history, 4)``, read-only: column ``p`` holds the taps of output
        phase ``p``, newest input last, so ``windows @ phases`` interpolates every
        window of ``history`` consecutive input frames at once.
    """
    fir = oversampling_fir()
    taps = fir.shape[0]
    hist = (taps - 1) // OVERSAMPLING + 1
    padded = np.zeros(hist * OVERSAMPLING)
    padded[:taps] = fir
    phases = np.ascontiguousarray(padded.reshape(hist, OVERSAMPLING)[::-1])
    phases.flags.writeable = False
    return phases


def _db(amplitude: float) -> float:
    return 20.0 * math.log10(max(amplitude, 1e-12))


class TruePeakMeter:
    """Streaming true peak (4x oversampled), exact whatever the block sizes.

    Only windows that could beat the peak found so far are interpolated, so the
    result equals interpolating everything at a fraction of the cost.  Bounds cull
    them, the cheapest first: an interpolated value is at most the largest phase's L1
    norm times the largest input in its window (7.7 dB over the sample peak: calm
    audio stops there, but on noise at -23 LUFS about half the windows pass it).
    Then the slope bound (:func:`_slope_bound_weights`): summing each phase by parts
    around its central input, an interpolated value is at most ``|x|`` at that input
    (times the phase's DC gain) plus a weight times the window's largest step between
    neighbouring inputs, which is tight wherever the sound is smooth at the sample
    rate (tones, low-passed noise: on singing-bowl-bath fewer than one window in a
    thousand passes it, against one in five for the per-tap bound below).  Where it
    leaves many (bright noise, whose steps are as large as its samples), each phase's
    few central taps times their own inputs plus the L1 norm of its other taps times
    the window's largest input is taken too, and a window is interpolated only if it
    passes both.  Bounds are float32 with a margin far above their rounding.

    Parameters
    ----------
    channels : int
        Channel count.
    """

    CENTRE_TAPS = 2  #: taps each side of a point that the tight bound weighs one by one
    #: Relative margin of both bounds: far above the float32 rounding of the tight
    #: bound (< 1e-6) and of the float64 interpolation (< 1e-14), so no window that
    #: could beat the peak is skipped.
    _MARGIN = 1e-5

    def __init__(self, channels: int = 2) -> None:
        self._phases = oversampling_phases()
        self._hist_len = self._phases.shape[0]
        self._gain = float(np.abs(self._phases).sum(axis=0).max())
        self._hist = np.zeros((channels, self._hist_len - 1), dtype=np.float32)
        self._centre, self._centre_w, self._tail_w = _tight_bound_weights(self.CENTRE_TAPS)
        self.peak = 0.0

    def add(self, block: np.ndarray) -> None:
        """Measure one ``(channels, frames)`` block."""
        x = np.asarray(block)
        n = x.shape[1]
        if n == 0:
            return
        f = self._hist_len
        # max |x| without an |x| copy of the block: two reductions (exact, as abs is)
        block_peak = max(float(x.max()), -float(x.min()))
        hist = self._hist
        # the last f - 1 frames, kept in the samples' own precision (a copy)
        self._hist = (
            np.concatenate([hist, x], axis=1)[:, -(f - 1) :]
            if n < f - 1
            else np.array(x[:, -(f - 1) :], dtype=np.result_type(hist, x))
        )
        hist_peak = float(np.max(np.abs(hist))) if hist.size else 0.0
        self.peak = max(self.peak, block_peak)
        if max(block_peak, hist_peak) * self._gain <= self.peak:
            return  # nothing here can beat the peak found so far (the common case)
        buf = np.concatenate([hist, x], axis=1)
        hot = self._hot_windows(buf, n)
        if hot.size == 0:
            return
        self.peak = max(self.peak, self._interpolated_peak(buf, hot))

    #: Windows per product where most are hot (a contiguous copy of them and one BLAS
    #: product: ~40 % less CPU than numpy's product of the overlapping view).
    _CHUNK_WINDOWS = 4096

    def _interpolated_peak(self, buf: np.ndarray, hot: np.ndarray) -> float:
        """Largest ``|value|`` of the 4x interpolation of windows ``hot`` of ``buf``."""
        windows = np.lib.stride_tricks.sliding_window_view(buf, self._hist_len, axis=1)
        n = windows.shape[1]
        if hot.size < n // 4:  # the few hot rows, gathered, then widened (exactly)
            rows = np.asarray(windows[:, hot], dtype=np.float64)
            return float(np.max(np.abs(rows @ self._phases)))
        best = 0.0
        for start in range(int(hot[0]), int(hot[-1]) + 1, self._CHUNK_WINDOWS):
            rows = np.array(windows[:, start : start + self._CHUNK_WINDOWS], dtype=np.float64)
            best = max(best, float(np.max(np.abs(rows @ self._phases))))
        return best

    def _hot_windows(self, buf: np.ndarray, n: int) -> np.ndarray:
        """Windows (``0..n-1``; window ``j`` is ``buf[:, j : j + f]``) whose
        interpolated values could beat the peak found so far, ascending."""
        f = self._hist_len
        if self.peak < 1e-30:  # float32 bounds would underflow: interpolate every window
            return np.arange(n)
        mag = np.abs(buf)
        fp = np.max(mag, axis=0) if mag.shape[0] > 1 else mag[0]  # peak over channels
        fp = np.asarray(fp, dtype=np.float32)  # rounding covered by the margin
        steps = np.abs(np.diff(buf, axis=1))
        fd = np.max(steps, axis=0) if steps.shape[0] > 1 else steps[0]  # largest step
        fd = np.asarray(fd, dtype=np.float32)
        anchors, dc_w, step_w = _slope_bound_weights()
        # the slope bound of the whole block first: often nothing in it comes near
        block_bound = float(np.max(fp)) * float(dc_w) + float(np.max(fd)) * float(step_w)
        if block_bound * (1.0 + self._MARGIN) <= self.peak * (1.0 - self._MARGIN):
            return np.arange(0)
        wmax = _running_max(fp, f)  # largest input of every window
        thr = np.float32(self.peak * (1.0 - self._MARGIN))
        loose = np.flatnonzero(wmax * np.float32(self._gain * (1.0 + self._MARGIN)) > thr)
        if loose.size * 32 < n:  # the L1 bound leaves few (or none): interpolate those
            return loose
        # the slope bound: |x| at the central inputs plus the largest step times a weight
        dmax = _running_max(fd, f - 1)  # window j: steps j .. j + f - 2
        centre = fp[anchors[0] : anchors[0] + n]
        for a in anchors[1:]:
            centre = np.maximum(centre, fp[a : a + n])
        slope = centre * dc_w
        slope += dmax * step_w
        slope *= np.float32(1.0 + self._MARGIN)
        smooth = slope > thr
        if np.count_nonzero(smooth) * 32 < n:  # smooth sound: few left (the common case)
            return np.flatnonzero(smooth)
        # the tight bound, phase by phase (weights rounded up into float32)
        bound = np.empty(n, dtype=np.float32)
        s = np.empty(n, dtype=np.float32)
        tmp = np.empty(n, dtype=np.float32)
        for p, tail in enumerate(self._tail_w):
            np.multiply(wmax, tail, out=s)
            for k, w in zip(self._centre, self._centre_w[p], strict=True):
                np.multiply(fp[k : k + n], w, out=tmp)
                s += tmp
            if p == 0:
                bound[:] = s
            else:
                np.maximum(bound, s, out=bound)
        return np.flatnonzero((bound > thr) & smooth)

    @property
    def true_peak_dbtp(self) -> float:
        """Largest true peak so far, dBTP."""
        return _db(self.peak)


def _running_max(a: np.ndarray, width: int) -> np.ndarray:
    """Maxima of every ``width`` consecutive values of 1-D ``a`` (``len(a) - width + 1``
    of them), by doubling: running maxima over 2, 4, ... values, then one overlap."""
    out, have = a, 1
    while 2 * have <= width:
        out = np.maximum(out[:-have], out[have:])
        have *= 2
    if have < width:
        out = np.maximum(out[: have - width], out[width - have :])
    return out


@lru_cache(maxsize=1)
def _slope_bound_weights() -> tuple[tuple[int, ...], np.float32, np.float32]:
    """:class:`TruePeakMeter`'s slope bound: ``anchors``, ``dc_w`` and ``step_w`` with
    ``|y_p| <= dc_w * max(|x[a]| for a in anchors) + step_w * max_i |x[i+1] - x[i]|``
    for every phase ``p`` of every window ``x`` (``y_p = sum_k h[k, p] x[k]``).

    Summation by parts around an anchor ``m``: ``y_p = S_p x[m] - sum_{i<m} L_i d_i +
    sum_{i>=m} R_i d_i`` with ``d_i = x[i+1] - x[i]``, ``S_p = sum_k h[k, p]``, ``L_i =
    sum_{k<=i} h[k, p]`` and ``R_i = sum_{k>i} h[k, p]``; each phase takes the anchor
    that makes ``sum |L| + sum |R|`` least (its central tap).  Both weights are the
    largest over the phases, rounded up into float32.
    """
    phases = oversampling_phases()
    taps = phases.shape[0]
    anchors: set[int] = set()
    dc_w = step_w = 0.0
    for p in range(phases.shape[1]):
        h = phases[:, p]
        left = np.cumsum(h)  # L_i = sum_{k<=i} h_k
        right = np.cumsum(h[::-1])[::-1]  # right[i] = sum_{k>=i} h_k, so R_i = right[i + 1]
        best = min(
            range(taps),
            key=lambda m: float(np.abs(left[:m]).sum() + np.abs(right[m + 1 :]).sum()),
        )
        anchors.add(best)
        dc_w = max(dc_w, abs(float(h.sum())))
        step_w = max(step_w, float(np.abs(left[:best]).sum() + np.abs(right[best + 1 :]).sum()))

    def up32(v: float) -> np.float32:  # float64 sums: within 1e-15 of exact
        return np.nextafter(np.float32(v * (1.0 + 1e-12)), np.float32(np.inf))

    return tuple(sorted(anchors)), up32(dc_w), up32(step_w)


@lru_cache(maxsize=4)
def _tight_bound_weights(centre_taps: int) -> tuple[tuple[int, ...], np.ndarray, np.ndarray]:
    """:class:`TruePeakMeter`'s tight bound: the window offsets ``centre`` of the
    ``2 * centre_taps + 2`` taps around each interpolated point, their ``|h|`` (float32
    ``(phases, taps)``) and each phase's L1 norm of its other taps (float32
    ``(phases,)``), all rounded up: ``sum(centre_w[p] * |x[centre]|) + tail_w[p] *
    max|x|`` bounds phase ``p``'s interpolated value of a window."""
    phases = oversampling_phases()
    first = max(0, _FIR_HALF_FRAMES - centre_taps)
    centre = tuple(range(first, min(phases.shape[0], _FIR_HALF_FRAMES + centre_taps + 2)))
    absph = np.abs(phases)
    centre_w = absph[list(centre)].T
    tail_w = np.maximum(absph.sum(axis=0) - centre_w.sum(axis=1), 0.0)

    def up32(v: np.ndarray) -> np.ndarray:  # float64 sums: within 1e-15 of exact
        out = np.nextafter(np.asarray(v * (1.0 + 1e-12), np.float32), np.float32(np.inf))
        out.flags.writeable = False
        return out

    return centre, up32(centre_w), up32(tail_w)


def gated_loudness(block_power: np.ndarray) -> float:
    """BS.1770-4 gating of 400 ms block powers (mean K-weighted square, summed over
    channels), in LUFS; ``-inf`` when nothing passes the absolute gate."""
    z = np.asarray(block_power, dtype=np.float64)
    if z.size == 0:
        return float("-inf")
    lufs = -0.691 + 10 * np.log10(np.maximum(z, 1e-30))
    keep = lufs > -70.0
    if not np.any(keep):
        return float("-inf")
    rel = -0.691 + 10 * np.log10(np.mean(z[keep])) - 10.0
    keep &= lufs > rel
    return float(-0.691 + 10 * np.log10(np.mean(z[keep])))


def gated_integrated_from_blocks(block_lufs: np.ndarray) -> float:
    """BS.1770 gating applied to per-block (400 ms) loudness values, in LUFS.

    Used to *predict* a session's integrated loudness from a loudness-over-time
    estimate without rendering it.
    """
    return gated_loudness(10 ** ((np.asarray(block_lufs, dtype=np.float64) + 0.691) / 10))


class KWeightingTap:
    """K-weighted power computed upstream, offered to a meter of the same samples.

    The startle guard K-weights every quantum it receives; when nothing after it
    changes the signal (guard gain 0 dB, limiter a pure delay, no clipping: the usual
    case for calm scenes), a :class:`LoudnessMeter` of the output would K-weight the
    very same samples from the very same (zero) state.  The guard puts each quantum
    here (:meth:`put`) with its filter state before it and its per-frame power; the
    meter (:meth:`LoudnessMeter.share_k_weighting`) checks that each block it gets is
    sample for sample the guard's input at the same frames and then takes the power
    instead of filtering again.  At the first block that differs it takes the guard's
    filter state at that frame and filters the rest itself; and at the start of each
    later block that starts a quantum, it resumes taking the power when its own filter
    state there is the guard's to the bit and the samples are the same (the two
    filters' states, fed the same samples again after the guard has recovered,
    become equal to the bit within a few quanta on most scenes), so its numbers are
    exactly those of a meter on its own (``tests/engine/test_loudness_tap.py``).

    Thread-safe for one producer and one consumer (``deque`` appends and pops).
    """

    def __init__(self) -> None:
        # (first frame, quantum float32 (channels, q), state before (channels, sections, 2),
        #  power float64 (q,): K-weighted squares summed over channels)
        self._records: deque[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = deque()
        self._next = 0
        self.closed = False

    def put(self, x: np.ndarray, zi: np.ndarray, power: np.ndarray) -> None:
        """Record the next quantum ``x`` (not modified afterwards), the K-filter state
        ``zi`` before it and its per-frame power (float64 ``(frames,)``)."""
        if self.closed:
            return
        self._records.append((self._next, x, zi, power))
        self._next += x.shape[1]

    def close(self) -> None:
        """Stop recording and drop what is held."""
        self.closed = True
        self._records.clear()

    def drop_before(self, frame: int) -> None:
        """Drop the records that end at or before ``frame`` (no longer needed)."""
        recs = self._records
        while recs and recs[0][0] + recs[0][1].shape[1] <= frame:
            recs.popleft()

    def state_at(self, frame: int) -> tuple[np.ndarray, np.ndarray] | None:
        """The K-filter state at ``frame`` and the samples it still has to filter.

        Returns ``(zi, head)``: the state before the recorded quantum holding
        ``frame`` (float64 ``(channels, sections, 2)``, a copy) and that quantum's
        samples before ``frame`` (float32 ``(channels, frame - quantum start)``), so
        that filtering ``head`` from ``zi`` gives the state at ``frame``; ``None`` when
        no record holds it (already dropped, or not yet put).
        """
        for first, x, zi, _ in list(self._records):  # a snapshot: the producer appends
            if first <= frame < first + x.shape[1]:
                return zi.copy(), x[:, : frame - first]
        return None

    def power_of(self, start: int, block: np.ndarray) -> np.ndarray | None:
        """The recorded power of ``block`` if it is the recorded samples from frame
        ``start`` on (float64 ``(frames,)``), else ``None``.

        Records before ``start`` are dropped (frames are asked for in order).
        """
        n = block.shape[1]
        recs = self._covering(start, n)
        if not recs:
            return None
        xs = [r[1] for r in recs]
        first, last = start - recs[0][0], start + n - recs[-1][0]
        ref = xs[0][:, first:last] if len(xs) == 1 else None
        if ref is None:
            ref = np.concatenate([xs[0][:, first:], *xs[1:-1], xs[-1][:, :last]], axis=1)
        if not np.array_equal(block, ref):
            return None
        ps = [r[3] for r in recs]
        if len(ps) == 1:
            return ps[0][first:last]
        return np.concatenate([ps[0][first:], *ps[1:-1], ps[-1][:last]])

    def _covering(self, start: int, n: int) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """Records overlapping frames ``[start, start + n)`` (older ones are dropped);
        empty when they do not all exist yet."""
        self.drop_before(start)
        recs = self._records
        out = []
        for rec in list(recs):  # a snapshot: the producer may append meanwhile
            if rec[0] >= start + n:
                break
            out.append(rec)
        if not out or out[0][0] > start or out[-1][0] + out[-1][1].shape[1] < start + n:
            return []
        return out


class LoudnessMeter:
    """Streaming BS.1770 integrated loudness and true peak, in constant memory.

    Feed blocks with :meth:`add`; read :attr:`integrated_lufs` and
    :attr:`true_peak_dbtp` at any time.  It keeps one float per 100 ms (a session of
    12 hours needs 3.5 MB), so calibrating or checking a long render never holds the
    audio itself.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    channels : int
        Channel count (all weighted 1.0, as BS.1770 does for left and right).
    true_peak : bool
        Also track the true peak (4x oversampling).

    Examples
    --------
    >>> import pyloudnorm
    >>> rng = np.random.default_rng(0)
    >>> x = (0.1 * rng.standard_normal((2, 48_000 * 5))).astype(np.float32)
    >>> m = LoudnessMeter(48_000)
    >>> for i in range(0, x.shape[1], 7_000):
    ...     m.add(x[:, i : i + 7_000])
    >>> ref = pyloudnorm.Meter(48_000).integrated_loudness(x.T.astype(np.float64))
    >>> bool(abs(m.integrated_lufs - ref) < 0.05)
    True
    """

    def __init__(self, sample_rate: int, channels: int = 2, *, true_peak: bool = True) -> None:
        self.sample_rate = sample_rate
        self._k = SosFilter(k_weighting_sos(sample_rate), channels=channels)
        self._step = round(0.1 * sample_rate)
        self._partial = 0.0
        self._partial_n = 0
        self._sums: list[float] = []
        self._tp = TruePeakMeter(channels) if true_peak else None
        self._tap: KWeightingTap | None = None
        self._sharing = False  # the last block's power came from the tap
        #: Frames whose K-weighted power came from a shared tap (the rest were filtered).
        self.shared_frames = 0
        self._frames = 0  # frames measured so far

    def share_k_weighting(self, tap: KWeightingTap) -> None:
        """Take the K-weighted power from ``tap`` while the blocks are its samples.

        Call before the first block, with a tap fed from the start of the same signal
        (see :class:`KWeightingTap`); the results are exactly the same, the K-weighting
        of shared blocks is not run a second time.
        """
        if self._frames or self._k.channels != 2:
            raise RuntimeError("a meter shares K-weighting only from its first block")
        self._tap = tap
        self._sharing = True

    def _shared_power(self, block: np.ndarray) -> np.ndarray | None:
        """The tap's power for ``block`` (float64 ``(frames,)``), or None when this
        meter must filter ``block`` itself.

        While sharing, a block that is not the tap's samples ends the sharing: the
        K-filter takes over with the guard's state at this frame (the frames before it
        were the same).  While not sharing, a block that starts a recorded quantum
        where the guard's filter state is this meter's own to the bit, and is the
        tap's samples, resumes it: the power is then what filtering would give.
        """
        tap = self._tap
        assert tap is not None
        start = self._frames
        n = block.shape[1]
        if not self._sharing:
            state = tap.state_at(start)
            if state is None or state[1].shape[1] or not np.array_equal(state[0], self._k.zi):
                tap.drop_before(start + n)
                return None
        power = tap.power_of(start, block)
        if power is not None:
            self._sharing = True
            self.shared_frames += n
            return power
        if self._sharing:
            # Not the same samples: this meter K-weights from here on, from the state
            # the guard's filter had at this frame.
            state = tap.state_at(start)
            if state is None:
                raise RuntimeError(f"the K-weighting tap has no state for frame {start}")
            self._k.zi, head = state
            if head.shape[1]:
                self._k.process(head)
            self._sharing = False
        tap.drop_before(start + n)
        return None

    def add(self, block: np.ndarray) -> None:
        """Measure one ``(channels, frames)`` block."""
        block = np.asarray(block)
        if block.shape[1] == 0:
            return
        p = self._shared_power(block) if self._tap is not None else None
        self._frames += block.shape[1]
        if p is None:
            y = self._k.process(block)  # a new float64 array
            np.square(y, out=y)
            p = y[0] if y.shape[0] == 1 else np.sum(y, axis=0)
        i = 0
        n = len(p)
        if self._partial_n:
            take = min(self._step - self._partial_n, n)
            self._partial += float(np.sum(p[:take]))
            self._partial_n += take
            i = take
            if self._partial_n == self._step:
                self._sums.append(self._partial)
                self._partial, self._partial_n = 0.0, 0
        whole = (n - i) // self._step
        if whole:
            seg = p[i : i + whole * self._step].reshape(whole, self._step)
            self._sums.extend(np.sum(seg, axis=1).tolist())
            i += whole * self._step
        if i < n:
            self._partial = float(np.sum(p[i:]))
            self._partial_n = n - i
        if self._tp is not None:
            self._tp.add(block)

    @property
    def integrated_lufs(self) -> float:
        """Gated integrated loudness so far, LUFS (-inf for silence or < 0.4 s)."""
        s = np.asarray(self._sums)
        if len(s) < 4:
            return float("-inf")
        z = (s[:-3] + s[1:-2] + s[2:-1] + s[3:]) / (4 * self._step)  # 400 ms, 75 % overlap
        return gated_loudness(z)

    @property
    def true_peak_dbtp(self) -> float:
        """Largest true peak so far, dBTP (``-inf`` semantics: -240 for silence)."""
        if self._tp is None:
            raise AttributeError("this meter was made with true_peak=False")
        return self._tp.true_peak_dbtp


def integrated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Integrated (gated) loudness in LUFS per ITU-R BS.1770-4.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)``, any float dtype, at least 0.4 s long.
    sample_rate : int
        Sample rate in Hz.
    """
    x = np.atleast_2d(np.asarray(audio))
    meter = LoudnessMeter(sample_rate, x.shape[0], true_peak=False)
    meter.add(x)
    return meter.integrated_lufs


def true_peak_dbtp(audio: np.ndarray) -> float:
    """True peak in dBTP: the peak of the signal oversampled 4x (BS.1770 Annex 2).

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)`` float audio.
    """
    x = np.atleast_2d(np.asarray(audio))
    meter = TruePeakMeter(x.shape[0])
    meter.add(x)
    return meter.true_peak_dbtp


def ungated_lufs(audio: np.ndarray, sample_rate: int) -> float:
    """Loudness of a short excerpt: K-weighted mean power (BS.1770, no gating), LUFS."""
    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    y = SosFilter(k_weighting_sos(sample_rate), channels=x.shape[0]).process(x)
    p = float(np.sum(np.mean(y * y, axis=-1)))
    return -0.691 + 10.0 * math.log10(p) if p > 0 else -math.inf


def _k_weighted_power(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Per-frame K-weighted power summed over channels (BS.1770 weights 1.0)."""
    x = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    y = SosFilter(k_weighting_sos(sample_rate), channels=x.shape[0]).process(x)
    return np.sum(y**2, axis=0)


def momentary_lufs(audio: np.ndarray, sample_rate: int, *, hop_s: float = 0.1) -> np.ndarray:
    """Momentary loudness (400 ms windows) every ``hop_s`` seconds, in LUFS.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_windows,)``; window ``i`` covers ``[i hop, i hop + 0.4 s)``.
    """
    p = _k_weighted_power(audio, sample_rate)
    win = round(0.4 * sample_rate)
    hop = round(hop_s * sample_rate)
    c = np.concatenate([[0.0], np.cumsum(p)])
    starts = np.arange(0, len(p) - win + 1, hop)
    ms = (c[starts + win] - c[starts]) / win
    return -0.691 + 10 * np.log10(np.maximum(ms, 1e-20))


@dataclass(frozen=True)
class StartleReport:
    """Result of :func:`startle_check`.

    Attributes
    ----------
    worst_rise_lu : float
        Largest rise of momentary loudness over the power mean of the previous 10 s.
    at_s : float
        Where that rise happens (end of the 400 ms window), seconds.
    ok : bool
        ``worst_rise_lu <= STARTLE_LIMIT_LU``.
    """

    worst_rise_lu: float
    at_s: float
    ok: bool


def startle_check(
    audio: np.ndarray, sample_rate: int, *, limit_lu: float = STARTLE_LIMIT_LU, hop_s: float = 0.1
) -> StartleReport:
    """Check the no-startle rule.

    Momentary loudness (400 ms) must never rise more than ``limit_lu`` above the power
    mean of the momentary loudness over the previous 10 s.  Windows whose previous 10 s
    are below the BS.1770 absolute gate (-70 LUFS), e.g. before the session starts,
    are not judged; the rule applies once 10 s of history exist.
    """
    m = momentary_lufs(audio, sample_rate, hop_s=hop_s)
    per_10s = round(10.0 / hop_s)
    if len(m) <= per_10s:
        return StartleReport(float("-inf"), 0.0, True)
    power = 10 ** (m / 10)
    c = np.concatenate([[0.0], np.cumsum(power)])
    idx = np.arange(per_10s, len(m))
    prev_mean = (c[idx] - c[idx - per_10s]) / per_10s
    prev_db = 10 * np.log10(np.maximum(prev_mean, 1e-20))
    rise = np.where(prev_db > -70.0, m[idx] - prev_db, -np.inf)
    k = int(np.argmax(rise))
    worst = float(rise[k])
    return StartleReport(worst, float(idx[k] * hop_s + 0.4), worst <= limit_lu)


def measure_file(path: str, *, block_frames: int = 65_536) -> tuple[float, float]:
    """Integrated loudness (LUFS) and true peak (dBTP) of an audio file, streamed.

    Memory stays a block deep whatever the file's length; lossy files are measured as
    their decoder (libsndfile's) produces them.
    """
    import soundfile as sf

    with sf.SoundFile(path) as f:
        meter = LoudnessMeter(f.samplerate, f.channels)
        for block in f.blocks(blocksize=block_frames, dtype="float32", always_2d=True):
            meter.add(block.T)
    return meter.integrated_lufs, meter.true_peak_dbtp
