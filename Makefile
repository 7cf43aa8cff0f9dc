# Front door. `make run` starts the local stack; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python.sh)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1

.PHONY: help venv run test unit lint typecheck validate build pr simulator clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml layers/idn_triggers/requirements.txt
	@test -n "$(PYTHON)" || exit 1
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

venv: $(STAMP)  ## create .venv with everything the project needs

run: $(STAMP)  ## run the whole system locally (no AWS account): ARGS="--help" for options
	$(BIN)/python -m idn_local $(ARGS)

simulator: $(STAMP)  ## run only the SailPoint tenant simulator: ARGS="--port 8400 --client-id X --client-secret Y"
	$(BIN)/python -m idn_local.simulator $(ARGS)

test: $(STAMP)  ## lint, type-check and run every test (unit, integration, template, e2e)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest $(ARGS)

unit: $(STAMP)  ## fast tests only (no network)
	$(BIN)/pytest tests/unit $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

validate: $(STAMP)  ## offline template checks
	$(BIN)/sam validate --lint --template template.yaml
	$(BIN)/cfn-lint template.yaml

build: $(STAMP)  ## sam build without containers (needs python3.13 on PATH; this adds it)
	PATH="$(dir $(PYTHON)):$(abspath $(BIN)):$$PATH" $(BIN)/sam build --cached --parallel

pr: lint typecheck test  ## what a pull request must pass

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
