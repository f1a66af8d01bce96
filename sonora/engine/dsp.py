"""Small DSP helpers shared by nodes."""

from __future__ import annotations

import numpy as np
from scipy import signal

try:  # scipy's compiled kernel; the public wrapper adds ~100 us of axis juggling per call
    from scipy.signal._sosfilt import _sosfilt as _sosfilt_kernel
except ImportError:  # pragma: no cover - other scipy layouts
    _sosfilt_kernel = None


class SosFilter:
    """Second-order-section IIR filter with carried state over ``(channels, frames)``.

    Same arithmetic as :func:`scipy.signal.sosfilt` (its compiled kernel is called
    directly when available, skipping the per-call Python overhead that dominates at
    block sizes of a few thousand frames).  Processing is in float64.

    Parameters
    ----------
    sos : numpy.ndarray
        ``(n_sections, 6)`` coefficients.
    channels : int
        Number of independent channels filtered in parallel.
    zi : numpy.ndarray, optional
        Initial state ``(channels, n_sections, 2)``; zeros by default.

    Examples
    --------
    >>> sos = signal.butter(2, 1000, fs=48000, output="sos")
    >>> x = np.random.default_rng(0).standard_normal((2, 1000))
    >>> f = SosFilter(sos, channels=2)
    >>> chunked = np.concatenate([f.process(x[:, :333]), f.process(x[:, 333:])], axis=1)
    >>> bool(np.array_equal(chunked, signal.sosfilt(sos, x, axis=-1)))
    True
    """

    def __init__(self, sos: np.ndarray, *, channels: int, zi: np.ndarray | None = None) -> None:
        self.sos = np.ascontiguousarray(sos, dtype=np.float64)
        self.channels = channels
        n = self.sos.shape[0]
        self.zi = (
            np.zeros((channels, n, 2)) if zi is None else np.ascontiguousarray(zi, dtype=np.float64)
        )

    def set_sos(self, sos: np.ndarray) -> None:
        """Swap coefficients, keeping the state of the sections both share."""
        sos = np.ascontiguousarray(sos, dtype=np.float64)
        if sos.shape[0] != self.sos.shape[0]:
            zi = np.zeros((self.channels, sos.shape[0], 2))
            k = min(sos.shape[0], self.sos.shape[0])
            zi[:, :k] = self.zi[:, :k]
            self.zi = zi
        self.sos = sos

    def reset(self) -> None:
        """Zero the state."""
        self.zi = np.zeros_like(self.zi)

    def process(self, x: np.ndarray) -> np.ndarray:
        """Filter ``x`` (``(channels, frames)``); returns a new float64 array."""
        y = np.array(x, dtype=np.float64, order="C", copy=True)
        if y.ndim == 1:
            y = y[None, :]
        if _sosfilt_kernel is not None:
            _sosfilt_kernel(self.sos, y, self.zi)
            return y
        out, zi = signal.sosfilt(self.sos, y, axis=-1, zi=np.moveaxis(self.zi, 0, 1))
        self.zi = np.ascontiguousarray(np.moveaxis(zi, 1, 0))
        return out
