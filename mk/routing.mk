# Routing benchmarks. Included by the main Makefile, which defines VENV and PY.
.PHONY: overhead-bench

overhead-bench: install  ## platform overhead per sync request and per worker job, without the model
	@$(PY) bench/overhead_bench.py
