# The two commands of the README:
#   make lab    -- create .venv, install everything pinned, open JupyterLab on notebooks/
#   make test   -- same environment; run every test, the notebooks included (nbval)
# Other targets: make audit, make badges, make format, make refresh, make lint, make bench.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test audit badges format refresh lint bench clean

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: $(STAMP)
	$(BIN)/jupyter lab $(ROOT_FLAG) notebooks/

test: $(STAMP)
	$(BIN)/python -m pytest

audit: $(STAMP)
	$(BIN)/python -m helpers audit --repeats 5 --out audit.json

badges: $(STAMP)
	$(BIN)/python tools/notebooks.py badges

format: $(STAMP)
	$(BIN)/python tools/notebooks.py normalize

refresh: $(STAMP)
	$(BIN)/python tools/notebooks.py refresh

lint: $(STAMP)
	$(BIN)/ruff check helpers tests tools benchmarks notebooks

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_audit.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache test-artifacts
