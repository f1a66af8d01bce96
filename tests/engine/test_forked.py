"""Rendering the layers in a forked child process (sonora.engine.forked).

The split must not change a single sample: same file as one process, whatever the
block size, the same calibration, and a child that fails or is left behind must not
leave a file or a process.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from sonora.engine.forked import map_forked, quanta_to_render, source_feed
from sonora.engine.loudness import LoudnessMeter
from sonora.engine.render import render_to_file
from sonora.scenes import build as build_module
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix, build_mix_shared

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")


def _render(mix, path: Path, *, processes: int, block_frames: int) -> tuple[np.ndarray, float]:
    mix.reset()
    meter = LoudnessMeter(mix.sample_rate)
    render_to_file(mix, path, processes=processes, block_frames=block_frames, meter=meter)
    audio, _ = sf.read(str(path), dtype="int32")
    return audio, meter.integrated_lufs


@pytest.mark.parametrize("name", ["rain-with-bowls", "gong-bath"])
def test_two_processes_write_the_same_file_at_any_block_size(name: str, tmp_path: Path) -> None:
    # 8 s: 12 blocks of 32 768 frames and 77 of 5 001, each seam at another place
    mix = build_mix(load_scene(name), duration_s=8.0, seed=5, target_lufs=-20.0)
    one, lufs_one = _render(mix, tmp_path / "one.flac", processes=1, block_frames=32_768)
    two, lufs_two = _render(mix, tmp_path / "two.flac", processes=2, block_frames=5_001)
    assert one.shape == (8 * 48_000, 2)
    assert np.array_equal(one, two)
    assert lufs_one == lufs_two
    assert np.abs(one).max() > 0  # not silence


def test_calibration_in_two_processes_gives_the_same_master_gain() -> None:
    scene = load_scene("rain-with-bowls")
    gains = [build_mix(scene, duration_s=10.0, seed=2, processes=p).master_gain_db for p in (1, 2)]
    assert gains[0] == gains[1]
    assert gains[0] != 0.0


def test_the_child_renders_exactly_the_quanta_the_mix_uses() -> None:
    """quanta_to_render (what the child renders) is what a whole render consumes."""
    mix = build_mix(load_scene("rain"), duration_s=3.3, seed=1, target_lufs=None)
    calls = []
    real = mix.source_quantum
    mix.source_quantum = lambda start: calls.append(start) or real(start)  # type: ignore[method-assign]
    out = np.concatenate(list(mix.blocks(7_000)), axis=1)
    assert out.shape[1] == mix.total_frames
    assert len(calls) == quanta_to_render(mix)


def test_a_failing_child_raises_and_leaves_no_file(tmp_path: Path) -> None:
    mix = build_mix(load_scene("rain"), duration_s=30.0, seed=1, target_lufs=None)
    real = mix.source_quantum

    def breaks(start: int) -> np.ndarray:
        if start > 48_000 * 5:
            raise ValueError("broken layer")
        return real(start)

    mix.source_quantum = breaks  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="render process stopped"):
        render_to_file(mix, tmp_path / "x.flac", processes=2)
    assert list(tmp_path.iterdir()) == []


def test_leaving_early_kills_the_child() -> None:
    mix = build_mix(load_scene("rain"), duration_s=600.0, seed=1, target_lufs=None)
    before = set(_children())
    with source_feed(mix, 2):
        mix.process(48_000)
        new = set(_children()) - before
        assert len(new) == 1  # the render process
    assert not (set(_children()) & new)


def _children() -> list[int]:
    """Process ids of this process's children (Linux /proc; empty elsewhere)."""
    me = os.getpid()
    pids = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            pids.append(int(entry.parent.name))
    return pids


def test_plan_calibration_in_two_processes_gives_the_same_master_gain() -> None:
    from sonora.plan import CheckIn, compose, get_arm
    from sonora.plan.render import plan_mix

    c = CheckIn(tension=8, energy=7, goal="sleep", minutes=5.5, place="in_bed", local_time="23:30")
    plan = compose(c, get_arm("rain-drone/dark"), seed=1)
    gains = [plan_mix(plan, sample_rate=24_000, processes=p).master_gain_db for p in (1, 2)]
    assert gains[0] == gains[1] != 0.0


def _shared_render(scene, tmp_path: Path, **kw) -> tuple[float, np.ndarray]:
    with build_mix_shared(scene, spool_dir=tmp_path, **kw) as mix:
        gain = mix.master_gain_db
        audio = np.concatenate(list(mix.blocks(6_000)), axis=1)
    return gain, audio


