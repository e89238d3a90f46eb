# PII benchmark: sluice.pii vs Presidio (presidio-analyzer + spaCy en_core_web_sm) on data/pii.
# Presidio and spaCy are benchmark-only and heavy, so they live in their own venv, installed from
# bench/requirements-pii.txt with every transitive dependency pinned by hash.
PII_PYTHON ?= python3
PII_VENV ?= .venv-bench
PII_PY ?= $(PII_VENV)/bin/python

.PHONY: pii-eval pii-import-time pii-wordlists pii-tagger

$(PII_VENV)/.installed: bench/requirements-pii.txt pyproject.toml
	@echo "==> Presidio benchmark environment ($(PII_VENV))"
	@test -x $(PII_PY) || $(PII_PYTHON) -m venv $(PII_VENV)
	@$(PII_PY) -m pip install --quiet --require-hashes -r bench/requirements-pii.txt
	@# sluice itself, without deps: its runtime deps (pydantic) are in the hashed file above.
	@$(PII_PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

pii-eval: $(PII_VENV)/.installed  ## sluice.pii vs Presidio: precision, recall, F2, ms/record (writes bench/results/pii.md)
	@$(PII_PY) bench/pii_eval.py

pii-import-time: $(PII_VENV)/.installed  ## how long `import sluice.pii` takes in a fresh interpreter
	@$(PII_PY) bench/pii_import_time.py

pii-wordlists:  ## rebuild layers/sluice/pii/data from pinned PyPI sources (by hand; output is committed)
	@test -x /tmp/sluice-wordlists/bin/python || $(PII_PYTHON) -m venv /tmp/sluice-wordlists
	@/tmp/sluice-wordlists/bin/pip install --quiet -r tools/requirements-pii-wordlists.txt
	@/tmp/sluice-wordlists/bin/python tools/build_pii_wordlists.py

pii-tagger:  ## retrain the PERSON/LOCATION tagger on BTC train, tuned on BTC dev (by hand; output is committed)
	@test -x /tmp/sluice-pii-tagger/bin/python || $(PII_PYTHON) -m venv /tmp/sluice-pii-tagger
	@/tmp/sluice-pii-tagger/bin/pip install --quiet -r tools/requirements-pii-tagger.txt
	@# nice: a few minutes of CPU on a machine others share
	@nice /tmp/sluice-pii-tagger/bin/python tools/train_pii_tagger.py
