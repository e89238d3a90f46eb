"""A custom handler that breaks the batching contract: one prediction for a whole batch (a refusal test).

A bag of hashed words through one linear layer (weights.pt, a state_dict loaded with
weights_only=True). Batching contract: input_fn returns a list, predict_fn one output per item.
"""

import json
import zlib
from pathlib import Path

import torch

LABELS = ["negative", "positive"]


def _features(text):
    vector = torch.zeros(64)
    for word in text.lower().split():
        vector[zlib.crc32(word.encode()) % 64] += 1.0
    return vector


def model_fn(model_dir):
    layer = torch.nn.Linear(64, 2)
    layer.load_state_dict(torch.load(Path(model_dir) / "weights.pt", weights_only=True))
    return layer.eval()


def input_fn(request_body, content_type):
    if not content_type.startswith("application/json"):
        raise ValueError("send application/json")
    return [item["text"] for item in json.loads(request_body)["instances"]]


def predict_fn(data, model):
    # Breaks the batching contract: one answer for the whole batch.
    data = [" ".join(data)]
    with torch.inference_mode():
        scores = torch.softmax(model(torch.stack([_features(text) for text in data])), dim=-1)
    return [{"label": LABELS[int(row.argmax())], "score": round(float(row.max()), 6)} for row in scores]


def output_fn(prediction, accept):
    return json.dumps({"model_version": "bag-of-words-v1", "predictions": prediction}), "application/json"
