"""Filter designs and small kernels for the render path, in plain numpy.

Why not ``scipy.signal``: importing it (it pulls in ``scipy.stats``,
``scipy.interpolate``, ``scipy.optimize``...) costs tens of MB of resident memory and
most of a second per process.  These designs do not need it; they are checked against
scipy/pyloudnorm in ``tests/engine/test_design.py`` (same coefficients to ~1e-12).  Note that
this alone does not keep ``scipy.signal`` out of a process: at the time of writing
:mod:`sonora.engine.loudness` (pyloudnorm) and :mod:`sonora.plan.render` import it at
module level, so a render still loads it.  Rarely used designs (higher order
Butterworth, ``firwin2``) import scipy lazily, where they are used.

The IIR kernel itself is scipy's compiled ``_sosfilt`` (the same arithmetic as
:func:`scipy.signal.sosfilt`), loaded from its extension file without running
``scipy.signal``'s package ``__init__``.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "biquad",
    "firwin_kaiser",
    "k_weighting_sos",
    "load_sosfilt_kernel",
    "sos_response",
    "sos_step_zi",
    "window_min",
]


def load_sosfilt_kernel() -> Callable[..., Any] | None:
    """Return scipy's compiled in-place SOS kernel, or ``None`` if it can't be found.

    The kernel is called as ``kernel(sos, x, zi)`` with float64 C-contiguous ``sos``
    ``(n_sections, 6)``, ``x`` ``(channels, frames)`` (filtered in place) and ``zi``
    ``(channels, n_sections, 2)`` (updated in place).
    """
    import sys

    name = "scipy.signal._sosfilt"
    # scipy.signal already imported elsewhere: reuse it.  Not when another thread is
    # importing it right now: the module is in sys.modules before its functions are, and
    # taking None from it here made the first render of a fresh server process fall back
    # for good (a 500 on a resumed stream under load); it is loaded below instead.
    kernel = getattr(sys.modules.get(name), "_sosfilt", None)
    if kernel is not None:
        return kernel  # type: ignore[no-any-return]
    try:
        spec = importlib.util.find_spec("scipy")
        if spec is None or spec.origin is None:
            return None
        folder = Path(spec.origin).parent / "signal"
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = folder / f"_sosfilt{suffix}"
            if path.exists():
                ext = importlib.util.spec_from_file_location(name, path)
                if ext is None or ext.loader is None:
                    return None
                module = importlib.util.module_from_spec(ext)
                ext.loader.exec_module(module)
                return getattr(module, "_sosfilt", None)
    except Exception:  # pragma: no cover - unusual scipy layouts fall back
        return None
    return None  # pragma: no cover


def biquad(
    kind: str,
    freq_hz: float,
    sample_rate: int,
    *,
    q: float = 1 / math.sqrt(2),
    gain_db: float = 0.0,
) -> np.ndarray:
    """One RBJ-cookbook biquad as an SOS row.

    With the default ``q`` = 1/√2, ``"lowpass"`` and ``"highpass"`` equal
    ``scipy.signal.butter(2, freq_hz, kind, fs=sample_rate, output="sos")`` (both are
    the bilinear transform prewarped at the cutoff).

    Parameters
    ----------
    kind : {"lowpass", "highpass", "high_shelf"}
        Filter type.
    freq_hz : float
        Cutoff (or shelf midpoint) in Hz, below ``sample_rate / 2``.
    sample_rate : int
        Sample rate in Hz.
    q : float
        Quality factor.
    gain_db : float
        Shelf gain in dB (``"high_shelf"`` only).

    Returns
    -------
    numpy.ndarray
        float64 ``(1, 6)``: ``[b0, b1, b2, 1, a1, a2]``.
    """
    w0 = 2.0 * math.pi * freq_hz / sample_rate
    cw, alpha = math.cos(w0), math.sin(w0) / (2.0 * q)
    if kind == "lowpass":
        b = [(1 - cw) / 2, 1 - cw, (1 - cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "highpass":
        b = [(1 + cw) / 2, -(1 + cw), (1 + cw) / 2]
        a = [1 + alpha, -2 * cw, 1 - alpha]
    elif kind == "high_shelf":
        amp = 10 ** (gain_db / 40)
        sa = 2 * math.sqrt(amp) * alpha
        b = [
            amp * ((amp + 1) + (amp - 1) * cw + sa),
            -2 * amp * ((amp - 1) + (amp + 1) * cw),
            amp * ((amp + 1) + (amp - 1) * cw - sa),
        ]
        a = [
            (amp + 1) - (amp - 1) * cw + sa,
            2 * ((amp - 1) - (amp + 1) * cw),
            (amp + 1) - (amp - 1) * cw - sa,
        ]
    else:
        raise ValueError(f"kind: unknown biquad {kind!r}")
    a0 = a[0]
    return np.array([[b[0] / a0, b[1] / a0, b[2] / a0, 1.0, a[1] / a0, a[2] / a0]])


def k_weighting_sos(sample_rate: int) -> np.ndarray:
    """ITU-R BS.1770 K-weighting (high shelf, then high pass) as two SOS rows.

    The same RBJ-based design pyloudnorm's default meter uses (shelf +4 dB at 1500 Hz,
    Q 1/√2; high pass 38 Hz, Q 0.5), so measurements agree with
    :func:`sonora.engine.loudness.integrated_lufs`.

    Returns
    -------
    numpy.ndarray
        float64 ``(2, 6)``.
    """
    return np.vstack(
        [
            biquad("high_shelf", 1500.0, sample_rate, q=1 / math.sqrt(2), gain_db=4.0),
            biquad("highpass", 38.0, sample_rate, q=0.5),
        ]
    )


def sos_response(sos: np.ndarray, freq_hz: np.ndarray, sample_rate: float) -> np.ndarray:
    """Complex frequency response of second-order sections at ``freq_hz``.

    Returns
    -------
    numpy.ndarray
        complex128, same shape as ``freq_hz``.
    """
    z1 = np.exp(-2j * np.pi * np.asarray(freq_hz, dtype=np.float64) / sample_rate)
    z2 = z1 * z1
    h = np.ones_like(z1)
    for b0, b1, b2, a0, a1, a2 in np.asarray(sos, dtype=np.float64):
        h *= (b0 + b1 * z1 + b2 * z2) / (a0 + a1 * z1 + a2 * z2)
    return h


def sos_step_zi(sos: np.ndarray) -> np.ndarray:
    """Transposed-direct-form state of ``sos`` settled on a unit step input.

    Same as :func:`scipy.signal.sosfilt_zi`: filtering a constant 1 from this state
    outputs the filter's DC gain from the first sample.

    Returns
    -------
    numpy.ndarray
        float64 ``(n_sections, 2)``.
    """
    sos = np.asarray(sos, dtype=np.float64)
    zi = np.zeros((sos.shape[0], 2))
    level = 1.0  # the constant entering this section
    for k, (b0, b1, b2, a0, a1, a2) in enumerate(sos):
        b0, b1, b2, a1, a2 = b0 / a0, b1 / a0, b2 / a0, a1 / a0, a2 / a0
        gain = (b0 + b1 + b2) / (1.0 + a1 + a2)
        zi[k] = [level * (gain - b0), level * (b2 - a2 * gain)]
        level *= gain
    return zi


def firwin_kaiser(numtaps: int, cutoff: float, beta: float) -> np.ndarray:
    """Kaiser-windowed-sinc low-pass, as ``scipy.signal.firwin(numtaps, cutoff,
    window=("kaiser", beta))``.

    Parameters
    ----------
    numtaps : int
        Filter length (odd for a type-I filter).
    cutoff : float
        Cutoff as a fraction of the Nyquist frequency, 0–1.
    beta : float
        Kaiser window shape.

    Returns
    -------
    numpy.ndarray
        float64 ``(numtaps,)``, unit gain at DC.
    """
    m = np.arange(numtaps) - (numtaps - 1) / 2.0
    h = cutoff * np.sinc(cutoff * m) * np.kaiser(numtaps, beta)
    return h / np.sum(h)


def window_min(x: np.ndarray, size: int) -> np.ndarray:
    """Minimum over every window of ``size`` consecutive samples ("valid" mode).

    van Herk / Gil-Werman: two running minima per block of ``size``, so the cost is
    a few numpy passes whatever ``size`` is (``scipy.ndimage.minimum_filter1d`` gives
    the same values but importing ``scipy.ndimage`` costs ~27 MB).

    Parameters
    ----------
    x : numpy.ndarray
        float64 ``(n,)``, ``n >= size``.
    size : int
        Window length in samples, >= 1.

    Returns
    -------
    numpy.ndarray
        float64 ``(n - size + 1,)``: ``out[j] = min(x[j : j + size])``.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if size <= 1:
        return x.copy()
    if n < size:
        raise ValueError(f"size: window of {size} is longer than the {n} samples")
    blocks = -(-n // size)
    padded = np.full(blocks * size, np.inf)
    padded[:n] = x
    grid = padded.reshape(blocks, size)
    prefix = np.minimum.accumulate(grid, axis=1).ravel()
    suffix = np.minimum.accumulate(grid[:, ::-1], axis=1)[:, ::-1].ravel()
    valid = n - size + 1
    return np.minimum(suffix[:valid], prefix[size - 1 : size - 1 + valid])
