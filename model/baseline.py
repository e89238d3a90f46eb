"""The drift baseline written beside the model: what the monitor compares served traffic with.

Computed from held-out rows (the test channel; the head was not fitted on them): the
predicted-label distribution and the low-confidence rate, i.e. the share of answers whose top
score is below the `quantile`-th top score. The JSON validates as `sluice.lifecycle.drift.DriftBaseline`
(a contract test checks it), but this file needs only numpy, so it runs in SageMaker's training
container without the sluice library.

    .venv/bin/python model/baseline.py --model-dir .sluice/model   # a baseline for a model trained before
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

# A tenth of held-out answers fall below the threshold: frequent enough that a window of a few
# hundred has a stable count, rare enough that answers to unseen intents stand out (drift bench).
LOW_CONFIDENCE_QUANTILE = 0.10
BASELINE_FILE = "baseline.json"


def build_baseline(
    *,
    model_version: str,
    top_labels: list[str],
    top_scores: np.ndarray,
    reference: str,
    quantile: float = LOW_CONFIDENCE_QUANTILE,
) -> dict[str, Any]:
    scores = np.asarray(top_scores, dtype=np.float64)
    threshold = float(np.quantile(scores, quantile))
    # The rate actually below the threshold (ties and rounding make it differ from `quantile`).
    rate = float(np.mean(scores < threshold))
    counts = Counter(top_labels)
    return {
        "schema_version": 1,
        "model_version": model_version,
        "reference": reference,
        "n_reference": len(top_labels),
        "label_shares": {label: count / len(top_labels) for label, count in sorted(counts.items())},
        "confidence": {"quantile": quantile, "threshold": threshold, "rate": rate},
    }


def write_baseline(model_dir: Path, baseline: dict[str, Any]) -> Path:
    path = model_dir / BASELINE_FILE
    path.write_text(json.dumps(baseline, indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=ROOT / ".sluice" / "model")
    parser.add_argument("--test", type=Path, default=ROOT / "data" / "banking77")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import inference
    import train

    texts, _ = train.read_split(args.test, "test")
    model = inference.load_model(args.model_dir)
    print(f"==> scoring {len(texts)} held-out rows with {model.model_version}", flush=True)
    predictions = inference.predict_fn([inference.Instance(text, top_k=1) for text in texts], model)
    labels = [prediction.intents[0]["label"] for prediction in predictions]
    scores = np.array([prediction.intents[0]["score"] for prediction in predictions])
    baseline = build_baseline(
        model_version=model.model_version, top_labels=labels, top_scores=scores, reference="test.csv"
    )
    print(f"    wrote {write_baseline(args.model_dir, baseline)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
