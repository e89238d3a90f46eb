# Cost governance. Included by the main Makefile, which defines VENV and PY.
.PHONY: cost-report

cost-report: model  ## cost per 1,000 requests by route, variant and tenant from metering data (table + bench/results/cost_report.png)
	@$(PY) bench/cost_report.py $(ARGS)
