# Front door. `make run` starts the local stack; `make test` runs every test.
SHELL := /bin/bash
PYTHON ?= $(shell scripts/find-python.sh)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
# One test worker per core and one more: the e2e tests spend most of their time waiting on local
# servers, so a third worker on two cores cuts `make test` from about 6.5 to about 5 minutes.
TEST_WORKERS ?= $(shell echo $$(( $$(nproc) + 1 )))

.PHONY: help venv run test test-handlers unit lint typecheck validate build pr simulator clean fuzz soak lock audit bench events

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

# checkov pins boto3 1.35 (the project needs >= 1.40), so it gets a venv of its own inside .venv.
CHECKOV_VERSION := 3.3.30
# Only `make validate` and `make test` (the template test runs checkov) need it; `make run` does not.
CHECKOV := $(VENV)/checkov/bin/checkov
CHECKOV_STAMP := $(VENV)/checkov/.installed

$(STAMP): pyproject.toml layers/idn_triggers/requirements.txt
	@test -n "$(PYTHON)" || exit 1
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@

$(CHECKOV_STAMP): | $(STAMP)
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet --disable-pip-version-check 'checkov==$(CHECKOV_VERSION)'
	@touch $@

venv: $(STAMP) $(CHECKOV_STAMP)  ## create .venv with everything the project needs (checkov's own venv included)

run: $(STAMP)  ## run the whole system locally (no AWS account): ARGS="--help" for options; secrets in SAILPOINT_CLIENT_SECRET / IDN_LOCAL_AUTH, never ARGS
	@echo "$(BIN)/python -m idn_local ..."
	@$(BIN)/python -m idn_local $(ARGS)

simulator: $(STAMP)  ## run only the SailPoint tenant simulator: ARGS="--port 8400 --client-id X --client-secret Y"
	$(BIN)/python -m idn_simulator $(ARGS)

test: $(STAMP) $(CHECKOV_STAMP)  ## lint, type-check and run every test (unit, integration, template, e2e, handler_tests/) on every core
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile $(ARGS)

test-handlers: $(STAMP)  ## your handlers' tests (handler_tests/) and the contract every handler keeps, in seconds
	$(BIN)/pytest handler_tests tests/contract -q $(ARGS)

unit: $(STAMP)  ## fast tests only (no network)
	$(BIN)/pytest tests/unit $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy --strict on all non-test code, and the import rules (lint-imports)
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

validate: $(STAMP) $(CHECKOV_STAMP)  ## offline template checks: defaults and every option on (SnapStart, KMS key...), checkov, parliament on every role
	$(BIN)/sam validate --lint --template template.yaml
	$(BIN)/cfn-lint template.yaml
	@tmp=$$(mktemp -d) && $(BIN)/python scripts/template_variant.py $$tmp/template.json \
	  && (cd $$tmp && $(abspath $(BIN))/sam validate --lint --template template.json) \
	  && $(BIN)/cfn-lint $$tmp/template.json; rc=$$?; rm -rf $$tmp; exit $$rc
	$(CHECKOV) -f template.yaml --framework cloudformation --skip-download --compact --quiet
	$(BIN)/python -m idn_local.iam_lint

build: $(STAMP)  ## sam build without containers (needs python3.13 on PATH; this adds it)
	PATH="$(dir $(PYTHON)):$(abspath $(BIN)):$$PATH" $(BIN)/sam build --cached --parallel

events: $(STAMP)  ## regenerate events/ from the trigger catalogue
	$(BIN)/python scripts/generate_events.py

fuzz: $(STAMP)  ## fuzz the receiver: >10,000 generated requests in-process plus an HTTP pass over local mode
	FUZZ_PROFILE=deep $(BIN)/pytest tests/fuzz -q -p no:cacheprovider --timeout=3600 $(ARGS)  # thousands of examples per test: the suite's 120 s hang guard is too short on a loaded machine

soak: $(STAMP)  ## fault-injection soak of local mode (500 invocations, <= 5 min): nothing lost, nothing doubled
	$(BIN)/python bench/soak.py $(ARGS)

lock: $(STAMP)  ## re-pin the layer's dependencies with hashes (layers/idn_triggers/requirements.lock)
	$(MAKE) -C layers/idn_triggers lock UV=$(abspath $(BIN))/uv

audit: $(STAMP)  ## known vulnerabilities in the layer's pinned dependencies (pip-audit; fails if its database is unreachable)
	$(MAKE) -C layers/idn_triggers audit PIP_AUDIT=$(abspath $(BIN))/pip-audit

bench: $(STAMP)  ## benchmarks + goals table (~15 min; ARGS="--quick" smoke, "--only NAME"); writes bench/results.json; the full-size storm: python bench/storm.py (~45 min)
	$(BIN)/python bench/run_all.py $(ARGS)

pr: lint typecheck test  ## what a pull request must pass

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache
