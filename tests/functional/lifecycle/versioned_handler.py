"""A tiny inference handler for rollout tests: the "model" is its directory's name, which it reports
as its version; a directory named `broken-*` fails every request (a bad model version)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def model_fn(model_dir: str) -> str:
    return Path(model_dir).name


def input_fn(request_body: str | bytes | bytearray, content_type: str) -> list[Any]:
    return list(json.loads(request_body)["instances"])


def predict_fn(data: list[Any], model: str) -> list[dict[str, str]]:
    if model.startswith("broken"):
        raise RuntimeError("this model version cannot answer")
    return [{"served_by": model} for _ in data]


def output_fn(prediction: list[dict[str, str]], accept: str) -> tuple[str, str]:
    return json.dumps({"outputs": prediction}), "application/json"
