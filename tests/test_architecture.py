"""The architecture holds: imports point down and no package circle exists.

The rules live in ``.importlinter`` (docs/design.md explains them); this runs
import-linter over the installed source tree and fails with its report.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(exe), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PATH": str(exe.parent)},
        timeout=300,
        check=False,
    )


def test_import_contracts_are_kept() -> None:
    result = _lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 3 kept, 0 broken." in result.stdout, result.stdout


def test_the_contracts_guard_the_layers_named_in_the_design() -> None:
    config = (ROOT / ".importlinter").read_text(encoding="utf-8")
    for layer in ("sonora.web", "sonora.core", "sonora.scenes", "sonora.engine", "sonora.store"):
        assert layer in config
    assert "type = layers" in config and "type = acyclic_siblings" in config


def test_a_module_importing_upwards_breaks_the_contract(tmp_path: Path) -> None:
    """The check can fail: the engine importing the web app is reported."""
    bad = tmp_path / "sonora"
    (bad / "engine").mkdir(parents=True)
    (bad / "web").mkdir()
    (bad / "__init__.py").write_text("")
    (bad / "web" / "__init__.py").write_text("")
    (bad / "engine" / "__init__.py").write_text("import sonora.web\n")
    config = tmp_path / ".importlinter"
    config.write_text(
        "[importlinter]\nroot_package = sonora\n\n"
        "[importlinter:contract:layers]\nname = layers\ntype = layers\n"
        "layers =\n    sonora.web\n    sonora.engine\n"
    )
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(exe), "--config", str(config), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(tmp_path), "PATH": str(exe.parent)},
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "sonora.engine -> sonora.web" in result.stdout, result.stdout
