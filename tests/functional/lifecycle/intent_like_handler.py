"""An inference handler with the intent model's wire format and no weights: the model is its
directory's name (its version); a text that says "unseen" is answered with a low top score, as
the real model answers an intent it was not trained on; any other text with a confident one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def model_fn(model_dir: str) -> str:
    return Path(model_dir).name


def input_fn(request_body: str | bytes | bytearray, content_type: str) -> list[str]:
    return [str(instance["text"]) for instance in json.loads(request_body)["instances"]]


def predict_fn(data: list[str], model: str) -> list[dict[str, Any]]:
    return [
        {"label": "card_arrival", "score": 0.21 if "unseen" in text else 0.93, "model_version": model}
        for text in data
    ]


def output_fn(prediction: list[dict[str, Any]], accept: str) -> tuple[str, str]:
    body = {
        "model_version": prediction[0]["model_version"] if prediction else "",
        "predictions": [{"intents": [{"label": p["label"], "score": p["score"]}]} for p in prediction],
    }
    return json.dumps(body), "application/json"
