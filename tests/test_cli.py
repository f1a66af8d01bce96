"""Tests for sonora.cli, driven through Typer's CliRunner like a person at a terminal.

Renders are short; the rendered file is read back and its loudness measured.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf
from testkit import lufs
from typer.testing import CliRunner

from sonora.cli import app, parse_duration
from sonora.errors import ParameterError
from sonora.scenes import builtin_names, parse_scene

runner = CliRunner()


def flat(text: str) -> str:
    """Terminal output with rich's line wrapping undone."""
    return " ".join(text.split())


# -- listing and describing ------------------------------------------------------------
def test_scenes_table_lists_every_scene() -> None:
    result = runner.invoke(app, ["scenes"])
    assert result.exit_code == 0, result.output
    for name in builtin_names():
        assert name in result.output
    assert "needed" in result.output  # the binaural scene's headphones column


def test_scenes_json_is_valid_and_complete() -> None:
    result = runner.invoke(app, ["scenes", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [d["name"] for d in data] == builtin_names()
    for d in data:
        assert set(d) == {"name", "title", "description", "families", "goals", "headphones"}
        assert isinstance(d["goals"], list) and isinstance(d["headphones"], bool)


def test_describe_rain() -> None:
    result = runner.invoke(app, ["describe", "rain"])
    assert result.exit_code == 0, result.output
    out = flat(result.output)
    assert "Rain" in out and "(rain)" in out
    assert "density=0.55" in out
    assert "Headphones: not needed" in out


def test_describe_json_is_a_scene_file() -> None:
    result = runner.invoke(app, ["describe", "binaural-calm", "--json"])
    assert result.exit_code == 0, result.output
    scene = parse_scene(json.loads(result.stdout))
    assert scene.name == "binaural-calm" and scene.headphones is True


def test_describe_unknown_scene_fails_clearly() -> None:
    result = runner.invoke(app, ["describe", "thunder"])
    assert result.exit_code != 0
    assert "scene" in result.output and "rain" in result.output


# -- rendering --------------------------------------------------------------------------
def test_render_rain_to_flac(tmp_path: Path) -> None:
    out = tmp_path / "x.flac"
    result = runner.invoke(
        app, ["render", "rain", "-o", str(out), "--duration", "20s", "--seed", "3"]
    )
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(out, dtype="float64", always_2d=True)
    assert rate == 48_000 and audio.shape == (20 * 48_000, 2)
    assert lufs(audio.T, rate) == pytest.approx(-23.0, abs=1.0)
    out_text = flat(result.output)
    assert "Wrote" in out_text and "Measured:" in out_text and "LUFS" in out_text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.flac"]


def test_render_a_user_scene_file_at_another_loudness(tmp_path: Path) -> None:
    scene = tmp_path / "mine.yaml"
    scene.write_text(
        "name: mine\ndescription: Brown noise, a little brighter.\n"
        "layers:\n  - source: brown_noise\n    params: {cutoff_hz: 1500}\n",
        encoding="utf-8",
    )
    out = tmp_path / "mine.wav"
    result = runner.invoke(
        app,
        ["render", str(scene), "-o", str(out), "-d", "15", "--loudness=-30", "--no-check"],
    )
    assert result.exit_code == 0, result.output
    audio, rate = sf.read(out, dtype="float64", always_2d=True)
    assert lufs(audio.T, rate) == pytest.approx(-30.0, abs=1.0)
    assert "Measured" not in result.output


def test_render_headphones_scene_says_so(tmp_path: Path) -> None:
    out = tmp_path / "b.opus"
    result = runner.invoke(
        app, ["render", "binaural-calm", "-o", str(out), "-d", "3s", "--no-check"]
    )
    assert result.exit_code == 0, result.output
    assert "headphones" in flat(result.output)
    assert sf.info(str(out)).samplerate == 48_000


BAD_RENDERS: dict[str, tuple[list[str], str]] = {
    "unknown scene": (["thunderstorm"], "scene:"),
    "zero duration": (["rain", "--duration", "0"], "--duration:"),
    "under a frame": (["rain", "--duration", "0.00001"], "--duration:"),
    "negative duration": (["rain", "--duration=-5m"], "--duration:"),
    "too long": (["rain", "--duration", "13h"], "--duration:"),
    "not a duration": (["rain", "--duration", "abc"], "--duration:"),
    "too quiet": (["rain", "--duration", "5s", "--loudness=-40"], "--loudness:"),
    "too loud": (["rain", "--duration", "5s", "--loudness=-10"], "--loudness:"),
    "NaN loudness": (["rain", "--duration", "5s", "--loudness", "nan"], "--loudness:"),
    "sample rate": (["rain", "--duration", "5s", "--sample-rate", "8000"], "--sample-rate:"),
    "seed": (["rain", "--duration", "5s", "--seed=-1"], "--seed:"),
    "extension": (["rain", "--duration", "5s", "-o", "{tmp}/x.aiff"], "--output:"),
    "missing folder": (["rain", "--duration", "2s", "-o", "{tmp}/no/such/x.flac"], "--output:"),
    "unwritable folder": (["rain", "--duration", "2s", "-o", "/proc/sonora-x.flac"], "--output:"),
}

#: Each bad render names the allowed range or choices beside the option.
RANGES = {
    "--duration:": "1s to 12h",
    "--loudness:": "[-30, -14] LUFS",
    "--sample-rate:": "[22050, 96000] Hz",
    "--seed:": "[0, 2^63)",
}


@pytest.mark.parametrize("case", list(BAD_RENDERS))
def test_render_bad_input_fails_clearly_and_writes_nothing(case: str, tmp_path: Path) -> None:
    args, field = BAD_RENDERS[case]
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    if "-o" not in args:
        args += ["-o", str(tmp_path / "x.flac")]
    result = runner.invoke(app, ["render", *args])
    assert result.exit_code != 0
    assert result.exception is None or isinstance(result.exception, SystemExit)
    out = flat(result.output)
    assert "error" in out and field in out
    # the option as typed, not the field it sets deeper down (duration_s, target_lufs)
    assert not re.search(r"(?<![-\w])(duration_s|target_lufs|sample_rate|loudness|output):", out)
    assert RANGES.get(field, "") in out
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []
    assert not Path("/proc/sonora-x.flac").exists()


def test_play_without_a_sound_card_points_to_render() -> None:
    result = runner.invoke(app, ["play", "rain", "--duration", "1m"])
    assert result.exit_code != 0
    out = flat(result.output)
    assert "sonora render rain -o" in out
    # the install hint names the extra, installed from Sonora's own folder (a bare
    # `pip install sonora[play]` would fetch an unrelated package of the same name)
    assert ".venv/bin/pip install -e '.[play]'" in out


def test_play_without_a_seed_picks_a_fresh_one_and_names_it() -> None:
    """Like render: no --seed means a fresh seed, printed so the sound is one flag away."""
    seeds = set()
    for _ in range(3):
        result = runner.invoke(app, ["play", "rain", "--duration", "1m"])
        m = re.search(r"--seed (\d+)", flat(result.output))
        assert m, result.output
        seeds.add(int(m.group(1)))
    assert len(seeds) > 1  # three draws from a million: equal by chance ~1 in 10^12
    result = runner.invoke(app, ["play", "rain", "--duration", "1m", "--seed", "42"])
    assert "--seed 42" in flat(result.output)
    result = runner.invoke(app, ["play", "rain", "--seed", "-3"])
    assert result.exit_code != 0 and "seed" in flat(result.output)


def test_play_bad_loudness_names_the_option_and_range() -> None:
    """Checked before looking for a sound card, named as typed (not target_lufs)."""
    result = runner.invoke(app, ["play", "rain", "--loudness", "5"])
    assert result.exit_code == 2
    assert "--loudness: 5 is out of range: allowed in [-30, -14] LUFS" in flat(result.output)


def test_play_unknown_scene_fails_clearly() -> None:
    result = runner.invoke(app, ["play", "thunderstorm"])
    assert result.exit_code != 0
    assert "scene" in result.output


def test_console_entry_point_prints_errors_without_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sonora.cli", "render", "thunder", "-o", str(tmp_path / "x.flac")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert "scene" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmp_path.iterdir()) == []


# -- start-up: what the quick commands import -------------------------------------------
_PROBE = """
import sys
sys.argv = ["sonora", *sys.argv[1:]]
from sonora.cli import main
try:
    main()
except SystemExit:
    pass
heavy = ("pydantic", "yaml", "scipy", "threadpoolctl", "pedalboard", "soundfile", "av")
print("LOADED", sorted(m for m in heavy if m in sys.modules), file=sys.stderr)
"""


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["--help"], set()),
        (["scenes"], set()),
        (["scenes", "--json"], set()),
        # a str argument goes through Typer's pydantic coercion: allowed there
        (["describe", "rain"], {"pydantic"}),
    ],
)
def test_quick_commands_import_no_heavy_packages(args: list[str], allowed: set[str]) -> None:
    """``sonora --help`` / ``scenes`` / ``describe`` stay cheap to start: no pydantic
    (Typer's coercion of the help flag), YAML, scipy, audio I/O or threadpoolctl."""
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, *args], capture_output=True, text=True, timeout=120
    )
    line = next(x for x in proc.stderr.splitlines() if x.startswith("LOADED"))
    loaded = set(ast.literal_eval(line.removeprefix("LOADED ")))
    assert loaded <= allowed, (args, loaded)
    assert proc.stdout.strip()  # it did print its answer


