"""``sonora render`` as a user meets it: in-stream check, flat memory, clean kills,
lossy true peak, tags, cost limit, verbatim errors and the default seed.

Long and killed renders run the real CLI in a subprocess; files are read back with
independent readers (libsndfile, FFmpeg through PyAV) and measured with the test kit's
instruments (pyloudnorm, scipy), not with the engine's own meter.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
from testkit import lufs, true_peak_dbtp
from typer.testing import CliRunner

from sonora.cli import app
from sonora.engine.render import render_to_file
from sonora.scenes import builtin_names, load_scene
from sonora.scenes import cost as cost_module
from sonora.scenes.build import build_mix

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "sonora.cli"]
QUIET_20 = ["--loudness=-20", "--no-check"]


def flat(text: str) -> str:
    return " ".join(text.split())


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _tags(path: Path) -> dict[str, str]:
    """Container and stream metadata as FFmpeg reads it, keys lower-cased."""
    with av.open(str(path)) as c:
        meta = {**c.metadata, **c.streams.audio[0].metadata}
    return {k.lower(): v for k, v in meta.items()}


# -- memory and the check line on a long render ------------------------------------------
def test_long_render_checks_in_stream_with_flat_memory(tmp_path: Path) -> None:
    """31 minutes with the default check: peak RSS <= 150 MB and the check line printed."""
    out = tmp_path / "long.flac"
    # A child forked from this (large) pytest process carries the parent's resident
    # set into its ru_maxrss until it execs, so the CLI is started from a small
    # launcher process and its peak is read there (RUSAGE_CHILDREN).
    launcher = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print('MAXRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
        "file=sys.stderr); sys.exit(r.returncode)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", launcher, *CLI, "render", "rain", "-o", str(out), "-d", "31m"],
        capture_output=True,
        text=True,
        env=_env(),
        check=False,
    )
    stdout, stderr = proc.stdout, proc.stderr  # (a fresh seed each time: any seed holds)
    assert proc.returncode == 0, stderr
    peak = re.search(r"MAXRSS_KB (\d+)", stderr)
    assert peak, stderr
    peak_mb = int(peak.group(1)) / 1024  # Linux: kilobytes
    assert peak_mb <= 150, f"peak RSS {peak_mb:.0f} MB"
    m = re.search(r"Measured: (-?\d+\.\d) LUFS integrated .* true peak (-?\d+\.\d) dBTP", stdout)
    assert m, stdout
    info = sf.info(str(out))
    assert info.frames == 31 * 60 * 48_000
    # the printed figures are those of the file (spot-check the last minute)
    with sf.SoundFile(str(out)) as f:
        f.seek(info.frames - 60 * 48_000)
        tail = f.read(dtype="float64", always_2d=True).T
    assert true_peak_dbtp(tail) <= float(m.group(2)) + 0.1
    assert -24.5 <= float(m.group(1)) <= -21.5


def test_in_stream_check_matches_reading_the_file(tmp_path: Path) -> None:
    out = tmp_path / "r.wav"
    result = runner.invoke(app, ["render", "rain", "-o", str(out), "-d", "20s", "--seed", "2"])
    assert result.exit_code == 0, result.output
    m = re.search(
        r"Measured: (-?\d+\.\d) LUFS .* true peak (-?\d+\.\d) dBTP \(while rendering\)",
        flat(result.output),
    )
    assert m, result.output
    audio, rate = sf.read(str(out), dtype="float64", always_2d=True)
    assert float(m.group(1)) == pytest.approx(lufs(audio.T, rate), abs=0.11)
    assert float(m.group(2)) == pytest.approx(true_peak_dbtp(audio.T), abs=0.11)


# -- signals --------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_signal_mid_render_leaves_no_file(signum: int, tmp_path: Path) -> None:
    out = tmp_path / "killed.flac"
    proc = subprocess.Popen(
        [*CLI, "render", "rain", "-o", str(out), "--duration", "2h", "--seed", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
    )
    try:
        deadline = time.monotonic() + 600
        part = []
        while not part and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
            part = [p for p in tmp_path.iterdir() if ".part" in p.name]
        assert part, "the render never started writing"
        while part[0].exists() and part[0].stat().st_size < 100_000:  # mid-render
            time.sleep(0.1)
        workers = _children(proc.pid)
        assert len(workers) == 1, "the layers render in a second process"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert "nothing was written" in err
    assert list(tmp_path.iterdir()) == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)  # reaped, not orphaned


def _children(pid: int) -> list[int]:
    """Process ids of ``pid``'s children (Linux /proc)."""
    out = []
    for entry in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = entry.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(entry.parent.name))
    return out


