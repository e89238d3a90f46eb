# S3 batch ingestion: upload a file to the running local platform, and its two benchmarks.
# Included by the main Makefile, which defines VENV and PY.
ROUTE ?= intent

.PHONY: upload ingest-bench ingest-e2e

upload: install  ## upload records to the running platform and follow the batch: make upload FILE=r.jsonl ROUTE=intent
	@test -n "$(FILE)" || { echo "usage: make upload FILE=records.jsonl [ROUTE=intent]"; exit 2; }
	@$(PY) -m sluice_local.upload --file "$(FILE)" --route "$(ROUTE)"

ingest-bench: install  ## peak memory of ingest at 10k and 1M records (writes bench/results/ingest.md)
	@$(PY) bench/ingest_bench.py

ingest-e2e: install model  ## 100k records through the local platform, every one accounted for
	@$(PY) bench/ingest_e2e.py
