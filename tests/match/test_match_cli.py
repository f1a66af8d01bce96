"""``sonora recommend``: the matcher's command prints, writes JSON and renders a plan,
and names the field of any bad input before anything is written.
"""

from __future__ import annotations

import re

import pytest
import typer
from typer.testing import CliRunner

from sonora.cli.recommend import recommend_command
from sonora.plan import Plan


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    app.command("recommend")(recommend_command)
    app.command("noop")(lambda: None)  # keep "recommend" a subcommand
    return app


def test_cli_prints_plan_and_reason(cli):
    r = CliRunner().invoke(
        cli,
        ["recommend", "--goal", "sleep", "--tension", "7", "--minutes", "20", "--time", "23:10"],
    )
    assert r.exit_code == 0, r.output
    assert "It's late and you're wound up" in r.output
    assert "20 minutes" in r.output and "fade to silence" in r.output


def test_cli_json_is_a_plan_that_respects_dislikes(cli):
    r = CliRunner().invoke(
        cli,
        [
            "recommend",
            "--goal",
            "ease_anxiety",
            "--tension",
            "8",
            "--minutes",
            "15",
            "--dislike",
            "noise",
            "--dislike",
            "rain",
            "--json",
            "--time",
            "10:00",
        ],
    )
    assert r.exit_code == 0, r.output
    plan = Plan.from_json(r.output)
    assert plan.duration_s == 900 and plan.goal == "ease_anxiety"
    assert not {"noise", "rain"} & set(plan.families)
    assert plan.pacer is not None


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (["--tension", "11"], "--tension"),
        (["--goal", "nap", "--tension", "3"], "--goal"),
        (["--minutes", "-5", "--tension", "3"], "--minutes"),
        (["--tension", "3", "--render", "out.xyz"], "--render"),
        (["--tension", "3", "--dislike", "jazz"], "--dislike"),
        (["--tension", "3", "--love", "jazz"], "--love"),
        (["--tension", "3", "--sensitive", "jazz"], "--sensitive"),
        (["--tension", "3", "--time", "25:00"], "--time"),
        (["--tension", "3", "--loudness", "3"], "--loudness"),  # checked without --render too
    ],
)
def test_cli_bad_input_names_the_option(cli, args, field):
    """The error names the option typed (``--time``), once, not the app's field name
    (``local_time``, ``loved[0]``), and says nothing else (no 'Same plan again' line)."""
    r = CliRunner().invoke(cli, ["recommend", *args])
    assert r.exit_code == 2
    assert f"error: {field}:" in r.output
    assert "Same plan again" not in r.output
    assert "local_time" not in r.output and "[0]" not in r.output


def test_cli_renders_the_plan(cli, tmp_path):
    """The render path end to end (5 minutes at 22.05 kHz to keep it quick): the file
    lasts the plan's length and is calibrated to the loudness asked for."""
    import soundfile as sf
    from testkit import lufs

    out = tmp_path / "plan.flac"
    r = CliRunner().invoke(
        cli,
        [
            "recommend",
            "--goal",
            "unwind",
            "--tension",
            "6",
            "--minutes",
            "5",
            "--time",
            "21:00",
            "--seed",
            "4",
            "--sample-rate",
            "22050",
            "--loudness=-20",
            "--render",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    audio, rate = sf.read(str(out), dtype="float32", always_2d=True)
    assert rate == 22_050 and audio.shape[0] == 300 * 22_050
    assert lufs(audio.T, rate) == pytest.approx(-20.0, abs=0.5)
    assert f"Wrote {out}" in r.output.replace("\n", "")
    # the same render as `sonora render plan.json`: measured while writing, and tagged
    import re

    m = re.search(
        r"Measured: (-?\d+\.\d) LUFS integrated \(target -20\), true peak "
        r"(-?\d+\.\d) dBTP",
        r.output.replace("\n", " "),
    )
    assert m is not None, r.output
    assert float(m.group(1)) == pytest.approx(lufs(audio.T, rate), abs=0.15)
    assert float(m.group(2)) <= -1.0
    with sf.SoundFile(str(out)) as f:
        meta = f.copy_metadata()
    sound_seed = re.search(r"sound seed (\d+)", r.output.replace("\n", " "))
    assert sound_seed is not None, r.output
    assert "plan=" in meta["comment"] and f"seed={sound_seed.group(1)};" in meta["comment"]
    assert "loudness=-20 LUFS" in meta["comment"]
    assert meta.get("artist") == "Sonora"


def test_cli_render_settings_are_checked_before_anything_is_written(cli, tmp_path):
    for args, field in (
        (["--sample-rate", "8000"], "--sample-rate"),
        (["--loudness=-40"], "--loudness"),
    ):
        out = tmp_path / "x.flac"
        r = CliRunner().invoke(cli, ["recommend", "--tension", "5", "--render", str(out), *args])
        assert r.exit_code == 2 and f"{field}:" in r.output
        assert not out.exists()


def test_cli_without_a_seed_makes_a_fresh_plan_and_says_how_to_repeat_it(cli):
    import re

    args = ["recommend", "--goal", "unwind", "--tension", "6", "--time", "20:00"]
    seeds = []
    for _ in range(2):
        r = CliRunner().invoke(cli, args)
        assert r.exit_code == 0, r.output
        found = re.search(r"Same plan again: add --seed (\d+)", r.output)
        assert found is not None, r.output
        seeds.append(int(found.group(1)))
    assert seeds[0] != seeds[1]  # drawn from a million: equal once in a million runs
    again = [
        CliRunner().invoke(cli, [*args, "--seed", str(seeds[0]), "--json"]).output for _ in range(2)
    ]
    assert again[0] == again[1] and Plan.from_json(again[0]).seed >= 0
    assert "Same plan again" not in again[0]
    r = CliRunner().invoke(cli, [*args, "--seed=-1"])
    assert r.exit_code == 2 and "--seed:" in r.output


def test_the_seed_it_offers_for_the_same_plan_is_the_one_that_repeats_it(cli):
    args = ["recommend", "--goal", "sleep", "--tension", "7", "--time", "23:10", "--seed", "7"]
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    # Only --seed 7 is offered as "the same plan"; the plan's sound seed is named as such.
    for line in first.output.splitlines():
        if "same plan" in line:
            assert re.findall(r"seed (\d+)", line) == ["7"], line
    assert re.search(r"sound seed \d+", first.output), first.output


def test_help_names_every_sound_family_and_no_python_types(cli):
    """--love lists the families it takes (the user had to guess), and repeatable options
    read 'FAMILY', not Typer's '<list[str]>' (found by qa11)."""
    from sonora.plan.recipes import FAMILIES

    r = CliRunner().invoke(cli, ["recommend", "--help"])
    assert r.exit_code == 0
    flat = " ".join(r.output.replace("│", " ").split())
    assert "list[str]" not in flat and "--love FAMILY" in flat
    assert f"(repeatable): {', '.join(FAMILIES)}." in flat
