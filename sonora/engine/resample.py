"""A streaming polyphase resampler on scipy (replaces pedalboard's ``StreamResampler``).

Written here because the ready-made streaming resamplers on PyPI are either GPL
(pedalboard) or native builds with their own wheels (soxr); scipy's ``upfirdn`` does the
arithmetic and this module only adds the state.  Input is consumed in whole groups of
``down`` frames (``down / up`` is the ratio of the rates in lowest terms), and each
group yields exactly ``up`` output frames computed from a full window of history, so
the output is the same samples whatever the caller's block sizes.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import signal

__all__ = ["StreamResampler"]


class StreamResampler:
    """Resample ``(channels, frames)`` float audio from one rate to another, in chunks.

    The anti-imaging/anti-aliasing filter is a Kaiser-windowed sinc (``firwin``) that
    passes up to 88 % of the lower Nyquist frequency (flat to within 0.01 dB there) and
    attenuates by :attr:`STOP_DB` from the lower Nyquist frequency on.  Its delay is
    removed: output frame ``k`` is the input signal at time ``k / out_rate``.

    Parameters
    ----------
    in_rate, out_rate : int
        Sample rates in Hz (> 0).
    channels : int
        Channel count (>= 1).

    Examples
    --------
    >>> r = StreamResampler(44_100, 48_000, 2)
    >>> x = np.zeros((2, 44_100), dtype=np.float32)
    >>> y = np.concatenate([r.process(x[:, :1000]), r.process(x[:, 1000:]), r.flush()], axis=1)
    >>> y.shape
    (2, 48000)
    """

    #: Stop-band attenuation (dB) of the filter.
    STOP_DB = 100.0
    #: Pass-band edge as a fraction of the lower of the two Nyquist frequencies.
    PASS_FRACTION = 0.88

    def __init__(self, in_rate: int, out_rate: int, channels: int) -> None:
        if int(in_rate) <= 0 or int(out_rate) <= 0:
            raise ValueError(f"sample rates must be positive, got {in_rate} and {out_rate}")
        if int(channels) < 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        g = math.gcd(int(in_rate), int(out_rate))
        self.in_rate, self.out_rate, self.channels = int(in_rate), int(out_rate), int(channels)
        self.up, self.down = self.out_rate // g, self.in_rate // g
        # The filter runs at in_rate * up; its band edges in that rate's Nyquist units.
        nyq_up = 0.5 * self.in_rate * self.up
        edge = 0.5 * min(self.in_rate, self.out_rate)
        width = (1.0 - self.PASS_FRACTION) * edge / nyq_up
        taps, beta = signal.kaiserord(self.STOP_DB, width)
        # Odd length with (taps - 1) / 2 a multiple of `down`: the delay is a whole
        # number of output frames.
        half = math.ceil((taps - 1) / 2 / self.down) * self.down
        cutoff = (self.PASS_FRACTION + 1.0) / 2.0 * edge / nyq_up
        self._h = signal.firwin(2 * half + 1, cutoff, window=("kaiser", beta)) * self.up
        self._delay = half // self.down  # output frames
        # Whole groups of history covering the filter: each new output frame's window
        # lies inside the buffer.
        self._groups = math.ceil(len(self._h) / (self.up * self.down))
        self.reset()

    def reset(self) -> None:
        """Forget all input (the next call starts a new stream)."""
        hist = self._groups * self.down
        self._hist = np.zeros((self.channels, hist), dtype=np.float64)
        self._pending = np.zeros((self.channels, 0), dtype=np.float64)
        self._to_drop = self._delay  # output frames of the filter's delay
        self._frames_in = 0
        self._frames_out = 0

    def _run(self, x: np.ndarray) -> np.ndarray:
        """Resample whole groups ``x`` (``(channels, k * down)``) after the history."""
        buf = np.concatenate([self._hist, x], axis=1)
        self._hist = buf[:, x.shape[1] :]
        y = signal.upfirdn(self._h, buf, self.up, self.down, axis=1)
        first = self._groups * self.up  # outputs before this are the history's
        y = y[:, first : first + (x.shape[1] // self.down) * self.up]
        if self._to_drop:
            k = min(self._to_drop, y.shape[1])
            y = y[:, k:]
            self._to_drop -= k
        self._frames_out += y.shape[1]
        return y.astype(np.float32)

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed ``(channels, frames)`` float audio; returns what is ready, float32.

        Parameters
        ----------
        block : numpy.ndarray
            ``(channels, frames)`` audio at ``in_rate``.

        Returns
        -------
        numpy.ndarray
            ``(channels, k)`` float32 audio at ``out_rate`` (``k`` may be 0).
        """
        x = np.asarray(block, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] != self.channels:
            raise ValueError(f"expected shape ({self.channels}, frames), got {x.shape}")
        self._frames_in += x.shape[1]
        x = np.concatenate([self._pending, x], axis=1) if self._pending.shape[1] else x
        whole = x.shape[1] - x.shape[1] % self.down
        self._pending = x[:, whole:]
        if whole == 0:
            return np.zeros((self.channels, 0), dtype=np.float32)
        return self._run(x[:, :whole])

    def flush(self) -> np.ndarray:
        """Return the rest of the stream: ``ceil(frames_in * out_rate / in_rate)`` in all.

        Returns
        -------
        numpy.ndarray
            ``(channels, k)`` float32; the resampler is reset afterwards.
        """
        total = -(-self._frames_in * self.up // self.down)
        missing = total - self._frames_out
        parts = []
        if missing > 0:
            # Zeros after the end: complete the group, then enough for the delay.
            pad = (-self._pending.shape[1]) % self.down
            groups = -(-(missing + self._to_drop) // self.up) + 1
            zeros = np.zeros((self.channels, pad + groups * self.down))
            x = np.concatenate([self._pending, zeros], axis=1)
            parts.append(self._run(x)[:, :missing])
        self.reset()
        return parts[0] if parts else np.zeros((self.channels, 0), dtype=np.float32)
