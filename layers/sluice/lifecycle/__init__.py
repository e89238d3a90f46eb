"""Model lifecycle: drift baselines and monitoring, the golden-query gate, the retraining pipeline."""
