# Thin wrappers for those who like make; tools/lab.py does the work, on Windows too (README).
#   make lab    -- python3 tools/lab.py: create .venv, install everything pinned, open JupyterLab on notebooks/
#   make test   -- python3 tools/lab.py test: same environment; run every test, the notebooks included (nbval)
#   make colab  -- python3 tools/colab_check.py: the notebooks and the panel's tests on Colab's own versions
# Other targets: make audit, make badges, make format, make refresh, make lint, make bench.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: lab test colab audit badges format refresh lint bench clean

$(STAMP): requirements.txt pyproject.toml tools/lab.py
	$(PYTHON) tools/lab.py install

lab:
	$(PYTHON) tools/lab.py

test:
	$(PYTHON) tools/lab.py test

colab:
	$(PYTHON) tools/colab_check.py

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
	rm -rf $(VENV) .venv-colab .pytest_cache .ruff_cache test-artifacts
