"""A tiny intent model for tests: the real head and handler, a keyword "encoder" instead of MiniLM.

Each label owns one embedding dimension, switched on by the label's keyword, so predictions are
known in advance and a forward pass costs microseconds.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np

KEYWORDS = {"card_arrival": "received", "exchange_rate": "rate", "lost_or_stolen_card": "stolen"}
LABELS = list(KEYWORDS)
MODEL_VERSION = "tiny-1"


class KeywordEncoder:
    """Stands in for SentenceTransformer; records each batch and can hold the first one at a gate."""

    def __init__(self, *, gate: threading.Event | None = None, fail_on: str | None = None) -> None:
        self.batches: list[list[str]] = []
        self._gate = gate
        self._fail_on = fail_on
        self._lock = threading.Lock()

    def encode(self, sentences: list[str], **_: Any) -> np.ndarray:
        with self._lock:
            first = not self.batches
            self.batches.append(list(sentences))
        if first and self._gate is not None:
            assert self._gate.wait(timeout=30), "the test never opened the gate"
        if self._fail_on is not None and any(self._fail_on in text for text in sentences):
            raise RuntimeError("the encoder broke")
        return np.array(
            [
                [1.0 if keyword in text.lower() else 0.0 for keyword in KEYWORDS.values()]
                for text in sentences
            ],
            dtype=np.float32,
        )


def write_tiny_model(model_dir: Path) -> Path:
    """A model dir in train.py's format (npz + json, no pickle), minus the encoder."""
    model_dir.mkdir(parents=True, exist_ok=True)
    np.savez(model_dir / "head.npz", coef=np.eye(len(LABELS)) * 8.0, intercept=np.zeros(len(LABELS)))
    (model_dir / "labels.json").write_text(json.dumps(LABELS))
    (model_dir / "model.json").write_text(json.dumps({"model_version": MODEL_VERSION}))
    return model_dir