def test_blas_is_single_threaded_whatever_the_import_order() -> None:
    code = (
        "import sonora, numpy, threadpoolctl\n"
        "print([i['num_threads'] for i in threadpoolctl.threadpool_info() "
        "if i['user_api'] == 'blas'])"
    )
    env = {k: v for k, v in __import__("os").environ.items() if k != "OPENBLAS_NUM_THREADS"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    ).stdout
    assert out.strip() == "[1]"


# -- durations ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90.0),
        ("20m", 1200.0),
        ("1h30m", 5400.0),
        ("45", 45.0),
        ("1.5h", 5400.0),
        (" 2m 30s ", 150.0),
        ("12h", 43_200.0),
    ],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0", "0s", "-5m", "13h", "12h1s", "abc", "5 minutes", "1e3"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ParameterError) as exc:
        parse_duration(text)
    assert exc.value.field == "duration"
    assert "12h" in exc.value.message


@pytest.mark.parametrize("group", ["admin", "therapists", "outbox", "programmes", "library"])
def test_command_groups_print_plain_help_like_every_other_command(group: str) -> None:
    r = runner.invoke(app, [group, "--help"], terminal_width=80)
    assert r.exit_code == 0, r.output
    assert r.output.startswith(f"Usage: sonora {group} [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in r.output
    assert not set(r.output) & set("╭╮╰╯│─"), r.output  # no Rich boxes
    assert "<bool>" not in r.output


def test_option_errors_name_the_option_once() -> None:
    """Click prints 'Invalid value for --region:'; the message after it must not name the
    field again ('--region: region: expected ...' read as a stutter) (found by qa11)."""
    from typer.testing import CliRunner

    from sonora.cli import app

    for args, option in (
        (["triage", "calm", "--region", "XX"], "--region"),
        (["triage", "calm", "--country", "Britain"], "--country"),
        (["evidence", "--grade", "foo"], "--grade"),
    ):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        flat = " ".join(r.output.replace("│", " ").split())
        bare = option.removeprefix("--")
        assert f"Invalid value for {option}: expected" in flat, flat
        assert f"{option}: {bare}:" not in flat


def test_a_whole_number_out_of_range_names_the_option_and_the_range() -> None:
    """'--days -1' said 'Input should be greater than or equal to 0' (one bound, pydantic's
    words); the error gives the whole range and the value (found by qa11)."""
    from typer.testing import CliRunner

    from sonora.cli import app

    for args, want in (
        (
            ["therapists", "remind", "--days", "-1"],
            "--days': expected a whole number from 0 to 366 days, got -1",
        ),
        (
            ["serve", "--port", "99999"],
            "--port': expected a whole number from 1 to 65535, got 99999",
        ),
        (
            ["worker", "--concurrency", "0"],
            "'-c': expected a whole number from 1 to 64 processes, got 0",
        ),
        (
            ["worker", "--metrics-port", "70000"],
            "--metrics-port': expected a whole number from 1 to 65535, got 70000",
        ),
    ):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 2, r.output
        assert want in " ".join(r.output.replace("│", " ").split())


def test_help_texts_show_no_markup() -> None:
    """A command's help is plain text: no reST double backticks (found by qa11)."""
    from typer.testing import CliRunner

    from sonora.cli import app

    for args in (["programmes", "remind", "--help"], ["therapists", "remind", "--help"]):
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0 and "``" not in r.output, r.output


def test_evidence_help_reads_grade_not_a_python_type() -> None:
    from typer.testing import CliRunner

    from sonora.cli import app

    r = CliRunner().invoke(app, ["evidence", "--help"])
    assert r.exit_code == 0 and "--grade GRADE" in r.output and "list[str]" not in r.output
