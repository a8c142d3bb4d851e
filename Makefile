# The two commands (see README.md): `make demo` and `make test`.
# Each sets up everything it needs, idempotently: system packages, .venv, the project.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.gudang-installed

.PHONY: demo test setup system-packages test-packages lint schema bench-clean clean

demo: setup
	$(BIN)/gudang demo

test: setup test-packages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/typecheck.py
	$(BIN)/pytest

setup: system-packages $(STAMP)

system-packages:
	@scripts/ensure-system-packages.sh

# The dashboard's browser test drives Debian's headless Chromium.
test-packages:
	@scripts/ensure-system-packages.sh --test

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "gudang needs Python >= 3.11; found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/typecheck.py

# Regenerates docs/schema/*.json from the contract models.
schema: setup
	$(BIN)/gudang schema --out docs/schema

clean:
	rm -rf $(VENV) var build *.egg-info
