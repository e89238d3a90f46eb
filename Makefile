# Sluice: the single interface. `make run` and `make test` set everything up themselves.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
TOOLS_VENV := .venv-tools
# The SageMaker PyTorch image's own packages, for the test that serves the artifact offline.
CONTAINER_VENV := .venv-container
CONTAINER_PACKAGES := model/container/pytorch-inference-2.6.0-gpu-py312.txt
# The SageMaker scikit-learn image's packages, for the check of joblib routes (model/byo.py).
SKLEARN_IMAGE_VENV := .venv-sklearn-image
SKLEARN_IMAGE_PACKAGES := model/container/sagemaker-scikit-learn-1.4-2-py312-cpu-py3.txt
CDK := node_modules/.bin/cdk
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help install setup run reset test lint typecheck unit functional infra e2e synth cfn-lint checkov invoke clean

help:  ## list targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# uv installs the packages: it downloads in parallel, and a cold set-up spent most of its time in
# pip's one-at-a-time downloads (the same versions resolve; checked against a pip-built .venv).
# torch alone comes from pip, pinned: pip finds the CPU build on this machine's disk, where uv
# does not look (uv would download a CUDA build of several GB); uv then keeps the installed one.
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
UV_VERSION := 0.9.17

$(UV):
	@test -x $(UV_VENV)/bin/python || $(PYTHON) -m venv $(UV_VENV)
	@$(UV_VENV)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.installed: pyproject.toml | $(UV)
	@echo "==> Python environment ($(VENV))"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install --quiet --upgrade pip==25.3
	@$(PIP) install --quiet torch==2.13.0
	@$(UV) pip install --quiet --python $(PY) -e '.[dev,model]'
	@touch $@

node_modules/.installed: package.json
	@echo "==> CDK CLI (npm)"
	@npm install --no-audit --no-fund --loglevel=error
	@touch $@

$(TOOLS_VENV)/.installed: requirements-tools.txt | $(UV)
	@echo "==> checkov ($(TOOLS_VENV), kept apart: its pins clash with the CDK's)"
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	@$(UV) pip install --quiet --python $(TOOLS_VENV)/bin/python -r requirements-tools.txt
	@touch $@

$(CONTAINER_VENV)/.installed: $(CONTAINER_PACKAGES) model/requirements.txt | $(VENV)/.installed
	@echo "==> the model image's packages ($(CONTAINER_VENV)) and the artifact's wheels (.build/)"
	@test -x $(CONTAINER_VENV)/bin/python || $(PYTHON) -m venv $(CONTAINER_VENV)
	@$(CONTAINER_VENV)/bin/pip install --quiet --upgrade pip==25.3
	@$(CONTAINER_VENV)/bin/pip install --quiet $$(grep -E '^torch==' $(CONTAINER_PACKAGES))
	@$(UV) pip install --quiet --python $(CONTAINER_VENV)/bin/python -r $(CONTAINER_PACKAGES)
	@$(PY) model/package.py --fetch-wheels --python-version $$($(PY) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
	@$(PY) model/package.py --fetch-wheels
	@touch $@

$(SKLEARN_IMAGE_VENV)/.installed: $(SKLEARN_IMAGE_PACKAGES) | $(UV)
	@echo "==> the scikit-learn image's packages ($(SKLEARN_IMAGE_VENV))"
	@test -x $(SKLEARN_IMAGE_VENV)/bin/python || $(PYTHON) -m venv $(SKLEARN_IMAGE_VENV)
	@$(UV) pip install --quiet --python $(SKLEARN_IMAGE_VENV)/bin/python -r $(SKLEARN_IMAGE_PACKAGES)
	@touch $@

install: $(VENV)/.installed node_modules/.installed  ## create .venv and install Python and npm dependencies

-include mk/*.mk

run: install model  ## the whole platform on 127.0.0.1 (API :8000, endpoint :8080, moto :5000/:5001); state kept in .sluice/state
	@$(PY) -m sluice_local.platform

reset: install  ## forget the local platform's state (tables, queues, buckets, parameters): the next `make run` starts clean
	@$(PY) -m sluice_local.reset

# The set-up steps side by side: the Python, npm and checkov environments install at once, then
# the model trains while the model image's packages install and ruff and mypy run. One step at a
# time, a cold `make test` spent over half of its 25 minutes here (pip waits on the network).
setup:  ## every environment, the model, lint and typecheck (in parallel)
	@$(MAKE) --no-print-directory -j3 --output-sync=line install model $(CONTAINER_VENV)/.installed $(SKLEARN_IMAGE_VENV)/.installed $(TOOLS_VENV)/.installed lint typecheck

test: setup  ## set up, then every test: unit, functional, infra, e2e, synth, cfn-lint, checkov
	@$(PY) -m pytest -n 2 --dist loadgroup tests/unit tests/functional tests/infra
	@$(PY) -m pytest -m "not at_size" tests/e2e
	@$(MAKE) --no-print-directory synth cfn-lint checkov

unit: install model  ## the unit tests only (no sockets, seconds)
	@$(PY) -m pytest -n 2 tests/unit

functional: install  ## the functional tests only (real logic on moto, fake SageMaker)
	@$(PY) -m pytest -n 2 --dist loadgroup tests/functional

infra: install $(CONTAINER_VENV)/.installed  ## the infra tests only (synthesized stacks, deploy-time rules)
	@$(PY) -m pytest -n 2 --dist loadgroup tests/infra

e2e: install model  ## the end-to-end tests only (the local platform on free ports)
	@$(PY) -m pytest -m "not at_size" tests/e2e

lint: install  ## ruff
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .

typecheck: install  ## mypy --strict on the library and handlers
	@$(VENV)/bin/mypy
	@for handler in functions/*/handler.py; do $(VENV)/bin/mypy $$handler || exit 1; done

synth: install model  ## cdk synth (cdk-nag runs as a validation plugin; a finding fails synth)
	@$(CDK) synth --quiet
	@echo "==> cdk.out/Sluice.template.json"

cfn-lint: install  ## cfn-lint on the synthesized template
	@$(VENV)/bin/cfn-lint cdk.out/Sluice.template.json --ignore-checks W3005

checkov: $(TOOLS_VENV)/.installed  ## checkov on the synthesized template (acknowledged checks in .checkov.yaml)
	@$(TOOLS_VENV)/bin/checkov --quiet --compact --config-file .checkov.yaml -f cdk.out/Sluice.template.json

invoke: install  ## run a handler on a sample event: make invoke FN=api EVENT=events/api/get_health.json
	@$(PY) -m sluice_local.invoke --function $(FN) --event $(EVENT)

clean:  ## remove build output (keeps .venv and the trained model)
	rm -rf cdk.out .build .pytest_cache .mypy_cache .ruff_cache
