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

.PHONY: help setup demo eval fuzz test test-aws test-unit test-infra test-e2e test-contract lint format synth bench docs docs-serve clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

setup: $(PY_STAMP) $(NODE_STAMP) ## Create .venv from pinned requirements and install the pinned CDK CLI (idempotent)

# pip's whole output goes to this log; the screen gets a progress line every few packages (tools/pip_progress.py).
PIP_LOG := $(VENV)/pip-install.log
PIP_INSTALL = set -o pipefail; $(PY) -m pip install --disable-pip-version-check --progress-bar off
SHOW_PROGRESS = 2>&1 | tee -a $(PIP_LOG) | $(PY) tools/pip_progress.py || { echo "pip failed; the end of $(PIP_LOG):"; tail -n 30 $(PIP_LOG); exit 1; }

$(CHECKOV_STAMP): tools/checkov-requirements.txt | $(PY_STAMP)
	@echo "==> checkov into $(CHECKOV_VENV) (its own venv, for the infra tests only; pinned by tools/checkov-requirements.txt)"
	@test -x $(CHECKOV_VENV)/bin/python || $(CHECKOV_PYTHON) -m venv $(CHECKOV_VENV)
	@set -o pipefail; $(CHECKOV_VENV)/bin/python -m pip install --disable-pip-version-check --progress-bar off \
	  -r tools/checkov-requirements.txt $(SHOW_PROGRESS)
	@touch $@

$(PY_STAMP): requirements.txt requirements-dev.txt lambdas/requirements.txt constraints.txt pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (found %s); set PYTHON=/path/to/python3.11" % sys.version.split()[0])'
	@echo "==> Python $(PYTHON_VERSION) deps into $(VENV) (pinned by requirements*.txt, lambdas/requirements.txt and constraints.txt)"
	@if test -x $(PY) && [ "$$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')" != "$(PYTHON_VERSION)" ]; then \
	  echo "    $(VENV) runs another Python: recreating it with $(PYTHON)"; rm -rf $(VENV); fi
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@rm -f $(PIP_LOG)
	@$(PIP_INSTALL) -r requirements-dev.txt -c constraints.txt $(SHOW_PROGRESS)
	@$(PIP_INSTALL) --no-deps --no-build-isolation -e . $(SHOW_PROGRESS)
	@touch $@

$(NODE_STAMP): package.json package-lock.json | $(PY_STAMP)
	@echo "==> AWS CDK CLI into node_modules (pinned by package-lock.json)"
	@$(PY) -m liftoff.doctor --node
	@npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: setup ## Run the whole system locally end to end (no AWS account needed)
	@$(BIN)/liftoff demo

eval: setup ## Run the use case's eval set in local mode and gate on its exit criteria (USE_CASE=NAME; default: liftoff use-cases)
	@$(BIN)/liftoff eval run $(if $(USE_CASE),--use-case $(USE_CASE))

fuzz: setup ## Fuzz the local API from openapi.yaml with schemathesis: 2,000 examples per mode (make test runs 60)
	@LIFTOFF_FUZZ_EXAMPLES=$(or $(EXAMPLES),2000) $(BIN)/pytest -p no:cacheprovider tests/e2e/test_fuzz.py

test: setup $(CHECKOV_STAMP) lint ## Lint, then run every test suite
	@$(BIN)/pytest -p no:cacheprovider

test-aws: setup ## Opt-in, real AWS: preflight, deploy, smoke, a small eval, destroy (STAGE=sandbox USE_CASE=... KEEP=1)
	@STAGE=$(STAGE) USE_CASE=$(USE_CASE) KEEP=$(KEEP) tools/test-aws

test-unit: setup ## Handler, library and config tests (fast)
	@$(BIN)/pytest -p no:cacheprovider tests/unit

test-infra: setup $(CHECKOV_STAMP) ## CDK assertions, cdk-nag (AwsSolutions + Serverless), cfn-lint, checkov
	@$(BIN)/pytest -p no:cacheprovider tests/infra

test-e2e: setup ## End-to-end through the local API (evals, faults, fuzz, load)
	@$(BIN)/pytest -p no:cacheprovider tests/e2e

test-contract: setup $(CHECKOV_STAMP) ## Your use cases (usecases/): nag/cfn-lint/checkov clean, prompts, evals, criteria, smoke
	@$(BIN)/pytest -p no:cacheprovider tests/contract

lint: setup ## ruff lint + format check
	@$(BIN)/ruff check .
	@$(BIN)/ruff format --check .

format: setup ## Apply ruff fixes and formatting
	@$(BIN)/ruff check --fix .
	@$(BIN)/ruff format .

synth: setup ## cdk synth for STAGE (default sandbox)
	@npx cdk synth -q -c stage=$(STAGE)

bench: setup ## Benchmarks (figures, not pass/fail): reports/bench.json, recorded in benchmarks/results.json and the docs (make test runs a quick mode)
	@$(PY) -m benchmarks.run

docs: setup ## Build the documentation site into site/ (--strict: a broken link or a stale reference fails)
	@$(BIN)/mkdocs build --strict

docs-serve: setup ## Serve the documentation site on http://127.0.0.1:8000 with live reload
	@$(BIN)/mkdocs serve --strict

clean: ## Remove generated files (keeps .venv and node_modules)
	rm -rf cdk.out .liftoff reports site .pytest_cache .ruff_cache
