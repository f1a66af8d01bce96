"""The startle guard's vectorised decision gives the samples of the plain loop.

:meth:`StartleGuard._block` sums the windows of each decision in one numpy call (rows
of a strided view); :class:`LoopGuard` below is the guard as it was before, one
window at a time, with ``np.append`` and ``np.log10``.  The outputs must be equal to
the bit, while the guard is acting, through the first 10 s (short references) and
at any chunking.
"""

from __future__ import annotations

import numpy as np
import pytest

from sonora.engine.effects import StartleGuard
from sonora.engine.loudness import startle_check

SR = 48_000


class LoopGuard(StartleGuard):
    """The reference: the decision as a loop over the windows (the previous code)."""

    def reset(self) -> None:
        super().reset()
        self._p_in = np.zeros(0)  # type: ignore[assignment]

    def _block(self, x: np.ndarray) -> None:
        kw = self._k.process(x)
        np.square(kw, out=kw)
        pw = np.add.reduce(kw, axis=1) / kw.shape[1]
        self._pending.append(x)
        self._p_in = np.append(self._p_in, pw[0] + pw[1])  # type: ignore[assignment]
        if len(self._pending) <= self.LOOKAHEAD_BLOCKS:
            return
        w, h = self.WINDOW_BLOCKS, self._hist_blocks
        future = np.asarray(self._p_in)
        starts = len(future) - w + 1
        played = self._p_played
        before = np.concatenate([played, future[: starts - 1] * 10 ** (self._gain_db / 10)])
        worst_db = 0.0
        for start in range(starts):
            ref = before[max(0, len(played) + start - h) : len(played) + start]
            if len(ref) < h // 2:
                continue
            ref_p = float(np.add.reduce(ref)) / len(ref)
            win_p = float(np.add.reduce(future[start : start + w])) / w
            if ref_p <= 1e-12 or win_p <= 0:
                continue
            worst_db = max(worst_db, 10 * np.log10(win_p / ref_p) - self.max_rise_lu)
        prev_db = self._gain_db
        new_db = min(-worst_db, prev_db + self._release_db)
        self._gain_db = new_db
        x0 = self._pending.pop(0)
        p0 = float(future[0])
        self._p_in = future[1:]  # type: ignore[assignment]
        if prev_db == 0.0 and new_db == 0.0:
            y = x0
        else:
            ramp = np.linspace(
                10 ** (prev_db / 20), 10 ** (new_db / 20), self.block, endpoint=False
            )
            y = (x0 * ramp.astype(np.float32)).astype(np.float32)
        self._p_played = np.append(played[max(0, len(played) - h + 1) :], p0 * 10 ** (new_db / 10))
        self._out.append(y)
        self._out_frames += y.shape[1]


def _jumpy(seed: int, blocks: int) -> np.ndarray:
    """Noise whose level steps by up to 12 dB every few blocks, after a fade-in."""
    rng = np.random.default_rng(seed)
    x = (0.05 * rng.standard_normal((2, 4096 * blocks))).astype(np.float32)
    steps = rng.choice([0.0, 0.0, 0.0, 0.0, 12.0, -12.0, 6.0, -6.0], blocks)
    level_db = np.cumsum(steps) * 0.5
    x *= np.repeat(10 ** ((level_db - level_db.max()) / 20), 4096).astype(np.float32)
    fade = 4096 * 40
    x[:, :fade] *= np.linspace(0.0, 1.0, fade, dtype=np.float32)
    return x


def _run(guard: StartleGuard, x: np.ndarray, sizes: list[int]) -> np.ndarray:
    out, i, k = [], 0, 0
    while i < x.shape[1]:
        n = sizes[k % len(sizes)]
        out.append(guard.process(x[:, i : i + n]))
        i, k = i + n, k + 1
    return np.concatenate(out, axis=1)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_guard_gives_the_loops_samples_to_the_bit(seed: int) -> None:
    x = _jumpy(seed, 600)
    ref = _run(LoopGuard(sample_rate=SR), x, [4096])
    got = _run(StartleGuard(sample_rate=SR), x, [4096, 1000, 7001, 12_288])
    assert np.array_equal(got, ref)
    # and it did act: the input breaks the no-startle rule, the output keeps it
    assert not startle_check(x, SR).ok
    assert startle_check(got, SR).ok
    assert float(np.max(np.abs(got - np.pad(x, ((0, 0), (7 * 4096, 0)))[:, : x.shape[1]]))) > 0


def test_the_steady_shortcut_gives_the_full_decisions_samples(monkeypatch) -> None:
    """Steady noise with a few steps: the shortcut (:meth:`_no_rise_possible`) decides
    most quanta, the full decision the rest (the guard acts after the rises); the
    samples are the plain loop's."""
    rng = np.random.default_rng(4)
    blocks = 900
    x = (0.05 * rng.standard_normal((2, 4096 * blocks))).astype(np.float32)
    level_db = np.zeros(blocks)
    level_db[300:] += 10.0  # a startle: the guard softens it
    level_db[600:] -= 20.0
    level_db[700:] += 12.0
    x *= np.repeat(10 ** (level_db / 20), 4096).astype(np.float32)
    guard = StartleGuard(sample_rate=SR)
    taken: list[bool] = []
    real = guard._no_rise_possible

    def spy(played: np.ndarray) -> bool:
        taken.append(real(played))
        return taken[-1]

    monkeypatch.setattr(guard, "_no_rise_possible", spy)
    got = _run(guard, x, [4096, 7001])
    ref = _run(LoopGuard(sample_rate=SR), x, [4096])
    assert np.array_equal(got, ref)
    assert taken.count(True) > blocks // 2
    assert taken.count(False) > 10
    assert float(np.max(np.abs(got - np.pad(x, ((0, 0), (7 * 4096, 0)))[:, : x.shape[1]]))) > 0
