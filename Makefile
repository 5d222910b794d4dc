# vssim: two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench

.PHONY: help demo test test-full lint bench clean venv notebooks schema

help:  ## list the targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/\t/'

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,optimize,data]'
	touch $(STAMP)

FULL_STAMP := $(VENV)/.installed-full
$(FULL_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,optimize,data,distributed,notebooks]'
	touch $(FULL_STAMP)

NB_STAMP := $(VENV)/.installed-notebooks
$(NB_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[dev,optimize,data,notebooks]'
	touch $(NB_STAMP)

venv: $(STAMP)  ## create .venv and install vssim with its dev tools and Optuna

demo: $(STAMP)  ## run the default experiment (the eight flow accelerators) and write its report
	$(VENV)/bin/vssim experiment=accelerators hydra.run.dir=outputs/demo
	@echo "open outputs/demo/report.md"

test: lint  ## the layer contract and ruff, then the default test suite (fast; `slow` tests excluded)
	$(PY) -m pytest -n 2 -q

test-full: $(FULL_STAMP) lint  ## every test, the slow statistical ones and Ray too
	$(PY) -m pytest -n 2 -q -m ''

notebooks: $(NB_STAMP)  ## execute every workshop notebook (notebooks/*.py -> .ipynb with outputs, jupytext), then check them
	cd notebooks && for f in *.py; do ../$(VENV)/bin/jupytext --to ipynb --execute "$$f" || exit 1; done
	$(PY) -m pytest -q tests/test_notebooks.py tests/test_animate.py

$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $(BENCH_STAMP)

bench: $(BENCH_STAMP)  ## speed of one line in vssim, ciw and minimal SimPy (BENCH_ARGS="--save bench.json"; benchmarks/README.md)
	@$(PY) benchmarks/line.py $(BENCH_ARGS)

lint: $(STAMP)  ## the layers (import-linter, pyproject.toml; docs/architecture.md) and ruff
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/ruff check vssim tests benchmarks

schema: $(STAMP)  ## the stream file's JSON Schema (schema/stream.schema.json) and docs/model.md's key tables, from vssim/model/keys.py
	$(PY) tools/stream_schema.py

clean:  ## remove outputs and caches (keeps .venv)
	rm -rf outputs multirun .pytest_cache .hypothesis
