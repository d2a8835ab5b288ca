# Liftoff: every command a user needs. `make demo` and `make test` set everything up first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# .venv runs the Lambda runtime's Python (3.13) when this machine has it: the tests run on what AWS runs.
ifndef PYTHON
PYTHON := $(shell tools/find-python)
endif
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.liftoff-installed-$(PYTHON_VERSION)
NODE_STAMP := node_modules/.liftoff-installed
CHECKOV_VENV := .tools/checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.liftoff-installed
CHECKOV_PYTHON ?= python3
STAGE ?= sandbox
# Material for MkDocs prints a notice about its successor on every build; the docs pages say it (docs/contributing.md).
export NO_MKDOCS_2_WARNING := 1
# jsii (under aws-cdk-lib) prints a banner on Node 20, which is past its end of life; Node 22+ is quieter.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20

.PHONY: help setup demo eval fuzz test test-aws test-unit test-infra test-e2e lint format synth bench docs docs-serve clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(PY_STAMP) $(NODE_STAMP) $(CHECKOV_STAMP) ## Create .venv from pinned requirements, install the pinned CDK CLI and checkov (idempotent)

$(CHECKOV_STAMP): tools/checkov-requirements.txt
	@echo "==> checkov into $(CHECKOV_VENV) (its own venv; pinned by tools/checkov-requirements.txt)"
	@test -x $(CHECKOV_VENV)/bin/python || $(CHECKOV_PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r tools/checkov-requirements.txt
	@touch $@

$(PY_STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found %s); set PYTHON=/path/to/python3.11" % sys.version.split()[0])'
	@echo "==> Python $(PYTHON_VERSION) deps into $(VENV) (pinned by requirements*.txt, lambdas/requirements.txt and constraints.txt)"
	@if test -x $(PY) && [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYTHON_VERSION)" ]; then \
	  echo "    $(VENV) runs another Python: recreating it with $(PYTHON)"; rm -rf $(VENV); fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	@$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null || { echo "npm not found: install Node.js 20+ (https://nodejs.org)"; exit 1; }
	@echo "==> AWS CDK CLI into node_modules (pinned by package-lock.json)"
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup ## Run the whole system locally end to end (no AWS account needed)
	@$(BIN)/liftoff demo

eval: setup ## Run the use case's eval set in local mode and gate on its exit criteria (USE_CASE=support-triage)
	@$(BIN)/liftoff eval run --use-case $(or $(USE_CASE),support-triage)

fuzz: setup ## Fuzz the local API from openapi.yaml with schemathesis: 2,000 examples per mode (make test runs 60)
	@LIFTOFF_FUZZ_EXAMPLES=$(or $(EXAMPLES),2000) $(BIN)/pytest -p no:cacheprovider tests/e2e/test_fuzz.py

test: setup lint ## Lint, then run every test suite
	@$(BIN)/pytest -p no:cacheprovider

test-aws: setup ## Opt-in, real AWS: preflight, deploy, smoke, a small eval, destroy (STAGE=sandbox USE_CASE=... KEEP=1)
	@STAGE=$(STAGE) USE_CASE=$(or $(USE_CASE),support-triage) KEEP=$(KEEP) tools/test-aws

test-unit: setup ## Handler, library and config tests (fast)
	@$(BIN)/pytest -p no:cacheprovider tests/unit

test-infra: setup ## CDK assertions, cdk-nag (AwsSolutions + Serverless), cfn-lint, checkov
	@$(BIN)/pytest -p no:cacheprovider tests/infra

test-e2e: setup ## End-to-end through the local API (evals, faults, fuzz, load)
	@$(BIN)/pytest -p no:cacheprovider tests/e2e

lint: setup ## ruff lint + format check
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: setup ## Apply ruff fixes and formatting
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

synth: setup ## cdk synth for STAGE (default sandbox)
	@npx cdk synth -q -c stage=$(STAGE)

bench: setup ## Benchmarks (figures, not pass/fail); results in reports/
	@$(PY) benchmarks/bench_prompt_cache.py
	@$(PY) benchmarks/bench_observability_overhead.py
	@$(PY) benchmarks/bench_scale.py
	@$(PY) benchmarks/bench_output_contract.py

docs: setup ## Build the documentation site into site/ (--strict: a broken link or a stale reference fails)
	@$(BIN)/mkdocs build --strict

docs-serve: setup ## Serve the documentation site on http://127.0.0.1:8000 with live reload
	@$(BIN)/mkdocs serve --strict

clean: ## Remove generated files (keeps .venv and node_modules)
	rm -rf cdk.out .liftoff reports site .pytest_cache .ruff_cache
