"""Absolute-time randomness for the nature sources: random streams keyed by a source's
seed and names, drawn by counter (frame or event index) rather than from a running
generator, so any block of any source can be computed alone (seek, block-size invariance).

Split from :mod:`sonora.engine.nature._common`, which re-exports these names.
"""

from __future__ import annotations

import math

import numpy as np

from sonora.engine.base import make_rng

# -- absolute-time randomness -----------------------------------------------------------
_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xBF58476D1CE4E5B9)
_M3 = np.uint64(0x94D049BB133111EB)
_S30, _S27, _S31, _S11 = (np.uint64(s) for s in (30, 27, 31, 11))


def _stream_key(seed: int, *names: str) -> int:
    """A 64-bit key for one random stream of a source (seed and purpose)."""
    return int(make_rng(seed, *names).integers(0, 2**63))


def _hash_uniform(key: int, counters: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) numbers that are a pure function of ``(key, counter)``.

    SplitMix64's finaliser on ``counter * golden + key``: a counter-based generator, so
    the value at any absolute index is known without drawing what came before.

    Parameters
    ----------
    key : int
        Stream key (:func:`_stream_key`).
    counters : numpy.ndarray
        Integer counters (any shape, >= 0).

    Returns
    -------
    numpy.ndarray
        float64 array of the shape of ``counters``.
    """
    z = np.asarray(counters).astype(np.uint64) * _M1 + np.uint64(key & 0xFFFFFFFFFFFFFFFF)
    z = (z ^ (z >> _S30)) * _M2
    z = (z ^ (z >> _S27)) * _M3
    z ^= z >> _S31
    return (z >> _S11) * (1.0 / 9007199254740992.0)


class _QuantumRng:
    """Random generators of a stream's quanta, each a pure function of its index.

    Quantum ``index`` draws from a PCG64 stream advanced by ``index · 2^40`` from the
    key's start (``advance`` is O(log n)), so every quantum's draws are independent of
    the order in which quanta are rendered.  Re-positioning one generator costs a
    fraction of building a new one.

    Parameters
    ----------
    key : int
        Stream key (:func:`_stream_key`).
    """

    __slots__ = ("_base", "_bg", "_gen")

    def __init__(self, key: int) -> None:
        self._bg = np.random.PCG64(key & 0xFFFFFFFFFFFFFFFF)
        self._base = self._bg.state
        self._gen = np.random.Generator(self._bg)

    def at(self, index: int) -> np.random.Generator:
        """The generator of quantum ``index`` (absolute), positioned at its start."""
        self._bg.state = self._base
        self._bg.advance(int(index) << 40)
        return self._gen


class _ValueNoise:
    """Smooth random control signals as functions of absolute time.

    Each signal is the sum of two octaves of value noise: random knot values (unit
    variance, from :func:`_hash_uniform`) every ``spacing_s`` and every
    ``spacing_s / 2.7``, joined by cubic Hermite (Catmull-Rom) curves, so the signal
    has a continuous slope, no period and nothing a listener can count.  The output
    has roughly unit standard deviation and zero mean.  Knot values are cached (they
    change every few seconds), which changes nothing but the cost.

    Parameters
    ----------
    key : int
        Stream key.
    spacings_s : tuple of float
        Knot spacing of each signal's slow octave, in seconds.
    """

    __slots__ = ("_cache", "_inv", "_k", "_keys", "_knots", "inv", "keys", "signals")

    def __init__(self, key: int, spacings_s: tuple[float, ...]) -> None:
        self.signals = len(spacings_s)
        keys = []
        inv = []
        for i, sp in enumerate(spacings_s):
            keys += [key + 0x1000 * (i + 1), (key + 0x1000 * (i + 1)) ^ 0x5A5A]
            inv += [1.0 / sp, 2.7 / sp]
        self.keys = np.array(keys, dtype=np.uint64)
        self.inv = np.array(inv)
        self._k: np.ndarray | None = None
        self._knots = np.zeros(0)
        # For :meth:`values`: the rows' keys and rates as Python numbers, and the knot
        # quadruples met so far by (row, knot index).
        self._keys = [int(k) for k in keys]
        self._inv = self.inv.tolist()
        self._cache: dict[tuple[int, int], tuple[float, float, float, float]] = {}

    def at(self, t_s: float | np.ndarray) -> np.ndarray:
        """Values of every signal at time(s) ``t_s``: shape ``(signals, *t.shape)``."""
        if type(t_s) is float:
            return self._at_float(t_s)
        t = np.asarray(t_s, dtype=np.float64)
        x = self.inv.reshape((-1,) + (1,) * t.ndim) * t  # (rows, *t)
        k = np.floor(x)
        fr = x - k
        if self._k is None or not np.array_equal(k, self._k):
            idx = (k.astype(np.int64)[..., None] + np.arange(-1, 3)) + (1 << 40)
            z = idx.astype(np.uint64) * _M1 + self.keys.reshape((-1,) + (1,) * (idx.ndim - 1))
            z = (z ^ (z >> _S30)) * _M2
            z = (z ^ (z >> _S27)) * _M3
            z ^= z >> _S31
            u = (z >> _S11) * (1.0 / 9007199254740992.0)
            self._knots = (u - 0.5) * math.sqrt(12.0)  # unit-variance knots
            self._k = k
        v = self._knots
        p0, p1, p2, p3 = v[..., 0], v[..., 1], v[..., 2], v[..., 3]
        f2 = fr * fr
        f3 = f2 * fr
        y = 0.5 * (
            2.0 * p1
            + (p2 - p0) * fr
            + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * f2
            + (3.0 * (p1 - p2) + p3 - p0) * f3
        )
        y = y.reshape((self.signals, 2, *t.shape))
        return (y[:, 0] + 0.5 * y[:, 1]) * 1.12  # ~unit standard deviation

    def _at_float(self, t: float) -> np.ndarray:
        """:meth:`at` for one time (once per quantum), by :meth:`values`."""
        return np.array([row[0] for row in self.values(t)])

    def values(self, *times_s: float) -> list[list[float]]:
        """:meth:`at` for a few times, as nested lists ``[signal][time]``.

        The same float64 operations in the same order as :meth:`at` (so the same
        values), on Python floats: SplitMix64 on Python integers (masked to 64 bits),
        the knots cached by row and index (they change every few seconds), and none
        of the ~25 numpy calls on small arrays that :meth:`at` makes per call.

        Parameters
        ----------
        *times_s : float
            Absolute times in seconds.

        Returns
        -------
        list of list of float
            ``signals`` lists of ``len(times_s)`` values.
        """
        cache = self._cache
        rows = []
        for r, (inv, key) in enumerate(zip(self._inv, self._keys, strict=True)):
            row = []
            for t in times_s:
                x = inv * t
                k = math.floor(x)
                fr = x - k
                p = cache.get((r, k))
                if p is None:
                    if len(cache) > 4096:
                        cache.clear()
                    p = cache[r, k] = _knots(key, k)
                p0, p1, p2, p3 = p
                f2 = fr * fr
                f3 = f2 * fr
                row.append(
                    0.5
                    * (
                        2.0 * p1
                        + (p2 - p0) * fr
                        + (2.0 * p0 - 5.0 * p1 + 4.0 * p2 - p3) * f2
                        + (3.0 * (p1 - p2) + p3 - p0) * f3
                    )
                )
            rows.append(row)
        return [
            [(a + 0.5 * b) * 1.12 for a, b in zip(rows[2 * i], rows[2 * i + 1], strict=True)]
            for i in range(self.signals)
        ]


_MASK64 = (1 << 64) - 1
_SQRT12 = math.sqrt(12.0)


def _knots(key: int, k: int) -> tuple[float, float, float, float]:
    """The four unit-variance knots around knot index ``k`` of the row keyed ``key``:
    :meth:`_ValueNoise.at`'s uint64 arithmetic on Python integers."""
    out = []
    for j in (-1, 0, 1, 2):
        z = (((k + j + (1 << 40)) & _MASK64) * 0x9E3779B97F4A7C15 + key) & _MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        z ^= z >> 31
        out.append(((z >> 11) * (1.0 / 9007199254740992.0) - 0.5) * _SQRT12)
    return out[0], out[1], out[2], out[3]
