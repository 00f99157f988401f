# wavescore: the README opens with `make demo` and `make test`.
# Installs are pinned by constraints.txt (the versions the suite was run with); refresh it with
# `make constraints` after changing dependencies, then run `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
export WAVESCORE_DATA_DIR ?= $(CURDIR)/wavescore-data

.PHONY: demo test bench lint serve clean constraints

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-base: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[test,bench]'
	touch $@

demo: $(VENV)/.installed-base
	$(BIN)/wavescore demo

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: $(VENV)/.installed-bench
	$(BIN)/python -m tests.benchmarks.run --out BENCHMARKS.results.json

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

constraints: $(VENV)/.installed-bench
	$(BIN)/python -m pip freeze --exclude-editable | grep -v '^wavescore' > constraints.txt