# -- lossy true peak -----------------------------------------------------------------------
@pytest.mark.parametrize("name", builtin_names())
def test_lossy_decoded_true_peak_stays_below_minus_one(name: str, tmp_path: Path) -> None:
    """Every built-in scene at -14 LUFS, decoded from Opus and from MP3: <= -1 dBTP."""
    mix = build_mix(load_scene(name), duration_s=20.0, seed=11, target_lufs=-14.0)
    for ext in ("opus", "mp3"):
        mix.reset()
        path = render_to_file(mix, tmp_path / f"{name}.{ext}")
        audio, _ = sf.read(str(path), dtype="float64", always_2d=True)
        assert true_peak_dbtp(audio.T) <= -1.0, ext


# -- tags ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ext", ["flac", "opus", "mp3"])
def test_files_carry_title_scene_seed_and_loudness(ext: str, tmp_path: Path) -> None:
    out = tmp_path / f"tagged.{ext}"
    result = runner.invoke(
        app,
        ["render", "ocean-at-night", "-o", str(out), "-d", "3s", "--seed", "42", *QUIET_20],
    )
    assert result.exit_code == 0, result.output
    tags = _tags(out)
    assert tags["title"] == load_scene("ocean-at-night").title
    comment = tags["comment"]
    assert "scene=ocean-at-night" in comment
    assert "seed=42" in comment
    assert "loudness=-20 LUFS" in comment


# -- default seed --------------------------------------------------------------------------
def test_without_seed_a_fresh_seed_is_picked_and_printed(tmp_path: Path) -> None:
    seeds = []
    for i in range(2):
        out = tmp_path / f"s{i}.flac"
        result = runner.invoke(app, ["render", "pink-noise", "-o", str(out), "-d", "2s"])
        assert result.exit_code == 0, result.output
        m = re.search(r"add --seed (\d+)", flat(result.output))
        assert m, result.output
        seeds.append(int(m.group(1)))
        assert f"seed={m.group(1)};" in _tags(out)["comment"]
    assert seeds[0] != seeds[1]
    # the printed seed renders the same sound again
    again = tmp_path / "again.flac"
    result = runner.invoke(
        app, ["render", "pink-noise", "-o", str(again), "-d", "2s", "--seed", str(seeds[1])]
    )
    assert result.exit_code == 0, result.output
    a, _ = sf.read(str(tmp_path / "s1.flac"), dtype="int32")
    b, _ = sf.read(str(again), dtype="int32")
    assert np.array_equal(a, b)


# -- cost limit ----------------------------------------------------------------------------
def _many_bowls(path: Path, layers: int) -> Path:
    lines = ['name = "many-bowls"', 'description = "Many bowls at once."', ""]
    for i in range(layers):
        lines += [
            "[[layers]]",
            'source = "singing_bowl"',
            "gain_db = -6",
            f"params = {{ pitch_hz = {100 + 37 * i}.0, bowls = 5, interval_s = 2.0, "
            "rub = 1.0, decay_s = 60.0 }",
            "",
        ]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_a_scene_too_costly_to_render_is_refused_before_any_work(tmp_path: Path) -> None:
    scene = _many_bowls(tmp_path / "bowls.toml", 12)
    out = tmp_path / "bowls.flac"
    result = runner.invoke(app, ["render", str(scene), "-o", str(out), "-d", "10m"])
    assert result.exit_code == 2, result.output
    text = flat(result.output)
    assert "error" in text and "scene" in text
    assert "estimated render cost" in text and "--force" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bowls.toml"]


