# A/B evidence per variant and model version. Included by the main Makefile (VENV, PY).

.PHONY: ab-report ab-traffic

ab-report: | $(VENV)/.installed  ## A/B figures per variant@version with significance tests, table and plot: make ab-report [ROUTE=intent] [STACK=<stack>] (no STACK: the local platform)
	@$(PY) -m sluice_local.ab_report $(if $(ROUTE),--route "$(ROUTE)") $(if $(STACK),--stack "$(STACK)")

ab-traffic: model  ## start the local platform, send Banking77 test queries with labelled feedback, then write the A/B report: make ab-traffic [N=800]
	@$(PY) bench/ab_traffic.py $(if $(N),--requests $(N))
