"""SageMaker handler for a Hugging Face transformers model directory (Sluice's `transformers` kind).

Packed as code/inference.py by model/byo.py and run unchanged by the SageMaker PyTorch container and
the local endpoint. The task comes from `sluice-model.json`, which the packer writes beside the model:

  text-classification   {"text"} -> {"labels": [{"label", "score"}, ...]}   (top_k, by score)
  token-classification  {"text"} -> {"entities": [{"entity_type", "start", "end", "score"}, ...]}
  feature-extraction    {"text"} -> {"embedding": [...]}   (mean pooled, unit length)

Entities carry offsets into the text, never the text itself: what the model answers is stored and
logged by the platform, and the input may hold personal data the route allowed through.
Batching contract: `input_fn` returns a list, `predict_fn` maps it to a list of the same length.
"""

from __future__ import annotations

import json
import os
from http import HTTPStatus
from pathlib import Path
from typing import Any

MANIFEST = "sluice-model.json"
MAX_INSTANCES = 256
MAX_TOKENS = 512
DEFAULT_TOP_K = 5

try:  # inside SageMaker's container the toolkit answers with the status such an error carries
    from sagemaker_inference.errors import BaseInferenceToolkitError as _ToolkitError
except ImportError:  # local endpoint and the pre-deploy check: same shape

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
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for the Hub: weights are in the artifact
    import torch
    import transformers

    root = Path(model_dir)
    manifest = json.loads((root / MANIFEST).read_text())
    task = manifest["task"]
    classes = {
        "text-classification": transformers.AutoModelForSequenceClassification,
        "token-classification": transformers.AutoModelForTokenClassification,
        "feature-extraction": transformers.AutoModel,
    }
    device = "cuda" if torch.cuda.is_available() else "cpu"
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(root), local_files_only=True)
    if task == "token-classification" and not tokenizer.is_fast:
        raise RuntimeError("token classification needs a fast tokenizer (tokenizer.json) for offsets")
    model = classes[task].from_pretrained(str(root), local_files_only=True).to(device).eval()
    return {
        "task": task,
        "tokenizer": tokenizer,
        "model": model,
        "device": device,
        "model_version": str(manifest["model_version"]),
    }


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
    """One `{"output", "model_version"}` per instance: the version travels with the prediction, as
    two variants may share this module with different models."""
    version = loaded["model_version"]
    return [{"output": output, "model_version": version} for output in _outputs(data, loaded)]


def _outputs(data: list[dict[str, Any]], loaded: dict[str, Any]) -> list[dict[str, Any]]:
    import torch

    if not data:
        return []
    texts = [item["text"] for item in data]
    task = loaded["task"]
    encoded = loaded["tokenizer"](
        texts,
        padding=True,
        truncation=True,
        max_length=MAX_TOKENS,
        return_tensors="pt",
        return_offsets_mapping=task == "token-classification",
    )
    offsets = encoded.pop("offset_mapping", None)
    inputs = {name: tensor.to(loaded["device"]) for name, tensor in encoded.items()}
    with torch.inference_mode():
        output = loaded["model"](**inputs)
    if task == "feature-extraction":
        mask = inputs["attention_mask"].unsqueeze(-1).to(output.last_hidden_state.dtype)
        pooled = (output.last_hidden_state * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
        vectors = torch.nn.functional.normalize(pooled, dim=-1)
        return [{"embedding": [round(v, 6) for v in row]} for row in vectors.tolist()]
    labels = loaded["model"].config.id2label
    probabilities = torch.softmax(output.logits.float(), dim=-1)
    if task == "text-classification":
        results = []
        for item, row in zip(data, probabilities.tolist(), strict=True):
            ranked = sorted(enumerate(row), key=lambda pair: -pair[1])[: item["top_k"]]
            results.append({"labels": [{"label": labels[i], "score": round(s, 6)} for i, s in ranked]})
        return results
    return [
        {"entities": _entities(row, spans, mask, labels)}
        for row, spans, mask in zip(
            probabilities.tolist(), offsets.tolist(), inputs["attention_mask"].tolist(), strict=True
        )
    ]


def _entities(
    rows: list[list[float]], spans: list[list[int]], mask: list[int], labels: dict[int, str]
) -> list[dict[str, Any]]:
    """BIO tags merged into spans: a B- (or a change of type) opens one, I- of the same type extends it."""
    entities: list[dict[str, Any]] = []
    for scores, (start, end), kept in zip(rows, spans, mask, strict=True):
        if not kept or start == end:  # padding and special tokens
            continue
        best = max(range(len(scores)), key=scores.__getitem__)
        tag = labels[best]
        if tag == "O":
            continue
        prefix, _, entity_type = tag.rpartition("-") if "-" in tag else ("B", "", tag)
        last = entities[-1] if entities else None
        if last and prefix == "I" and last["entity_type"] == entity_type and start <= last["end"] + 1:
            last["end"] = end
            last["score"] = round(min(last["score"], scores[best]), 6)
        else:
            entities.append(
                {"entity_type": entity_type, "start": start, "end": end, "score": round(scores[best], 6)}
            )
    return entities


def output_fn(prediction: list[dict[str, Any]], accept: str) -> tuple[str, str]:
    kinds = {part.split(";", 1)[0].strip().lower() for part in (accept or "application/json").split(",")}
    if not kinds & {"application/json", "application/*", "*/*"}:
        raise InvalidInput("this model answers application/json", HTTPStatus.NOT_ACCEPTABLE)
    body = {
        "model_version": prediction[0]["model_version"] if prediction else "",
        "predictions": [item["output"] for item in prediction],
    }
    return json.dumps(body, separators=(",", ":")), "application/json"
