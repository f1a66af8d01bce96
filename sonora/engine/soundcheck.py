"""Measurements of how a render *sounds*, beyond its level (issue #12).

Plain numpy, used by ``benchmarks/sound.py`` and by the engine tests.  Every function
takes float audio of shape ``(channels, frames)`` (or ``(frames,)`` where noted) and a
sample rate in Hz.

* :func:`guard_activity` — share of time the startle guard cuts more than 1 dB.
* :func:`repetition` — largest normalised autocorrelation of the waveform and of the
  spectral envelope at lags 0.5–60 s.
* :func:`band_share` — share of power below / above a frequency.
* :func:`lr_balance_db` — right minus left RMS level.
* :func:`strike_hf_db` — energy above 4 kHz in the first 100 ms of a strike.
* :func:`mode_decay_ratio` — T60 of the lowest mode over the median T60 of upper modes.
* :func:`event_count` — distinct transient events (drops) per minute.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "band_share",
    "event_count",
    "guard_activity",
    "lr_balance_db",
    "mode_decay_ratio",
    "repetition",
    "strike_hf_db",
]


def _mono(audio: np.ndarray) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float64)
    return a if a.ndim == 1 else a.mean(axis=0)


def band_envelope(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Spectral envelope: log power (dB) in 24 bands, 100 Hz – 12 kHz, per 50 ms frame.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(frames,)`` or ``(channels, frames)`` samples (averaged to mono).
    sample_rate : int
        Hz.

    Returns
    -------
    numpy.ndarray
        ``(frames // hop, 24)`` float64, dB, each band's mean removed.
    """
    x = _mono(audio)
    hop = int(0.05 * sample_rate)
    frames = len(x) // hop
    seg = x[: frames * hop].reshape(frames, hop) * np.hanning(hop)
    spec = np.abs(np.fft.rfft(seg, axis=1)) ** 2
    f = np.fft.rfftfreq(hop, 1.0 / sample_rate)
    edges = np.geomspace(100.0, min(12_000.0, 0.45 * sample_rate), 25)
    bands = np.stack(
        [
            spec[:, (f >= a) & (f < b)].sum(axis=1)
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ],
        axis=1,
    )
    env = 10 * np.log10(bands + 1e-12)
    return env - env.mean(axis=0)


def guard_activity(
    mix: object, *, threshold_db: float = 1.0, collect: list[np.ndarray] | None = None
) -> tuple[float, float, list[float]]:
    """Render ``mix`` to its end and report what its startle guard did.

    Parameters
    ----------
    mix : sonora.engine.graph.Mix
        A freshly built mix with a startle guard.
    threshold_db : float
        Reduction counted as "acting", dB.
    collect : list or None
        If given, the rendered float32 ``(2, n)`` blocks are appended to it.

    Returns
    -------
    share : float
        Share of guard blocks (``QUANTUM`` frames each) with more than ``threshold_db``
        of gain reduction, 0–1.
    worst_db : float
        Largest reduction in dB (>= 0).
    gains_db : list of float
        Gain of every guard block in dB (<= 0), in play order.
    """
    guard = mix.guard  # type: ignore[attr-defined]
    if guard is None:
        raise ValueError("mix: has no startle guard to measure")
    gains: list[float] = []
    original = guard._block

    def block(x: np.ndarray) -> None:
        before = len(guard._p_played)
        full = before >= guard._hist_blocks
        original(x)
        if len(guard._p_played) > before or full:
            gains.append(float(guard._gain_db))

    guard._block = block
    try:
        for b in mix.blocks():  # type: ignore[attr-defined]
            if collect is not None:
                collect.append(b)
    finally:
        del guard._block
    g = np.asarray(gains)
    if len(g) == 0:
        return 0.0, 0.0, []
    return float(np.mean(g < -threshold_db)), float(-g.min()), gains


