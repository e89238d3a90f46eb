# Human review: an operator's commands (SigV4-signed calls of the operator routes). Included by the main Makefile.
.PHONY: reviews resolve-review

reviews: install  ## review items: make reviews [STATE=open|resolved] [ROUTE=intent] [STACK=Sluice] (no STACK: the local platform)
	@$(PY) -m sluice_local.reviews $(if $(STACK),--stack "$(STACK)") list --state "$(or $(STATE),open)" $(if $(ROUTE),--route "$(ROUTE)")

resolve-review: install  ## resolve one: make resolve-review ID=<review id> LABEL=<label> [NOTE="..."] [STACK=Sluice]
	@test -n "$(ID)" -a -n "$(LABEL)" || { echo "usage: make resolve-review ID=<review id> LABEL=<label> [NOTE=...]"; exit 2; }
	@$(PY) -m sluice_local.reviews $(if $(STACK),--stack "$(STACK)") resolve --id "$(ID)" --label "$(LABEL)" $(if $(NOTE),--note "$(NOTE)")
