# The default model: train once, package, serve alone, benchmark. Included by the main Makefile,
# which defines VENV and PY and exports HF_HUB_OFFLINE (weights come from a package, never the Hub).
MODEL_DIR := .sluice/model

.PHONY: model model-package model-endpoint model-bench platform-bench startup-bench

model: $(MODEL_DIR)/metrics.json  ## train the default intent model into .sluice/model (skipped once trained)

# metrics.json is written last, so its presence means a complete model; delete it to retrain.
$(MODEL_DIR)/metrics.json: | $(VENV)/.installed
	@echo "==> training the default model (BANKING77: all-MiniLM-L6-v2 + logistic regression)"
	@$(PY) model/train.py --model-dir $(MODEL_DIR)

model-package: model  ## build .sluice/model.tar.gz, the artifact SageMaker's PyTorch container serves
	@$(PY) model/package.py --model-dir $(MODEL_DIR) --output .sluice/model.tar.gz

model-endpoint: model  ## serve the model alone on 127.0.0.1:8080 (SageMaker Runtime API)
	@$(PY) -m sluice_local.endpoint --model-dir $(MODEL_DIR) --port 8080 --endpoint sluice-intent

model-bench: model  ## benchmark predict_fn and the local endpoint; writes bench/results/model.md
	@$(PY) bench/model_bench.py --model-dir $(MODEL_DIR)

platform-bench: model  ## the whole local platform end to end: sync, async, micro-batching vs batch size 1 (writes bench/results/platform.md)
	@$(PY) bench/platform_bench.py

startup-bench:  ## seconds until `make run` answers /v1/health: on a fresh clone, then again (ports 8000/8080/5000 free)
	@python3 bench/startup_bench.py
