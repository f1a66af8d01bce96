"""``sonora render plan.json``: the CLI renders a plan file as well as scenes.

The plan comes from ``sonora recommend --json`` through Sonora's real Typer app;
renders are five minutes at 22.05 kHz and are read back and measured.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from testkit import lufs
from typer.testing import CliRunner

from sonora.cli import app
from sonora.plan import CheckIn, Plan, quiet_rest_plan

runner = CliRunner()
SR = 22_050


def _recommend(tmp_path: Path, *args: str) -> tuple[Plan, Path]:
    result = runner.invoke(
        app,
        ["recommend", "--minutes", "5", "--time", "23:10", "--seed", "3", "--json", *args],
    )
    assert result.exit_code == 0, result.output
    plan = Plan.from_json(result.stdout)
    path = tmp_path / "plan.json"
    path.write_text(result.stdout)
    return plan, path


def test_render_a_recommended_plan_file_identically(tmp_path: Path) -> None:
    plan, path = _recommend(tmp_path, "--goal", "sleep", "--tension", "7", "--dislike", "rain")
    assert plan.duration_s == 300.0 and "rain" not in plan.families
    takes = []
    for name in ("a.wav", "b.wav"):
        out = tmp_path / name
        result = runner.invoke(
            app, ["render", str(path), "-o", str(out), "--sample-rate", str(SR), "--no-check"]
        )
        assert result.exit_code == 0, result.output
        text = result.output.replace("\n", " ")
        assert f"seed {plan.seed}" in text and "5.0 min" in text
        audio, rate = sf.read(str(out), dtype="float32", always_2d=True)
        takes.append(audio.T)
        assert rate == SR
    a, b = takes
    assert a.shape == (2, 300 * SR)  # the plan's own length, not the 10-minute default
    assert np.array_equal(a, b)  # same plan, same seed: the same samples
    assert lufs(a, SR) == pytest.approx(-23.0, abs=0.5)
    # a sleep plan fades out: the last seconds are far quieter than the opening
    assert np.sqrt(np.mean(a[:, -SR:] ** 2)) < 0.05 * np.sqrt(np.mean(a[:, 20 * SR : 40 * SR] ** 2))


def _bad_layer(tmp_path: Path, plan_path: Path) -> Path:
    data = json.loads(plan_path.read_text())
    data["layers"][0]["params"]["brightness"] = 3
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    return bad


def _quiet(tmp_path: Path, plan_path: Path) -> Path:
    rest = tmp_path / "rest.json"
    rest.write_text(quiet_rest_plan(CheckIn(tension=5, goal="unwind"), seed=1).to_json())
    return rest


@pytest.mark.parametrize(
    ("case", "extra", "field"),
    [
        ("own length", ["--duration", "10m"], "--duration"),
        ("bad seed", ["--seed", "-1"], "--seed"),
        ("quiet rest", [], "plan"),
        ("bad layer", [], "layer.params.brightness"),
        ("bad extension", ["-o", "{tmp}/x.aiff"], "output"),
    ],
)
def test_render_plan_file_errors_name_the_field_and_write_nothing(
    tmp_path: Path, case: str, extra: list[str], field: str
) -> None:
    _, path = _recommend(tmp_path, "--goal", "unwind", "--tension", "5")
    if case == "quiet rest":
        path = _quiet(tmp_path, path)
    elif case == "bad layer":
        path = _bad_layer(tmp_path, path)
    out = tmp_path / "out.flac"
    args = ["render", str(path), "-o", str(out)] + [x.format(tmp=tmp_path) for x in extra]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"{field}:" in result.output
    assert not out.exists() and not (tmp_path / "x.aiff").exists()