def _autocorr_max(x: np.ndarray, lo: int, hi: int) -> float:
    """Largest normalised autocorrelation of ``x`` (1-D) at lags ``lo..hi``."""
    x = x - x.mean()
    n = len(x)
    hi = min(hi, n // 2)
    if hi <= lo:
        return float("nan")
    size = 1 << int(np.ceil(np.log2(2 * n)))
    f = np.fft.rfft(x, size)
    ac = np.fft.irfft(f * np.conj(f), size)[: hi + 1]
    e = np.concatenate([[0.0], np.cumsum(x * x)])
    lags = np.arange(lo, hi + 1)
    # energy of the overlapping parts: x[:n-k] and x[k:]
    e_head = e[n - lags]
    e_tail = e[n] - e[lags]
    r = ac[lags] / np.sqrt(np.maximum(e_head * e_tail, 1e-30))
    return float(np.max(r))


def repetition(
    audio: np.ndarray, sample_rate: int, *, min_lag_s: float = 0.5, max_lag_s: float = 60.0
) -> tuple[float, float, float]:
    """Largest normalised autocorrelation at lags ``min_lag_s``–``max_lag_s``.

    Parameters
    ----------
    audio : numpy.ndarray
        ``(channels, frames)`` or ``(frames,)``; channels are averaged.
    sample_rate : int
        Hz.

    Returns
    -------
    waveform : float
        Of the waveform, at the full sample rate.
    envelope : float
        Of the spectral envelope: log power in 24 bands (100 Hz – 12 kHz) per 50 ms frame,
        each band's mean removed; correlation of the whole band-vector sequence.  A slow
        sound (a swell of 10 s) is still like itself 0.5 s later, so this is high for
        slow sounds whether or not anything repeats; hence also
    envelope_return : float
        The largest envelope correlation at lags after it first fell below 0.3: how
        strongly the sound *comes back* to an earlier state (a loop, a regular swell).
    """
    x = _mono(audio)
    wave = _autocorr_max(x, int(min_lag_s * sample_rate), int(max_lag_s * sample_rate))
    env = band_envelope(x, sample_rate)
    frames = env.shape[0]
    # correlation of the vector sequence: sum over bands of per-band autocorrelations
    lo, hi = round(min_lag_s / 0.05), round(max_lag_s / 0.05)
    hi = min(hi, frames // 2)
    num = np.zeros(hi + 1)
    for b in range(env.shape[1]):
        v = env[:, b]
        size = 1 << int(np.ceil(np.log2(2 * frames)))
        fv = np.fft.rfft(v, size)
        num += np.fft.irfft(fv * np.conj(fv), size)[: hi + 1]
    e = np.concatenate([[0.0], np.cumsum((env**2).sum(axis=1))])
    lags = np.arange(lo, hi + 1)
    r = num[lags] / np.sqrt(np.maximum((e[frames - lags]) * (e[frames] - e[lags]), 1e-30))
    if not len(r):
        return wave, float("nan"), float("nan")
    # A *return*: the largest correlation after the envelope first lost it (< 0.3).
    below = np.flatnonzero(r < 0.3)
    ret = float(np.max(r[below[0] :])) if len(below) else float(r[-1])
    return wave, float(np.max(r)), ret


def band_share(audio: np.ndarray, sample_rate: int, *, below_hz: float) -> float:
    """Share (0–1) of the power below ``below_hz`` (channels summed)."""
    a = np.atleast_2d(np.asarray(audio, dtype=np.float64))
    n = 1 << 15
    total = 0.0
    low = 0.0
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    w = np.hanning(n)
    for ch in a:
        m = len(ch) // n
        if m == 0:
            continue
        p = (np.abs(np.fft.rfft(ch[: m * n].reshape(m, n) * w, axis=1)) ** 2).sum(axis=0)
        total += p.sum()
        low += p[f < below_hz].sum()
    return float(low / total) if total > 0 else float("nan")


def lr_balance_db(audio: np.ndarray) -> float:
    """Right-minus-left RMS level in dB of a stereo ``(2, frames)`` signal."""
    a = np.asarray(audio, dtype=np.float64)
    return float(10 * np.log10(np.mean(a[1] ** 2) / np.mean(a[0] ** 2)))


def strike_hf_db(
    audio: np.ndarray, sample_rate: int, onset_s: float, *, window_s: float = 0.1
) -> float:
    """Energy above 4 kHz relative to all energy, dB, in ``window_s`` after ``onset_s``."""
    x = _mono(audio)
    i = int(onset_s * sample_rate)
    seg = x[i : i + int(window_s * sample_rate)]
    p = np.abs(np.fft.rfft(seg * np.hanning(len(seg)))) ** 2
    f = np.fft.rfftfreq(len(seg), 1.0 / sample_rate)
    return float(10 * np.log10(max(p[f >= 4000.0].sum(), 1e-30) / p.sum()))


def mode_decay_ratio(
    audio: np.ndarray,
    sample_rate: int,
    onset_s: float,
    *,
    fundamental_hz: float,
    upper_from: float = 3.5,
    span_s: float = 2.5,
) -> tuple[float, float]:
    """Decay of upper modes relative to the lowest, from one strike.

    Spectral peaks are found in the 0.3 s after the strike; each peak's level is tracked
    in 85 ms frames (Hann, hop 43 ms) for ``span_s`` seconds, and a straight line fitted
    to its dB values from its loudest frame in the first 3 s (a gong's upper modes
    bloom) until 40 dB down gives its decay rate (dB/s).

    Returns
    -------
    ratio : float
        Median decay rate of peaks above ``upper_from`` × ``fundamental_hz`` divided by the
        decay rate of the strongest peak within ±8 % (at least ±1.5 bins) of ``fundamental_hz`` (i.e. how many
        times faster the upper modes die; T60 ratio lowest / upper).
    low_t60_s : float
        T60 of the lowest mode, s.
    """
    x = _mono(audio)
    n = 4096
    hop = n // 2
    i0 = int(onset_s * sample_rate)
    frames = int(span_s * sample_rate / hop)
    w = np.hanning(n)
    spec = []
    for k in range(frames):
        seg = x[i0 + k * hop : i0 + k * hop + n]
        if len(seg) < n:
            break
        spec.append(np.abs(np.fft.rfft(seg * w)) ** 2)
    s = 10 * np.log10(np.asarray(spec) + 1e-20)
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    t = np.arange(len(s)) * hop / sample_rate
    head = s[:4].max(axis=0)
    peaks = [
        j
        for j in range(2, len(head) - 2)
        if head[j] == head[j - 2 : j + 3].max() and head[j] > head.max() - 70
    ]

    def rate(j: int) -> float:
        track = s[:, j - 1 : j + 2].max(axis=1)
        top = int(np.argmax(track[: max(4, int(3.0 * sample_rate / hop))]))
        y = track[top:]
        tt = t[top:]
        keep = y > y[0] - 40
        keep &= np.cumsum(~keep) == 0
        if keep.sum() < 3:
            return float(40.0 / max(tt[min(len(tt) - 1, 2)] - tt[0], 1e-3))
        slope = np.polyfit(tt[keep], y[keep], 1)[0]
        return float(max(-slope, 1e-6))

    # Within 8 % of the fundamental, or the nearest bins when 8 % is under a bin wide
    # (11.7 Hz bins: a 65 Hz gong hum's 8 % is 5.2 Hz).
    tol_hz = max(0.08 * fundamental_hz, 1.5 * sample_rate / n)
    near = [j for j in peaks if abs(f[j] - fundamental_hz) < tol_hz]
    if not near:
        raise ValueError("no spectral peak near the fundamental")
    low_j = max(near, key=lambda j: head[j])
    upper = [j for j in peaks if f[j] > upper_from * fundamental_hz and f[j] < 0.45 * sample_rate]
    if not upper:
        raise ValueError("no upper modes found")
    low_rate = rate(low_j)
    up_rate = float(np.median([rate(j) for j in upper]))
    return up_rate / low_rate, 60.0 / low_rate


def event_count(
    audio: np.ndarray, sample_rate: int, *, distinct_corr: float = 0.9
) -> tuple[float, float]:
    """Transient events (drops) per minute, and the share of them that are distinct.

    Events are peaks of the 2–8 kHz envelope (1 ms frames) standing 6 dB above the
    running median of the surrounding 200 ms, at least 10 ms apart.  Two events are the
    same if their 8 ms waveforms (aligned at the envelope peak) correlate above
    ``distinct_corr``.

    Returns
    -------
    per_minute : float
    distinct_share : float
        0–1.
    """
    x = _mono(audio)
    spec = np.fft.rfft(x)
    f = np.fft.rfftfreq(len(x), 1.0 / sample_rate)
    spec[(f < 2000.0) | (f > 8000.0)] = 0
    y = np.fft.irfft(spec, len(x))
    hop = sample_rate // 1000
    m = len(y) // hop
    env = 10 * np.log10((y[: m * hop].reshape(m, hop) ** 2).mean(axis=1) + 1e-20)
    from numpy.lib.stride_tricks import sliding_window_view

    half = 100
    padded = np.pad(env, half, mode="edge")
    med = np.median(sliding_window_view(padded, 2 * half + 1)[::5], axis=1)
    med = np.repeat(med, 5)[:m]
    cand = np.flatnonzero((env > med + 6) & (env >= np.roll(env, 1)) & (env >= np.roll(env, -1)))
    events: list[int] = []
    for c in cand:
        if not events or c - events[-1] >= 10:
            events.append(int(c))
        elif env[c] > env[events[-1]]:
            events[-1] = int(c)
    per_min = len(events) / (len(x) / sample_rate / 60.0)
    take = events[:1500]
    ln = int(0.008 * sample_rate)
    snips = []
    for e in take:
        a = e * hop - ln // 4
        if a >= 0 and a + ln <= len(y):
            v = y[a : a + ln]
            v = v - v.mean()
            nv = np.linalg.norm(v)
            if nv > 0:
                snips.append(v / nv)
    if len(snips) < 2:
        return per_min, 1.0
    s_arr = np.asarray(snips)
    c = np.abs(s_arr @ s_arr.T)
    np.fill_diagonal(c, 0.0)
    distinct = float(np.mean(c.max(axis=1) < distinct_corr))
    return per_min, distinct
