"""A meter sharing the startle guard's K-weighting measures what a meter alone does.

:class:`~sonora.engine.loudness.LoudnessMeter` with
:meth:`~sonora.engine.loudness.LoudnessMeter.share_k_weighting` takes the guard's
per-frame K-weighted power while the output is the guard's input unchanged, and
filters itself from the first block that differs (the guard acts, the limiter acts,
clipping).  Either way its 100 ms sums, integrated loudness and true peak must be
equal to the bit to those of a meter that K-weights everything itself, at any block
size; and the sharing must actually happen when nothing changes the signal.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest

from sonora.engine.base import QUANTUM, Source
from sonora.engine.graph import Layer, Mix
from sonora.engine.loudness import KWeightingTap, LoudnessMeter
from sonora.scenes.calibration import measure_mix_lufs

SR = 48_000


class Noise(Source):
    """Seeded stereo noise; from ``jump_s`` on it is ``jump_db`` louder (a startle)."""

    channels = 2
    PARAMS: ClassVar = {}
    jump_s = 1e9
    jump_db = 0.0
    level = 0.05

    def _quantum(self) -> np.ndarray:
        rng = np.random.default_rng(self.frame)
        x = self.level * rng.standard_normal((2, QUANTUM))
        if self.frame >= self.jump_s * SR:
            x *= 10 ** (self.jump_db / 20)
        return x.astype(np.float32)


class JumpNoise(Noise):
    jump_s = 12.0
    jump_db = 15.0


class BurstNoise(Noise):
    """A 15 dB burst from 12 s to 13 s: the guard acts, then recovers."""

    def _quantum(self) -> np.ndarray:
        x = super()._quantum()
        if 12.0 * SR <= self.frame < 13.0 * SR:
            x *= np.float32(10 ** (15.0 / 20))
        return x


class LoudNoise(Noise):
    level = 0.6  # peaks well over the -1 dBTP ceiling: the limiter works


def _mix(cls: type[Source], *, limiter: bool = True) -> Mix:
    return Mix(
        [Layer(cls(sample_rate=SR))],
        duration_s=25.0,
        fade_in_s=2.0,
        fade_out_s=2.0,
        ceiling_dbtp=-1.0 if limiter else None,
    )


def _measure(cls: type[Source], *, share: bool, block: int, limiter: bool = True):
    mix = _mix(cls, limiter=limiter)
    meter = LoudnessMeter(SR)
    assert mix.guard is not None
    tap = mix.guard.k_weighting_tap() if share else None
    if tap is not None:
        meter.share_k_weighting(tap)
    while mix.remaining_frames > 0:
        b = mix.process(block)
        over = float(b.max()) > 1.0 or float(b.min()) < -1.0
        meter.add(np.clip(b, -1.0, 1.0) if over else b)
    return meter, tap


@pytest.mark.parametrize("block", [QUANTUM * 8, 10_000])
@pytest.mark.parametrize(
    ("cls", "limiter", "shared_to_end"),
    [
        (Noise, True, True),  # nothing acts: shared to the end
        (JumpNoise, True, False),  # the guard softens the jump
        (LoudNoise, True, False),  # the limiter works
        (LoudNoise, False, False),  # no limiter: the meter clips what it gets
    ],
)
def test_shared_meter_equals_meter_alone(
    cls: type[Source], limiter: bool, shared_to_end: bool, block: int
) -> None:
    alone, _ = _measure(cls, share=False, block=block, limiter=limiter)
    shared, tap = _measure(cls, share=True, block=block, limiter=limiter)
    assert tap is not None
    assert shared._sums == alone._sums  # every 100 ms sum, to the bit
    assert shared.integrated_lufs == alone.integrated_lufs
    assert shared.true_peak_dbtp == alone.true_peak_dbtp
    # the power is shared to the end exactly when nothing changes the output
    assert (shared.shared_frames == shared._frames) is shared_to_end


def test_shared_meter_skips_the_filter_while_nothing_acts(monkeypatch) -> None:
    calls = []
    mix = _mix(Noise)
    meter = LoudnessMeter(SR)
    assert mix.guard is not None
    meter.share_k_weighting(mix.guard.k_weighting_tap())
    real = meter._k.process
    monkeypatch.setattr(meter._k, "process", lambda x: calls.append(x.shape) or real(x))
    while mix.remaining_frames > 0:
        meter.add(mix.process(QUANTUM * 8))
    assert calls == []
    assert np.isfinite(meter.integrated_lufs)


def test_calibration_measure_equals_unshared(monkeypatch) -> None:
    mixes = [_mix(JumpNoise), _mix(Noise)]
    shared = [measure_mix_lufs(m) for m in mixes]
    monkeypatch.setattr(LoudnessMeter, "share_k_weighting", lambda self, tap: None)
    assert [measure_mix_lufs(m) for m in mixes] == shared


def test_tap_only_from_the_start() -> None:
    mix = _mix(Noise)
    assert mix.guard is not None
    mix.process(QUANTUM * 2)
    with pytest.raises(RuntimeError, match="first block"):
        mix.guard.k_weighting_tap()
    meter = LoudnessMeter(SR)
    meter.add(np.zeros((2, 10), dtype=np.float32))
    with pytest.raises(RuntimeError, match="first block"):
        meter.share_k_weighting(KWeightingTap())
    mix.reset()  # a reset guard starts over, without a tap
    assert mix.guard._tap is None
    assert mix.guard.k_weighting_tap() is mix.guard._tap


def test_state_at_is_the_guards_filter_state_there() -> None:
    # KWeightingTap.state_at(frame): the state before the quantum holding `frame` and
    # that quantum's samples before it; filtering them gives, to the bit, the state the
    # guard's own K-filter had at `frame` (what a meter resumes from when sharing ends).
    from sonora.engine.dsp import SosFilter
    from sonora.engine.loudness import k_weighting_sos

    mix = _mix(Noise)
    tap = mix.guard.k_weighting_tap()
    mix.process(5 * QUANTUM)
    ref = SosFilter(k_weighting_sos(SR), channels=2)
    x = np.concatenate([r[1] for r in list(tap._records)], axis=1)
    for frame in (0, 1, QUANTUM - 1, QUANTUM, 3 * QUANTUM + 777):
        state = tap.state_at(frame)
        assert state is not None
        zi, head = state
        f = SosFilter(k_weighting_sos(SR), channels=2, zi=zi)
        if head.shape[1]:
            f.process(head)
        ref.reset()
        if frame:
            ref.process(x[:, :frame])
        assert np.array_equal(f.zi, ref.zi)
        assert head.shape[1] == frame % QUANTUM
    assert tap.state_at(x.shape[1] + QUANTUM) is None  # not recorded yet


@pytest.mark.parametrize("block", [QUANTUM * 8, QUANTUM * 3, 10_000])
def test_shared_meter_resumes_sharing_after_the_guard_recovers(block: int) -> None:
    # Once the guard is back at 0 dB and the meter's K-filter state is the guard's to
    # the bit at the start of a block that starts a quantum, the meter takes the power
    # again: fewer frames filtered, same numbers (other block sizes seldom resume).
    def measure(share: bool) -> tuple[LoudnessMeter, int]:
        mix = Mix([Layer(BurstNoise(sample_rate=SR))], duration_s=40.0, fade_in_s=2.0)
        meter = LoudnessMeter(SR)
        assert mix.guard is not None
        if share:
            meter.share_k_weighting(mix.guard.k_weighting_tap())
        last_diverged = 0
        while mix.remaining_frames > 0:
            before = meter.shared_frames
            b = mix.process(block)
            meter.add(b)
            if meter.shared_frames - before < b.shape[1]:
                last_diverged = meter._frames
        return meter, last_diverged

    alone, _ = measure(False)
    shared, last_diverged = measure(True)
    assert shared._sums == alone._sums
    assert shared.integrated_lufs == alone.integrated_lufs
    assert shared.true_peak_dbtp == alone.true_peak_dbtp
    assert shared.shared_frames < shared._frames  # the guard acted on the burst
    if block % QUANTUM == 0:  # blocks that start quanta: it shares again, to the end
        assert last_diverged < 30 * SR
