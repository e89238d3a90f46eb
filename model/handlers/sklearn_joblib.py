"""SageMaker handler for a scikit-learn (or XGBoost) pipeline saved with joblib (Sluice's `sklearn` kind).

Packed as code/inference.py by model/byo.py; runs unchanged in the SageMaker scikit-learn container
(sagemaker-scikit-learn 1.4-2-py312, whose serving stack calls model_fn, input_fn, predict_fn and
output_fn) and in the local endpoint. The pipeline takes raw texts (`pipeline.predict(["..."])`):

  {"instances": [{"text": "..."}], "top_k": 3}
    -> {"predictions": [{"labels": [{"label", "score"}, ...]}]}   with predict_proba
    -> {"predictions": [{"label": "..."}]}                          without it

joblib files are pickles: loading one runs code, so only a model this team built is ever packed.
Batching contract: `input_fn` returns a list, `predict_fn` maps it to a list of the same length.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from pathlib import Path
from typing import Any

MANIFEST = "sluice-model.json"
MODEL_FILE = "model.joblib"
MAX_INSTANCES = 256
DEFAULT_TOP_K = 5

try:
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError
except ImportError:  # the scikit-learn image's toolkit, the local endpoint and the check: same shape

    class _ToolkitError(Exception):  # type: ignore[no-redef]
        def __init__(self, status_code: int, message: str, phrase: str) -> None:
            self.status_code = status_code
            self.message = message
            self.phrase = phrase
            super().__init__(status_code, message, phrase)


class InvalidInput(_ToolkitError, ValueError):  # type: ignore[misc]
    """The request cannot be served as sent (a 4xx, never a 500)."""

    def __init__(self, message: str, status: HTTPStatus = HTTPStatus.BAD_REQUEST) -> None:
        super().__init__(int(status), message, status.phrase)

    def __str__(self) -> str:
        return str(self.message)


def model_fn(model_dir: str) -> dict[str, Any]:
    import joblib

    root = Path(model_dir)
    manifest = json.loads((root / MANIFEST).read_text())
    pipeline = joblib.load(root / MODEL_FILE)
    return {"pipeline": pipeline, "model_version": str(manifest["model_version"])}


def input_fn(request_body: str | bytes | bytearray, content_type: str) -> list[dict[str, Any]]:
    if (content_type or "").split(";", 1)[0].strip().lower() != "application/json":
        raise InvalidInput("send application/json", HTTPStatus.UNSUPPORTED_MEDIA_TYPE)
    try:
        payload = json.loads(request_body)
    except (UnicodeDecodeError, ValueError):
        raise InvalidInput("The request body is not valid JSON") from None
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise InvalidInput('The request needs a non-empty "instances" list')
    if len(instances) > MAX_INSTANCES:
        raise InvalidInput(f"The request has {len(instances)} inputs; at most {MAX_INSTANCES} are allowed")
    top_k = payload.get("top_k", DEFAULT_TOP_K)
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise InvalidInput('"top_k" must be a positive integer')
    parsed = []
    for position, item in enumerate(instances):
        text = item.get("text") if isinstance(item, dict) else item
        if not isinstance(text, str) or not text.strip():
            raise InvalidInput(f'Instance {position} needs a non-empty "text" string')
        parsed.append({"text": text, "top_k": top_k})
    return parsed


def predict_fn(data: list[dict[str, Any]], loaded: dict[str, Any]) -> list[dict[str, Any]]:
    if not data:
        return []
    pipeline = loaded["pipeline"]
    texts = [item["text"] for item in data]
    if hasattr(pipeline, "predict_proba"):
        classes = [str(label) for label in pipeline.classes_]
        outputs = []
        for item, row in zip(data, pipeline.predict_proba(texts).tolist(), strict=True):
            ranked = sorted(zip(classes, row, strict=True), key=lambda pair: -pair[1])[: item["top_k"]]
            outputs.append({"labels": [{"label": label, "score": round(float(s), 6)} for label, s in ranked]})
    else:
        outputs = [{"label": str(value)} for value in pipeline.predict(texts).tolist()]
    return [{"output": output, "model_version": loaded["model_version"]} for output in outputs]


def output_fn(prediction: list[dict[str, Any]], accept: str) -> tuple[str, str]:
    kinds = {part.split(";", 1)[0].strip().lower() for part in (accept or "application/json").split(",")}
    if not kinds & {"application/json", "application/*", "*/*"}:
        raise InvalidInput("this model answers application/json", HTTPStatus.NOT_ACCEPTABLE)
    body = {
        "model_version": prediction[0]["model_version"] if prediction else "",
        "predictions": [item["output"] for item in prediction],
    }
    return json.dumps(body, separators=(",", ":")), "application/json"
