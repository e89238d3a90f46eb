# Model lifecycle: drift bench, golden-query gate. Included by the main Makefile (VENV, PY, HF_HUB_OFFLINE).

.PHONY: drift-bench golden-gate retrain drift-demo

drift-bench: | $(VENV)/.installed  ## drift methods on real Banking77 windows (false alarms, detection at 5-50% unseen intents, cost); writes bench/results/drift.md and .png
	@$(PY) bench/drift_bench.py

golden-gate: model  ## the golden-query gate, the default model against itself (per-slice accuracy, latency)
	@$(PY) model/pipeline/evaluate.py --candidate .sluice/model --incumbent .sluice/model \
		--golden model/golden/intent.jsonl --output .sluice/evaluation

retrain: model  ## the retraining pipeline's definition run here, step by step (prepare, train, golden gate, register or fail): make retrain [FEEDBACK=dir]
	@$(PY) model/pipeline/run_local.py $(if $(FEEDBACK),--feedback $(FEEDBACK))

drift-demo: | $(VENV)/.installed  ## the lifecycle end to end on Banking77 and the local platform: v1 without 10 intents, drift fires, feedback, retraining, gate, canary, promotion; a rejected candidate and a rolled-back canary
	@$(PY) bench/drift_demo.py
