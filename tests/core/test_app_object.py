"""The one application object: the command line uses what the app has learnt."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sonora.cli import app
from sonora.core.app import Core
from sonora.core.database import Database
from sonora.plan import FAMILIES
from sonora.settings import Settings


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'sonora.db'}"


def _listener(db_url: str, *, disliked: list[str]) -> tuple[str, str]:
    db = Database.open(db_url)
    try:
        user = db.create_user()
        db.register(user.id, email="ada@example.org", password_hash="x")
        db.save_profile(user.id, {"loved": [], "disliked": disliked, "sensitivities": []})
        return user.id, "ada@example.org"
    finally:
        db.close()


def _families(plan: dict) -> set[str]:
    return {layer["family"] for layer in plan["layers"]}


def test_recommend_for_a_known_listener_uses_their_stored_profile(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONORA_DATABASE_URL", db_url)
    disliked = sorted(set(FAMILIES) - {"noise", "drone"})
    user_id, email = _listener(db_url, disliked=disliked)
    runner = CliRunner()
    for who in (email, user_id):
        r = runner.invoke(
            app,
            [
                "recommend",
                "--goal",
                "sleep",
                "--tension",
                "6",
                "--minutes",
                "20",
                "--json",
                "--listener",
                who,
            ],
        )
        assert r.exit_code == 0, r.output
        plan = json.loads(r.stdout)
        assert _families(plan), plan
        assert not _families(plan) & set(disliked), plan["layers"]
    # without --listener the stored dislikes are not known
    seen: set[str] = set()
    for seed in range(6):
        r = runner.invoke(
            app,
            [
                "recommend",
                "--goal",
                "sleep",
                "--tension",
                "6",
                "--minutes",
                "20",
                "--json",
                "--seed",
                str(seed),
            ],
        )
        assert r.exit_code == 0, r.output
        seen |= _families(json.loads(r.stdout))
    assert seen & set(disliked)


def test_recommend_for_an_unknown_listener_names_the_field(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SONORA_DATABASE_URL", db_url)
    r = CliRunner().invoke(
        app, ["recommend", "--goal", "sleep", "--tension", "6", "--listener", "nobody@example.org"]
    )
    assert r.exit_code == 2
    assert "listener" in r.output and "nobody@example.org" in r.output


def test_core_builds_heavy_parts_on_first_use(db_url: str) -> None:
    core = Core(Settings(database_url=db_url))
    try:
        assert "planner" not in core.__dict__ and "therapists" not in core.__dict__
        assert core.therapists is core.therapists  # one service per application
        assert core.therapists.repo.store is core.store
        assert "planner" not in core.__dict__
    finally:
        core.close()
