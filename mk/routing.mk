# Routing benchmarks. Included by the main Makefile, which defines VENV and PY.
.PHONY: overhead-bench

overhead-bench: install  ## platform overhead per sync request and per worker job, without the model
	@$(PY) bench/overhead_bench.py

.PHONY: load
load: model  ## 10,000 requests per mode (sync, async) from 50 callers through the local platform; none lost (writes bench/results/load.md)
	@$(PY) bench/load.py

.PHONY: redrive
redrive: install  ## a queue's dead letters back to it, audited: make redrive QUEUE=intent|ingest [STACK=Sluice] (no STACK: the local platform)
	@test -n "$(QUEUE)" || { echo "usage: make redrive QUEUE=<route>|ingest [STACK=<deployed stack>]"; exit 2; }
	@$(PY) -m sluice_local.redrive --queue "$(QUEUE)" $(if $(STACK),--stack "$(STACK)")

.PHONY: faults faults-platform
faults: install  ## the fault suite at size, with its accounting (writes bench/results/faults.md)
	@$(PY) bench/fault_accounting.py

faults-platform: model  ## the fault suite on the running platform (make run's program), with its accounting (writes bench/results/faults-platform.md)
	@SLUICE_FAULTS_REPORT=bench/results/faults-platform.md SLUICE_FAULTS_PER_FAULT=$${PER_FAULT:-5} $(PY) -m pytest -m at_size tests/e2e/test_faults.py -q
	@cat bench/results/faults-platform.md