def test_force_renders_past_the_limit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cost_module, "MIN_LIMIT_CPU_S", 0.0)
    monkeypatch.setattr(cost_module, "LIMIT_CPU_PER_AUDIO_S", 0.0)
    out = tmp_path / "x.flac"
    scene = tmp_path / "my-rain.toml"  # custom scenes are probed; built-in ones are not
    scene.write_text(
        'name = "my-rain"\ndescription = "Rain."\n\n[[layers]]\nsource = "rain"\n',
        encoding="utf-8",
    )
    args = ["render", str(scene), "-o", str(out), "-d", "2s", "--seed", "1", "--no-check"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2 and "--force" in flat(refused.output)
    assert not out.exists()
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "Rendering anyway" in flat(forced.output)
    assert sf.info(str(out)).frames == 2 * 48_000
    builtin = runner.invoke(app, ["render", "rain", "-o", str(tmp_path / "b.flac"), "-d", "2s"])
    assert builtin.exit_code == 0 and "Rendering anyway" not in flat(builtin.output)


def test_cost_grows_with_duration_and_overlapping_strikes() -> None:
    rain = load_scene("rain")
    short = cost_module.estimate_cost(rain, duration_s=60.0)
    long = cost_module.estimate_cost(rain, duration_s=3600.0)
    assert long.cpu_s > short.cpu_s
    assert cost_module._overlap({"decay_s": 60.0, "interval_s": 2.0}) == 30.0
    assert cost_module._overlap({"decay_s": 10.0, "rate_per_min": 30.0}) == 5.0
    assert cost_module._overlap({"cutoff_hz": 400.0}) == 1.0


# -- verbatim errors -----------------------------------------------------------------------
def test_error_text_keeps_its_brackets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text('name = "empty"\ndescription = "No layers."\n', encoding="utf-8")
    result = runner.invoke(app, ["render", str(empty), "-o", str(tmp_path / "x.flac")])
    assert result.exit_code == 2
    assert "[[layers]]" in result.output
    curve = tmp_path / "curve.toml"
    curve.write_text(
        'name = "curve"\ndescription = "A bad curve."\n[[layers]]\nsource = "rain"\n'
        'gain_db = "loud"\n',
        encoding="utf-8",
    )
    result = runner.invoke(app, ["describe", str(curve)])
    assert result.exit_code == 2
    assert "[time_s, value, shape]" in result.output


@pytest.mark.parametrize("minutes", ["0.4", "4.2"])  # calibrated on the whole; on 4 min
def test_the_cli_writes_the_samples_the_library_writes(minutes: str, tmp_path: Path) -> None:
    """``sonora render`` calibrates a steady scene on its render's own source (one
    pass, two processes): the file is build_mix + render_to_file's, sample for sample."""
    out = tmp_path / "cli.flac"
    args = ["render", "rain", "-o", str(out), "-d", f"{minutes}m", "--seed", "11"]
    res = runner.invoke(app, [*args, "--sample-rate", "24000", "--no-check"])
    assert res.exit_code == 0, res.output
    mix = build_mix(load_scene("rain"), duration_s=float(minutes) * 60, seed=11, sample_rate=24_000)
    ref = render_to_file(mix, tmp_path / "lib.flac", processes=1)
    cli_audio, _ = sf.read(str(out), dtype="int32")
    lib_audio, _ = sf.read(str(ref), dtype="int32")
    assert cli_audio.shape == lib_audio.shape == (round(float(minutes) * 60 * 24_000), 2)
    assert np.array_equal(cli_audio, lib_audio)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cli.flac", "lib.flac"]


# -- the file does not depend on the machine's CPU count ----------------------------------
@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs two CPUs and CPU affinity (Linux)",
)
@pytest.mark.parametrize("scene", ["rain", "rain-with-bowls"])
def test_one_cpu_or_two_the_file_is_the_same(scene: str, tmp_path: Path) -> None:
    """With two usable CPUs ``sonora render`` calibrates the layers two at a time and
    renders them in a second process; pinned to one CPU it does everything in one.
    The files must be the same to the byte (audio, tags, FLAC checksum)."""
    cpu = min(os.sched_getaffinity(0))
    files = {}
    for label, pin in (("one", {cpu}), ("all", None)):
        out = tmp_path / f"{label}.flac"

        def limit(pin: set[int] | None = pin) -> None:
            if pin is not None:
                os.sched_setaffinity(0, pin)

        proc = subprocess.run(
            [*CLI, "render", scene, "-o", str(out), "-d", "40s", "--seed", "11"],
            capture_output=True,
            text=True,
            env=_env(),
            preexec_fn=limit,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        files[label] = out.read_bytes()
    assert files["one"] == files["all"]
    audio, _ = sf.read(tmp_path / "all.flac")
    assert audio.shape[0] == 40 * 48_000 and float(np.max(np.abs(audio))) > 0.01
