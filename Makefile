# Sonora: two commands.
#   make run   - set up (first time) and serve the app on http://127.0.0.1:8000
#   make test  - set up (first time) and run the whole test suite
#   make test-fast - the unit tests only: no PostgreSQL, no browser, no long renders
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run demo test test-fast lint bench setup clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first (the triage model needs it); without this pip would
	# pick the newest torch with several GB of CUDA packages.
	$(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[test]"
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(BIN)/sonora serve

demo: $(STAMP)
	@mkdir -p out
	$(BIN)/sonora scenes
	$(BIN)/sonora describe rain-with-bowls
	$(BIN)/sonora render rain-with-bowls --output out/rain-with-bowls.flac --duration 3m --seed 7
	@echo "Listen: out/rain-with-bowls.flac   (more: $(BIN)/sonora --help)"

test: $(STAMP)
	$(BIN)/ruff check sonora tests benchmarks
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider -m "not postgres and not browser and not slow"

lint: $(STAMP)
	$(BIN)/ruff check sonora tests benchmarks
	$(BIN)/ruff format --check sonora tests benchmarks

bench: $(STAMP)
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/triage.py
	$(BIN)/python benchmarks/personalisation.py
	$(BIN)/python benchmarks/serve.py --quick

clean:
	rm -rf $(VENV) out build *.egg-info
