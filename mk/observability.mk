# Observability: the audit trail and the dashboard. Included by the main Makefile, which defines VENV and PY.
.PHONY: audit dashboard

audit: install  ## a tenant's audit trail, verified: make audit TENANT=acme [SINCE=24h|2026-12-01T00:00] [STACK=Sluice] (no STACK: the local platform)
	@test -n "$(TENANT)" || { echo "usage: make audit TENANT=<tenant>|_platform [SINCE=24h] [STACK=<deployed stack>]"; exit 2; }
	@$(PY) -m sluice_local.audit --tenant "$(TENANT)" --since "$(or $(SINCE),24h)" $(if $(STACK),--stack "$(STACK)")

dashboard: install  ## the stage dashboard's panels from the local platform's EMF metrics (writes .sluice/dashboard.png; IMAGE=... to choose)
	@$(PY) -m sluice_local.dashboard $(if $(IMAGE),--image "$(IMAGE)")
