# The commands a person types: `make demo`, `make test` (everything, what CI runs) and
# `make check` (lint and the tests not marked slow: the everyday loop, a few minutes).
# Both create .venv if missing and install the project into it.
# torch is installed first from TORCH_SPEC so that the CPU build is used by default;
# users with a GPU override it, e.g. `make test TORCH_SPEC="torch==2.13.0 --index-url ..."`.
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test check lint demo clean system-packages

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH_SPEC)
	$(BIN)/python -m pip install --quiet -e ".[dev,notebooks]"
	touch $(STAMP)

install: $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check workbench tests benchmarks notebooks
	$(BIN)/ruff format --check workbench tests benchmarks notebooks
	$(BIN)/mypy workbench

# PostgreSQL and Chromium for the distributed-worker and browser tests (apt, when root).
system-packages:
	./scripts/system-packages

test: lint system-packages
	$(BIN)/python -m pytest

check: lint
	$(BIN)/python -m pytest -m "not slow"

demo: $(STAMP)
	$(BIN)/workbench demo

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
