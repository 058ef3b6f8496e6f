# One entry point per job. `make test` and `make demo` work from a clean clone (Python 3.11, Node 20).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORPUS ?= ../shared/corpus
ARGS ?=

.PHONY: setup test lint unit demo bench bench-detection signatures clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check firewall infra tests bench
	$(VENV)/bin/mypy

test: lint
	$(PY) -m pytest -q

unit: setup
	$(PY) -m pytest -q tests/unit

signatures: setup
	$(PY) -m firewall signatures lint

demo: setup
	$(PY) -m firewall demo $(ARGS)

bench: setup
	$(PY) bench/performance.py
	@if [ -d "$(CORPUS)" ]; then $(PY) bench/detection.py $(CORPUS); else echo "no corpus at $(CORPUS): set CORPUS=DIR for the detection benchmark"; fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache cdk.out build *.egg-info
