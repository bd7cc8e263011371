# Kakunin: `make run` runs the main job, `make test` runs the checks. Both install what they need.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
SRC := $(wildcard plugins dags tests)
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
DEMO_HOME := var/demo

.PHONY: install run test lint format schemas clean

## install: bootstrap uv (pinned) and sync .venv from uv.lock, nothing else
install: $(VENV)/.synced

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --python $(PYTHON)
	touch $@

## run: seed the sample batches into a fresh store and submit each through the provenance gate
run: install
	rm -rf $(DEMO_HOME)
	KAKUNIN_HOME=$(DEMO_HOME) $(BIN)/kakunin demo

## test: lint, type-check, schema freshness, then the test suite
test: install lint
	$(BIN)/python -m kakunin.schemas --check
	$(BIN)/pytest

lint: install
	$(BIN)/ruff format --check $(SRC)
	$(BIN)/ruff check $(SRC)
	$(BIN)/mypy

format: install
	$(BIN)/ruff format $(SRC)
	$(BIN)/ruff check --fix $(SRC)

## schemas: regenerate the JSON Schemas under lineage/ from the models
schemas: install
	$(BIN)/python -m kakunin.schemas

clean:
	rm -rf $(VENV) $(TOOLS) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
