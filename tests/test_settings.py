"""Settings: every setting is read from SONORA_* and documented in docs/app.md."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from sonora.settings import ENV_PREFIX, Settings

DOCS = Path(__file__).resolve().parents[1] / "docs" / "app.md"


def test_every_setting_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(SONORA_[A-Z0-9_]+)`", text))
    missing = sorted(set(Settings.documented_env_vars()) - documented)
    assert not missing, f"docs/app.md does not document {missing}"


def test_docs_name_no_setting_that_does_not_exist() -> None:
    text = DOCS.read_text(encoding="utf-8")
    named = {n for n in re.findall(r"SONORA_[A-Z0-9_]+", text) if not n.startswith("SONORA_TEST")}
    stale = sorted(named - set(Settings.documented_env_vars()))
    assert not stale, f"docs/app.md names settings that do not exist: {stale}"


def test_every_setting_has_a_description() -> None:
    for name, field in Settings.model_fields.items():
        assert field.description, name


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith(ENV_PREFIX):
            monkeypatch.delenv(key)
    s = Settings(data_dir=tmp_path)
    assert (s.host, s.port) == ("127.0.0.1", 8000)
    assert s.database_url == f"sqlite:///{tmp_path / 'sonora.db'}"
    assert s.is_sqlite
    assert s.secure_cookies == "auto"


def test_default_data_dir_is_the_user_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    import platformdirs

    monkeypatch.delenv("SONORA_DATA_DIR", raising=False)
    assert Settings().data_dir == Path(platformdirs.user_data_dir("sonora", appauthor=False))


def test_environment_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SONORA_PORT", "9123")
    monkeypatch.setenv("SONORA_DATABASE_URL", "postgresql+psycopg://u@h:5432/d")
    monkeypatch.setenv("SONORA_SECURE_COOKIES", "always")
    monkeypatch.setenv("SONORA_DATA_DIR", str(tmp_path))
    s = Settings()
    assert s.port == 9123
    assert s.database_url == "postgresql+psycopg://u@h:5432/d"
    assert not s.is_sqlite
    assert s.secure_cookies == "always"


@pytest.mark.parametrize(
    ("env", "value"),
    [
        ("SONORA_PORT", "0"),
        ("SONORA_PORT", "eighty"),
        ("SONORA_TARGET_LUFS", "-5"),
        ("SONORA_SECURE_COOKIES", "sometimes"),
        ("SONORA_SAMPLE_RATE", "8000"),
    ],
)
def test_bad_values_name_the_setting(
    env: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ValidationError) as info:
        Settings(data_dir=tmp_path)
    assert env.removeprefix(ENV_PREFIX).lower() in str(info.value)


def test_secret_key_is_generated_once_and_private(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path / "data")
    key = s.ensure_secret_key()
    assert len(key) >= 32
    path = tmp_path / "data" / "secret_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Settings(data_dir=tmp_path / "data").ensure_secret_key() == key


def test_a_given_secret_key_wins(tmp_path: Path) -> None:
    s = Settings(data_dir=tmp_path, secret_key="from-the-environment")
    assert s.ensure_secret_key() == "from-the-environment"
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.parametrize(("cpus", "expected"), [(1, False), (2, True), (8, True)])
def test_calibration_runs_in_processes_by_default_when_there_is_a_second_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cpus: int, expected: bool
) -> None:
    monkeypatch.delenv("SONORA_CALIBRATION_PROCESSES", raising=False)  # conftest pins it
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cpus)))
    assert Settings(data_dir=tmp_path).calibration_processes is expected
    monkeypatch.setenv("SONORA_CALIBRATION_PROCESSES", "false")
    assert Settings(data_dir=tmp_path).calibration_processes is False
