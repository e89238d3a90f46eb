"""The JSON contract between the platform and every model container.

Request: `{"instances": [input, ...]}`; response: `{"predictions": [output, ...],
"model_version": "..."}`, one prediction per instance in order. It is what lets the worker
micro-batch any route without knowing the model.

Generative routes on the Hugging Face LLM container (TGI) speak its own shape instead:
`{"inputs": "...", "parameters": {...}}` -> `[{"generated_text": "..."}]`, one input per call
(`wire_format="hf-tgi"`); `encode`/`decode` pick the shape by the route's wire format.
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


def encode(wire_format: str, instances: list[dict[str, Any]]) -> dict[str, Any]:
    if wire_format == "hf-tgi":
        if len(instances) != 1:
            raise ValueError("the hf-tgi wire format takes one input per call")
        # The instance is already `{"inputs", "parameters"}`: the route's input contract.
        return dict(instances[0])
    return to_model_payload(instances)


def decode(wire_format: str, body: Any, *, expected: int) -> Predictions:
    if wire_format == "hf-tgi":
        items = body if isinstance(body, list) else [body]
        if len(items) != expected or not all(isinstance(item, dict) for item in items):
            raise ModelFailed(f"The model answered {len(items)} generations for {expected} inputs")
        return Predictions(outputs=[dict(item) for item in items], model_version=None)
    return parse_predictions(body, expected=expected)