@pytest.mark.parametrize(
    ("name", "window_s"),
    [("rain", 240.0), ("rain-with-bowls", 8.0)],  # the whole session; its first 8 s
)
def test_calibration_on_the_shared_source_is_build_mixs_to_the_bit(
    name: str, window_s: float, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Measured on the render's own quanta, the gain and every sample are unchanged."""
    monkeypatch.setattr(build_module, "MIX_CALIBRATION_S", window_s)
    kw = {"duration_s": 20.0, "seed": 3, "sample_rate": 24_000, "target_lufs": -20.0}
    scene = load_scene(name)
    plain = build_mix(scene, **kw)
    gain, audio = _shared_render(scene, tmp_path, **kw)
    assert gain == plain.master_gain_db != 0.0
    assert np.array_equal(audio, render_array_of(plain))
    assert list(tmp_path.iterdir()) == []  # the spool was an unlinked file


def test_the_render_process_trims_the_layers_as_build_mix_does(tmp_path: Path) -> None:
    """The trims measured in the render process (on the session's own sources) reach
    this process's mix: every layer's trim is build_mix's, to the bit."""
    kw = {"duration_s": 12.0, "seed": 9, "sample_rate": 24_000, "target_lufs": -23.0}
    scene = load_scene("rain-with-bowls")
    plain = build_mix(scene, **kw)
    with build_mix_shared(scene, spool_dir=tmp_path, **kw) as mix:
        assert mix._feed is not None  # the shared path
        trims = [layer.trim for layer in mix.layers]
    assert trims == [layer.trim for layer in plain.layers]
    assert len(set(trims)) == len(trims) > 1 and 1.0 not in trims


def render_array_of(mix) -> np.ndarray:
    mix.reset()
    return np.concatenate(list(mix.blocks(9_000)), axis=1)


def _descendants() -> set[int]:
    """Process ids of this process's children and grandchildren (Linux /proc)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            parents[int(entry.parent.name)] = int(entry.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    found = {os.getpid()}
    for _ in range(3):
        found |= {pid for pid, ppid in parents.items() if ppid in found}
    return found - {os.getpid()}


@pytest.mark.parametrize("helper_layers", [(), (0,), (1,)])
def test_layers_rendered_by_a_helper_process_change_no_sample(
    helper_layers: tuple[int, ...], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whichever layers the render process hands to its helper (which trims and
    renders them), the gain and every sample are build_mix's."""
    import sonora.engine.forked as forked

    monkeypatch.setattr(forked, "_helper_layers", lambda mix: helper_layers)
    kw = {"duration_s": 20.0, "seed": 2, "sample_rate": 24_000, "target_lufs": -21.0}
    scene = load_scene("rain-with-bowls")
    assert len(scene.layers) == 2
    plain = build_mix(scene, **kw)
    gain, audio = _shared_render(scene, tmp_path, **kw)
    assert gain == plain.master_gain_db != 0.0
    assert np.array_equal(audio, render_array_of(plain))
    assert list(tmp_path.iterdir()) == []


def test_leaving_a_shared_build_with_a_helper_early_ends_every_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    import sonora.engine.forked as forked

    monkeypatch.setattr(forked, "_helper_layers", lambda mix: (0,))
    before = _descendants()
    with pytest.raises(KeyboardInterrupt):
        with build_mix_shared(
            load_scene("rain-with-bowls"),
            duration_s=600.0,
            seed=1,
            sample_rate=24_000,
            spool_dir=tmp_path,
        ) as mix:
            mix.process(48_000)
            assert len(_descendants() - before) == 2  # the render process and its helper
            raise KeyboardInterrupt
    for _ in range(50):  # the helper dies with the render process (a signal away)
        if _descendants() == before:
            break
        time.sleep(0.1)
    assert _descendants() == before
    assert list(tmp_path.iterdir()) == []


def test_an_automated_scene_is_calibrated_the_plain_way(tmp_path: Path) -> None:
    scene = load_scene("breath-pacer")
    assert any(layer.automation for layer in scene.layers)
    kw = {"duration_s": 30.0, "seed": 1, "sample_rate": 24_000}
    with build_mix_shared(scene, spool_dir=tmp_path, **kw) as mix:
        assert mix._feed is None  # nothing forked: render_to_file may fork itself
        gain = mix.master_gain_db
    assert gain == build_mix(scene, **kw).master_gain_db


def test_leaving_a_shared_build_early_kills_the_child(tmp_path: Path) -> None:
    before = set(_children())
    with pytest.raises(KeyboardInterrupt):
        with build_mix_shared(
            load_scene("rain"), duration_s=600.0, seed=1, sample_rate=24_000, spool_dir=tmp_path
        ) as mix:
            mix.process(48_000)
            assert len(set(_children()) - before) == 1  # the render process
            raise KeyboardInterrupt
    assert set(_children()) == before
    assert list(tmp_path.iterdir()) == []


def test_a_child_failing_during_the_shared_calibration_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sonora.engine.graph import Mix

    real = Mix.source_quantum

    def breaks(self: Mix, start: int) -> np.ndarray:
        if start > 24_000 * 2:
            raise ValueError("broken layer")
        return real(self, start)

    monkeypatch.setattr(Mix, "source_quantum", breaks)
    before = set(_children())
    with pytest.raises(RuntimeError, match="render process stopped"):
        with build_mix_shared(
            load_scene("rain"), duration_s=20.0, seed=1, sample_rate=24_000, spool_dir=tmp_path
        ):
            pass
    assert set(_children()) == before


@pytest.mark.parametrize("duration_s", [1.0, 3.0, 4.1])
def test_sessions_near_the_shortest_calibration_window_match_build_mix(
    duration_s: float, tmp_path: Path
) -> None:
    """A window longer than the session (3 s at least) needs quanta the render never
    makes: such sessions are calibrated the plain way; every length gets build_mix's
    gain and samples."""
    kw = {"duration_s": duration_s, "seed": 4, "sample_rate": 24_000}
    scene = load_scene("rain")
    plain = build_mix(scene, **kw)
    gain, audio = _shared_render(scene, tmp_path, **kw)
    assert gain == plain.master_gain_db
    assert np.array_equal(audio, render_array_of(plain))


# -- map_forked: the layers' calibration, two at a time ----------------------------------
def _square_or_fail(x: int) -> int:
    if x < 0 and os.getpid() != _PARENT[0]:  # fails in a child only
        os._exit(3)
    if x == -99:
        raise ValueError("bad item -99")
    return x * x


_PARENT = [os.getpid()]


@pytest.mark.parametrize("processes", [1, 2, 3])
def test_map_forked_returns_what_one_process_computes(processes: int) -> None:
    _PARENT[0] = os.getpid()
    items = [3, 1, 4, 1, 5, 9, 2]
    assert map_forked(_square_or_fail, items, processes) == [x * x for x in items]


def test_map_forked_computes_here_what_a_child_failed_and_raises_real_errors() -> None:
    _PARENT[0] = os.getpid()
    # -2 makes its child exit with an error: computed again here, same answer
    assert map_forked(_square_or_fail, [1, -2, 3], 2) == [1, 4, 9]
    with pytest.raises(ValueError, match="-99"):
        map_forked(_square_or_fail, [1, -99], 2)


def test_layer_trims_in_two_processes_are_the_serial_ones_to_the_bit() -> None:
    scene = load_scene("rain-with-bowls")
    two = build_module._trims(scene, 7, 48_000, -23.0, 2)
    build_module.cal._source_lufs.cache_clear()
    one = build_module._trims(scene, 7, 48_000, -23.0, 1)
    assert two == one and len(one) == 2


@pytest.mark.parametrize("chunk_bytes", [1000, 32768, 3 * 32768 + 5])
def test_the_shared_source_hands_out_every_quantum_in_order_however_it_arrives(
    chunk_bytes: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ring takes what the pipe holds (whole quanta, split at its wrap) and
    ``get`` reads several quanta at once: a small ring (5 quanta), a tap of 3 and
    writes cut anywhere still give quanta 0, 1, 2... each exactly once."""
    from sonora.engine.base import QUANTUM
    from sonora.engine.forked import SharedSource

    monkeypatch.setattr(SharedSource, "SLACK_QUANTA", 2)
    quanta = 40
    data = np.concatenate(
        [np.full((2, QUANTUM), q + 0.5, dtype=np.float32) for q in range(quanta)], axis=1
    )
    data = np.stack(np.split(data, quanta, axis=1)).tobytes()  # quantum after quantum
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the "render process": the same bytes, cut into odd writes
        os.close(r)
        view = memoryview(data)
        while view:
            view = view[os.write(w, view[:chunk_bytes]) :]
        os._exit(0)
    os.close(w)
    shared = SharedSource(r, quanta, 3, str(tmp_path))
    try:
        tap = shared.tap()
        assert [float(tap(0)[0, 0]) for _ in range(3)] == [0.5, 1.5, 2.5]
        feed = shared.consume()
        got = [feed(0) for _ in range(quanta)]
    finally:
        assert shared.close()
        shared._finish()
        assert os.waitpid(pid, 0)[1] == 0
    for q, block in enumerate(got):
        assert block.shape == (2, QUANTUM) and np.all(block == q + 0.5)
    got[0][:] = -1.0  # each quantum is its own: writing one leaves the next alone
    assert np.all(got[1] == 1.5)
    assert list(tmp_path.iterdir()) == []
