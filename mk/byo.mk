# Bring your own model (sluice_local.byo, model/byo.py). Included by the main Makefile.
.PHONY: check-model new-route embed-eval

check-model: install $(CONTAINER_VENV)/.installed $(SKLEARN_IMAGE_VENV)/.installed  ## pre-deploy check of a route's model: make check-model ROUTE=embed (ROUTE=all: every packed route)
	@$(PY) -m sluice_local.byo check-model --route "$(or $(ROUTE),all)"

new-route: install model $(CONTAINER_VENV)/.installed $(SKLEARN_IMAGE_VENV)/.installed  ## add a route for a model dir: make new-route NAME=sentiment MODEL=models/sentiment [KIND=transformers|sklearn|pytorch] [TASK=...]
	@test -n "$(NAME)" -a -n "$(MODEL)" || { echo "usage: make new-route NAME=<route> MODEL=<model dir> [KIND=...] [TASK=...]" >&2; exit 2; }
	@$(PY) -m sluice_local.byo new-route --name "$(NAME)" --model "$(MODEL)" --kind "$(KIND)" --task "$(TASK)"

embed-eval: install model  ## accuracy of the embed route's model on BANKING77's test split (nearest neighbours); writes bench/results/embed.md
	@$(PY) model/eval_embeddings.py
