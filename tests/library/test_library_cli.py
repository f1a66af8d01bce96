"""`sonora library add / scan / list`, driven through Typer's CliRunner like a person."""

from __future__ import annotations

import pytest
import trackgen as tg
from typer.testing import CliRunner

from sonora.cli import app
from sonora.core.database import Database


@pytest.fixture
def env(tmp_path, monkeypatch):
    music = tmp_path / "roots" / "Music"
    tg.write_track(tg.TrackSpec(bpm=72, fmt="ogg", duration_s=8.0, seed=3), music, "slow.ogg")
    db_url = f"sqlite:///{tmp_path / 'sonora.db'}"
    db = Database.open(db_url)
    user = db.create_user()
    db.register(user.id, email="ada@example.org", password_hash="x")
    db.close()
    monkeypatch.setenv("SONORA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SONORA_DATABASE_URL", db_url)
    monkeypatch.setenv("SONORA_SECRET_KEY", "k" * 40)
    monkeypatch.setenv("SONORA_TRIAGE_NOTES", "false")
    monkeypatch.setenv("SONORA_LIBRARY_ROOTS", str(tmp_path / "roots"))
    return music


def test_add_scan_list(env):
    runner = CliRunner()
    who = ["--email", "ada@example.org"]
    r = runner.invoke(app, ["library", "add", "/etc", *who])
    assert r.exit_code == 2 and "PATH: must be inside an allowed folder" in r.output
    r = runner.invoke(app, ["library", "add", str(env), *who])
    assert r.exit_code == 0, r.output
    assert f"Added {env.resolve()}" in r.output
    r = runner.invoke(app, ["library", "scan", *who])
    assert r.exit_code == 0, r.output
    assert "1 file(s) seen, 1 analysed, 0 could not be read" in r.output
    r = runner.invoke(app, ["library", "scan", *who])
    assert "1 file(s) seen, 0 analysed" in r.output  # incremental
    r = runner.invoke(app, ["library", "list", *who])
    assert r.exit_code == 0, r.output
    assert "estimates" in r.output and "~72 BPM" in r.output and "Generated" in r.output
    r = runner.invoke(app, ["library", "list", "--email", "nobody@example.org"])
    assert r.exit_code == 2 and "no account" in r.output
    # errors read like every other command's: "error: --OPTION: message", naming the
    # option or argument as typed, no usage block
    assert r.output.startswith("error: --email: no account with the email 'nobody@example.org'")
    r = runner.invoke(app, ["library", "add", "/etc", *who])
    assert r.output.startswith("error: PATH: must be inside an allowed folder")


def test_without_roots_the_commands_say_the_library_is_off(env, monkeypatch):
    monkeypatch.setenv("SONORA_LIBRARY_ROOTS", "")
    r = CliRunner().invoke(app, ["library", "add", str(env), "--email", "ada@example.org"])
    assert r.exit_code == 2 and "SONORA_LIBRARY_ROOTS" in r.output
