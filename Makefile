# One entry point per job. `make test` and `make demo` work from a clean clone (Python 3.11, Node 20).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORPUS ?= ../shared/corpus
ARGS ?=

export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION = 20
export CDK_DISABLE_VERSION_CHECK = 1
export CDK_DISABLE_CLI_TELEMETRY = true
CDK := npx --no-install cdk

.PHONY: setup test lint unit demo bench signatures synth deploy clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -e .
	npm ci --no-audit --no-fund --loglevel=error
	$(PY) -m infra.bundling   # Lambda (arm64) wheels for offline bundling at synth
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
	$(PY) bench/handler.py
	@if [ -d "$(CORPUS)" ]; then $(PY) bench/detection.py $(CORPUS); else echo "no corpus at $(CORPUS): set CORPUS=DIR for the detection benchmark"; fi

synth: setup
	$(CDK) synth --no-notices --quiet

deploy: setup
	$(CDK) deploy --no-notices --require-approval broadening $(ARGS)

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache cdk.out build *.egg-info
