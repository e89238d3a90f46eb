# Model rollout: registered versions and an operator's rollback. Included by the main Makefile (VENV, PY).

.PHONY: models rollback

models: | $(VENV)/.installed  ## registered versions of each lifecycle route with their gate metrics: make models [STACK=<stack>] (no STACK: the local registry)
	@$(PY) -m sluice_local.models $(if $(STACK),--stack "$(STACK)")

rollback: | $(VENV)/.installed  ## roll a route back to a registered version with the same guardrails: make rollback ROUTE=intent TO=v1 STACK=<stack>
	@test -n "$(ROUTE)" -a -n "$(TO)" || { echo "usage: make rollback ROUTE=<route> TO=v<n> STACK=<deployed stack>"; exit 2; }
	@$(PY) -m sluice_local.rollback --route "$(ROUTE)" --to "$(TO)" $(if $(STACK),--stack "$(STACK)")

.PHONY: deploy-model
deploy-model: | $(VENV)/.installed  ## roll an approved local registry version out on the local endpoint (canary, bake, alarms): make deploy-model ROUTE=intent VERSION=v1
	@test -n "$(ROUTE)" -a -n "$(VERSION)" || { echo "usage: make deploy-model ROUTE=<route> VERSION=v<n>"; exit 2; }
	@$(PY) -m sluice_local.rollback --route "$(ROUTE)" --to "$(VERSION)" --reason approved
