"""Event synthesis of the nature sources: damped, gliding partials (drops, bubbles, ticks).

Split from :mod:`sonora.engine.nature._common`, which re-exports these names.
:func:`_modal_events` can synthesise the events of several quanta in one call
(``groups``): each group keeps its own length, attack span and fade-out, so every
event has exactly the samples a call for its group alone gives, for a fraction of
the numpy calls (the rain plans several quanta at once).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _modal_events(
    sample_rate: int,
    length: int,
    freqs_hz: np.ndarray,
    taus_s: np.ndarray,
    amps: np.ndarray,
    *,
    glide: np.ndarray | None = None,
    glide_tau_s: np.ndarray | None = None,
    attack_s: np.ndarray | float = 0.0003,
    phases: np.ndarray | None = None,
    groups: Sequence[tuple[int, int, int]] | None = None,
) -> np.ndarray:
    """Synthesise events made of damped, optionally gliding partials.

    Event ``i`` is ``sum_m amps[i, m] · a(t) · exp(-t / taus[i, m]) · sin(φ_im(t))``
    with an attack ``a(t) = 1 − exp(−t / attack)`` and an instantaneous frequency
    ``f(1 + glide · (1 − exp(−t / glide_tau)))`` (a bubble's pitch rises as it nears
    the surface), whose phase is integrated in closed form.

    Parameters
    ----------
    sample_rate : int
        Sample rate in Hz.
    length : int
        Frames per event (with ``groups``: the longest group's length).
    freqs_hz, taus_s, amps : numpy.ndarray
        ``(N, M)`` start frequency (Hz), decay time constant (s) and amplitude of
        partial ``m`` of event ``i``.
    glide, glide_tau_s : numpy.ndarray, optional
        ``(N, M)`` relative pitch rise and its time constant (s).  A glide of 0 gives
        the same samples as no glide.
    attack_s : float or numpy.ndarray
        Attack time constant (s), scalar or ``(N,)``.
    phases : numpy.ndarray, optional
        ``(N, M)`` start phases (radians); 0 by default.
    groups : sequence of (int, int, int), optional
        ``(first_row, end_row, frames)``: rows ``first_row:end_row`` are events of
        ``frames`` (<= ``length``) frames, attacked and faded out as a call for them
        alone would (``frames`` of ``length``); their frames past ``frames`` are not
        meaningful.  By default one group of all rows and ``length`` frames.

    Returns
    -------
    numpy.ndarray
        float32 ``(N, length)``, each event's last frames (up to 96 of its own length)
        faded out so nothing is cut off.
    """
    n, m = freqs_hz.shape
    sr = float(sample_rate)
    t = _time_row(length, sample_rate)
    # Several partials at once, (N, g, length), as long as that fits a cache (rain's
    # batches of many long events go partial by partial): each element is computed
    # by the same float32 operations as partial by partial, so the same samples, in
    # a few numpy calls instead of a few per partial.
    step = max(1, min(m, _BATCH_ELEMENTS // max(n * length, 1)))
    t3 = t[None]  # (1, 1, length)
    w = (freqs_hz * (2.0 * math.pi / sr)).astype(np.float32)
    neg_rate = (-1.0 / (taus_s * sr)).astype(np.float32)
    log_amp = np.log(np.maximum(amps, 1e-30)).astype(np.float32)
    ph0 = None if phases is None else phases.astype(np.float32)
    out = np.empty((n, length), dtype=np.float32) if m else np.zeros((n, length), np.float32)
    buffers: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # reused, by partials per batch
    for j0 in range(0, m, step):
        js = slice(j0, min(j0 + step, m))
        g = js.stop - j0
        if g not in buffers:
            buffers[g] = (
                np.empty((n, g, length), dtype=np.float32),
                np.empty((n, g, length), dtype=np.float32),
            )
        ph, env = buffers[g]
        np.multiply(t3, w[:, js, None], out=ph)
        # Only the events whose glide is not 0 do the glide's work: a glide of 0 would
        # add ``(w · 0) · rise``, a zero, which leaves every phase exactly as it is.
        if glide is not None and glide_tau_s is not None:
            for j in range(js.start, js.stop):
                rows = np.flatnonzero(glide[:, j] != 0.0)
                col = slice(j, j + 1)
                if len(rows) == n:
                    gt = (glide_tau_s[:, col] * sr).astype(np.float32)
                    wg = w[:, col] * glide[:, col].astype(np.float32)
                    ph[:, j - j0] += _glide_phase(t, gt, wg)
                elif len(rows):
                    gt = (glide_tau_s[rows, col] * sr).astype(np.float32)
                    wg = w[rows, col] * glide[rows, col].astype(np.float32)
                    ph[rows, j - j0] += _glide_phase(t, gt, wg)
        if ph0 is not None:
            ph += ph0[:, js, None]
        np.sin(ph, out=ph)
        # amp * exp(-t / tau) as one exp.
        np.multiply(t3, neg_rate[:, js, None], out=env)
        env += log_amp[:, js, None]
        np.exp(env, out=env)
        if j0 == 0 and g == 1:  # the first partial is written, not added to zeros
            np.multiply(env, ph, out=out[:, None, :])
            continue
        env *= ph
        for j in range(g):  # (0 + v is v: the first is copied, the others added in order)
            if j0 == 0 and j == 0:
                out[...] = env[:, 0]
            else:
                out += env[:, j]
    # The attack only matters for its first few time constants.
    att = np.asarray(attack_s, dtype=np.float64).reshape(-1, 1)  # (N, 1) or (1, 1)
    if groups is None:
        groups = ((0, n, length),)
    for r0, r1, frames in groups:
        a = att if att.shape[0] == 1 else att[r0:r1]
        head = min(frames, int(float(a.max()) * 8.0 * sr) + 1)
        # one shared attack: one row, broadcast over the events (same values, N times
        # fewer exponentials)
        out[r0:r1, :head] *= 1.0 - np.exp(-t[:, :head] / (a * sr).astype(np.float32))
        nf = min(max(frames // 8, 4), 96)
        out[r0:r1, frames - nf : frames] *= _fade_tail(nf)
    return out


def _glide_phase(t: np.ndarray, gt: np.ndarray, wg: np.ndarray) -> np.ndarray:
    """The glide's share of the phase, ``wg · (t − gt · (1 − exp(−t / gt)))``.

    Parameters
    ----------
    t : numpy.ndarray
        float32 ``(1, length)`` frame indices.
    gt : numpy.ndarray
        float32 ``(k, 1)`` glide time constants in frames.
    wg : numpy.ndarray
        float32 ``(k, 1)`` frequency (rad/frame) times relative rise.

    Returns
    -------
    numpy.ndarray
        float32 ``(k, length)`` radians: the operations of that expression in its
        order (so the same values), in one buffer instead of six temporaries.
    """
    r = np.divide(-t, gt)
    np.exp(r, out=r)
    np.subtract(1.0, r, out=r)
    r *= gt
    np.subtract(t, r, out=r)
    np.multiply(wg, r, out=r)
    return r


#: Most elements of an ``(N, partials, length)`` float32 batch (256 KB).
_BATCH_ELEMENTS = 1 << 16

_TIME_ROWS: dict[int, np.ndarray] = {}


def _time_row(length: int, sample_rate: int) -> np.ndarray:
    """float32 ``(1, length)`` frame indices 0, 1, 2, ... (cached)."""
    row = _TIME_ROWS.get(length)
    if row is None:
        if len(_TIME_ROWS) > 64:
            _TIME_ROWS.clear()
        row = np.arange(length, dtype=np.float32)[None, :]
        _TIME_ROWS[length] = row
    return row


_FADE_TAILS: dict[int, np.ndarray] = {}


def _fade_tail(n: int) -> np.ndarray:
    """float32 ``(n,)`` squared-cosine fade from 1 to 0 (cached)."""
    f = _FADE_TAILS.get(n)
    if f is None:
        f = (np.cos(np.linspace(0.0, 0.5 * np.pi, n)) ** 2).astype(np.float32)
        _FADE_TAILS[n] = f
    return f
