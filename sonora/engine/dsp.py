"""Small DSP helpers shared by nodes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from sonora.engine.design import load_sosfilt_kernel

# scipy's compiled kernel, loaded without importing scipy.signal (see design.py); the
# public wrapper would also add ~100 us of axis juggling per call.  Loaded on the
# first filtering, not at import: listing or validating scenes never filters.
_kernel: list[Callable[..., Any] | None] = []


def _sosfilt_kernel() -> Callable[..., Any] | None:
    """scipy's compiled SOS kernel (loaded once), or ``None``."""
    if not _kernel:
        _kernel.append(load_sosfilt_kernel())
    return _kernel[0]


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
    >>> from scipy import signal
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
        return self.process_inplace(y)

    def process_inplace(self, y: np.ndarray) -> np.ndarray:
        """Filter float64 C-contiguous ``y`` (``(channels, frames)``) in place; returns it."""
        kernel = _kernel[0] if _kernel else _sosfilt_kernel()
        if kernel is not None:
            kernel(self.sos, y, self.zi)
            return y
        from scipy import signal  # pragma: no cover - fallback only

        out, zi = signal.sosfilt(self.sos, y, axis=-1, zi=np.moveaxis(self.zi, 0, 1))
        self.zi = np.ascontiguousarray(np.moveaxis(zi, 1, 0))
        y[...] = out  # in place, as the docstring promises (a caller may ignore the return)
        return y
