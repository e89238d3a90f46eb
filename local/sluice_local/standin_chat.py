"""A clearly-labelled stand-in for the `chat` route's LLM: there is no language model offline.

It speaks the Hugging Face LLM container's (TGI) wire format, `{"inputs", "parameters"}` in and
`[{"generated_text"}]` out, so the platform's async path (S3 in and out, SNS, async_result) runs
locally end to end. The text it "generates" says what it is; nothing here is a model.
"""

from __future__ import annotations

import json
from typing import Any

MODEL_VERSION = "local-standin-not-an-llm"


class InvalidInput(ValueError):
    status_code = 400


def model_fn(model_dir: str) -> str:
    return MODEL_VERSION


def input_fn(request_body: str | bytes | bytearray, content_type: str) -> list[dict[str, Any]]:
    try:
        body = json.loads(request_body)
    except ValueError:
        raise InvalidInput("the body is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), str):
        raise InvalidInput('send {"inputs": "<prompt>", "parameters": {...}}')
    return [body]


def predict_fn(data: list[dict[str, Any]], model: str) -> list[dict[str, str]]:
    return [
        {"generated_text": f"[{model}] received a prompt of {len(item['inputs'].split())} words"}
        for item in data
    ]


def output_fn(prediction: list[dict[str, str]], accept: str) -> tuple[str, str]:
    return json.dumps(prediction), "application/json"
