"""The JSON contract between the platform and every model container.

Request: `{"instances": [input, ...]}`; response: `{"predictions": [output, ...],
"model_version": "..."}`, one prediction per instance in order. It is what lets the worker
micro-batch any route without knowing the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sluice.errors import ModelFailed


@dataclass(frozen=True)
class Predictions:
    outputs: list[dict[str, Any]]
    model_version: str | None


def to_model_payload(instances: list[dict[str, Any]]) -> dict[str, Any]:
    return {"instances": instances}


def parse_predictions(body: Any, *, expected: int) -> Predictions:
    predictions = body.get("predictions") if isinstance(body, dict) else None
    if not isinstance(predictions, list) or len(predictions) != expected:
        raise ModelFailed(f"The model answered {len(predictions or [])} predictions for {expected} inputs")
    outputs = [item if isinstance(item, dict) else {"value": item} for item in predictions]
    version = body.get("model_version")
    return Predictions(outputs=outputs, model_version=str(version) if version is not None else None)
