"""Layers rendered in the parent of a two-process render (sonora.engine.forked, .balance).

Wherever the layers are rendered, the file must be the one a single process writes;
the split itself is chosen from probes that must not touch the mix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonora.engine import forked
from sonora.engine.balance import helper_layers, parent_layers, partition
from sonora.engine.base import QUANTUM
from sonora.engine.effects import Reverb
from sonora.engine.forked import quanta_to_render, source_feed
from sonora.engine.graph import Layer, Mix
from sonora.engine.noise import BrownNoise, PinkNoise
from sonora.engine.render import render_array, render_to_file
from sonora.engine.tonal import ModalStrikes
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _children() -> set[int]:
    """Process ids of this process's children (Linux /proc; empty elsewhere)."""
    me = os.getpid()
    pids = set()
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            pids.add(int(entry.parent.name))
    return pids


def _w_mix(duration_s: float) -> Mix:
    """Workload W (benchmarks/render.py) with a strike every 2 s: three layers."""
    sr = 48_000
    return Mix(
        [
            Layer(
                PinkNoise(seed=1, cutoff_hz=2000.0, sample_rate=sr), gain_db=-20.0, reverb_send=1.0
            ),
            Layer(BrownNoise(seed=2, sample_rate=sr), gain_db=-24.0, reverb_send=0.5),
            Layer(
                ModalStrikes(seed=3, pitch_hz=220.0, interval_s=2.0, sample_rate=sr),
                gain_db=-12.0,
                reverb_send=1.0,
            ),
        ],
        duration_s=duration_s,
        reverb=Reverb(room_size=0.8, wet_level=0.3, sample_rate=sr),
        ceiling_dbtp=-1.0,
        fade_in_s=1.0,
        fade_out_s=1.0,
    )


def _spy_parent_renders(mix, split: tuple[int, ...]) -> list[int]:
    """Record the frames at which this process renders the layers in ``split``."""
    calls: list[int] = []
    for i in split:
        layer = mix.layers[i]
        real = layer.render_quantum

        def spy(start: int, sample_rate: int, real=real) -> np.ndarray:
            calls.append(start)
            return real(start, sample_rate)

        layer.render_quantum = spy  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize("split", [(0,), (1,), (0, 1)])
def test_layers_rendered_in_the_parent_give_the_same_file(
    split: tuple[int, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mix = _w_mix(6.0)
    render_to_file(mix, tmp_path / "one.flac", processes=1, block_frames=32_768)
    mix.reset()
    monkeypatch.setattr(forked, "_parent_layers", lambda mix, extra: split)
    calls = _spy_parent_renders(mix, split)
    render_to_file(mix, tmp_path / "two.flac", processes=2, block_frames=5_001)
    one, _ = sf.read(str(tmp_path / "one.flac"), dtype="int32")
    two, _ = sf.read(str(tmp_path / "two.flac"), dtype="int32")
    assert np.array_equal(one, two)
    assert np.abs(one).max() > 0
    # the parent rendered its layers, each quantum once, in order
    mix.reset()
    frames = range(0, quanta_to_render(mix) * QUANTUM, QUANTUM)
    assert calls == [f for f in frames for _ in split]


def test_leaving_a_split_render_early_kills_the_child(monkeypatch: pytest.MonkeyPatch) -> None:
    mix = build_mix(load_scene("rain-with-bowls"), duration_s=600.0, seed=1, target_lufs=None)
    monkeypatch.setattr(forked, "_parent_layers", lambda mix, extra: (0,))
    before = _children()
    with source_feed(mix, 2):
        mix.process(48_000)
        new = _children() - before
        assert len(new) == 1  # the render process
    assert not (_children() & new)


def test_a_child_failing_in_a_split_render_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mix = build_mix(load_scene("rain-with-bowls"), duration_s=30.0, seed=1, target_lufs=None)
    monkeypatch.setattr(forked, "_parent_layers", lambda mix, extra: (0,))
    real = mix.reverb.process

    def breaks(block: np.ndarray) -> np.ndarray:
        if breaks.calls > 40:  # type: ignore[attr-defined]
            raise ValueError("broken reverb")
        breaks.calls += 1  # type: ignore[attr-defined]
        return real(block)

    breaks.calls = 0  # type: ignore[attr-defined]
    mix.reverb.process = breaks  # type: ignore[method-assign]
    before = _children()
    with pytest.raises(RuntimeError, match="render process stopped"):
        render_to_file(mix, tmp_path / "x.flac", processes=2)
    assert list(tmp_path.iterdir()) == []
    assert _children() == before


def test_the_probes_leave_the_mix_as_it_was() -> None:
    mix = _w_mix(5.0)
    split = parent_layers(mix)
    assert all(0 <= i < len(mix.layers) for i in split)
    assert len(split) < len(mix.layers)  # the child keeps a layer
    assert mix.position_frames == 0 and mix._feed is None and mix._layer_feed is None
    probed = render_array(mix)
    mix.reset()
    assert np.array_equal(probed, render_array(mix))


def test_a_helper_gets_some_layers_never_all_and_the_mix_is_untouched() -> None:
    mix = _w_mix(5.0)
    split = helper_layers(mix)
    assert all(0 <= i < len(mix.layers) for i in split)
    assert len(split) < len(mix.layers)  # the render process keeps a layer
    assert split == tuple(sorted(split))
    assert mix.position_frames == 0 and mix._feed is None and mix._layer_feed is None
    probed = render_array(mix)
    mix.reset()
    assert np.array_equal(probed, render_array(mix))
    single = Mix([Layer(PinkNoise(seed=1))], duration_s=1.0)
    assert helper_layers(single) == ()


def test_partition_evens_out_the_two_processes() -> None:
    # W-like: the child's reverb 130, the parent's master 50, layers 75, 75, 25 (us)
    us = 1e-6
    split = partition(130 * us, 50 * us, [75 * us, 75 * us, 25 * us])
    assert split in ((0, 2), (1, 2))  # child 130 + 75, parent 50 + 1.3 x 100 (+ transfer)
    # with an encoder thread of 150 us, half of everything bounds it: one layer moves
    split = partition(130 * us, 50 * us, [75 * us, 75 * us, 25 * us], parent_threads_s=150 * us)
    assert split in ((0,), (1,))
    # a parent already busier than the child takes nothing
    assert partition(100 * us, 400 * us, [75 * us, 75 * us]) == ()
    # the child always keeps one layer, however cheap its fixed work
    assert len(partition(0.0, 0.0, [1 * us, 1 * us, 1 * us])) <= 2


def test_a_helper_is_charged_its_layers_own_cost() -> None:
    # a bowl bath: the render process's reverb 2.1, a bowl 4.5 and a brown noise 0.85
    # (ms per quantum scaled): with the parent's 1.3x the bowl stayed beside the
    # reverb; a helper is a process of its own, so the costlier layer moves
    assert partition(2.1, 0.0, [4.5, 0.85], moved_factor=1.0) == (0,)
    assert partition(2.1, 0.0, [15.4, 0.85]) == (1,)  # the parent's 1.3x: it stays
